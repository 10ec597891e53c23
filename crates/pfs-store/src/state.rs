//! The chain-derived and update-derived state: token networks, channels, deferred updates and the
//! chain cursor, written as current rows in one transaction per batch and loaded back into a
//! [`TokenNetworkRegistry`] at start-up.
//!
//! The writer task records what each applied event or update touched in a [`StateChanges`];
//! [`Store::commit`] then writes the *current* values of exactly those keys (a key that no longer
//! exists in memory is deleted), together with the blocks processed, in one transaction. Nothing
//! is acknowledged, and no block is considered processed, before that transaction commits.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::B256;
use futures_util::TryStreamExt;
use pfs_core::token_network::{
    CapacityReport, ChainEvent, ChainEventEffect, Channel, ChannelKey, DeferredUpdate, TokenNetwork,
    TokenNetworkRegistry, Undo, UpdateOutcome, UpdateRejection, VerifiedUpdate,
};
use pfs_core::{Address, BlockNumber, BlockTimeout, ChannelId, FeeSchedule, Message, Nonce};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Transaction};

use crate::codec::{self, RowReader};
use crate::error::{CorruptReason, StoreError};
use crate::store::Store;

/// A processed block: the chain cursor after it, or an entry of the recent-block list the chain
/// follower compares with the chain to detect reorganisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainCursor {
    /// The block's number.
    pub block_number: BlockNumber,
    /// The block's hash.
    pub block_hash: B256,
}

/// What a batch of applied events and updates touched, to be written by [`Store::commit`].
///
/// The writer records every event, undo and update it applies (or touches keys directly), and the
/// blocks it processed. Recording more than changed is harmless (the current values are written
/// again); recording less loses changes, so prefer the `record_*` methods, which know what each
/// event can touch.
#[derive(Debug, Clone, Default)]
pub struct StateChanges {
    token_networks: BTreeSet<Address>,
    channels: BTreeSet<(Address, ChannelId)>,
    deferred_channels: BTreeSet<ChannelKey>,
    deferred_senders: BTreeSet<Address>,
    all_deferred: bool,
    blocks: Vec<ChainCursor>,
    undos: Vec<(BlockNumber, Undo)>,
    sync_token: Option<String>,
}

impl StateChanges {
    /// Nothing touched yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing was touched and no block processed.
    pub fn is_empty(&self) -> bool {
        self.token_networks.is_empty()
            && self.channels.is_empty()
            && self.deferred_channels.is_empty()
            && self.deferred_senders.is_empty()
            && !self.all_deferred
            && self.blocks.is_empty()
            && self.undos.is_empty()
            && self.sync_token.is_none()
    }

    /// Forgets everything recorded (after a commit, to reuse the allocation).
    pub fn clear(&mut self) {
        self.token_networks.clear();
        self.channels.clear();
        self.deferred_channels.clear();
        self.deferred_senders.clear();
        self.all_deferred = false;
        self.blocks.clear();
        self.undos.clear();
        self.sync_token = None;
    }

    /// Marks a token network (not its channels) as changed, added or removed.
    pub fn touch_token_network(&mut self, token_network: Address) {
        self.token_networks.insert(token_network);
    }

    /// Marks a channel as changed, opened or removed.
    pub fn touch_channel(&mut self, token_network: Address, channel_id: ChannelId) {
        self.channels.insert((token_network, channel_id));
    }

    /// Marks the updates waiting for one channel as changed.
    pub fn touch_deferred(&mut self, channel: ChannelKey) {
        self.deferred_channels.insert(channel);
    }

    /// Marks every update waiting from one sender as changed: deferring an update can drop the
    /// sender's oldest waiting update, for any channel.
    pub fn touch_deferred_sender(&mut self, sender: Address) {
        self.deferred_senders.insert(sender);
    }

    /// Marks every waiting update as changed (after [`TokenNetworkRegistry::expire_deferred`]
    /// dropped some).
    pub fn touch_all_deferred(&mut self) {
        self.all_deferred = true;
    }

    /// Records what [`TokenNetworkRegistry::apply_chain_event`] did.
    pub fn record_chain_event(&mut self, event: &ChainEvent, effect: &ChainEventEffect) {
        if effect.ignored.is_some() {
            return;
        }
        match *event {
            ChainEvent::TokenNetworkCreated { token_network, .. } => self.touch_token_network(token_network),
            ChainEvent::ChannelOpened { token_network, channel_id, .. } => {
                self.touch_channel(token_network, channel_id);
                self.touch_deferred((token_network, channel_id));
            }
            ChainEvent::Deposit { token_network, channel_id, .. }
            | ChainEvent::Withdraw { token_network, channel_id, .. }
            | ChainEvent::ChannelClosed { token_network, channel_id }
            | ChainEvent::ChannelSettled { token_network, channel_id } => {
                self.touch_channel(token_network, channel_id)
            }
        }
        // An opening can replace an older channel between the same participants.
        self.record_undo(&effect.undo);
    }

