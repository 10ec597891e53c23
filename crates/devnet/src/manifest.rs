//! The files a running devnet leaves in its folder: `devnet.json` (what clients, the PFS and
//! tests connect to) and `devnet.pid` (what `devnet down` stops).
//!
//! Addresses are written EIP-55 checksummed and read in any case. Parts that are not running
//! (Matrix servers, the PFS) are empty lists or `null`.

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

/// File name of the manifest in the devnet folder.
pub const MANIFEST_FILE: &str = "devnet.json";
/// File name of the pid file in the devnet folder.
pub const PID_FILE: &str = "devnet.pid";

/// Errors reading or writing the devnet's files.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Reading or writing failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("parse {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
}

/// `devnet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The chain id.
    pub chain_id: u64,
    /// The JSON-RPC endpoint of anvil.
    pub eth_rpc: String,
    /// The contract addresses.
    pub contracts: ManifestContracts,
    /// The first block with a devnet contract (where a chain follower starts).
    pub deployment_block: u64,
    /// The settle timeout of the token network, in seconds.
    pub settle_timeout: u64,
    /// The Matrix homeservers' base URLs (none yet).
    pub matrix_servers: Vec<String>,
    /// The PFS URL, when a PFS runs.
    pub pfs_url: Option<String>,
    /// The PFS address, when a PFS runs.
    #[serde(with = "optional_checksummed")]
    pub pfs_address: Option<Address>,
    /// The PFS database, when a PFS runs.
    pub pfs_db: Option<String>,
    /// The simulated nodes.
    pub nodes: Vec<ManifestNode>,
}

/// The contract addresses of `devnet.json`, under the contracts' own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestContracts {
    /// SecretRegistry.
    #[serde(rename = "SecretRegistry", with = "checksummed")]
    pub secret_registry: Address,
    /// TokenNetworkRegistry.
    #[serde(rename = "TokenNetworkRegistry", with = "checksummed")]
    pub token_network_registry: Address,
    /// ServiceRegistry.
    #[serde(rename = "ServiceRegistry", with = "checksummed")]
    pub service_registry: Address,
    /// UserDeposit.
    #[serde(rename = "UserDeposit", with = "checksummed")]
    pub user_deposit: Address,
    /// OneToN.
    #[serde(rename = "OneToN", with = "checksummed")]
    pub one_to_n: Address,
    /// MonitoringService.
    #[serde(rename = "MonitoringService", with = "checksummed")]
    pub monitoring_service: Address,
    /// The token.
    #[serde(with = "checksummed")]
    pub token: Address,
    /// The token network of the token.
    #[serde(with = "checksummed")]
    pub token_network: Address,
}

/// One simulated node of `devnet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestNode {
    /// Its address.
    #[serde(with = "checksummed")]
    pub address: Address,
    /// Its secret key, `0x` and 64 hex digits.
    pub private_key: String,
    /// Its homeserver, when Matrix runs.
    pub matrix_server: Option<String>,
    /// Its Matrix user id, when Matrix runs.
    pub user_id: Option<String>,
}

/// `devnet.pid`: the processes a `devnet up` started, for `devnet down`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidFile {
    /// The `devnet up` process.
    pub devnet: u32,
    /// Its anvil.
    pub anvil: Option<u32>,
    /// Its other processes (homeservers, the PFS), with their command names.
    #[serde(default)]
    pub processes: Vec<ChildProcess>,
}

/// A process `devnet up` started, as `devnet down` finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildProcess {
    /// The process id.
    pub pid: u32,
    /// Its command name (`/proc/<pid>/comm`), checked before it is signalled.
    pub name: String,
}

impl ChildProcess {
    /// The process `pid` with its current command name; `None` if it does not run (or, off
    /// Linux, its name cannot be read).
    pub fn of(pid: u32) -> Option<Self> {
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        Some(Self { pid, name: name.trim().to_owned() })
    }
}

