//! The application layer of raiden-pfs: one writer of the state, immutable snapshots for the
//! readers, and the path query that runs on them.
//!
//! [`Service::start`] opens nothing itself: it takes an open [`pfs_store::Store`], loads the state
//! ([`pfs_store::Store::load_state`]), builds one [`NetworkSnapshot`] per token network and
//! spawns the writer task. Everything that changes the state — HTTP updates, chain batches,
//! Matrix sync batches, the expiry of deferred updates — is a [`WriterCommand`] on one queue.
//!
//! # Design: one writer, group commit, published snapshots
//!
//! The writer drains whatever is queued, applies it in order with the pure functions of
//! `pfs-core`, commits it in one store transaction and only then answers, so an update answered
//! "accepted" survives a crash and a burst of updates pays one `fsync`. After the commit it
//! publishes a new [`ServiceSnapshot`] through a `tokio::sync::watch` channel: capacity and fee
//! changes copy only the touched chunks of a graph ([`pfs_core::routing::ChannelGraph::with_updates`]),
//! openings and closings rebuild that one network. Readers clone an `Arc` and never wait for the
//! writer; the path search runs with one reusable [`pfs_core::routing::PathFinder`] per thread
//! and a time budget: on tokio's blocking pool, so the async workers stay free, except that a
//! search on a small network is first tried inline under a short budget
//! ([`ServiceConfig::inline_search_budget`]), since most take less than a thread hand-off.
//!
//! Clients' reports on returned routes ([`Service::record_feedback`]) also become routing
//! penalties: hops of failed routes weigh more in later searches for a while. They are kept in
//! memory beside the snapshots and rebuilt from the stored reports after a restart
//! ([`Service::restore_feedback`]).
//!
//! This crate is separate from the binary so that the HTTP API (`pfs-api`) and in-process
//! integration tests run exactly the service the binary runs.
#![deny(missing_docs)]

mod counters;
mod feedback;
mod partners;
mod query;
mod routes_recorder;
mod snapshot;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use pfs_core::presence::PresenceBook;
use pfs_core::routing::SearchLimits;
use pfs_core::token_network::{ChainEvent, Undo, VerifiedUpdate};
use pfs_core::{BlockNumber, ChainId};
use pfs_matrix::SyncBatch;
use pfs_store::{ChainCursor, LoadedState, Store, StoreError};
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use counters::{
    ServiceCounters, UpdateSource, drop_reason, outcome_reason, rejection_reason, to_device_rejection_reason,
};
pub use feedback::{FEEDBACK_RESTORE_WINDOW, PENALTIES_REFRESH};
pub use partners::{MAX_SUGGESTIONS, PartnerSuggestion, closeness_centrality, suggest_partners};
pub use query::{FoundPath, PathQueryError, PathsAnswer};
pub use routes_recorder::{MAX_ROUTE_SETS_PER_COMMIT, RecordError};
pub use snapshot::{NetworkSnapshot, ServiceSnapshot, describe};
pub use writer::{MAX_GROUP_COMMANDS, UpdateResult, WriterCommand, WriterError};

/// Capacity of the writer's command queue; senders wait (back-pressure) when it is full.
pub const COMMAND_QUEUE_CAPACITY: usize = 4096;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Bounds of one path search (candidates and wall-clock budget).
    pub search_limits: SearchLimits,
    /// How often deferred updates are checked for expiry.
    pub expiry_interval: Duration,
    /// Networks with at most this many channels are searched first on the async thread that
    /// received the request: on them most searches take microseconds, and handing each to the
    /// blocking pool (two thread wake-ups) costs more than the search itself.
    pub inline_search_max_channels: usize,
    /// How long such an inline search may run before it is abandoned for a search on the
    /// blocking pool with the full budget; it bounds how long a request holds an async thread.
    pub inline_search_budget: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            search_limits: SearchLimits::default(),
            expiry_interval: Duration::from_secs(60),
            inline_search_max_channels: 8192,
            inline_search_budget: Duration::from_millis(1),
        }
    }
}

/// Counters of the query side, read by the metrics endpoint.
#[derive(Debug, Default)]
pub struct QueryCounters {
    /// Paths returned by path queries.
    pub routes_computed: AtomicU64,
    /// Searches cut short by their candidate limit or time budget.
    pub truncated_searches: AtomicU64,
}

/// A handle on the running service; cheap to clone.
#[derive(Debug, Clone)]
pub struct Service {
    commands: mpsc::Sender<WriterCommand>,
    snapshots: watch::Receiver<Arc<ServiceSnapshot>>,
    store: Store,
    config: Arc<ServiceConfig>,
    counters: Arc<QueryCounters>,
    service_counters: Arc<ServiceCounters>,
    routes_recorder: routes_recorder::RoutesRecorder,
    feedback: feedback::RoutingFeedback,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Service {
    /// Loads the state from `store`, publishes the first snapshot and starts the writer.
    ///
    /// # Errors
    /// [`StoreError`] if the state cannot be loaded.
    pub async fn start(store: Store, config: ServiceConfig) -> Result<Self, StoreError> {
        let loaded = store.load_state().await?;
        let service = Self::start_loaded(store, loaded, config);
        service.restore_feedback(SystemTime::now()).await?;
        Ok(service)
    }

    /// As [`Service::start`], with the state already loaded from `store` (the chain follower
    /// needs the loaded cursor, recent blocks and undo records too, and 50,000 channels are not
    /// worth loading twice), except that the routing penalties start empty: call
    /// [`Service::restore_feedback`] next. Must be called within a tokio runtime.
    pub fn start_loaded(store: Store, loaded: LoadedState, config: ServiceConfig) -> Self {
        let presence = PresenceBook::new(SystemTime::now());
        let confirmed_block = loaded.cursor.map(|cursor| cursor.block_number);
        let service_counters = Arc::new(ServiceCounters::default());
        let (writer, snapshots) = writer::Writer::new(
            loaded.registry,
            presence,
            store.clone(),
            confirmed_block,
            Arc::clone(&service_counters),
        );
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
        let task = tokio::spawn(writer.run(receiver, config.expiry_interval));
        let routes_recorder = routes_recorder::RoutesRecorder::start(store.clone());
        Self {
            commands,
            snapshots,
            store,
            config: Arc::new(config),
            counters: Arc::default(),
            service_counters,
            routes_recorder,
            feedback: feedback::RoutingFeedback::default(),
            writer: Arc::new(Mutex::new(Some(task))),
        }
    }

    /// The latest published snapshot.
    pub fn snapshot(&self) -> Arc<ServiceSnapshot> {
        Arc::clone(&self.snapshots.borrow())
    }

    /// A receiver that sees every snapshot the writer publishes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ServiceSnapshot>> {
        self.snapshots.clone()
    }