    /// Records an [`Undo`] applied with [`TokenNetworkRegistry::undo`] (or returned by an applied
    /// event: both touch the same keys).
    pub fn record_undo(&mut self, undo: &Undo) {
        match undo {
            Undo::Nothing => {}
            Undo::RemoveTokenNetwork(token_network) => self.touch_token_network(*token_network),
            Undo::RemoveChannel { token_network, channel_id }
            | Undo::RestoreTotals { token_network, channel_id, .. } => {
                self.touch_channel(*token_network, *channel_id)
            }
            Undo::RestoreChannel { token_network, channel } => self.touch_channel(*token_network, channel.id),
            Undo::ReplaceChannel { token_network, opened, replaced } => {
                self.touch_channel(*token_network, *opened);
                self.touch_channel(*token_network, replaced.id);
            }
        }
    }

    /// Records what [`TokenNetworkRegistry::apply_update`] did with `update`.
    pub fn record_update(
        &mut self,
        update: &VerifiedUpdate,
        outcome: &Result<UpdateOutcome, UpdateRejection>,
    ) {
        let identifier = update.canonical_identifier();
        let key = (identifier.token_network_address, identifier.channel_identifier);
        match outcome {
            Ok(UpdateOutcome::Applied) => self.touch_channel(key.0, key.1),
            Ok(UpdateOutcome::Deferred) => self.touch_deferred_sender(update.updating_participant()),
            Err(_) => {}
        }
    }

    /// Records what [`TokenNetworkRegistry::expire_deferred`] returned.
    pub fn record_expired_deferred(&mut self, expired: usize) {
        if expired > 0 {
            self.touch_all_deferred();
        }
    }

    /// Records a processed block: the chain now ends at `cursor` as far as the state knows. A
    /// block at or below an earlier one (after a reorganisation was undone) replaces the stored
    /// blocks from its number on. The last recorded block becomes the cursor.
    ///
    /// A block at or below the previously recorded one also drops the undo records of the blocks
    /// above it (see [`StateChanges::record_chain_undo`]); the commit deletes the stored ones.
    pub fn record_block(&mut self, cursor: ChainCursor) {
        if self.blocks.last().is_some_and(|last| cursor.block_number <= last.block_number) {
            self.undos.retain(|(block, _)| *block <= cursor.block_number);
        }
        self.blocks.push(cursor);
    }

    /// Records how to revert a chain event applied in `block` (the [`Undo`] that
    /// [`TokenNetworkRegistry::apply_chain_event`] returned), so that it is stored with the
    /// cursor: after a restart, a reorganisation reaching this block can still be reverted.
    /// `Undo::Nothing` is not stored. Record them in application order; the stored records of
    /// blocks older than the store's `recent_blocks` are pruned with the blocks.
    pub fn record_chain_undo(&mut self, block: BlockNumber, undo: &Undo) {
        if *undo != Undo::Nothing {
            self.undos.push((block, undo.clone()));
        }
    }

    /// Records the Matrix sync position (`next_batch`) reached by the sync batches applied since
    /// the last commit; the latest recorded one is written, in the same transaction as the
    /// batches' effects. After a crash the client resumes from the token whose events are
    /// committed: none is lost (Synapse deletes to-device events once a later `since` is used)
    /// and none applied twice.
    ///
    /// # Errors
    /// [`TooLong`](crate::TooLong) beyond [`MAX_SYNC_TOKEN_BYTES`](crate::MAX_SYNC_TOKEN_BYTES);
    /// nothing is recorded then, so the commit cannot fail on it.
    pub fn record_sync_token(&mut self, next_batch: &str) -> Result<(), crate::TooLong> {
        crate::matrix::check_sync_token(next_batch)?;
        self.sync_token = Some(next_batch.to_owned());
        Ok(())
    }
}

/// The state rebuilt from the database at start-up.
#[derive(Debug, Clone)]
pub struct LoadedState {
    /// Every followed token network, its channels and the waiting updates.
    pub registry: TokenNetworkRegistry,
    /// The last processed block; `None` before the first commit with a block.
    pub cursor: Option<ChainCursor>,
    /// The recent processed blocks, oldest first, ending with the cursor.
    pub recent_blocks: Vec<ChainCursor>,
    /// How to revert the chain events of the recent blocks, oldest first (in application
    /// order): the chain follower's undo log. Covers every event of a block above
    /// `cursor − recent_blocks` that was committed with [`StateChanges::record_chain_undo`].
    pub undo_log: Vec<(BlockNumber, Undo)>,
}

