"""Reading the PFS user id from an /api/v1/info answer, including the payment-address fallback."""

import json

import pytest

from raiden_pfs_presence_router.info import MAX_INFO_BYTES, InfoError, info_url, user_id_from_info

ADDRESS = "0x2A915FDA69746F515b46C520eD511401d5CCD5e2"

# The fields the original PFS (raiden-services 2.0.1) returns; it has no matrix_user_id.
REFERENCE_INFO = {
    "price_info": 100,
    "network_info": {"chain_id": 1337, "confirmed_block": {"number": 123}},
    "version": "2.0.1",
    "payment_address": ADDRESS,
    "matrix_server": "https://transport.example.org",
}


def body(document) -> bytes:
    return json.dumps(document).encode()


def test_info_url_appends_the_v1_path():
    assert info_url("https://pfs.example.org") == "https://pfs.example.org/api/v1/info"


def test_matrix_user_id_is_read_when_present():
    document = {**REFERENCE_INFO, "matrix_user_id": "@pfs:127.0.0.1:8448"}
    assert user_id_from_info(body(document), derive_from_payment_address=True) == "@pfs:127.0.0.1:8448"


def test_missing_matrix_user_id_falls_back_to_the_raiden_convention():
    user_id = user_id_from_info(body(REFERENCE_INFO), derive_from_payment_address=True)
    assert user_id == f"@{ADDRESS.lower()}:transport.example.org"


def test_fallback_keeps_the_port_of_matrix_server():
    document = {**REFERENCE_INFO, "matrix_server": "http://localhost:8008"}
    assert user_id_from_info(body(document), derive_from_payment_address=True) == f"@{ADDRESS.lower()}:localhost:8008"


def test_fallback_can_be_disabled():
    with pytest.raises(InfoError, match="no matrix_user_id"):
        user_id_from_info(body(REFERENCE_INFO), derive_from_payment_address=False)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (body({"matrix_user_id": 7}), "is not a valid Matrix user id"),
        (body({"matrix_user_id": "pfs:example.org"}), "is not a valid Matrix user id"),
        (body({**REFERENCE_INFO, "payment_address": "0x1234"}), "no valid payment_address"),
        (body({"matrix_server": "https://transport.example.org"}), "no valid payment_address"),
        (body({**REFERENCE_INFO, "matrix_server": "transport.example.org"}), "matrix_server is not a URL"),
        (b" " * (MAX_INFO_BYTES + 1), "larger than"),
    ],
)
def test_unusable_answers_are_rejected_with_the_reason(raw, message):
    with pytest.raises(InfoError, match=message):
        user_id_from_info(raw, derive_from_payment_address=True)
