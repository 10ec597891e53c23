"""The module's config block: what is accepted, the defaults, and what is rejected with which key."""

import pytest
from synapse.module_api.errors import ConfigError

from raiden_pfs_presence_router import PresenceRouter, parse_config
from raiden_pfs_presence_router.config import MAX_ENTRIES

PFS = "@0x1111111111111111111111111111111111111111:transport.example.org"


def test_static_user_ids_with_defaults():
    config = parse_config({"pfs_user_ids": [PFS]})
    assert config.pfs_user_ids == frozenset({PFS})
    assert config.pfs_info_urls == ()
    assert config.refresh_seconds == 300
    assert config.repush_seconds == 300
    assert config.derive_user_id_from_payment_address is True


def test_info_urls_lose_their_trailing_slash():
    config = parse_config({"pfs_info_urls": ["https://pfs.example.org/", "http://127.0.0.1:5555"]})
    assert config.pfs_info_urls == ("https://pfs.example.org", "http://127.0.0.1:5555")


def test_user_ids_and_urls_combine_with_explicit_periods():
    config = parse_config(
        {
            "pfs_user_ids": [PFS, "@pfs:127.0.0.1:8448"],
            "pfs_info_urls": ["https://pfs.example.org"],
            "refresh_seconds": 5,
            "repush_seconds": 0.5,
            "derive_user_id_from_payment_address": False,
        }
    )
    assert config.pfs_user_ids == {PFS, "@pfs:127.0.0.1:8448"}
    assert (config.refresh_seconds, config.repush_seconds) == (5.0, 0.5)
    assert config.derive_user_id_from_payment_address is False


def test_repush_zero_disables_repush():
    assert parse_config({"pfs_user_ids": [PFS], "repush_seconds": 0}).repush_seconds is None


def test_synapse_entry_point_is_parse_config():
    assert PresenceRouter.parse_config({"pfs_user_ids": [PFS]}) == parse_config({"pfs_user_ids": [PFS]})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "needs pfs_user_ids or pfs_info_urls"),
        (None, "needs pfs_user_ids or pfs_info_urls"),
        ([PFS], "must be a mapping"),
        ({"pfs_user_ids": [PFS], "pfs_user_id": [PFS]}, "unknown presence router config keys: pfs_user_id"),
        ({"pfs_user_ids": PFS}, "pfs_user_ids must be a list of strings"),
        ({"pfs_user_ids": [42]}, "pfs_user_ids must be a list of strings"),
        ({"pfs_user_ids": ["pfs:example.org"]}, "is not a valid Matrix user id"),
        ({"pfs_user_ids": ["@pfs"]}, "is not a valid Matrix user id"),
        ({"pfs_user_ids": ["@PFS with space:example.org"]}, "is not a valid Matrix user id"),
        ({"pfs_user_ids": ["@pfs:" + "x" * 260]}, "is not a valid Matrix user id"),
        ({"pfs_info_urls": ["pfs.example.org"]}, "is not an absolute http(s) URL"),
        ({"pfs_info_urls": ["ftp://pfs.example.org"]}, "is not an absolute http(s) URL"),
        ({"pfs_info_urls": ["https://pfs.example.org/?x=1"]}, "without query or fragment"),
        ({"pfs_info_urls": ["https://pfs.example.org/" + "a" * 2100]}, "longer than 2048"),
        ({"pfs_user_ids": [PFS], "refresh_seconds": 0}, "refresh_seconds must be between"),
        ({"pfs_user_ids": [PFS], "refresh_seconds": 100_000}, "refresh_seconds must be between"),
        ({"pfs_user_ids": [PFS], "refresh_seconds": "300"}, "refresh_seconds must be a number"),
        ({"pfs_user_ids": [PFS], "repush_seconds": True}, "repush_seconds must be a number"),
        ({"pfs_user_ids": [PFS], "repush_seconds": -1}, "repush_seconds must be 0 (disabled) or between"),
        ({"pfs_user_ids": [PFS], "derive_user_id_from_payment_address": "yes"}, "must be true or false"),
    ],
)
def test_invalid_config_is_rejected_naming_the_key(raw, message):
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert message in str(error.value)


def test_too_many_user_ids_are_rejected():
    user_ids = [f"@pfs{index}:example.org" for index in range(MAX_ENTRIES + 1)]
    with pytest.raises(ConfigError, match=f"at most {MAX_ENTRIES}"):
        parse_config({"pfs_user_ids": user_ids})
