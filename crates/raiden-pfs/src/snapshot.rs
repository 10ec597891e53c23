//! The JSON files of `raiden-pfs replay`: a network snapshot, a request list, and the results.
//!
//! Amounts are decimal strings (numbers are accepted too); addresses are read in any case and
//! written checksummed; keys starting with `_` are informational and ignored (as is any other
//! unknown key).

use std::path::{Path as FilePath, PathBuf};

use pfs_core::ids::ChannelId;
use pfs_core::integer;
use pfs_core::routing::{
    ChannelDescription, DIVERSITY_PENALTY_DEFAULT, FEE_PENALTY_DEFAULT, MAX_PATHS_PER_REQUEST, PathRequest,
};
use pfs_core::{Address, FeeSchedule, TokenAmount};
use serde::{Deserialize, Serialize};

/// Largest snapshot or request file read, so a mistaken path cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// One channel of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// The channel's identifier.
    pub channel_id: ChannelId,
    /// One participant.
    pub participant1: Address,
    /// The other participant.
    pub participant2: Address,
    /// What `participant1` can send to `participant2`.
    #[serde(with = "integer::as_decimal_string")]
    pub capacity1: TokenAmount,
    /// What `participant2` can send to `participant1`.
    #[serde(with = "integer::as_decimal_string")]
    pub capacity2: TokenAmount,
    /// `participant1`'s schedule for this channel.
    pub fee_schedule1: FeeSchedule,
    /// `participant2`'s schedule for this channel.
    pub fee_schedule2: FeeSchedule,
}

impl From<ChannelRecord> for ChannelDescription {
    fn from(record: ChannelRecord) -> Self {
        ChannelDescription {
            channel_id: record.channel_id,
            participant1: record.participant1,
            participant2: record.participant2,
            capacity1: record.capacity1,
            capacity2: record.capacity2,
            fee_schedule1: record.fee_schedule1,
            fee_schedule2: record.fee_schedule2,
        }
    }
}

impl From<ChannelDescription> for ChannelRecord {
    fn from(channel: ChannelDescription) -> Self {
        ChannelRecord {
            channel_id: channel.channel_id,
            participant1: channel.participant1,
            participant2: channel.participant2,
            capacity1: channel.capacity1,
            capacity2: channel.capacity2,
            fee_schedule1: channel.fee_schedule1,
            fee_schedule2: channel.fee_schedule2,
        }
    }
}

/// A token network's channels and who is online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSnapshot {
    /// The token network.
    pub token_network_address: Address,
    /// Its channels, at most one per pair of participants.
    pub channels: Vec<ChannelRecord>,
    /// The online (REACHABLE) addresses; everyone else is offline.
    pub online: Vec<Address>,
}

/// One path request of a request list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The payer.
    pub from: Address,
    /// The payee.
    pub to: Address,
    /// The amount.
    #[serde(with = "integer::as_decimal_string")]
    pub value: TokenAmount,
    /// Paths wanted, 1 to 25.
    pub max_paths: usize,
    /// `null` for the default (5).
    #[serde(default)]
    pub diversity_penalty: Option<f64>,
    /// `null` for the default (100).
    #[serde(default)]
    pub fee_penalty: Option<f64>,
}

/// A request that cannot be answered as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// `max_paths` outside 1..=25.
    #[error("max_paths must be between 1 and {MAX_PATHS_PER_REQUEST}, got {0}")]
    MaxPaths(usize),
    /// A penalty that is negative or not finite.
    #[error("{0} must be a finite number >= 0, got {1}")]
    Penalty(&'static str, f64),
}

