//! Durable state of raiden-pfs: nothing acknowledged is ever lost.
//!
//! This crate keeps, in SQLite (a file in write-ahead-logging mode) or PostgreSQL (same code, a
//! `postgres://` URL):
//!
//! * the chain-derived and update-derived state the service rebuilds at start-up — followed token
//!   networks, open channels with both participants' deposits, withdrawals, latest capacity
//!   reports and fee schedules (with nonces and timestamps), updates waiting for their channel
//!   (the signed message exactly as received), and the chain cursor with the recent block hashes
//!   for reorganisation detection ([`Store::commit`], [`Store::load_state`]);
//! * the IOU ledger, with a check-and-store that decides on a payment under the write lock
//!   ([`Store::check_and_store_iou`]);
//! * feedback tokens and the reports on their routes ([`Store::save_returned_routes`],
//!   [`Store::record_feedback`]);
//! * the Matrix transport's known users, sync token and offline times;
//! * the service lease, which keeps a second service off a database in use
//!   ([`Store::take_service_lease`]).
//!
//! # Design: current rows, one transaction per batch
//!
//! The store holds the *current* state as rows, not a log of events. The service's single writer
//! applies events and updates to the in-memory [`TokenNetworkRegistry`](pfs_core::token_network::TokenNetworkRegistry),
//! records in a [`StateChanges`] which keys each one touched, and commits the current values of
//! those keys — with the blocks processed — in one transaction. That gives the three guarantees
//! the service needs with the least work:
//!
//! * an update is acknowledged only after the transaction holding it committed (with
//!   [`Durability::Full`], `fsync`ed), and a batch of updates shares one commit, so throughput
//!   grows with load instead of paying one `fsync` per update;
//! * chain-derived state and the cursor move together: after a crash the service resumes from the
//!   cursor with exactly the state derived from the blocks before it, neither losing nor
//!   re-applying an event;
//! * start-up reads one row per channel instead of replaying history, so it costs the same after
//!   a day or a year of operation.
//!
//! An event log would add replay at start-up and compaction, and buy nothing the chain itself
//! (the source of the events) does not already provide.
//!
//! # Schema and portability
//!
//! Migrations are embedded ([`MIGRATOR`]) and applied at start-up; a database written by a newer
//! version is refused with both versions named ([`StoreError::SchemaTooNew`]), and one of another
//! deployment (chain, contracts, service address) with the differing setting
//! ([`StoreError::DeploymentMismatch`]). The SQL is portable between SQLite and PostgreSQL: only
//! `BIGINT`, `SMALLINT`, `BOOLEAN`, `TEXT` and `BYTEA` columns, `$n` parameters,
//! `INSERT … ON CONFLICT … DO UPDATE`, partial indexes. Addresses are 20-byte `BYTEA`; `uint256`
//! values are 32-byte big-endian `BYTEA`, whose byte order is their numeric order in both engines
//! (so `amount >= $1` compares amounts); times are microseconds since the Unix epoch.
//!
//! # Example
//!
//! ```
//! # use pfs_core::{Address, ChainId};
//! # use pfs_core::token_network::{ChainEvent, TokenNetworkRegistry};
//! # use pfs_store::{ChainCursor, Deployment, StateChanges, Store, StoreConfig};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let directory = tempfile::tempdir().unwrap();
//! # let path = directory.path().join("pfs.db");
//! let deployment = Deployment {
//!     chain_id: ChainId(1337),
//!     token_network_registry: Address::from_bytes([1; 20]),
//!     user_deposit: Address::from_bytes([2; 20]),
//!     receiver: Address::from_bytes([3; 20]),
//! };
//! let store = Store::open(&StoreConfig::new(path.to_str().unwrap()), &deployment).await?;
//!
//! // The writer applies a block's events and commits them with the block.
//! let mut registry = TokenNetworkRegistry::new(deployment.chain_id);
//! let mut changes = StateChanges::new();
//! let event = ChainEvent::TokenNetworkCreated {
//!     token_network: Address::from_bytes([4; 20]),
//!     token: Address::from_bytes([5; 20]),
//!     settle_timeout: pfs_core::BlockTimeout(pfs_core::U256::from(500)),
//! };
//! # let now = pfs_core::NaiveTimestamp::EPOCH_2000;
//! let effect = registry.apply_chain_event(&event, now);
//! changes.record_chain_event(&event, &effect);
//! changes.record_block(ChainCursor { block_number: pfs_core::BlockNumber(10), block_hash: [7; 32].into() });
//! store.commit(&registry, &changes).await?;
//!
//! // After a restart: the same state, and where to resume.
//! let loaded = store.load_state().await?;
//! assert_eq!(loaded.registry.token_networks().len(), 1);
//! assert_eq!(loaded.cursor.map(|cursor| cursor.block_number.0), Some(10));
//! # Ok::<(), pfs_store::StoreError>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

mod codec;
mod error;
mod feedback;
mod iou;
mod lease;
mod matrix;
mod state;
mod stats;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod undo;

pub use error::{CorruptReason, StoreError};
pub use feedback::{
    FEEDBACK_TOKEN_LIFETIME, FeedbackOutcome, FeedbackStats, FeedbackToken, InvalidFeedbackToken,
    MAX_FEEDBACK_ROUTE_LENGTH, ReturnedRoute, ReturnedRouteSet, RouteFeedback,
};
pub use iou::{IouSessions, StoredIou};
pub use lease::{LEASE_WAIT, ServiceLease};
pub use matrix::{MAX_DISPLAYNAME_BYTES, MAX_SYNC_TOKEN_BYTES, MAX_USER_ID_BYTES, MatrixUser, TooLong};
pub use state::{ChainCursor, LoadedState, StateChanges, load_token_network};
pub use stats::{DebugRoutes, IouTotals, MAX_DEBUG_ROUTES};
pub use store::{Backend, Deployment, Durability, MIGRATOR, Store, StoreConfig, supported_version};
pub use undo::UndoRecordError;
