//! The configuration of `serve`: command-line flags, `PFS_*` environment variables and an
//! optional TOML file (`--config FILE`), merged with the precedence flags > environment > file >
//! defaults, and resolved into checked values.
//!
//! One struct, [`ServeArgs`], is both the clap argument set and the TOML schema, so every flag
//! has a TOML key of the same name (`--eth-rpc` is `eth_rpc`), and a key the struct does not know
//! is rejected with serde's message naming it and the expected keys. Every field is optional in
//! both: defaults are applied only after merging, so a default can never hide a file's value.
//!
//! The service's key comes from exactly one source: `private_key` (hex), `private_key_file`
//! (a file holding the hex key), or `keystore_file` with `password_file` (an Ethereum keystore,
//! as geth and Raiden write them). The sources form one group in the precedence: if the flags or
//! the environment name any source, the file's sources are ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use pfs_api::{RateLimit, RateLimits};
use pfs_core::routing::SearchLimits;
use pfs_core::{Address, PrivateKey, U256};
use serde::{Deserialize, Serialize};

/// Default Ethereum JSON-RPC endpoint.
pub const DEFAULT_ETH_RPC: &str = "http://127.0.0.1:8545";
/// Default database: a SQLite file in the working directory.
pub const DEFAULT_DB: &str = "raiden-pfs.db";
/// Default listening address.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default port (the reference's).
pub const DEFAULT_PORT: u16 = 6000;
/// Default poll interval of the chain follower while no new block is confirmed (the reference's).
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 2_000;

