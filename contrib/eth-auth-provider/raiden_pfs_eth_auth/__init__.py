"""Raiden's signature login for Synapse: the password of `@0x<address>:<server name>` is the
EIP-191 signature of the server name by that address's key.

This is the rule of Raiden's `EthAuthProvider` (raiden-network/raiden-synapse-modules,
spec/PROTOCOL.md §6.1), written against Synapse's current module API
(`register_password_auth_provider_callbacks`):

* the password must match `^0x[0-9a-f]{130}$` (lower-case hex only);
* the user id must match `^@(0x[0-9a-f]{40}):(.+)$` with the server part equal to this
  homeserver's `server_name`;
* the signature (v of 27/28 reduced by 27, or 0/1) must recover, over the EIP-191 hash of the
  server name, exactly the address in the user id;
* an account that does not exist yet is registered on its first successful login.

A password that is not a signature (or not a valid one) is not an error: the module answers
"not mine" (None), so Synapse goes on to its own password database and plain accounts keep
working on the same homeserver.

The cryptography is split from the Synapse glue (`recover_address`, `check_signature_login`) so it
can be tested without a homeserver.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import coincurve
from Crypto.Hash import keccak

__all__ = ["EthAuthProvider", "check_signature_login", "eip191_hash", "recover_address"]

logger = logging.getLogger(__name__)

USER_ID_RE = re.compile(r"^@(0x[0-9a-f]{40}):(.+)$")
PASSWORD_RE = re.compile(r"^0x[0-9a-f]{130}$")


def keccak256(data: bytes) -> bytes:
    """The Keccak-256 digest (Ethereum's hash, not NIST SHA3-256)."""
    return keccak.new(digest_bits=256, data=data).digest()


def eip191_hash(data: bytes) -> bytes:
    """keccak256("\\x19Ethereum Signed Message:\\n" + len(data) + data)."""
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def recover_address(data: bytes, signature: bytes) -> str | None:
    """The lower-case `0x` address whose key made the 65-byte EIP-191 `signature` of `data`, or
    None if the signature is malformed or recovers no key."""
    if len(signature) != 65:
        return None
    v = signature[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1):
        return None
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v]), eip191_hash(data), hasher=None
        )
    except ValueError:
        return None
    uncompressed = public_key.format(compressed=False)
    return "0x" + keccak256(uncompressed[1:])[-20:].hex()


def check_signature_login(user_id: str, password: str, server_name: str) -> bool:
    """Whether `password` is the address of `user_id` signing `server_name` (Raiden's rule)."""
    if not PASSWORD_RE.match(password):
        return False
    match = USER_ID_RE.match(user_id)
    if not match or match.group(2) != server_name:
        return False
    return recover_address(server_name.encode(), bytes.fromhex(password[2:])) == match.group(1)


class EthAuthProvider:
    """The Synapse module. Config: none (an empty mapping)."""

    def __init__(self, config: dict[str, Any], api: Any) -> None:
        self.api = api
        self.server_name: str = api.server_name
        api.register_password_auth_provider_callbacks(
            auth_checkers={("m.login.password", ("password",)): self.check_password},
        )

    @staticmethod
    def parse_config(config: dict[str, Any] | None) -> dict[str, Any]:
        if config:
            raise ValueError(f"EthAuthProvider takes no configuration, got keys {sorted(config)}")
        return {}

    async def check_password(self, username: str, login_type: str, login_dict: dict[str, Any]) -> Any:
        """Synapse's auth checker: `(user_id, None)` for a valid signature login, else None."""
        password = login_dict.get("password")
        if not isinstance(password, str) or not PASSWORD_RE.match(password):
            return None
        user_id = username if username.startswith("@") else self.api.get_qualified_user_id(username)
        if not check_signature_login(user_id, password, self.server_name):
            logger.info("Signature login refused for %r", user_id)
            return None
        if await self.api.check_user_exists(user_id) is None:
            logger.info("First signature login, registering %r", user_id)
            localpart = USER_ID_RE.match(user_id).group(1)
            await self.api.register_user(localpart)
        return user_id, None
