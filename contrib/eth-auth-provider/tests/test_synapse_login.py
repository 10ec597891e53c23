"""The module inside a real Synapse: first login registers, later logins work, wrong signatures and
plain accounts fall through to Synapse's own password check."""

from __future__ import annotations

import coincurve
import pytest
from raiden_pfs_eth_auth import EthAuthProvider, eip191_hash, keccak256
from synapse.config.homeserver import HomeServerConfig

from harness import Homeserver, HomeserverOptions, MatrixError, free_port, request_json

KEY = b"\x05" * 32


def address_of(key: bytes) -> str:
    public = coincurve.PrivateKey(key).public_key.format(compressed=False)
    return "0x" + keccak256(public[1:])[-20:].hex()


def sign(key: bytes, data: bytes) -> str:
    signature = coincurve.PrivateKey(key).sign_recoverable(eip191_hash(data), hasher=None)
    return "0x" + (signature[:64] + bytes([signature[64] + 27])).hex()


def login(homeserver: Homeserver, user: str, password: str) -> dict:
    return request_json(
        "POST",
        f"{homeserver.client_url}/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
            "device_id": "RAIDEN",
        },
    )


@pytest.fixture(scope="module")
def homeserver(tmp_path_factory):
    options = HomeserverOptions(
        tmp_path_factory.mktemp("eth-auth"),
        client_port=free_port(),
        federation_port=free_port(),
        no_router=True,
        testing=True,
        eth_auth=True,
    )
    server = Homeserver(options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_synapse_loads_the_module_from_the_generated_config(homeserver):
    config = HomeServerConfig.load_config("test", ["-c", str(homeserver.config_path)])
    assert [module for module, _ in config.modules.loaded_modules] == [EthAuthProvider]


def test_first_signature_login_registers_and_the_next_one_logs_in(homeserver):
    address = address_of(KEY)
    password = sign(KEY, homeserver.server_name.encode())
    first = login(homeserver, address, password)
    assert first["user_id"] == f"@{address}:{homeserver.server_name}"
    assert first["device_id"] == "RAIDEN"
    again = login(homeserver, f"@{address}:{homeserver.server_name}", password)
    assert again["user_id"] == first["user_id"]


def test_a_signature_of_another_key_is_forbidden(homeserver):
    forged = sign(b"\x06" * 32, homeserver.server_name.encode())
    with pytest.raises(MatrixError) as refused:
        login(homeserver, address_of(KEY), forged)
    assert refused.value.status == 403


def test_plain_password_accounts_still_log_in(homeserver):
    user = homeserver.register("plain", password="secret-password")
    assert login(homeserver, "plain", "secret-password")["user_id"] == user.user_id