/// Arguments of `serve`: each a flag, a `PFS_*` environment variable and a key of the
/// `--config` TOML file (flags > environment > file > defaults).
#[derive(Debug, Default, Clone, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// A TOML file with any of these settings (keys as the flags, with `_`: `eth_rpc = "..."`).
    #[arg(long, env = "PFS_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Ethereum JSON-RPC URL [default: http://127.0.0.1:8545].
    #[arg(long, env = "PFS_ETH_RPC")]
    pub eth_rpc: Option<String>,
    /// Chain id of the followed chain; checked against the node's. Without it, the node's is used.
    #[arg(long, env = "PFS_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// TokenNetworkRegistry contract (checksummed or lower-case). Required.
    #[arg(long, env = "PFS_TOKEN_NETWORK_REGISTRY_ADDRESS")]
    pub token_network_registry_address: Option<String>,
    /// UserDeposit contract. Required.
    #[arg(long, env = "PFS_USER_DEPOSIT_ADDRESS")]
    pub user_deposit_address: Option<String>,
    /// OneToN contract (IOUs are claimed through it).
    #[arg(long, env = "PFS_ONE_TO_N_ADDRESS")]
    pub one_to_n_address: Option<String>,
    /// The service token (UserDeposit.token()) [default: the zero address].
    #[arg(long, env = "PFS_SERVICE_TOKEN_ADDRESS")]
    pub service_token_address: Option<String>,
    /// First block read on an empty database [default: the registry's deployment block, found on
    /// the node by bisecting eth_getCode; 0 if the node keeps no state for old blocks].
    #[arg(long, env = "PFS_START_BLOCK")]
    pub start_block: Option<u64>,
    /// Blocks to wait before a block's events count as confirmed; 0 allowed [default: 5].
    #[arg(long, env = "PFS_CONFIRMATIONS")]
    pub confirmations: Option<u64>,
    /// Milliseconds between chain polls while no new block is confirmed [default: 2000].
    #[arg(long, env = "PFS_POLL_INTERVAL_MS")]
    pub poll_interval_ms: Option<u64>,
    /// The service's private key as hex.
    #[arg(long, env = "PFS_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// A file holding the service's private key as hex.
    #[arg(long, env = "PFS_PRIVATE_KEY_FILE")]
    pub private_key_file: Option<PathBuf>,
    /// An Ethereum keystore (JSON) file holding the service's key; needs `--password-file`.
    #[arg(long, env = "PFS_KEYSTORE_FILE")]
    pub keystore_file: Option<PathBuf>,
    /// A file whose first line is the keystore's password.
    #[arg(long, env = "PFS_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Database: a SQLite file path or a `postgres://` URL [default: raiden-pfs.db].
    #[arg(long, env = "PFS_DB")]
    pub db: Option<String>,
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long, env = "PFS_HOST")]
    pub host: Option<String>,
    /// Port to listen on [default: 6000].
    #[arg(long, env = "PFS_PORT")]
    pub port: Option<u16>,
    /// Fee per path request, in service-token units [default: 0].
    #[arg(long, env = "PFS_SERVICE_FEE")]
    pub service_fee: Option<String>,
    /// `operator` in /info [default: empty].
    #[arg(long, env = "PFS_OPERATOR")]
    pub operator: Option<String>,
    /// `message` in /info [default: empty].
    #[arg(long, env = "PFS_INFO_MESSAGE")]
    pub info_message: Option<String>,
    /// Matrix homeserver URL; without it the service runs without Matrix.
    #[arg(long, env = "PFS_MATRIX_SERVER")]
    pub matrix_server: Option<String>,
    /// The homeserver's Matrix server name when it differs from the URL's `host[:port]`
    /// (delegation, or loopback homeservers named by their federation port).
    #[arg(long, env = "PFS_MATRIX_SERVER_NAME")]
    pub matrix_server_name: Option<String>,
    /// Enable the `_debug` endpoints.
    #[arg(long, env = "PFS_ENABLE_DEBUG", num_args = 0..=1, default_missing_value = "true")]
    pub enable_debug: Option<bool>,
    /// Time budget of one path search, in milliseconds.
    #[arg(long, env = "PFS_SEARCH_BUDGET_MS")]
    pub search_budget_ms: Option<u64>,
    /// Requests per second per client IP (IPv6 per /64), every `/api` endpoint; 0 = no limit
    /// [default: 50].
    #[arg(long, env = "PFS_RATE_LIMIT_PER_IP")]
    pub rate_limit_per_ip: Option<u32>,
    /// Requests a client IP may make at once [default: 200].
    #[arg(long, env = "PFS_RATE_LIMIT_PER_IP_BURST")]
    pub rate_limit_per_ip_burst: Option<u32>,
    /// Updates per second per signer on `POST /api/v1/updates`; 0 = no limit [default: 20].
    #[arg(long, env = "PFS_RATE_LIMIT_PER_SIGNER")]
    pub rate_limit_per_signer: Option<u32>,
    /// Log format on standard error: `text` for people, or `json` (one object per line, every
    /// message included, for log collectors; the reference's `--log-json`) [default: text].
    #[arg(long, env = "PFS_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Updates a signer may send at once [default: 500].
    #[arg(long, env = "PFS_RATE_LIMIT_PER_SIGNER_BURST")]
    pub rate_limit_per_signer_burst: Option<u32>,
    /// Path requests per second per IOU sender; 0 = no limit [default: 10].
    #[arg(long, env = "PFS_RATE_LIMIT_PER_IOU_SENDER")]
    pub rate_limit_per_iou_sender: Option<u32>,
    /// Path requests an IOU sender may make at once [default: 50].
    #[arg(long, env = "PFS_RATE_LIMIT_PER_IOU_SENDER_BURST")]
    pub rate_limit_per_iou_sender_burst: Option<u32>,
}

/// How `serve` writes its log (see [`ServeArgs::log_format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the service's key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A hex key given directly.
    Hex(String),
    /// A file holding a hex key.
    HexFile(PathBuf),
    /// An Ethereum keystore file and a file with its password.
    Keystore {
        /// The keystore (JSON).
        keystore: PathBuf,
        /// The password file (first line).
        password: PathBuf,
    },
}

