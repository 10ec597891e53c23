//! The chain follower of raiden-pfs: the token network graph from the real Raiden contracts,
//! confirmed and reorg-safe.
//!
//! [`ChainFollower`] reads `TokenNetworkCreated` from a TokenNetworkRegistry and the channel events
//! (`ChannelOpened`, `ChannelNewDeposit`, `ChannelWithdraw`, `ChannelClosed`, `ChannelSettled`) of
//! every token network it discovered, decoded with `sol!` types, and hands them out as
//! [`ChainBatch`]es; [`apply_batch`] applies a batch to a `TokenNetworkRegistry` and records it in
//! `pfs_store::StateChanges`, so that one `Store::commit` writes the derived state and the cursor
//! together (a restart neither loses nor double-applies a block).
//!
//! # Design: the follower produces, the single writer applies
//!
//! The follower owns no derived state: only the cursor, the hashes of recent processed blocks and
//! the list of followed token networks. The service's single writer owns the registry, calls
//! [`ChainFollower::next_batch`] (cancel-safe, so it can sit in a `select!` with the update
//! channel) and applies each batch with [`apply_batch`], keeping the [`Undo`](pfs_core::token_network::Undo)s
//! of recent blocks in an [`UndoLog`]. Keeping state in one place keeps reorganisations simple: a
//! batch with [`ChainBatch::rollback_to`] tells the writer to revert to the fork point, and the
//! following batches carry the new branch. In `raiden-pfs serve` a follower task drives the
//! follower and the undo log and sends each batch to the service's writer, which applies it
//! and commits state, cursor and undo records together (`raiden_pfs::follow`).
//!
//! The undo records are committed with the cursor (`pfs_store::StateChanges::record_chain_undo`,
//! [`apply_batch`] records them), and [`UndoLog::restore`] rebuilds the log at start-up, so a
//! reorganisation that reaches blocks processed before a restart is reverted exactly too.
//!
//! # Confirmations, ranges, outages, reorganisations
//!
//! * An empty state starts at [`FollowerConfig::start_block`], by default the registry's
//!   deployment block, found by bisecting `eth_getCode` ([`ChainFollower::deployment_block`]).
//! * Only blocks at or below `latest − confirmations` are read (0 honoured).
//! * One step reads one adaptive range ([`range`]) with two parallel `eth_getLogs` (registry, all
//!   followed token networks) and, when the registry created token networks in the range, one more
//!   for their events of the same range (the reference only follows them from the next range).
//! * RPC failures are retried forever with exponential backoff, logged and counted
//!   ([`FollowerMetrics`]); a provider's "too many results" shrinks the range.
//! * Before each step the cursor's hash is compared with the chain's; if it changed, the kept
//!   hashes are walked back to the newest block still on the chain (the fork point).

//!
//! # The writer's loop
//!
//! ```no_run
//! # async fn writer(store: pfs_store::Store, config: pfs_chain::FollowerConfig, rpc_url: &str)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! use pfs_chain::{ChainFollower, UndoLog, apply_batch};
//! use pfs_core::timestamp::NaiveTimestamp;
//! use pfs_store::StateChanges;
//!
//! let loaded = store.load_state().await?;
//! let mut registry = loaded.registry;
//! let networks: Vec<_> = registry.token_networks().map(|network| network.address).collect();
//! // The undo records committed with the cursor: a reorganisation reaching blocks processed
//! // before a restart is reverted like any other.
//! let mut undo_log = UndoLog::restore(
//!     config.recent_blocks,
//!     loaded.cursor.map(|cursor| cursor.block_number),
//!     loaded.undo_log,
//! );
//! let mut follower = ChainFollower::connect(rpc_url, config, loaded.recent_blocks, networks)?;
//! loop {
//!     let batch = follower.next_batch().await?; // cancel-safe: fine inside `select!`
//!     let mut changes = StateChanges::new();
//!     let now = NaiveTimestamp::from_unix_micros(0).expect("the epoch is in range");
//!     apply_batch(&mut registry, &batch, &mut undo_log, &mut changes, now)?;
//!     store.commit(&registry, &changes).await?; // state and cursor in one transaction
//!     // `/api/v1/info`'s `confirmed_block.number` is now `follower.cursor()`.
//! }
//! # }
//! ```

//!
//! # Payments
//!
//! The service's other uses of the chain live here too: [`user_deposit`] reads a sender's
//! UserDeposit `effectiveBalance` at given blocks (the deposit check of a paid request),
//! [`one_to_n`] checks and sends OneToN claims signed with the service's key, and [`claims`]
//! runs `claim-fees` over the stored IOUs.

#![deny(missing_docs)]

mod apply;
pub mod claims;
mod deployment;
pub mod events;
mod follower;
mod metrics;
pub mod one_to_n;
pub mod range;
pub mod user_deposit;

pub use apply::{AppliedBatch, ApplyError, UndoLog, apply_batch};
pub use deployment::DeploymentBlockError;
pub use follower::{ChainBatch, ChainFollower, DEFAULT_CONFIRMATIONS, FollowerConfig, FollowerError};
pub use metrics::FollowerMetrics;