/// The columns of a channel row, in the order [`upsert_channel`] binds them.
macro_rules! channel_columns {
    () => {
        "token_network, channel_id, \
         participant1, total_deposit1, total_withdraw1, updating_nonce1, other_nonce1, updating_capacity1, \
         other_capacity1, reveal_timeout1, cap_fees1, flat1, proportional1, imbalance_penalty1, fee_timestamp1, \
         participant2, total_deposit2, total_withdraw2, updating_nonce2, other_nonce2, updating_capacity2, \
         other_capacity2, reveal_timeout2, cap_fees2, flat2, proportional2, imbalance_penalty2, fee_timestamp2"
    };
}

/// The same columns for reading, the flags as integers (see [`RowReader::flag`]).
macro_rules! select_channel_columns {
    () => {
        "SELECT token_network, channel_id, \
         participant1, total_deposit1, total_withdraw1, updating_nonce1, other_nonce1, updating_capacity1, \
         other_capacity1, reveal_timeout1, CASE WHEN cap_fees1 THEN 1 ELSE 0 END AS cap_fees1, flat1, \
         proportional1, imbalance_penalty1, fee_timestamp1, \
         participant2, total_deposit2, total_withdraw2, updating_nonce2, other_nonce2, updating_capacity2, \
         other_capacity2, reveal_timeout2, CASE WHEN cap_fees2 THEN 1 ELSE 0 END AS cap_fees2, flat2, \
         proportional2, imbalance_penalty2, fee_timestamp2 FROM channel"
    };
}

const SELECT_CHANNELS: &str = concat!(select_channel_columns!(), " ORDER BY token_network, channel_id");
const SELECT_CHANNELS_OF_NETWORK: &str =
    concat!(select_channel_columns!(), " WHERE token_network = $1 ORDER BY channel_id");

impl Store {
    /// Writes the current values of everything `changes` touched, and the blocks and Matrix sync
    /// token it recorded, in one transaction. Returns once the transaction is committed (durably, with
    /// [`crate::Durability::Full`]); only then may the updates be acknowledged.
    ///
    /// # Errors
    /// [`StoreError::Database`] if the transaction fails (nothing of it is then written);
    /// [`StoreError::BlockNumberOutOfRange`] for a block number above `i64::MAX`.
    pub async fn commit(
        &self,
        registry: &TokenNetworkRegistry,
        changes: &StateChanges,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "commit state changes";
        if changes.is_empty() {
            return Ok(());
        }
        let mut transaction = self.begin_write(OPERATION).await?;
        write_changes(&mut transaction, registry, changes, self.recent_blocks).await?;
        transaction.commit().await.map_err(StoreError::database(OPERATION))
    }

    /// Rebuilds the whole state: the registry (with every channel and waiting update, each waiting
    /// update's signature verified again), the chain cursor and the recent blocks.
    ///
    /// # Errors
    /// [`StoreError::Database`] if reading fails; [`StoreError::Corrupt`] if a row does not
    /// decode into valid state.
    pub async fn load_state(&self) -> Result<LoadedState, StoreError> {
        const OPERATION: &str = "load the state";
        let mut transaction = self.begin_read(OPERATION).await?;
        let mut registry = TokenNetworkRegistry::new(self.deployment().chain_id);
        let mut networks = load_token_networks(&mut transaction, None).await?;
        // Streamed: SQLite's worker thread reads the next rows while this one decodes.
        let mut rows = sqlx::query(SELECT_CHANNELS).fetch(&mut *transaction);
        while let Some(row) = rows.try_next().await.map_err(StoreError::database(OPERATION))? {
            let (token_network, channel) = decode_channel(&row)?;
            let channel_id = channel.id;
            let key = || format!("{token_network}/{channel_id}");
            // Invariant of the schema: a channel's token network row exists (foreign key).
            let Some(network) = networks.get_mut(&token_network) else {
                return Err(StoreError::corrupt("channel", key(), CorruptReason::UnknownTokenNetwork));
            };
            network
                .restore_channel(channel)
                .map_err(|error| StoreError::corrupt("channel", key(), CorruptReason::Restore(error)))?;
        }
        drop(rows);
        for network in networks.into_values() {
            let address = network.address;
            registry.restore_token_network(network).map_err(|error| {
                StoreError::corrupt("token_network", address, CorruptReason::Restore(error))
            })?;
        }
        let deferred = sqlx::query(
            "SELECT sequence, token_network, channel_id, updating_participant, message, received_at \
             FROM deferred_update ORDER BY sequence",
        )
        .fetch_all(&mut *transaction)
        .await
        .map_err(StoreError::database(OPERATION))?;
        for row in &deferred {
            let (sequence, entry) = decode_deferred(row)?;
            registry.restore_deferred(sequence, entry).map_err(|error| {
                StoreError::corrupt("deferred_update", sequence, CorruptReason::Restore(error))
            })?;
        }
        let recent_blocks = load_blocks(&mut transaction).await?;
        let undo_log = load_undos(&mut transaction).await?;
        transaction.commit().await.map_err(StoreError::database(OPERATION))?;
        Ok(LoadedState { registry, cursor: recent_blocks.last().copied(), recent_blocks, undo_log })
    }

