//! The single writer: the only task that changes the state. It owns the
//! [`TokenNetworkRegistry`] and the [`PresenceBook`], takes [`WriterCommand`]s from one queue,
//! applies everything queued in order, commits it in ONE store transaction, publishes a new
//! [`ServiceSnapshot`], and only then answers the commands (group commit).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pfs_core::presence::PresenceBook;
use pfs_core::token_network::{
    ChainEvent, TokenNetworkRegistry, Undo, UpdateOutcome, UpdateRejection, VerifiedUpdate,
};
use pfs_core::{Address, BlockNumber, ChannelId, NaiveTimestamp};
use pfs_matrix::{MatrixEvent, SyncBatch, apply_presence};
use pfs_store::{ChainCursor, StateChanges, Store};
use tokio::sync::{mpsc, oneshot, watch};

use crate::counters::{
    ServiceCounters, UpdateSource, drop_reason, outcome_reason, to_device_rejection_reason,
};
use crate::snapshot::{NetworkSnapshot, ServiceSnapshot};

/// Most commands applied in one group commit; more wait for the next transaction.
pub const MAX_GROUP_COMMANDS: usize = 1024;

/// What one update came to: applied, deferred, or why it was refused.
pub type UpdateResult = Result<UpdateOutcome, UpdateRejection>;

/// The writer could not make a command durable, so nothing of it is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriterError {
    /// The store transaction failed; the writer stopped (its memory is ahead of the database).
    #[error("the state could not be committed: {0}")]
    CommitFailed(String),
    /// The writer is not running (shut down, or stopped after a failed commit).
    #[error("the state writer is not running")]
    Stopped,
}

/// One input of the writer. Every command with a `reply` is answered only after the
/// transaction holding its effects committed.
#[derive(Debug)]
pub enum WriterCommand {
    /// Signature-verified updates (from `POST /api/v1/updates`), applied in order.
    ApplyUpdates {
        /// The updates.
        updates: Vec<VerifiedUpdate>,
        /// One result per update, in order.
        reply: oneshot::Sender<Result<Vec<UpdateResult>, WriterError>>,
    },
    /// A batch of confirmed chain events from the chain follower, committed with its blocks (the
    /// last one becomes the cursor) in ONE transaction, together with the undo records of its
    /// events (so a reorganisation can be reverted after a restart too).
    ///
    /// `undo` (applied first, in the given order, e.g. newest first) reverts events of blocks
    /// that a reorganisation removed; the reply carries one [`Undo`] per event of `events`, which
    /// the follower keeps for the blocks it may still have to revert.
    ChainBatch {
        /// Reverts to apply before `events`.
        undo: Vec<Undo>,
        /// The events, in chain order, each with its block.
        events: Vec<(BlockNumber, ChainEvent)>,
        /// The processed blocks, strictly increasing, ending with the new cursor (for a rollback:
        /// the fork point alone). Must not be empty.
        blocks: Vec<ChainCursor>,
        /// How to revert each event, in order.
        reply: oneshot::Sender<Result<Vec<Undo>, WriterError>>,
    },
    /// A Matrix `/sync` batch: presence changes and to-device updates go through the same apply
    /// path; the sync token is committed in the same transaction as the batch's effects, and the
    /// batch is dropped (releasing the client's next `/sync`) only then.
    Matrix(SyncBatch),
    /// Drop deferred updates that waited too long.
    ExpireDeferred,
    /// Commit what is queued before this, then stop.
    Shutdown,
}

/// The reply a command waits for, held until the commit.
enum Pending {
    Updates(oneshot::Sender<Result<Vec<UpdateResult>, WriterError>>, Vec<UpdateResult>),
    Chain(oneshot::Sender<Result<Vec<Undo>, WriterError>>, Vec<Undo>),
    Matrix(SyncBatch),
}

/// What changed since the last publication, so only that is rebuilt.
#[derive(Default)]
struct Dirty {
    /// Networks whose topology changed (or that appeared or disappeared): rebuild the graph.
    rebuild: BTreeSet<Address>,
    /// Channels whose capacity or fees changed, per network.
    channels: BTreeMap<Address, BTreeSet<ChannelId>>,
    /// Reachability changed: recompute the online sets.
    presence: bool,
}

/// The writer task's state.
pub(crate) struct Writer {
    registry: TokenNetworkRegistry,
    presence: PresenceBook,
    store: Store,
    changes: StateChanges,
    dirty: Dirty,
    confirmed_block: Option<BlockNumber>,
    /// See [`ServiceSnapshot::chain_rollbacks`].
    chain_rollbacks: u64,
    publisher: watch::Sender<Arc<ServiceSnapshot>>,
    counters: Arc<ServiceCounters>,
}

/// `now` as the core's timestamp type.
pub(crate) fn naive_now(now: SystemTime) -> NaiveTimestamp {
    let micros = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros());
    // Invariant: the system clock is far below i64::MAX microseconds (year 294,000).
    NaiveTimestamp::from_unix_micros(i64::try_from(micros).unwrap_or(i64::MAX))
        .unwrap_or(NaiveTimestamp::EPOCH_2000)
}

