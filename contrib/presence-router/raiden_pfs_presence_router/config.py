"""The module's configuration: parsing and validating the `config:` block of homeserver.yaml.

Everything an operator can get wrong is rejected at homeserver start with a `ConfigError` that
names the key, so a typo never turns into a router that silently routes nowhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from synapse.module_api import UserID
from synapse.module_api.errors import ConfigError

#: Upper bound on configured user ids and on info URLs (each): a list longer than this is a mistake.
MAX_ENTRIES = 64
#: Longest accepted info URL, in characters.
MAX_URL_LENGTH = 2048
#: Shortest and longest accepted refresh / re-push period, in seconds.
MIN_PERIOD_SECONDS = 0.1
MAX_PERIOD_SECONDS = 86_400.0
DEFAULT_REFRESH_SECONDS = 300.0
DEFAULT_REPUSH_SECONDS = 300.0

_URLS = ("pfs_info_urls",)
_KNOWN_KEYS = frozenset(
    {
        "pfs_user_ids",
        "pfs_info_urls",
        "refresh_seconds",
        "repush_seconds",
        "derive_user_id_from_payment_address",
    }
)


@dataclasses.dataclass(frozen=True)
class RouterConfig:
    """The validated configuration.

    Invariants: at least one of `pfs_user_ids` and `pfs_info_urls` is non-empty; every user id is
    a valid Matrix user id; every URL is an absolute http(s) URL without a trailing slash;
    `refresh_seconds` is within [MIN_PERIOD_SECONDS, MAX_PERIOD_SECONDS]; `repush_seconds` is
    either within that range or None (re-push disabled).
    """

    #: PFS Matrix user ids, local or remote, that always receive presence.
    pfs_user_ids: frozenset[str]
    #: PFS base URLs; the router reads `matrix_user_id` from `<url>/api/v1/info`.
    pfs_info_urls: tuple[str, ...]
    #: How often the info URLs are read.
    refresh_seconds: float
    #: How often the current online presence is pushed again to remote PFS users; None = never.
    repush_seconds: float | None
    #: When `/info` has no `matrix_user_id`, use `@<payment_address>:<netloc of matrix_server>`.
    derive_user_id_from_payment_address: bool


def parse_config(raw: Any) -> RouterConfig:
    """Validates the module's `config:` mapping.

    # Errors
    `ConfigError` whose `path` is the offending key and whose message names it: unknown keys, wrong types, invalid user ids or URLs,
    too many entries, periods out of range, or neither `pfs_user_ids` nor `pfs_info_urls` given.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the presence router config must be a mapping")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"unknown presence router config keys: {', '.join(map(str, unknown))}")

    user_ids = _string_list(raw, "pfs_user_ids")
    for user_id in user_ids:
        if not UserID.is_valid_strict(user_id):
            raise ConfigError(f"pfs_user_ids: {user_id!r} is not a valid Matrix user id", ("pfs_user_ids",))
    info_urls = tuple(_parse_info_url(url) for url in _string_list(raw, "pfs_info_urls"))
    if not user_ids and not info_urls:
        raise ConfigError("the presence router needs pfs_user_ids or pfs_info_urls (or both)")

    repush_seconds: float | None = _period(raw, "repush_seconds", DEFAULT_REPUSH_SECONDS, allow_zero=True)
    if repush_seconds == 0:
        repush_seconds = None
    derive = raw.get("derive_user_id_from_payment_address", True)
    if not isinstance(derive, bool):
        raise ConfigError(
            "derive_user_id_from_payment_address must be true or false", ("derive_user_id_from_payment_address",)
        )
    refresh_seconds = _period(raw, "refresh_seconds", DEFAULT_REFRESH_SECONDS, allow_zero=False)
    return RouterConfig(
        pfs_user_ids=frozenset(user_ids),
        pfs_info_urls=info_urls,
        refresh_seconds=refresh_seconds,
        repush_seconds=repush_seconds,
        derive_user_id_from_payment_address=derive,
    )


def _string_list(raw: dict[str, Any], key: str) -> list[str]:
    value = raw.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{key} must be a list of strings", (key,))
    if len(value) > MAX_ENTRIES:
        raise ConfigError(f"{key} has {len(value)} entries; at most {MAX_ENTRIES} are accepted", (key,))
    return value


def _parse_info_url(url: str) -> str:
    if len(url) > MAX_URL_LENGTH:
        raise ConfigError(f"pfs_info_urls: a URL is longer than {MAX_URL_LENGTH} characters", _URLS)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"pfs_info_urls: {url!r} is not an absolute http(s) URL", _URLS)
    if parts.query or parts.fragment:
        raise ConfigError(f"pfs_info_urls: {url!r} must be a base URL without query or fragment", _URLS)
    return url.rstrip("/")


def _period(raw: dict[str, Any], key: str, default: float, *, allow_zero: bool) -> float:
    value = raw.get(key, default)
    # bool is an int subclass; `true` is no period.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number of seconds", (key,))
    if allow_zero and value == 0:
        return 0.0
    if not MIN_PERIOD_SECONDS <= value <= MAX_PERIOD_SECONDS:
        lower = "0 (disabled) or " if allow_zero else ""
        raise ConfigError(
            f"{key} must be {lower}between {MIN_PERIOD_SECONDS} and {MAX_PERIOD_SECONDS} seconds, got {value}",
            (key,),
        )
    return float(value)
