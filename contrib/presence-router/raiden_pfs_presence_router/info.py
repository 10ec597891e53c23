"""Reading a PFS's Matrix user id from its `GET /api/v1/info` answer.

raiden-pfs publishes `"matrix_user_id"` there. The original Python PFS (raiden-services 2.0.1)
does not; for it the router can fall back to the Raiden convention
`@<payment_address lower-case>:<netloc of matrix_server>` (raiden's `make_user_id`), which is right
wherever the homeserver's server name equals the host[:port] clients use, as in RSB deployments.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from synapse.module_api import UserID

#: The path appended to a PFS base URL.
INFO_PATH = "/api/v1/info"
#: Largest `/info` body read, in bytes; the real one is well under 2 KiB.
MAX_INFO_BYTES = 64 * 1024

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class InfoError(Exception):
    """An `/info` answer that names no usable PFS user id; the message says why."""


def info_url(base_url: str) -> str:
    """The `/api/v1/info` URL of a PFS base URL (which has no trailing slash)."""
    return base_url + INFO_PATH


def user_id_from_info(body: bytes, *, derive_from_payment_address: bool) -> str:
    """The PFS Matrix user id named by an `/info` body.

    Prefers `matrix_user_id`; otherwise, if allowed, derives
    `@<payment_address lower-case>:<netloc of matrix_server>`.

    # Errors
    `InfoError` if the body is larger than MAX_INFO_BYTES, not a JSON object, or names no valid
    Matrix user id by either rule.
    """
    if len(body) > MAX_INFO_BYTES:
        raise InfoError(f"the answer is larger than {MAX_INFO_BYTES} bytes")
    try:
        document: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InfoError(f"the answer is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise InfoError("the answer is not a JSON object")

    if "matrix_user_id" in document:
        user_id = document["matrix_user_id"]
        if not isinstance(user_id, str) or not UserID.is_valid_strict(user_id):
            raise InfoError(f"matrix_user_id {user_id!r} is not a valid Matrix user id")
        return user_id
    if not derive_from_payment_address:
        raise InfoError("the answer has no matrix_user_id (and deriving it is disabled)")
    return _derive_user_id(document)


def _derive_user_id(document: dict[str, Any]) -> str:
    address = document.get("payment_address")
    matrix_server = document.get("matrix_server")
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise InfoError("the answer has no matrix_user_id and no valid payment_address")
    if not isinstance(matrix_server, str) or not urlsplit(matrix_server).netloc:
        raise InfoError("the answer has no matrix_user_id and matrix_server is not a URL")
    user_id = f"@{address.lower()}:{urlsplit(matrix_server).netloc}"
    if not UserID.is_valid_strict(user_id):
        raise InfoError(f"the derived user id {user_id!r} is not a valid Matrix user id")
    return user_id