    /// Loads one token network with its channels, read-only (for `raiden-pfs export`).
    ///
    /// # Errors
    /// As [`Store::load_state`].
    pub async fn load_token_network(&self, address: &Address) -> Result<Option<TokenNetwork>, StoreError> {
        const OPERATION: &str = "load a token network";
        let mut transaction = self.begin_read(OPERATION).await?;
        let Some(mut network) = load_token_networks(&mut transaction, Some(address)).await?.remove(address)
        else {
            return Ok(None);
        };
        let rows = sqlx::query(SELECT_CHANNELS_OF_NETWORK)
            .bind(codec::address(address))
            .fetch_all(&mut *transaction)
            .await
            .map_err(StoreError::database(OPERATION))?;
        for row in &rows {
            let (_, channel) = decode_channel(row)?;
            let channel_id = channel.id;
            network.restore_channel(channel).map_err(|error| {
                StoreError::corrupt(
                    "channel",
                    format!("{address}/{channel_id}"),
                    CorruptReason::Restore(error),
                )
            })?;
        }
        transaction.commit().await.map_err(StoreError::database(OPERATION))?;
        Ok(Some(network))
    }

    /// The chain cursor alone (the last processed block), without loading the state.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn chain_cursor(&self) -> Result<Option<ChainCursor>, StoreError> {
        const OPERATION: &str = "read the chain cursor";
        let row = sqlx::query(
            "SELECT block_number, block_hash FROM chain_block ORDER BY block_number DESC LIMIT 1",
        )
        .fetch_optional(&self.readers)
        .await
        .map_err(StoreError::database(OPERATION))?;
        row.as_ref().map(|row| decode_block(row, OPERATION)).transpose()
    }
}

/// Loads one token network with its channels from the database at `location`, read-only: the
/// loading side of `raiden-pfs export --db URL --token-network ADDR`.
///
/// # Errors
/// As [`Store::open_read_only`] and [`Store::load_token_network`].
pub async fn load_token_network(
    location: &str,
    address: &Address,
) -> Result<Option<TokenNetwork>, StoreError> {
    let store = Store::open_read_only(location).await?;
    let network = store.load_token_network(address).await;
    store.close().await;
    network
}