/// The checked configuration of `serve`, defaults applied.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Ethereum JSON-RPC URL.
    pub eth_rpc: String,
    /// `--chain-id`, if given.
    pub chain_id: Option<u64>,
    /// TokenNetworkRegistry.
    pub token_network_registry: Address,
    /// UserDeposit.
    pub user_deposit: Address,
    /// OneToN, if configured.
    pub one_to_n_address: Option<Address>,
    /// The service token.
    pub service_token: Address,
    /// First block read on an empty database (`None`: the registry's deployment block).
    pub start_block: Option<u64>,
    /// Confirmation depth.
    pub confirmations: u64,
    /// Chain poll interval.
    pub poll_interval: Duration,
    /// The key's source.
    pub key: KeySource,
    /// Database location.
    pub db: String,
    /// Listening host.
    pub host: String,
    /// Listening port.
    pub port: u16,
    /// Fee per path request.
    pub service_fee: U256,
    /// `operator` in /info.
    pub operator: String,
    /// `message` in /info.
    pub info_message: String,
    /// Matrix homeserver.
    pub matrix_server: Option<String>,
    /// Its server name, if not the URL's `host[:port]`.
    pub matrix_server_name: Option<String>,
    /// `_debug` endpoints on.
    pub enable_debug: bool,
    /// Budget of one path search.
    pub search_budget: Duration,
    /// The HTTP API's rate limits (a rate or burst of 0 switches that limit off).
    pub rate_limits: RateLimits,
    /// The log format.
    pub log_format: LogFormat,
}

const KEY_FIELDS: [&str; 4] = ["private_key", "private_key_file", "keystore_file", "password_file"];

impl ServeArgs {
    /// Reads the TOML file.
    ///
    /// # Errors
    /// If it cannot be read, is not TOML, has a key `serve` does not know, or a value of the
    /// wrong type.
    pub fn from_toml_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
    }

    /// `self` (flags and environment) over `file`: every setting `self` has wins; the key
    /// sources count as one setting.
    ///
    /// # Errors
    /// Never in practice: both sides are this struct's own serialisation.
    pub fn over(&self, file: &ServeArgs) -> anyhow::Result<ServeArgs> {
        let mut merged = serde_json::to_value(file).context("configuration file")?;
        let upper = serde_json::to_value(self).context("configuration")?;
        let (Some(merged_fields), Some(upper_fields)) = (merged.as_object_mut(), upper.as_object()) else {
            bail!("configuration is not a map");
        };
        if KEY_FIELDS.iter().any(|field| upper_fields.get(*field).is_some_and(|value| !value.is_null())) {
            for field in KEY_FIELDS {
                merged_fields.remove(field);
            }
        }
        for (field, value) in upper_fields {
            if !value.is_null() {
                merged_fields.insert(field.clone(), value.clone());
            }
        }
        let mut result: ServeArgs = serde_json::from_value(merged).context("configuration")?;
        result.config = self.config.clone();
        Ok(result)
    }

    /// Merges the `--config` file (if any) under these flags and environment values and checks
    /// the result.
    ///
    /// # Errors
    /// A missing required setting, an invalid address or number, several key sources, or an
    /// unreadable or invalid configuration file.
    pub fn resolve(&self) -> anyhow::Result<ServeConfig> {
        let merged = match &self.config {
            Some(path) => self.over(&ServeArgs::from_toml_file(path)?)?,
            None => self.clone(),
        };
        merged.checked()
    }

    fn checked(self) -> anyhow::Result<ServeConfig> {
        let required = |value: Option<String>, name: &str| {
            value.with_context(|| {
                format!(
                    "--{} is required (or PFS_{} or `{}` in --config)",
                    name.replace('_', "-"),
                    name.to_uppercase(),
                    name
                )
            })
        };
        let registry = required(self.token_network_registry_address, "token_network_registry_address")?;
        let user_deposit = required(self.user_deposit_address, "user_deposit_address")?;
        let service_fee = self.service_fee.unwrap_or_else(|| "0".to_owned());
        let key = match (self.private_key, self.private_key_file, self.keystore_file, self.password_file) {
            (Some(hex), None, None, None) => KeySource::Hex(hex),
            (None, Some(path), None, None) => KeySource::HexFile(path),
            (None, None, Some(keystore), Some(password)) => KeySource::Keystore { keystore, password },
            (None, None, Some(_), None) => bail!("--keystore-file needs --password-file"),
            (None, None, None, Some(_)) => bail!("--password-file needs --keystore-file"),
            (None, None, None, None) => bail!(
                "a private key is required: --private-key (PFS_PRIVATE_KEY), --private-key-file, \
                 or --keystore-file with --password-file"
            ),
            _ => bail!(
                "give one key source: --private-key, --private-key-file, or --keystore-file with --password-file"
            ),
        };
        Ok(ServeConfig {
            eth_rpc: self.eth_rpc.unwrap_or_else(|| DEFAULT_ETH_RPC.to_owned()),
            chain_id: self.chain_id,
            token_network_registry: address("token-network-registry-address", &registry)?,
            user_deposit: address("user-deposit-address", &user_deposit)?,
            one_to_n_address: self
                .one_to_n_address
                .as_deref()
                .map(|text| address("one-to-n-address", text))
                .transpose()?,
            service_token: match &self.service_token_address {
                Some(text) => address("service-token-address", text)?,
                None => Address::from_bytes([0; 20]),
            },
            start_block: self.start_block,
            confirmations: self.confirmations.unwrap_or(pfs_chain::DEFAULT_CONFIRMATIONS),
            poll_interval: Duration::from_millis(self.poll_interval_ms.unwrap_or(DEFAULT_POLL_INTERVAL_MS)),
            key,
            db: self.db.unwrap_or_else(|| DEFAULT_DB.to_owned()),
            host: self.host.unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            port: self.port.unwrap_or(DEFAULT_PORT),
            service_fee: U256::from_str_radix(service_fee.trim(), 10)
                .with_context(|| format!("--service-fee is not an integer: {service_fee}"))?,
            operator: self.operator.unwrap_or_default(),
            info_message: self.info_message.unwrap_or_default(),
            matrix_server: self.matrix_server,
            matrix_server_name: self.matrix_server_name,
            enable_debug: self.enable_debug.unwrap_or(false),
            log_format: self.log_format.unwrap_or_default(),
            search_budget: self
                .search_budget_ms
                .map_or(SearchLimits::default().time_budget, Duration::from_millis),
            rate_limits: {
                let defaults = RateLimits::default();
                RateLimits {
                    per_ip: limit(self.rate_limit_per_ip, self.rate_limit_per_ip_burst, defaults.per_ip),
                    per_update_signer: limit(
                        self.rate_limit_per_signer,
                        self.rate_limit_per_signer_burst,
                        defaults.per_update_signer,
                    ),
                    per_iou_sender: limit(
                        self.rate_limit_per_iou_sender,
                        self.rate_limit_per_iou_sender_burst,
                        defaults.per_iou_sender,
                    ),
                    ..defaults
                }
            },
        })
    }
}

