"""The signature rule against the Raiden vectors (spec/vectors/raiden-vectors.json, made with the
Python libraries Raiden itself uses)."""

import json
from pathlib import Path

import coincurve
import pytest
from raiden_pfs_eth_auth import check_signature_login, eip191_hash, recover_address

VECTORS = Path(__file__).resolve().parents[4] / "shared" / "spec" / "vectors" / "raiden-vectors.json"


def matrix_users() -> list[dict]:
    if not VECTORS.exists():
        pytest.fail(f"the Raiden vectors are missing: {VECTORS} (shared/ must sit beside the repository)")
    return json.loads(VECTORS.read_text())["matrix"]["users"]


def sign(key: bytes, data: bytes) -> str:
    """`0x` hex of the 65-byte EIP-191 signature with v = 27/28, as Raiden writes it."""
    signature = coincurve.PrivateKey(key).sign_recoverable(eip191_hash(data), hasher=None)
    return "0x" + (signature[:64] + bytes([signature[64] + 27])).hex()


def test_raiden_login_passwords_from_the_vectors_are_accepted():
    for user in matrix_users():
        assert check_signature_login(user["user_id"], user["login_password_sign_server_name"], user["server_name"])


def test_the_password_recovers_the_address_in_the_vectors():
    for user in matrix_users():
        signature = bytes.fromhex(user["login_password_sign_server_name"][2:])
        assert recover_address(user["server_name"].encode(), signature) == user["address"].lower()


def test_a_password_for_another_server_is_refused():
    user = matrix_users()[0]
    assert not check_signature_login(user["user_id"], user["login_password_sign_server_name"], "other.example")
    other_server_user_id = user["user_id"].rsplit(":", 1)[0] + ":other.example"
    assert not check_signature_login(other_server_user_id, user["login_password_sign_server_name"], user["server_name"])


def test_a_signature_by_another_key_is_refused():
    user = matrix_users()[0]
    forged = sign(b"\x07" * 32, user["server_name"].encode())
    assert not check_signature_login(user["user_id"], forged, user["server_name"])


def test_upper_case_hex_is_refused_like_the_reference():
    user = matrix_users()[0]
    upper = "0x" + user["login_password_sign_server_name"][2:].upper()
    assert not check_signature_login(user["user_id"], upper, user["server_name"])
    upper_user = "@0x" + user["user_id"][3:43].upper() + user["user_id"][43:]
    assert not check_signature_login(upper_user, user["login_password_sign_server_name"], user["server_name"])


def test_v_of_0_or_1_is_accepted_and_other_v_values_recover_nothing():
    key = b"\x01" * 32
    signature = bytes.fromhex(sign(key, b"server")[2:])
    address = recover_address(b"server", signature)
    assert address == "0x" + matrix_users()[0]["address"][2:].lower()
    assert recover_address(b"server", signature[:64] + bytes([signature[64] - 27])) == address
    assert recover_address(b"server", signature[:64] + bytes([5])) is None
    assert recover_address(b"server", signature[:64]) is None
    assert recover_address(b"server", b"\x00" * 65) is None