async fn write_changes(
    transaction: &mut Transaction<'static, Any>,
    registry: &TokenNetworkRegistry,
    changes: &StateChanges,
    recent_blocks: u64,
) -> Result<(), StoreError> {
    const OPERATION: &str = "commit state changes";
    let connection: &mut AnyConnection = transaction;
    let database = StoreError::database(OPERATION);
    // Deletions first, so that a channel replacing another between the same participants never
    // meets the old row's uniqueness constraint.
    for address in &changes.token_networks {
        if registry.token_network(address).is_none() {
            sqlx::query("DELETE FROM token_network WHERE address = $1")
                .bind(codec::address(address))
                .execute(&mut *connection)
                .await
                .map_err(StoreError::database(OPERATION))?;
        }
    }
    let current_channel = |(token_network, channel_id): &(Address, ChannelId)| {
        registry.token_network(token_network).and_then(|network| network.channel(channel_id))
    };
    // Every touched row is deleted first and the current ones are inserted again below: a batch
    // can move a participant pair from one channel id to another (a close and a re-open, a
    // replaced channel, an undo), and upserting rows one by one would transiently hold the pair
    // twice and violate its unique index. Untouched rows already equal the registry, whose pairs
    // are unique, so the inserts cannot conflict with them.
    for (token_network, channel_id) in &changes.channels {
        sqlx::query("DELETE FROM channel WHERE token_network = $1 AND channel_id = $2")
            .bind(codec::address(token_network))
            .bind(codec::uint256(&channel_id.0))
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(OPERATION))?;
    }
    for address in &changes.token_networks {
        if let Some(network) = registry.token_network(address) {
            sqlx::query(
                "INSERT INTO token_network (address, token, settle_timeout) VALUES ($1, $2, $3) \
                 ON CONFLICT (address) DO UPDATE SET token = excluded.token, settle_timeout = excluded.settle_timeout",
            )
            .bind(codec::address(&network.address))
            .bind(codec::address(&network.token))
            .bind(codec::uint256(&network.settle_timeout.0))
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(OPERATION))?;
        }
    }
    for key in &changes.channels {
        if let Some(channel) = current_channel(key) {
            upsert_channel(connection, &key.0, channel).await?;
        }
    }
    if changes.all_deferred {
        sqlx::query("DELETE FROM deferred_update")
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(OPERATION))?;
        for (sequence, entry) in registry.deferred().sequenced() {
            insert_deferred(connection, sequence, entry).await?;
        }
    } else if !changes.deferred_channels.is_empty() || !changes.deferred_senders.is_empty() {
        for (token_network, channel_id) in &changes.deferred_channels {
            sqlx::query("DELETE FROM deferred_update WHERE token_network = $1 AND channel_id = $2")
                .bind(codec::address(token_network))
                .bind(codec::uint256(&channel_id.0))
                .execute(&mut *connection)
                .await
                .map_err(StoreError::database(OPERATION))?;
        }
        for sender in &changes.deferred_senders {
            sqlx::query("DELETE FROM deferred_update WHERE updating_participant = $1")
                .bind(codec::address(sender))
                .execute(&mut *connection)
                .await
                .map_err(StoreError::database(OPERATION))?;
        }
        // The current waiting updates of the touched channels and senders, each once.
        let mut current: BTreeMap<u64, &DeferredUpdate> = BTreeMap::new();
        for key in &changes.deferred_channels {
            current.extend(registry.deferred().waiting_for(key));
        }
        if !changes.deferred_senders.is_empty() {
            current.extend(registry.deferred().sequenced().filter(|(_, entry)| {
                changes.deferred_senders.contains(&entry.update.updating_participant())
            }));
        }
        for (sequence, entry) in current {
            insert_deferred(connection, sequence, entry).await?;
        }
    }
    if let Some(next_batch) = &changes.sync_token {
        crate::matrix::sync_token_statement(next_batch)
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(OPERATION))?;
    }
    write_blocks(connection, &changes.blocks, recent_blocks).await.map_err(|error| match error {
        BlockWriteError::OutOfRange(number) => StoreError::BlockNumberOutOfRange(number),
        BlockWriteError::Database(source) => database(source),
    })?;
    write_undos(connection, changes, recent_blocks).await
}

/// Stores the batch's undo records. Undo records exist only for blocks at or below the cursor, and
/// the first block a commit records is either above the stored cursor (a step forward) or the fork
/// point of a rollback: deleting the stored records above it removes exactly those of reverted
/// blocks, and the records inserted after it never meet a stored one of the same block.
async fn write_undos(
    connection: &mut AnyConnection,
    changes: &StateChanges,
    recent_blocks: u64,
) -> Result<(), StoreError> {
    const OPERATION: &str = "commit state changes";
    let number =
        |block: BlockNumber| i64::try_from(block.0).map_err(|_| StoreError::BlockNumberOutOfRange(block));
    if let Some(lowest) = changes.blocks.iter().map(|block| block.block_number).min() {
        sqlx::query("DELETE FROM chain_undo WHERE block_number > $1")
            .bind(number(lowest)?)
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(OPERATION))?;
    }
    let mut position = 0_i64;
    let mut previous_block = None;
    for (block, undo) in &changes.undos {
        if previous_block != Some(*block) {
            position = 0;
            previous_block = Some(*block);
        }
        let Some(text) = crate::undo::encode(undo) else { continue };
        sqlx::query("INSERT INTO chain_undo (block_number, position, undo) VALUES ($1, $2, $3)")
            .bind(number(*block)?)
            .bind(position)
            .bind(text)
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(OPERATION))?;
        position += 1;
    }
    if let Some(cursor) = changes.blocks.last() {
        let keep = i64::try_from(recent_blocks).unwrap_or(i64::MAX);
        sqlx::query("DELETE FROM chain_undo WHERE block_number <= $1")
            .bind(number(cursor.block_number)?.saturating_sub(keep))
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(OPERATION))?;
    }
    Ok(())
}

