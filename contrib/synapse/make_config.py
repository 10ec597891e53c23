#!/usr/bin/env python3
"""Writes a ready-to-run Synapse homeserver for raiden-pfs's tests and devnet.

One call fills a data directory with everything `python -m synapse.app.homeserver -c
<data-dir>/homeserver.yaml` needs: the config, a signing key, a self-signed TLS certificate for
127.0.0.1 (the federation listener), and a log config writing `<data-dir>/homeserver.log`.

Design: the homeserver is federation-ready on loopback without DNS, `.well-known`, key servers or a
CA. Its server name is `127.0.0.1:<federation port>`, so other homeservers connect straight to the
TLS federation listener (`federation_verify_certificates: false`, `ip_range_blacklist: []`,
`trusted_key_servers: []`: each server fetches the other's key directly). Clients use a plain HTTP
listener on a second port. The presence router (contrib/presence-router) is configured unless
`--no-router` is given.

Run it with the Python of the Synapse venv made by contrib/synapse/install.sh (it uses PyYAML,
signedjson and cryptography, which Synapse depends on):

    .devtools/synapse-venv/bin/python contrib/synapse/make_config.py \\
        --data-dir /tmp/hs1 --client-port 8008 --federation-port 8448 \\
        --pfs-user-id @pfs:127.0.0.1:9448 --testing

Tests import it and call `write_homeserver(HomeserverOptions(...))`. Every option is described in
`contrib/synapse/README.md`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import ipaddress
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from signedjson.key import generate_signing_key, write_signing_keys

#: Module path of the presence router, as Synapse imports it.
ROUTER_MODULE = "raiden_pfs_presence_router.PresenceRouter"

#: Module path of Raiden's signature login (contrib/eth-auth-provider), as Synapse imports it.
ETH_AUTH_MODULE = "raiden_pfs_eth_auth.EthAuthProvider"

#: Rate limits high enough that no test or devnet scenario is throttled.
GENEROUS_RATE_LIMIT = {"per_second": 10_000, "burst_count": 10_000}


@dataclasses.dataclass
class HomeserverOptions:
    """What varies between the homeservers a test or the devnet starts.

    Invariants: ports are 1..65535 and distinct; `data_dir` is writable. `server_name` defaults to
    `127.0.0.1:<federation_port>`.
    """

    data_dir: Path
    client_port: int
    federation_port: int
    server_name: str | None = None
    #: Router config: the PFS Matrix user ids to route presence to.
    pfs_user_ids: list[str] = dataclasses.field(default_factory=list)
    #: Router config: PFS base URLs whose `/api/v1/info` names the PFS user id.
    pfs_info_urls: list[str] = dataclasses.field(default_factory=list)
    refresh_seconds: float | None = None
    repush_seconds: float | None = None
    #: Configure no presence router at all (a homeserver without the module).
    no_router: bool = False
    #: `federation_domain_whitelist`; None means federate with everyone.
    federation_whitelist: list[str] | None = None
    #: `federation.destination_min_retry_interval` (Synapse duration, e.g. "1m", "2s").
    min_retry_interval: str = "1m"
    #: `federation.max_long_retries` (Synapse's default is 10, about 8 minutes of retries).
    max_long_retries: int | None = None
    #: Open registration without verification, cheap password hashing, no rate limits.
    testing: bool = False
    #: Load Raiden's signature login (password = EIP-191 signature of the server name), after the router.
    eth_auth: bool = False
    #: Further Synapse modules, each `{"module": "package.Class", "config": {...}}`, after the router.
    extra_modules: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: Extra top-level keys merged over the generated config (last word).
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def effective_server_name(self) -> str:
        return self.server_name or f"127.0.0.1:{self.federation_port}"


def router_config(options: HomeserverOptions) -> dict[str, Any]:
    """The `config:` block of the presence router module for these options."""
    config: dict[str, Any] = {}
    if options.pfs_user_ids:
        config["pfs_user_ids"] = list(options.pfs_user_ids)
    if options.pfs_info_urls:
        config["pfs_info_urls"] = list(options.pfs_info_urls)
    if options.refresh_seconds is not None:
        config["refresh_seconds"] = options.refresh_seconds
    if options.repush_seconds is not None:
        config["repush_seconds"] = options.repush_seconds
    return config


def build_config(options: HomeserverOptions) -> dict[str, Any]:
    """The homeserver.yaml content (as a dict) for `options`; writes nothing."""
    data_dir = options.data_dir.resolve()
    federation: dict[str, Any] = {"destination_min_retry_interval": options.min_retry_interval}
    if options.max_long_retries is not None:
        federation["max_long_retries"] = options.max_long_retries
    config: dict[str, Any] = {
        "server_name": options.effective_server_name,
        "public_baseurl": f"http://127.0.0.1:{options.client_port}/",
        "pid_file": str(data_dir / "homeserver.pid"),
        "report_stats": False,
        "listeners": [
            {
                "port": options.client_port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            },
            {
                "port": options.federation_port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": True,
                "resources": [{"names": ["federation"], "compress": False}],
            },
        ],
        "tls_certificate_path": str(data_dir / "tls.crt"),
        "tls_private_key_path": str(data_dir / "tls.key"),
        "database": {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
        "log_config": str(data_dir / "log.config"),
        "media_store_path": str(data_dir / "media_store"),
        "signing_key_path": str(data_dir / "signing.key"),
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "registration_shared_secret": secrets.token_hex(32),
        # Loopback federation: no CA, no key servers, private addresses allowed.
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_verify_certificates": False,
        "ip_range_blacklist": [],
        "federation": federation,
        # Presence is what the PFS needs; it must see displaynames of users it shares no room with.
        "presence": {"enabled": True},
        "limit_profile_requests_to_users_who_share_rooms": False,
        "enable_metrics": False,
    }
    if options.federation_whitelist is not None:
        config["federation_domain_whitelist"] = list(options.federation_whitelist)
    modules = [] if options.no_router else [{"module": ROUTER_MODULE, "config": router_config(options)}]
    if options.eth_auth:
        modules.append({"module": ETH_AUTH_MODULE, "config": {}})
    modules.extend(options.extra_modules)
    if modules:
        config["modules"] = modules
    if options.testing:
        config.update(
            {
                "enable_registration": True,
                "enable_registration_without_verification": True,
                "bcrypt_rounds": 4,
                "rc_message": GENEROUS_RATE_LIMIT,
                "rc_registration": GENEROUS_RATE_LIMIT,
                "rc_login": {
                    "address": GENEROUS_RATE_LIMIT,
                    "account": GENEROUS_RATE_LIMIT,
                    "failed_attempts": GENEROUS_RATE_LIMIT,
                },
                "rc_joins": {"local": GENEROUS_RATE_LIMIT, "remote": GENEROUS_RATE_LIMIT},
                "rc_presence": {"per_user": GENEROUS_RATE_LIMIT},
                # Profile lookups (1/s after a burst of 500 by default): the PFS reads one per new user.
                "rc_profile": GENEROUS_RATE_LIMIT,
                "rc_federation": {
                    "window_size": 1000,
                    "sleep_limit": 10_000,
                    "sleep_delay": 0,
                    "reject_limit": 10_000,
                    "concurrent": 10_000,
                },
            }
        )
    config.update(options.extra)
    return config


def log_config(data_dir: Path) -> dict[str, Any]:
    """A logging config that writes INFO and above to `<data_dir>/homeserver.log`."""
    return {
        "version": 1,
        "formatters": {
            "precise": {"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"}
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(data_dir.resolve() / "homeserver.log"),
                "encoding": "utf8",
            }
        },
        "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


def write_self_signed_certificate(certificate_path: Path, key_path: Path) -> None:
    """Writes an EC P-256 key and a 10-year self-signed certificate for IP 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def write_homeserver(options: HomeserverOptions) -> Path:
    """Fills `options.data_dir` and returns the path of its homeserver.yaml.

    The signing key and TLS certificate are kept if they exist, so a restarted homeserver keeps its
    identity; the config and log config are rewritten every time.
    """
    data_dir = options.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "media_store").mkdir(exist_ok=True)
    signing_key = data_dir / "signing.key"
    if not signing_key.exists():
        with signing_key.open("w") as stream:
            write_signing_keys(stream, [generate_signing_key("a_" + secrets.token_hex(2))])
    if not (data_dir / "tls.crt").exists():
        write_self_signed_certificate(data_dir / "tls.crt", data_dir / "tls.key")
    (data_dir / "log.config").write_text(yaml.safe_dump(log_config(data_dir), sort_keys=False))
    config_path = data_dir / "homeserver.yaml"
    config_path.write_text(yaml.safe_dump(build_config(options), sort_keys=False))
    return config_path