impl RequestRecord {
    /// The request for the routing engine, with defaults filled in.
    ///
    /// # Errors
    /// [`RequestError`] for `max_paths` outside 1..=25 or an invalid penalty.
    pub fn to_path_request(&self) -> Result<PathRequest, RequestError> {
        if !(1..=MAX_PATHS_PER_REQUEST).contains(&self.max_paths) {
            return Err(RequestError::MaxPaths(self.max_paths));
        }
        let penalty = |name: &'static str, value: Option<f64>, default: f64| match value {
            None => Ok(default),
            Some(value) if value.is_finite() && value >= 0.0 => Ok(value),
            Some(value) => Err(RequestError::Penalty(name, value)),
        };
        Ok(PathRequest {
            source: self.from,
            target: self.to,
            value: self.value,
            max_paths: self.max_paths,
            diversity_penalty: penalty(
                "diversity_penalty",
                self.diversity_penalty,
                DIVERSITY_PENALTY_DEFAULT,
            )?,
            fee_penalty: penalty("fee_penalty", self.fee_penalty, FEE_PENALTY_DEFAULT)?,
        })
    }
}

/// One returned path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRecord {
    /// Checksummed addresses from source to target.
    pub path: Vec<Address>,
    /// The signed estimated fee as a decimal string.
    pub estimated_fee: String,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRecord {
    /// The paths, best first.
    pub paths: Vec<PathRecord>,
    /// The §2.4 message, "No route between nodes found.", or an invalid-request message.
    pub error: Option<String>,
    /// Wall time of the request in microseconds.
    pub micros: u64,
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The JSON does not have the expected shape.
    #[error("{path} is not a valid {what} (line {line}, column {column}): {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Which format was expected.
        what: &'static str,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// serde's description.
        message: String,
    },
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &FilePath, what: &'static str) -> Result<T, FileError> {
    let io = |source| FileError::Io { path: path.to_owned(), source };
    let length = std::fs::metadata(path).map_err(io)?.len();
    if length > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { path: path.to_owned() });
    }
    let text = std::fs::read(path).map_err(io)?;
    serde_json::from_slice(&text).map_err(|error| FileError::Malformed {
        path: path.to_owned(),
        what,
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })
}

/// Reads a network snapshot.
///
/// # Errors
/// [`FileError`] naming the file and, for bad JSON, the position and the offending field.
pub fn read_snapshot(path: &FilePath) -> Result<NetworkSnapshot, FileError> {
    read_json(path, "network snapshot")
}

/// Reads a request list.
///
/// # Errors
/// [`FileError`] naming the file and, for bad JSON, the position and the offending field.
pub fn read_requests(path: &FilePath) -> Result<Vec<RequestRecord>, FileError> {
    read_json(path, "request list")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reads_the_documented_format_and_ignores_informational_keys() {
        let json = r#"{"_comment": "generated", "token_network_address": "0x1524f40bf072d0344bbdf9570cde719b04d0076b",
            "channels": [{"channel_id": "1", "_note": "x",
              "participant1": "0x0000000000000000000000000000000000000002",
              "participant2": "0x0000000000000000000000000000000000000001",
              "capacity1": "100", "capacity2": 5,
              "fee_schedule1": {"cap_fees": true, "flat": "0", "proportional": "0", "imbalance_penalty": null},
              "fee_schedule2": {"cap_fees": true, "flat": "1", "proportional": "2", "imbalance_penalty": [["0","1"],["105","0"]]}}],
            "online": ["0x0000000000000000000000000000000000000001", "0x00000000000000000000000000000000000000ff"]}"#;
        let snapshot: NetworkSnapshot = serde_json::from_str(json).unwrap();
        assert_eq!(snapshot.channels[0].capacity2, TokenAmount::from(5));
        assert_eq!(snapshot.online.len(), 2);
    }

    #[test]
    fn request_defaults_and_limits() {
        let json = r#"{"from": "0x0000000000000000000000000000000000000002", "to": "0x0000000000000000000000000000000000000001",
            "value": "10", "max_paths": 5, "diversity_penalty": null, "fee_penalty": null}"#;
        let record: RequestRecord = serde_json::from_str(json).unwrap();
        let request = record.to_path_request().unwrap();
        assert_eq!((request.diversity_penalty, request.fee_penalty), (5.0, 100.0));
        let too_many = RequestRecord { max_paths: 26, ..record.clone() };
        assert_eq!(too_many.to_path_request(), Err(RequestError::MaxPaths(26)));
        let negative = RequestRecord { fee_penalty: Some(-1.0), ..record };
        assert!(negative.to_path_request().is_err());
    }
}
