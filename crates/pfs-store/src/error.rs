//! The one error type of the store, with the operation and the key it concerns.

use pfs_core::token_network::{RestoreError, UpdateRejection};
use pfs_core::{Address, BlockNumber, MessageError, U256};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The location is neither a file path nor a `sqlite:` / `postgres:` URL the store can use.
    #[error("unsupported database location {location:?}: {reason}")]
    InvalidLocation {
        /// The location as given (a URL's password is not shown).
        location: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The database could not be opened or created.
    #[error("cannot open database {location}: {source}")]
    Connect {
        /// The location (a URL's password is not shown).
        location: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// SQLite could not switch the database to write-ahead logging (e.g. on a network file
    /// system), which the store's durability and concurrency rely on.
    #[error("database {location} cannot use write-ahead logging (journal mode is {journal_mode:?})")]
    NoWriteAheadLog {
        /// The location.
        location: String,
        /// The journal mode SQLite kept.
        journal_mode: String,
    },
    /// The database was written by a newer raiden-pfs: its schema is at a version this binary
    /// does not know, and running on it could lose data.
    #[error(
        "database schema version {database} is newer than the newest this raiden-pfs knows ({supported}); \
         upgrade raiden-pfs or use another database"
    )]
    SchemaTooNew {
        /// The latest migration applied to the database.
        database: i64,
        /// The latest migration this binary knows.
        supported: i64,
    },
    /// A read-only open found a database that is not at this binary's schema version (or has no
    /// raiden-pfs schema at all, version 0); start the service on it once to migrate it.
    #[error(
        "database schema version {database} differs from this raiden-pfs's ({supported}); \
         read-only access needs the same version"
    )]
    SchemaVersionMismatch {
        /// The latest migration applied to the database (0 if none).
        database: i64,
        /// The latest migration this binary knows.
        supported: i64,
    },
    /// Applying the schema migrations failed.
    #[error("schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database belongs to another deployment (chain, registry, user deposit contract or
    /// service address) than the one configured.
    #[error(
        "database belongs to another deployment: {setting} is {stored} in the database but {configured} \
         in the configuration"
    )]
    DeploymentMismatch {
        /// Which setting differs.
        setting: &'static str,
        /// The value saved in the database.
        stored: String,
        /// The value configured now.
        configured: String,
    },
    /// Another raiden-pfs service holds the database's service lease (see
    /// [`Store::take_service_lease`](crate::Store::take_service_lease)): two services on one
    /// database would overwrite each other's state.
    #[error("another raiden-pfs service is using the database {location}; run one service per database")]
    ServiceLeaseHeld {
        /// The location (a URL's password is not shown).
        location: String,
    },
    /// The lock file of a SQLite database's service lease cannot be opened or locked.
    #[error("cannot lock {path}: {source}")]
    LeaseFile {
        /// The lock file.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A statement failed.
    #[error("database error while trying to {operation}: {source}")]
    Database {
        /// What the store was doing, e.g. "commit state changes".
        operation: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A row does not decode into valid state: the database was edited or damaged.
    #[error("corrupt {table} row {key}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key, as far as it could be read.
        key: String,
        /// What is wrong.
        reason: CorruptReason,
    },
    /// A value longer than the store accepts.
    #[error(transparent)]
    TooLong(#[from] crate::matrix::TooLong),
    /// A block number above `i64::MAX`, which the database cannot hold.
    #[error("block number {0} is out of the database's range")]
    BlockNumberOutOfRange(BlockNumber),
    /// The IOU decision accepted an IOU whose session is already claimed; it was not stored.
    #[error("IOU session of {sender} claimable until {claimable_until} is already claimed")]
    IouSessionClaimed {
        /// The IOU's sender.
        sender: Address,
        /// The session's `claimable_until`.
        claimable_until: U256,
    },
    /// The IOU decision accepted an IOU that would open a second unclaimed session for its
    /// sender; it was not stored.
    #[error("{sender} already has an unclaimed IOU session claimable until {active_claimable_until}")]
    IouSecondActiveSession {
        /// The IOU's sender.
        sender: Address,
        /// The active session's `claimable_until`.
        active_claimable_until: U256,
    },
}

/// Why a row does not decode (see [`StoreError::Corrupt`]).
#[derive(Debug, thiserror::Error)]
pub enum CorruptReason {
    /// A byte column has the wrong length.
    #[error("column {column} has {found} bytes, expected {expected}")]
    WrongLength {
        /// The column.
        column: &'static str,
        /// The length its encoding requires.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A time column is outside years 1–9999.
    #[error("column {column} holds a time out of range ({micros} µs)")]
    TimeOutOfRange {
        /// The column.
        column: &'static str,
        /// The value.
        micros: i64,
    },
    /// A counter column holds a negative number.
    #[error("column {column} is negative")]
    Negative {
        /// The column.
        column: &'static str,
    },
    /// A capacity report is only partly present.
    #[error("capacity report of side {side} is incomplete")]
    PartialCapacityReport {
        /// 1 or 2, as in the column names.
        side: u8,
    },
    /// An imbalance penalty column does not hold valid points.
    #[error("imbalance penalty is invalid: {0}")]
    ImbalancePenalty(pfs_core::fee_schedule::ImbalancePenaltyError),
    /// A channel's token network is not stored.
    #[error("its token network is not stored")]
    UnknownTokenNetwork,
    /// A stored message does not parse.
    #[error("message does not parse: {0}")]
    Message(MessageError),
    /// A stored message's signature does not verify any more.
    #[error("message does not verify: {0}")]
    Verification(UpdateRejection),
    /// A stored message disagrees with the columns that index it.
    #[error("message does not match its row's {column}")]
    MessageMismatch {
        /// The column that disagrees.
        column: &'static str,
    },
    /// The row breaks an invariant of the in-memory state.
    #[error(transparent)]
    Restore(RestoreError),
    /// A stored route is not a JSON list of checksummed addresses.
    #[error("route is not a JSON list of checksummed addresses")]
    Route,
    /// A stored undo record does not decode.
    #[error(transparent)]
    UndoRecord(crate::undo::UndoRecordError),
}

impl StoreError {
    /// Wraps a driver error with what the store was doing.
    pub(crate) fn database(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }

    /// A corrupt-row error.
    pub(crate) fn corrupt(table: &'static str, key: impl ToString, reason: CorruptReason) -> Self {
        Self::Corrupt { table, key: key.to_string(), reason }
    }
}