    /// The store (feedback tokens, IOUs).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The chain this service follows.
    pub fn chain_id(&self) -> ChainId {
        self.store.deployment().chain_id
    }

    /// The last block whose events are applied; 0 before the first.
    pub fn confirmed_block(&self) -> BlockNumber {
        self.snapshot().confirmed_block.unwrap_or(BlockNumber(0))
    }

    /// The service's configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The query counters.
    pub fn counters(&self) -> &QueryCounters {
        &self.counters
    }

    /// Update counts by source and outcome.
    pub fn service_counters(&self) -> &ServiceCounters {
        &self.service_counters
    }

    /// Starts forwarding the Matrix client's sync batches to the writer (as
    /// [`Service::apply_matrix`]); the task ends when the client stops or the writer does.
    pub fn forward_matrix(&self, mut batches: mpsc::Receiver<SyncBatch>) -> JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            while let Some(batch) = batches.recv().await {
                if service.apply_matrix(batch).await.is_err() {
                    break;
                }
            }
        })
    }

    /// The writer's queue, for producers that send commands themselves (the chain follower,
    /// the Matrix client loop).
    pub fn commands(&self) -> mpsc::Sender<WriterCommand> {
        self.commands.clone()
    }

    /// Applies verified updates in order; returns once they are committed.
    ///
    /// # Errors
    /// [`WriterError`] if the writer is not running or the commit failed.
    pub async fn apply_updates(
        &self,
        updates: Vec<VerifiedUpdate>,
    ) -> Result<Vec<UpdateResult>, WriterError> {
        let (reply, answer) = oneshot::channel();
        self.send(WriterCommand::ApplyUpdates { updates, reply }).await?;
        answer.await.map_err(|_| WriterError::Stopped)?
    }

    /// Applies chain events that all belong to the block `cursor` (a shorthand of
    /// [`Service::apply_chain_blocks`] for tests and tools); returns once committed.
    ///
    /// # Errors
    /// [`WriterError`] if the writer is not running or the commit failed.
    pub async fn apply_chain_batch(
        &self,
        undo: Vec<Undo>,
        events: Vec<ChainEvent>,
        cursor: ChainCursor,
    ) -> Result<Vec<Undo>, WriterError> {
        let events = events.into_iter().map(|event| (cursor.block_number, event)).collect();
        self.apply_chain_blocks(undo, events, vec![cursor]).await
    }

    /// Applies a chain batch (see [`WriterCommand::ChainBatch`]): `undo` first, then `events`,
    /// then records `blocks` (the last one is the new cursor), all in one transaction; returns
    /// once committed, with one [`Undo`] per event.
    ///
    /// # Errors
    /// [`WriterError`] if the writer is not running or the commit failed.
    pub async fn apply_chain_blocks(
        &self,
        undo: Vec<Undo>,
        events: Vec<(BlockNumber, ChainEvent)>,
        blocks: Vec<ChainCursor>,
    ) -> Result<Vec<Undo>, WriterError> {
        let (reply, answer) = oneshot::channel();
        self.send(WriterCommand::ChainBatch { undo, events, blocks, reply }).await?;
        answer.await.map_err(|_| WriterError::Stopped)?
    }

    /// Queues a Matrix sync batch (see [`WriterCommand::Matrix`]).
    ///
    /// # Errors
    /// [`WriterError::Stopped`] if the writer is not running.
    pub async fn apply_matrix(&self, batch: SyncBatch) -> Result<(), WriterError> {
        self.send(WriterCommand::Matrix(batch)).await
    }

    /// Waits until a snapshot published after everything sent so far is visible: sends an empty
    /// update batch through the writer (useful after [`Service::apply_matrix`]).
    ///
    /// # Errors
    /// As [`Service::apply_updates`].
    pub async fn sync(&self) -> Result<(), WriterError> {
        self.apply_updates(Vec::new()).await.map(drop)
    }

    /// Commits what is queued, stops the writer and waits for it.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(WriterCommand::Shutdown).await;
        if let Some(task) = self.writer.lock().await.take() {
            let _ = task.await;
        }
    }

    async fn send(&self, command: WriterCommand) -> Result<(), WriterError> {
        self.commands.send(command).await.map_err(|_| WriterError::Stopped)
    }

    pub(crate) fn count_routes(&self, routes: usize, truncated: bool) {
        self.counters.routes_computed.fetch_add(routes as u64, Ordering::Relaxed);
        if truncated {
            self.counters.truncated_searches.fetch_add(1, Ordering::Relaxed);
        }
    }
}