impl Manifest {
    /// Writes the manifest to `dir/devnet.json` (through a temporary file and a rename, so a
    /// reader never sees half a file) and returns the path.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ManifestError> {
        write_json(&dir.join(MANIFEST_FILE), self)
    }

    /// Reads `dir/devnet.json`.
    ///
    /// # Errors
    /// The file is missing or malformed.
    pub fn read(dir: &Path) -> Result<Self, ManifestError> {
        read_json(&dir.join(MANIFEST_FILE))
    }
}

impl PidFile {
    /// Writes `dir/devnet.pid`.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ManifestError> {
        write_json(&dir.join(PID_FILE), self)
    }

    /// Reads `dir/devnet.pid`; `None` if there is none.
    ///
    /// # Errors
    /// The file exists but cannot be read or parsed.
    pub fn read(dir: &Path) -> Result<Option<Self>, ManifestError> {
        let path = dir.join(PID_FILE);
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Removes `dir/devnet.pid` if it exists.
    ///
    /// # Errors
    /// Removing fails.
    pub fn remove(dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(PID_FILE);
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(ManifestError::Io { action: "remove", path, source: error })
            }
            _ => Ok(()),
        }
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<PathBuf, ManifestError> {
    // Serialising these plain structs cannot fail: all keys are strings.
    let text = serde_json::to_string_pretty(value)
        .map_err(|source| ManifestError::Parse { path: path.to_path_buf(), source })?;
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text + "\n").map_err(|source| ManifestError::Io {
        action: "write",
        path: temporary.clone(),
        source,
    })?;
    std::fs::rename(&temporary, path).map_err(|source| ManifestError::Io {
        action: "rename",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ManifestError> {
    let text = std::fs::read(path).map_err(|source| ManifestError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| ManifestError::Parse { path: path.to_path_buf(), source })
}

mod checksummed {
    use alloy::primitives::Address;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(address: &Address, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&address.to_checksum(None))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

mod optional_checksummed {
    use alloy::primitives::Address;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(address: &Option<Address>, serializer: S) -> Result<S::Ok, S::Error> {
        match address {
            Some(address) => super::checksummed::serialize(address, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Address>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    fn example() -> Manifest {
        let contract = address!("5fbdb2315678afecb367f032d93f642f64180aa3");
        Manifest {
            chain_id: 31337,
            eth_rpc: "http://127.0.0.1:8545".into(),
            contracts: ManifestContracts {
                secret_registry: contract,
                token_network_registry: contract,
                service_registry: contract,
                user_deposit: contract,
                one_to_n: contract,
                monitoring_service: contract,
                token: contract,
                token_network: contract,
            },
            deployment_block: 1,
            settle_timeout: 500,
            matrix_servers: vec![],
            pfs_url: None,
            pfs_address: None,
            pfs_db: None,
            nodes: vec![ManifestNode {
                address: contract,
                private_key: format!("0x{}", "11".repeat(32)),
                matrix_server: None,
                user_id: None,
            }],
        }
    }

    #[test]
    fn the_manifest_has_the_documented_keys_with_checksummed_addresses() {
        let json = serde_json::to_value(example()).unwrap();
        for key in [
            "chain_id",
            "eth_rpc",
            "contracts",
            "matrix_servers",
            "pfs_url",
            "pfs_address",
            "pfs_db",
            "nodes",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        for key in [
            "SecretRegistry",
            "TokenNetworkRegistry",
            "ServiceRegistry",
            "UserDeposit",
            "OneToN",
            "token",
            "token_network",
        ] {
            assert_eq!(json["contracts"][key], "0x5FbDB2315678afecb367f032d93F642f64180aa3", "{key}");
        }
        assert_eq!(json["nodes"][0]["address"], "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    }

    #[test]
    fn the_manifest_round_trips_through_a_file() {
        let dir = std::env::temp_dir().join(format!("devnet-manifest-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = example();
        manifest.write(&dir).unwrap();
        assert_eq!(Manifest::read(&dir).unwrap(), manifest);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