async fn load_undos(
    transaction: &mut Transaction<'static, Any>,
) -> Result<Vec<(BlockNumber, Undo)>, StoreError> {
    const OPERATION: &str = "load undo records";
    let rows =
        sqlx::query("SELECT block_number, position, undo FROM chain_undo ORDER BY block_number, position")
            .fetch_all(&mut **transaction)
            .await
            .map_err(StoreError::database(OPERATION))?;
    let mut undos = Vec::with_capacity(rows.len());
    for row in &rows {
        let reader = RowReader::new(row, "chain_undo", OPERATION);
        let number = reader.int("block_number")?;
        let position = reader.int("position")?;
        let reader = reader.with_key(move || format!("{number}/{position}"));
        let block = u64::try_from(number)
            .map_err(|_| reader.corrupt(CorruptReason::Negative { column: "block_number" }))?;
        let text = reader.text("undo")?;
        let undo =
            crate::undo::decode(&text).map_err(|error| reader.corrupt(CorruptReason::UndoRecord(error)))?;
        undos.push((BlockNumber(block), undo));
    }
    Ok(undos)
}

enum BlockWriteError {
    OutOfRange(BlockNumber),
    Database(sqlx::Error),
}

async fn write_blocks(
    connection: &mut AnyConnection,
    blocks: &[ChainCursor],
    recent_blocks: u64,
) -> Result<(), BlockWriteError> {
    let number = |block: &ChainCursor| {
        i64::try_from(block.block_number.0).map_err(|_| BlockWriteError::OutOfRange(block.block_number))
    };
    let mut previous: Option<i64> = None;
    for block in blocks {
        let block_number = number(block)?;
        if previous.is_none_or(|previous| block_number <= previous) {
            sqlx::query("DELETE FROM chain_block WHERE block_number >= $1")
                .bind(block_number)
                .execute(&mut *connection)
                .await
                .map_err(BlockWriteError::Database)?;
        }
        sqlx::query(
            "INSERT INTO chain_block (block_number, block_hash) VALUES ($1, $2) \
             ON CONFLICT (block_number) DO UPDATE SET block_hash = excluded.block_hash",
        )
        .bind(block_number)
        .bind(block.block_hash.to_vec())
        .execute(&mut *connection)
        .await
        .map_err(BlockWriteError::Database)?;
        previous = Some(block_number);
    }
    if let Some(cursor) = previous {
        let keep = i64::try_from(recent_blocks).unwrap_or(i64::MAX);
        sqlx::query(
            "DELETE FROM chain_block WHERE block_number <= $1 \
             AND block_number < (SELECT MAX(block_number) FROM chain_block)",
        )
        .bind(cursor.saturating_sub(keep))
        .execute(&mut *connection)
        .await
        .map_err(BlockWriteError::Database)?;
    }
    Ok(())
}

async fn upsert_channel(
    connection: &mut AnyConnection,
    token_network: &Address,
    channel: &Channel,
) -> Result<(), StoreError> {
    const UPSERT: &str = concat!(
        "INSERT INTO channel (",
        channel_columns!(),
        ") ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
        $21, $22, $23, $24, $25, $26, $27, $28) \
        ON CONFLICT (token_network, channel_id) DO UPDATE SET \
        participant1 = excluded.participant1, total_deposit1 = excluded.total_deposit1, \
        total_withdraw1 = excluded.total_withdraw1, updating_nonce1 = excluded.updating_nonce1, \
        other_nonce1 = excluded.other_nonce1, updating_capacity1 = excluded.updating_capacity1, \
        other_capacity1 = excluded.other_capacity1, reveal_timeout1 = excluded.reveal_timeout1, \
        cap_fees1 = excluded.cap_fees1, flat1 = excluded.flat1, proportional1 = excluded.proportional1, \
        imbalance_penalty1 = excluded.imbalance_penalty1, fee_timestamp1 = excluded.fee_timestamp1, \
        participant2 = excluded.participant2, total_deposit2 = excluded.total_deposit2, \
        total_withdraw2 = excluded.total_withdraw2, updating_nonce2 = excluded.updating_nonce2, \
        other_nonce2 = excluded.other_nonce2, updating_capacity2 = excluded.updating_capacity2, \
        other_capacity2 = excluded.other_capacity2, reveal_timeout2 = excluded.reveal_timeout2, \
        cap_fees2 = excluded.cap_fees2, flat2 = excluded.flat2, proportional2 = excluded.proportional2, \
        imbalance_penalty2 = excluded.imbalance_penalty2, fee_timestamp2 = excluded.fee_timestamp2"
    );
    let mut query =
        sqlx::query(UPSERT).bind(codec::address(token_network)).bind(codec::uint256(&channel.id.0));
    for side in &channel.sides {
        let report = side.capacity_report.as_ref();
        let fee_schedule = &side.fee_schedule;
        query = query
            .bind(codec::address(&side.participant))
            .bind(codec::uint256(&side.total_deposit))
            .bind(codec::uint256(&side.total_withdraw))
            .bind(report.map(|report| codec::uint64(report.updating_nonce.0)))
            .bind(report.map(|report| codec::uint64(report.other_nonce.0)))
            .bind(report.map(|report| codec::uint256(&report.updating_capacity)))
            .bind(report.map(|report| codec::uint256(&report.other_capacity)))
            .bind(report.map(|report| codec::uint256(&report.reveal_timeout.0)))
            .bind(fee_schedule.cap_fees)
            .bind(codec::uint256(&fee_schedule.flat))
            .bind(codec::uint256(&fee_schedule.proportional))
            .bind(fee_schedule.imbalance_penalty.as_ref().map(codec::imbalance_penalty))
            .bind(side.fee_timestamp.unix_micros());
    }
    query.execute(&mut *connection).await.map_err(StoreError::database("commit state changes"))?;
    Ok(())
}

