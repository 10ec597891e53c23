"""contrib/synapse/make_config.py: Synapse's own config loader accepts what it writes."""

import ipaddress

import pytest
import yaml
from cryptography import x509
from synapse.config._base import ConfigError
from synapse.config.homeserver import HomeServerConfig

from harness import HomeserverOptions, write_homeserver
from make_config import main
from raiden_pfs_presence_router import PresenceRouter

PFS = "@pfs:127.0.0.1:9448"


def load(path) -> HomeServerConfig:
    return HomeServerConfig.load_config("test", ["-c", str(path)])


def test_synapse_loads_the_config_with_the_router_and_the_operator_settings(tmp_path):
    path = write_homeserver(
        HomeserverOptions(
            tmp_path,
            client_port=8008,
            federation_port=8448,
            pfs_info_urls=["http://127.0.0.1:5555"],
            refresh_seconds=5,
            repush_seconds=60,
            federation_whitelist=["127.0.0.1:9448"],
            min_retry_interval="1m",
        )
    )
    config = load(path)
    assert config.server.server_name == "127.0.0.1:8448"
    [(module_class, router_config)] = config.modules.loaded_modules
    assert module_class is PresenceRouter
    assert router_config.pfs_info_urls == ("http://127.0.0.1:5555",)
    assert (router_config.refresh_seconds, router_config.repush_seconds) == (5.0, 60.0)
    assert config.server.presence_enabled
    assert config.federation.federation_domain_whitelist == {"127.0.0.1:9448": True}
    assert config.federation.destination_min_retry_interval_ms == 60_000
    assert config.server.limit_profile_requests_to_users_who_share_rooms is False
    assert not config.registration.enable_registration


def test_testing_mode_opens_registration_and_lifts_rate_limits(tmp_path):
    config = load(write_homeserver(HomeserverOptions(tmp_path, 8008, 8448, pfs_user_ids=[PFS], testing=True)))
    assert config.registration.enable_registration
    assert config.ratelimiting.rc_presence_per_user.per_second >= 1000
    assert config.ratelimiting.rc_registration.per_second >= 1000


def test_without_router_no_module_is_loaded(tmp_path):
    config = load(write_homeserver(HomeserverOptions(tmp_path, 8008, 8448, no_router=True)))
    assert config.modules.loaded_modules == []


def test_an_invalid_router_config_stops_synapse_at_load_naming_the_key(tmp_path):
    path = write_homeserver(HomeserverOptions(tmp_path, 8008, 8448, pfs_user_ids=["not-a-user-id"]))
    with pytest.raises(ConfigError) as error:
        load(path)
    assert error.value.path == ("modules", "<item 0>", "config", "pfs_user_ids")
    assert "'not-a-user-id' is not a valid Matrix user id" in str(error.value.__cause__)


def test_tls_certificate_names_ip_127_0_0_1(tmp_path):
    write_homeserver(HomeserverOptions(tmp_path, 8008, 8448, no_router=True))
    certificate = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)


def test_rewriting_keeps_the_signing_key_and_certificate(tmp_path):
    options = HomeserverOptions(tmp_path, 8008, 8448, no_router=True)
    write_homeserver(options)
    identity = [(tmp_path / name).read_bytes() for name in ("signing.key", "tls.crt", "tls.key")]
    write_homeserver(options)
    assert [(tmp_path / name).read_bytes() for name in ("signing.key", "tls.crt", "tls.key")] == identity


def test_command_line_writes_the_config_and_prints_its_path(tmp_path, capsys):
    arguments = ["--data-dir", str(tmp_path), "--client-port", "8008", "--federation-port", "8448"]
    assert (
        main([*arguments, "--pfs-user-id", PFS, "--repush-seconds", "30", "--set", 'public_baseurl="http://x/"']) == 0
    )
    assert capsys.readouterr().out.strip() == str(tmp_path / "homeserver.yaml")
    written = yaml.safe_load((tmp_path / "homeserver.yaml").read_text())
    assert written["modules"][0]["config"] == {"pfs_user_ids": [PFS], "repush_seconds": 30.0}
    assert written["public_baseurl"] == "http://x/"
    assert load(tmp_path / "homeserver.yaml").server.server_name == "127.0.0.1:8448"


def test_command_line_appends_further_modules_after_the_router(tmp_path):
    arguments = ["--data-dir", str(tmp_path), "--client-port", "8008", "--federation-port", "8448"]
    main([*arguments, "--pfs-user-id", PFS, "--module", 'some_package.AuthProvider={"secret": "s"}'])
    written = yaml.safe_load((tmp_path / "homeserver.yaml").read_text())
    assert [module["module"] for module in written["modules"]] == [
        "raiden_pfs_presence_router.PresenceRouter",
        "some_package.AuthProvider",
    ]
    assert written["modules"][1]["config"] == {"secret": "s"}


@pytest.mark.parametrize(
    ("extra_arguments", "message"),
    [
        ([], "needs --pfs-user-id or --pfs-info-url"),
        (["--no-router", "--set", "nonsense"], "--set expects KEY=JSON"),
        (["--no-router", "--set", "a={"], "value is not JSON"),
        (["--no-router", "--module", "package.Class"], "--module expects KEY=JSON"),
    ],
)
def test_command_line_rejects_incomplete_arguments(tmp_path, capsys, extra_arguments, message):
    arguments = ["--data-dir", str(tmp_path), "--client-port", "8008", "--federation-port", "8448"]
    with pytest.raises(SystemExit):
        main([*arguments, *extra_arguments])
    assert message in capsys.readouterr().err