/// A rate limit from its two settings, each defaulting to the library's; 0 switches it off.
fn limit(per_second: Option<u32>, burst: Option<u32>, default: Option<RateLimit>) -> Option<RateLimit> {
    let (default_per_second, default_burst) = default.map_or((0, 0), |limit| (limit.per_second, limit.burst));
    RateLimit::new(per_second.unwrap_or(default_per_second), burst.unwrap_or(default_burst))
}

fn address(name: &str, text: &str) -> anyhow::Result<Address> {
    Address::parse_any_case(text).with_context(|| format!("--{name} is not an address: {text}"))
}

impl KeySource {
    /// Loads the key.
    ///
    /// # Errors
    /// An unreadable file, a key that is not 32 bytes of hex, or a keystore that does not decrypt
    /// with the password.
    pub fn load(&self) -> anyhow::Result<PrivateKey> {
        match self {
            KeySource::Hex(text) => {
                PrivateKey::parse_hex(text.trim()).context("the private key is not 32 bytes of hex")
            }
            KeySource::HexFile(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                PrivateKey::parse_hex(text.trim())
                    .with_context(|| format!("{} does not hold 32 bytes of hex", path.display()))
            }
            KeySource::Keystore { keystore, password } => {
                let password_text = std::fs::read_to_string(password)
                    .with_context(|| format!("cannot read {}", password.display()))?;
                let password_line = password_text.lines().next().unwrap_or("");
                let secret = eth_keystore::decrypt_key(keystore, password_line).with_context(|| {
                    format!("cannot decrypt the keystore {} with the password file", keystore.display())
                })?;
                let bytes: [u8; 32] = secret.as_slice().try_into().with_context(|| {
                    format!("the keystore {} does not hold a 32-byte key", keystore.display())
                })?;
                PrivateKey::from_bytes(bytes).context("the keystore's key is not a valid secp256k1 key")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    const REGISTRY: &str = "0x0101010101010101010101010101010101010101";
    const USER_DEPOSIT: &str = "0x0202020202020202020202020202020202020202";
    const KEY: &str = "0x4242424242424242424242424242424242424242424242424242424242424242";

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    /// Parses flags with the environment the test process has (no `PFS_*` variables are set
    /// by these tests; clap's environment fallback is exercised by the process tests).
    fn flags(arguments: &[&str]) -> ServeArgs {
        Cli::try_parse_from(std::iter::once("serve").chain(arguments.iter().copied()))
            .expect("valid flags")
            .serve
    }

    fn file(text: &str) -> ServeArgs {
        toml::from_str(text).expect("valid TOML")
    }

    fn minimal_file() -> String {
        format!(
            "token_network_registry_address = \"{REGISTRY}\"\nuser_deposit_address = \"{USER_DEPOSIT}\"\nprivate_key = \"{KEY}\"\n"
        )
    }

    #[test]
    fn defaults_apply_when_no_layer_sets_a_value() {
        let config = flags(&[]).over(&file(&minimal_file())).expect("merges").checked().expect("valid");
        assert_eq!(config.eth_rpc, DEFAULT_ETH_RPC);
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.host, DEFAULT_HOST);
        assert_eq!(config.db, DEFAULT_DB);
        assert_eq!(config.confirmations, 5);
        assert_eq!(config.start_block, None);
        assert_eq!(config.chain_id, None);
        assert_eq!(config.one_to_n_address, None);
        assert!(!config.enable_debug);
        assert_eq!(config.rate_limits, RateLimits::default());
    }

    #[test]
    fn a_zero_rate_switches_a_limit_off_and_a_rate_alone_keeps_the_default_burst() {
        let merged = flags(&["--rate-limit-per-ip", "0", "--rate-limit-per-signer", "7"])
            .over(&file(&minimal_file()))
            .expect("merges");
        let limits = merged.checked().expect("valid").rate_limits;
        assert_eq!(limits.per_ip, None);
        assert_eq!(limits.per_update_signer, RateLimit::new(7, 500));
        assert_eq!(limits.per_iou_sender, RateLimits::default().per_iou_sender);
    }

    #[test]
    fn the_file_overrides_defaults_and_flags_override_the_file() {
        let text = format!(
            "{}port = 7000\nconfirmations = 0\noperator = \"file\"\nenable_debug = true\n",
            minimal_file()
        );
        let merged = flags(&["--port", "7001", "--operator", "flag"]).over(&file(&text)).expect("merges");
        let config = merged.checked().expect("valid");
        assert_eq!(config.port, 7001, "flag over file");
        assert_eq!(config.operator, "flag", "flag over file");
        assert_eq!(config.confirmations, 0, "file over default, 0 honoured");
        assert!(config.enable_debug, "file over default");
        let text = format!("{}enable_debug = true\n", minimal_file());
        let merged = flags(&["--enable-debug=false"]).over(&file(&text)).expect("merges");
        assert!(!merged.checked().expect("valid").enable_debug, "an explicit false flag over the file");
        assert_eq!(flags(&["--enable-debug", "--port", "1"]).enable_debug, Some(true), "a bare flag is true");
    }

    #[test]
    fn every_flag_has_a_toml_key() {
        let text = format!(
            "eth_rpc = \"http://127.0.0.1:1\"\nchain_id = 5\ntoken_network_registry_address = \"{REGISTRY}\"\n\
             user_deposit_address = \"{USER_DEPOSIT}\"\none_to_n_address = \"{REGISTRY}\"\n\
             service_token_address = \"{USER_DEPOSIT}\"\nstart_block = 9\nconfirmations = 2\npoll_interval_ms = 10\n\
             private_key = \"{KEY}\"\ndb = \"x.db\"\nhost = \"127.0.0.2\"\nport = 1\nservice_fee = \"7\"\n\
             operator = \"o\"\ninfo_message = \"m\"\nmatrix_server = \"http://127.0.0.1:2\"\nenable_debug = true\n\
             search_budget_ms = 3\nlog_format = \"json\"\n"
        );
        let config = file(&text).checked().expect("valid");
        assert_eq!(config.chain_id, Some(5));
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.start_block, Some(9));
        assert_eq!(config.service_fee, U256::from(7));
        assert_eq!(config.search_budget, Duration::from_millis(3));
        assert_eq!(config.poll_interval, Duration::from_millis(10));
        assert_eq!(config.one_to_n_address.map(|address| address.to_lower_hex()), Some(REGISTRY.to_owned()));
        let flag_names: Vec<String> = <Cli as clap::CommandFactory>::command()
            .get_arguments()
            .filter_map(|argument| argument.get_long().map(|long| long.replace('-', "_")))
            .filter(|name| name != "config")
            .collect();
        let keys = serde_json::to_value(ServeArgs::default()).expect("serialises");
        let keys: Vec<&String> = keys.as_object().expect("a map").keys().collect();
        for name in &flag_names {
            assert!(keys.contains(&name), "flag --{name} has no TOML key");
        }
    }

    #[test]
    fn an_unknown_key_is_rejected_naming_it() {
        let error =
            toml::from_str::<ServeArgs>("eth_rcp = \"http://127.0.0.1:1\"\n").expect_err("unknown key");
        assert!(error.to_string().contains("unknown field `eth_rcp`"), "{error}");
        let error = toml::from_str::<ServeArgs>("config = \"other.toml\"\n").expect_err("no nesting");
        assert!(error.to_string().contains("unknown field `config`"), "{error}");
    }

    #[test]
    fn a_key_source_in_the_flags_replaces_the_files_key_source() {
        let text = format!(
            "{}keystore_file = \"k.json\"\n",
            minimal_file().replace(&format!("private_key = \"{KEY}\"\n"), "")
        );
        let merged = flags(&["--private-key-file", "key.hex"]).over(&file(&text)).expect("merges");
        assert_eq!(merged.checked().expect("valid").key, KeySource::HexFile(PathBuf::from("key.hex")));
    }

    #[test]
    fn two_key_sources_in_one_layer_are_an_error() {
        let text = format!("{}private_key_file = \"key.hex\"\n", minimal_file());
        let error = file(&text).checked().expect_err("ambiguous");
        assert!(error.to_string().contains("give one key source"), "{error}");
        let error = flags(&["--keystore-file", "k.json"])
            .over(&file(&minimal_file().replace(&format!("private_key = \"{KEY}\"\n"), "")))
            .expect("merges")
            .checked()
            .expect_err("no password");
        assert!(error.to_string().contains("--password-file"), "{error}");
    }

    #[test]
    fn a_missing_registry_names_every_way_to_set_it() {
        let error = flags(&["--private-key", KEY]).checked().expect_err("required");
        let message = error.to_string();
        assert!(message.contains("--token-network-registry-address"), "{message}");
        assert!(message.contains("PFS_TOKEN_NETWORK_REGISTRY_ADDRESS"), "{message}");
    }

    #[test]
    fn each_key_source_loads_the_same_key() {
        let directory = tempfile::tempdir().expect("temporary folder");
        let expected = PrivateKey::parse_hex(KEY).expect("valid key");
        assert_eq!(KeySource::Hex(KEY.to_owned()).load().expect("loads").address(), expected.address());
        let hex_file = directory.path().join("key.hex");
        std::fs::write(&hex_file, format!("{KEY}\n")).expect("written");
        assert_eq!(KeySource::HexFile(hex_file).load().expect("loads").address(), expected.address());
        eth_keystore::encrypt_key(
            directory.path(),
            &mut rand::thread_rng(),
            [0x42_u8; 32],
            "secret password",
            Some("keystore.json"),
        )
        .expect("keystore written");
        let password = directory.path().join("password.txt");
        std::fs::write(&password, "secret password\n").expect("written");
        let keystore = KeySource::Keystore {
            keystore: directory.path().join("keystore.json"),
            password: password.clone(),
        };
        assert_eq!(keystore.load().expect("decrypts").address(), expected.address());
        std::fs::write(&password, "wrong\n").expect("written");
        let error = keystore.load().expect_err("wrong password");
        assert!(format!("{error:#}").contains("cannot decrypt"), "{error:#}");
    }
}