async fn insert_deferred(
    connection: &mut AnyConnection,
    sequence: u64,
    entry: &DeferredUpdate,
) -> Result<(), StoreError> {
    let identifier = entry.update.canonical_identifier();
    // Invariant: sequences count updates deferred by one process, far below i64::MAX.
    let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO deferred_update \
         (sequence, token_network, channel_id, updating_participant, message, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(sequence)
    .bind(codec::address(&identifier.token_network_address))
    .bind(codec::uint256(&identifier.channel_identifier.0))
    .bind(codec::address(&entry.update.updating_participant()))
    .bind(entry.update.message().to_json())
    .bind(entry.received_at.unix_micros())
    .execute(&mut *connection)
    .await
    .map_err(StoreError::database("commit state changes"))?;
    Ok(())
}

async fn load_token_networks(
    transaction: &mut Transaction<'static, Any>,
    only: Option<&Address>,
) -> Result<BTreeMap<Address, TokenNetwork>, StoreError> {
    const OPERATION: &str = "load token networks";
    let rows = match only {
        Some(address) => {
            sqlx::query("SELECT address, token, settle_timeout FROM token_network WHERE address = $1")
                .bind(codec::address(address))
                .fetch_all(&mut **transaction)
                .await
        }
        None => {
            sqlx::query("SELECT address, token, settle_timeout FROM token_network")
                .fetch_all(&mut **transaction)
                .await
        }
    }
    .map_err(StoreError::database(OPERATION))?;
    let mut networks = BTreeMap::new();
    for row in &rows {
        let reader = RowReader::new(row, "token_network", OPERATION);
        let address = reader.address("address")?;
        let reader = reader.with_key(move || address.to_string());
        let network = TokenNetwork::new(
            address,
            reader.address("token")?,
            BlockTimeout(reader.uint256("settle_timeout")?),
        );
        networks.insert(address, network);
    }
    Ok(networks)
}

fn decode_channel(row: &AnyRow) -> Result<(Address, Channel), StoreError> {
    const OPERATION: &str = "load channels";
    let reader = RowReader::new(row, "channel", OPERATION);
    let token_network = reader.address("token_network")?;
    let channel_id = ChannelId(reader.uint256("channel_id")?);
    let reader = reader.with_key(move || format!("{token_network}/{channel_id}"));
    let participants = [reader.address("participant1")?, reader.address("participant2")?];
    if participants[0] >= participants[1] {
        return Err(reader.corrupt(CorruptReason::Restore(
            pfs_core::token_network::RestoreError::ParticipantsNotOrdered(channel_id),
        )));
    }
    let mut channel = Channel::new(channel_id, participants[0], participants[1]);
    for (index, side) in channel.sides.iter_mut().enumerate() {
        let columns = &SIDE_COLUMNS[index];
        side.total_deposit = reader.uint256(columns.total_deposit)?;
        side.total_withdraw = reader.uint256(columns.total_withdraw)?;
        let report = (
            reader.optional_uint64(columns.updating_nonce)?,
            reader.optional_uint64(columns.other_nonce)?,
            reader.optional_uint256(columns.updating_capacity)?,
            reader.optional_uint256(columns.other_capacity)?,
            reader.optional_uint256(columns.reveal_timeout)?,
        );
        side.capacity_report = match report {
            (None, None, None, None, None) => None,
            (
                Some(updating_nonce),
                Some(other_nonce),
                Some(updating_capacity),
                Some(other_capacity),
                Some(reveal_timeout),
            ) => Some(CapacityReport {
                updating_nonce: Nonce(updating_nonce),
                other_nonce: Nonce(other_nonce),
                updating_capacity,
                other_capacity,
                reveal_timeout: BlockTimeout(reveal_timeout),
            }),
            _ => return Err(reader.corrupt(CorruptReason::PartialCapacityReport { side: columns.side })),
        };
        side.fee_schedule = FeeSchedule {
            cap_fees: reader.flag(columns.cap_fees)?,
            flat: reader.uint256(columns.flat)?,
            proportional: reader.uint256(columns.proportional)?,
            imbalance_penalty: reader.imbalance_penalty(columns.imbalance_penalty)?,
        };
        side.fee_timestamp = reader.timestamp(columns.fee_timestamp)?;
    }
    Ok((token_network, channel))
}

/// The column names of one side of a channel row.
struct SideColumns {
    side: u8,
    total_deposit: &'static str,
    total_withdraw: &'static str,
    updating_nonce: &'static str,
    other_nonce: &'static str,
    updating_capacity: &'static str,
    other_capacity: &'static str,
    reveal_timeout: &'static str,
    cap_fees: &'static str,
    flat: &'static str,
    proportional: &'static str,
    imbalance_penalty: &'static str,
    fee_timestamp: &'static str,
}

const SIDE_COLUMNS: [SideColumns; 2] = [
    SideColumns {
        side: 1,
        total_deposit: "total_deposit1",
        total_withdraw: "total_withdraw1",
        updating_nonce: "updating_nonce1",
        other_nonce: "other_nonce1",
        updating_capacity: "updating_capacity1",
        other_capacity: "other_capacity1",
        reveal_timeout: "reveal_timeout1",
        cap_fees: "cap_fees1",
        flat: "flat1",
        proportional: "proportional1",
        imbalance_penalty: "imbalance_penalty1",
        fee_timestamp: "fee_timestamp1",
    },
    SideColumns {
        side: 2,
        total_deposit: "total_deposit2",
        total_withdraw: "total_withdraw2",
        updating_nonce: "updating_nonce2",
        other_nonce: "other_nonce2",
        updating_capacity: "updating_capacity2",
        other_capacity: "other_capacity2",
        reveal_timeout: "reveal_timeout2",
        cap_fees: "cap_fees2",
        flat: "flat2",
        proportional: "proportional2",
        imbalance_penalty: "imbalance_penalty2",
        fee_timestamp: "fee_timestamp2",
    },
];

fn decode_deferred(row: &AnyRow) -> Result<(u64, DeferredUpdate), StoreError> {
    let reader = RowReader::new(row, "deferred_update", "load deferred updates");
    let sequence = reader.int("sequence")?;
    let reader = reader.with_key(move || sequence.to_string());
    let sequence = u64::try_from(sequence)
        .map_err(|_| reader.corrupt(CorruptReason::Negative { column: "sequence" }))?;
    let message = Message::parse(&reader.text("message")?)
        .map_err(|error| reader.corrupt(CorruptReason::Message(error)))?;
    let update = VerifiedUpdate::verify(message)
        .map_err(|rejection| reader.corrupt(CorruptReason::Verification(rejection)))?;
    let identifier = update.canonical_identifier();
    let columns = [
        ("token_network", identifier.token_network_address == reader.address("token_network")?),
        ("channel_id", identifier.channel_identifier.0 == reader.uint256("channel_id")?),
        ("updating_participant", update.updating_participant() == reader.address("updating_participant")?),
    ];
    if let Some((column, _)) = columns.iter().find(|(_, matches)| !matches) {
        return Err(reader.corrupt(CorruptReason::MessageMismatch { column }));
    }
    Ok((sequence, DeferredUpdate { update, received_at: reader.timestamp("received_at")? }))
}

async fn load_blocks(transaction: &mut Transaction<'static, Any>) -> Result<Vec<ChainCursor>, StoreError> {
    const OPERATION: &str = "load recent blocks";
    let rows = sqlx::query("SELECT block_number, block_hash FROM chain_block ORDER BY block_number")
        .fetch_all(&mut **transaction)
        .await
        .map_err(StoreError::database(OPERATION))?;
    rows.iter().map(|row| decode_block(row, OPERATION)).collect()
}

fn decode_block(row: &AnyRow, operation: &'static str) -> Result<ChainCursor, StoreError> {
    let reader = RowReader::new(row, "chain_block", operation);
    let number = reader.int("block_number")?;
    let reader = reader.with_key(move || number.to_string());
    let block_number = u64::try_from(number)
        .map_err(|_| reader.corrupt(CorruptReason::Negative { column: "block_number" }))?;
    Ok(ChainCursor { block_number: BlockNumber(block_number), block_hash: reader.hash("block_hash")? })
}