def _parse_key_json(parser: argparse.ArgumentParser, flag: str, items: list[str]) -> list[tuple[str, Any]]:
    """Splits each `KEY=JSON` item of `flag`; exits with a usage error on a malformed one."""
    pairs = []
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            parser.error(f"{flag} expects KEY=JSON, got {item!r}")
        try:
            pairs.append((key, json.loads(value)))
        except json.JSONDecodeError as error:
            parser.error(f"{flag} {key}: value is not JSON ({error})")
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--client-port", type=int, required=True)
    parser.add_argument("--federation-port", type=int, required=True)
    parser.add_argument("--server-name", help="default: 127.0.0.1:<federation port>")
    parser.add_argument("--pfs-user-id", action="append", default=[], dest="pfs_user_ids")
    parser.add_argument("--pfs-info-url", action="append", default=[], dest="pfs_info_urls")
    parser.add_argument("--refresh-seconds", type=float)
    parser.add_argument("--repush-seconds", type=float)
    parser.add_argument("--no-router", action="store_true")
    parser.add_argument(
        "--federation-whitelist",
        action="append",
        dest="federation_whitelist",
        help="a server name allowed to federate (repeat); default: no whitelist",
    )
    parser.add_argument("--min-retry-interval", default="1m")
    parser.add_argument("--max-long-retries", type=int)
    parser.add_argument("--testing", action="store_true")
    parser.add_argument(
        "--eth-auth",
        action="store_true",
        help="load Raiden's signature login (contrib/eth-auth-provider)",
    )
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="CLASS=JSON",
        dest="extra_modules",
        help="another Synapse module and its config, e.g. 'package.Class={}' (repeat)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", dest="extra")
    arguments = parser.parse_args(argv)
    for port in (arguments.client_port, arguments.federation_port):
        if not 1 <= port <= 65535:
            parser.error(f"port {port} is outside 1..65535")
    if arguments.client_port == arguments.federation_port:
        parser.error("--client-port and --federation-port must differ")
    if not arguments.no_router and not (arguments.pfs_user_ids or arguments.pfs_info_urls):
        parser.error("the presence router needs --pfs-user-id or --pfs-info-url (or pass --no-router)")
    fields = vars(arguments)
    fields["extra"] = dict(_parse_key_json(parser, "--set", arguments.extra))
    fields["extra_modules"] = [
        {"module": module, "config": config}
        for module, config in _parse_key_json(parser, "--module", arguments.extra_modules)
    ]
    config_path = write_homeserver(HomeserverOptions(**fields))
    print(config_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