impl Writer {
    /// A writer over loaded state, with the first snapshot built and published.
    pub(crate) fn new(
        registry: TokenNetworkRegistry,
        presence: PresenceBook,
        store: Store,
        confirmed_block: Option<BlockNumber>,
        counters: Arc<ServiceCounters>,
    ) -> (Self, watch::Receiver<Arc<ServiceSnapshot>>) {
        let initial = ServiceSnapshot {
            networks: BTreeMap::new(),
            presence: Arc::new(presence.clone()),
            confirmed_block,
            chain_rollbacks: 0,
        };
        let (publisher, receiver) = watch::channel(Arc::new(initial));
        let mut writer = Self {
            registry,
            presence,
            store,
            changes: StateChanges::new(),
            dirty: Dirty::default(),
            confirmed_block,
            chain_rollbacks: 0,
            publisher,
            counters,
        };
        writer.dirty.rebuild = writer.registry.token_networks().map(|network| network.address).collect();
        writer.publish();
        (writer, receiver)
    }

    /// Runs until [`WriterCommand::Shutdown`], the queue closing, or a failed commit.
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<WriterCommand>,
        expiry_interval: Duration,
    ) {
        let mut expiry = tokio::time::interval(expiry_interval);
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        expiry.tick().await;
        loop {
            let first = tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => command,
                    None => return,
                },
                _ = expiry.tick() => WriterCommand::ExpireDeferred,
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP_COMMANDS {
                match commands.try_recv() {
                    Ok(command) => group.push(command),
                    Err(_) => break,
                }
            }
            match self.process(group).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::error!(%error, "state writer stopped");
                    return;
                }
            }
        }
    }

    /// Applies a group, commits it, publishes, answers. `Ok(false)` after a shutdown command.
    async fn process(&mut self, group: Vec<WriterCommand>) -> Result<bool, WriterError> {
        let now = SystemTime::now();
        let timestamp = naive_now(now);
        let mut pending = Vec::with_capacity(group.len());
        let mut keep_running = true;
        for command in group {
            match command {
                WriterCommand::ApplyUpdates { updates, reply } => {
                    let results =
                        updates.into_iter().map(|update| self.apply_update(update, timestamp)).collect();
                    pending.push(Pending::Updates(reply, results));
                }
                WriterCommand::ChainBatch { undo, events, blocks, reply } => {
                    let undos = self.apply_chain_batch(undo, &events, &blocks, timestamp);
                    pending.push(Pending::Chain(reply, undos));
                }
                WriterCommand::Matrix(mut batch) => {
                    for event in std::mem::take(&mut batch.events) {
                        self.apply_matrix_event(event, now, timestamp);
                    }
                    if let Err(error) = self.changes.record_sync_token(&batch.sync_token) {
                        // Not saved: a restart re-delivers from the previous token, which the
                        // idempotent updates tolerate.
                        tracing::warn!(%error, "Matrix sync token not saved");
                    }
                    pending.push(Pending::Matrix(batch));
                }
                WriterCommand::ExpireDeferred => {
                    let expired = self.registry.expire_deferred(timestamp);
                    self.changes.record_expired_deferred(expired);
                }
                WriterCommand::Shutdown => keep_running = false,
            }
        }
        let committed = self.commit().await;
        if committed.is_ok() {
            self.publish();
        }
        for reply in pending {
            match reply {
                Pending::Updates(reply, results) => {
                    let _ = reply.send(committed.clone().map(|()| results));
                }
                Pending::Chain(reply, undos) => {
                    let _ = reply.send(committed.clone().map(|()| undos));
                }
                // Dropped after the commit: the Matrix client may now acknowledge its events.
                Pending::Matrix(batch) => drop(batch),
            }
        }
        committed.map(|()| keep_running)
    }

    /// Commits the recorded changes, with the sync token of the group's last Matrix batch, in one
    /// transaction.
    async fn commit(&mut self) -> Result<(), WriterError> {
        self.store
            .commit(&self.registry, &self.changes)
            .await
            .map_err(|error| WriterError::CommitFailed(error.to_string()))?;
        self.changes.clear();
        Ok(())
    }

    fn apply_update(&mut self, update: VerifiedUpdate, now: NaiveTimestamp) -> UpdateResult {
        let identifier = *update.canonical_identifier();
        let result = self.registry.apply_update(update.clone(), now);
        self.changes.record_update(&update, &result);
        if result == Ok(UpdateOutcome::Applied) {
            self.dirty
                .channels
                .entry(identifier.token_network_address)
                .or_default()
                .insert(identifier.channel_identifier);
        }
        result
    }

    fn apply_chain_batch(
        &mut self,
        undo: Vec<Undo>,
        events: &[(BlockNumber, ChainEvent)],
        blocks: &[ChainCursor],
        now: NaiveTimestamp,
    ) -> Vec<Undo> {
        for revert in undo {
            self.changes.record_undo(&revert);
            if let Some(network) = undo_network(&revert) {
                self.dirty.rebuild.insert(network);
            }
            self.registry.undo(revert);
        }
        let mut undos = Vec::with_capacity(events.len());
        for (block, event) in events {
            let effect = self.registry.apply_chain_event(event, now);
            self.changes.record_chain_event(event, &effect);
            self.changes.record_chain_undo(*block, &effect.undo);
            match event {
                ChainEvent::TokenNetworkCreated { token_network, .. }
                | ChainEvent::ChannelOpened { token_network, .. }
                | ChainEvent::ChannelClosed { token_network, .. }
                | ChainEvent::ChannelSettled { token_network, .. } => {
                    self.dirty.rebuild.insert(*token_network);
                }
                ChainEvent::Deposit { token_network, channel_id, .. }
                | ChainEvent::Withdraw { token_network, channel_id, .. } => {
                    self.dirty.channels.entry(*token_network).or_default().insert(*channel_id);
                }
            }
            undos.push(effect.undo);
        }
        for block in blocks {
            self.changes.record_block(*block);
        }
        if let Some(cursor) = blocks.last() {
            if self.confirmed_block.is_some_and(|confirmed| cursor.block_number < confirmed) {
                self.chain_rollbacks += 1;
            }
            self.confirmed_block = Some(cursor.block_number);
        }
        undos
    }

    fn apply_matrix_event(&mut self, event: MatrixEvent, now: SystemTime, timestamp: NaiveTimestamp) {
        match event {
            MatrixEvent::ToDeviceUpdates(updates) => {
                for line in updates.results {
                    let reason = match line {
                        Ok(update) => outcome_reason(&self.apply_update(update, timestamp)),
                        Err(rejection) => {
                            tracing::debug!(sender = updates.sender_user_id, %rejection, "to-device update refused");
                            to_device_rejection_reason(&rejection)
                        }
                    };
                    self.counters.count_updates(UpdateSource::Matrix, reason, 1);
                }
            }
            MatrixEvent::ToDeviceDropped(dropped) => {
                tracing::debug!(sender = dropped.sender_user_id, reason = %dropped.reason, "to-device event dropped");
                self.counters.count_updates(UpdateSource::Matrix, drop_reason(&dropped.reason), 1);
            }
            event @ (MatrixEvent::PresenceChanged(_) | MatrixEvent::HomeserverUnreachable { .. }) => {
                apply_presence(&mut self.presence, &event, now);
                // Metadata (displayname, capabilities) may change without a reachability change.
                self.dirty.presence = true;
            }
        }
    }

    /// Publishes a snapshot with what changed since the last one rebuilt or updated.
    fn publish(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        let current = self.publisher.borrow().clone();
        let presence =
            if dirty.presence { Arc::new(self.presence.clone()) } else { Arc::clone(&current.presence) };
        let mut networks = current.networks.clone();
        networks.retain(|address, _| self.registry.token_network(address).is_some());
        let mut rebuild = dirty.rebuild;
        for (address, channel_ids) in &dirty.channels {
            if rebuild.contains(address) {
                continue;
            }
            let (Some(network), Some(snapshot)) =
                (self.registry.token_network(address), networks.get(address))
            else {
                rebuild.insert(*address);
                continue;
            };
            let channels: Vec<_> = channel_ids.iter().filter_map(|id| network.channel(id)).collect();
            match snapshot.with_channels(channels) {
                Ok(next) => {
                    networks.insert(*address, Arc::new(next));
                }
                Err(_) => {
                    rebuild.insert(*address);
                }
            }
        }
        for address in &rebuild {
            let Some(network) = self.registry.token_network(address) else { continue };
            match NetworkSnapshot::build(network, &presence) {
                Ok(snapshot) => {
                    networks.insert(*address, Arc::new(snapshot));
                }
                Err(error) => tracing::error!(%address, %error, "token network graph not rebuilt"),
            }
        }
        if dirty.presence {
            let reachable = presence.reachable_addresses();
            for (address, snapshot) in &mut networks {
                if rebuild.contains(address) {
                    continue;
                }
                let online = pfs_core::routing::OnlineSet::from_addresses(&snapshot.graph, &reachable);
                *snapshot = Arc::new(NetworkSnapshot {
                    graph: snapshot.graph.clone(),
                    online,
                    channel_participants: Arc::clone(&snapshot.channel_participants),
                });
            }
        }
        self.publisher.send_replace(Arc::new(ServiceSnapshot {
            networks,
            presence,
            confirmed_block: self.confirmed_block,
            chain_rollbacks: self.chain_rollbacks,
        }));
    }
}

/// The token network an undo touches.
fn undo_network(undo: &Undo) -> Option<Address> {
    match undo {
        Undo::Nothing => None,
        Undo::RemoveTokenNetwork(address) => Some(*address),
        Undo::RemoveChannel { token_network, .. }
        | Undo::RestoreChannel { token_network, .. }
        | Undo::ReplaceChannel { token_network, .. }
        | Undo::RestoreTotals { token_network, .. } => Some(*token_network),
    }
}
