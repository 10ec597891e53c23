//! The consumer side: applying a [`ChainBatch`] to a [`TokenNetworkRegistry`], recording what
//! changed for `pfs_store`, and keeping the [`Undo`]s of recent blocks for rollbacks.

use std::collections::VecDeque;

use pfs_core::BlockNumber;
use pfs_core::timestamp::NaiveTimestamp;
use pfs_core::token_network::{TokenNetworkRegistry, Undo};
use pfs_store::StateChanges;

use crate::follower::ChainBatch;

/// The undos of the events applied in recent blocks, oldest first, so that a reorganisation can
/// be reverted. Invariant: block numbers never decrease along the log, and the log covers every
/// event applied in a block above [`UndoLog::covers_above`].
#[derive(Debug, Clone)]
pub struct UndoLog {
    entries: VecDeque<(BlockNumber, Undo)>,
    keep_blocks: u64,
    covers_above: Option<BlockNumber>,
}

/// Why a batch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The rollback goes below the blocks whose undos are kept (e.g. to a block processed before
    /// a restart: undos are kept in memory only). The state must be rebuilt from the chain.
    #[error("cannot roll back to block {rollback_to}: undos are kept only above block {covers_above}")]
    RollbackBeyondUndoLog {
        /// The fork point asked for.
        rollback_to: BlockNumber,
        /// The lowest block the log can revert to.
        covers_above: BlockNumber,
    },
}

impl UndoLog {
    /// An empty log that keeps the undos of the last `keep_blocks` processed blocks (use the
    /// follower's [`crate::FollowerConfig::recent_blocks`]). `start` is the last block already
    /// in the state (the cursor at start-up, `None` on an empty state): the log cannot revert
    /// below it.
    pub fn new(keep_blocks: u64, start: Option<BlockNumber>) -> Self {
        Self { entries: VecDeque::new(), keep_blocks, covers_above: start }
    }

    /// The log as it was committed: `entries` are the stored undo records
    /// (`pfs_store::LoadedState::undo_log`, oldest first) and `cursor` the stored cursor. The
    /// store keeps the records of the same `keep_blocks` recent blocks, so the log can revert to
    /// any block from `cursor − keep_blocks` on, across the restart.
    pub fn restore(
        keep_blocks: u64,
        cursor: Option<BlockNumber>,
        entries: impl IntoIterator<Item = (BlockNumber, Undo)>,
    ) -> Self {
        let mut log = Self::new(keep_blocks, None);
        log.entries = entries.into_iter().filter(|(_, undo)| *undo != Undo::Nothing).collect();
        if let Some(cursor) = cursor {
            log.prune(cursor);
        }
        log
    }

    /// Keeps how to revert an event applied in `block` (blocks must not decrease).
    pub fn record(&mut self, block: BlockNumber, undo: Undo) {
        self.push(block, undo);
    }

    /// Takes the undos needed to roll back to `fork` (those of the blocks above it, newest first),
    /// removing them from the log.
    ///
    /// # Errors
    /// [`ApplyError::RollbackBeyondUndoLog`] if `fork` is below what the log covers; the log is
    /// then unchanged.
    pub fn rollback_to(&mut self, fork: BlockNumber) -> Result<Vec<Undo>, ApplyError> {
        if let Some(covers_above) = self.covers_above
            && fork < covers_above
        {
            return Err(ApplyError::RollbackBeyondUndoLog { rollback_to: fork, covers_above });
        }
        Ok(self.pop_above(fork).collect())
    }

    /// Drops the undos of blocks at or below `head − keep_blocks` (`head`: the new cursor).
    pub fn prune_below(&mut self, head: BlockNumber) {
        self.prune(head);
    }

    /// The lowest block this log can roll back to (`None`: any block, nothing was applied before
    /// the log started).
    pub fn covers_above(&self) -> Option<BlockNumber> {
        self.covers_above
    }

    /// The number of undos kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no undo is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn push(&mut self, block: BlockNumber, undo: Undo) {
        if undo != Undo::Nothing {
            self.entries.push_back((block, undo));
        }
    }

    /// Drops undos of blocks at or below `head − keep_blocks`.
    fn prune(&mut self, head: BlockNumber) {
        let Some(floor) = head.0.checked_sub(self.keep_blocks) else { return };
        while self.entries.front().is_some_and(|(block, _)| block.0 <= floor) {
            self.entries.pop_front();
        }
        if self.covers_above.is_none_or(|covered| covered.0 < floor) {
            self.covers_above = Some(BlockNumber(floor));
        }
    }

    /// Pops the undos of blocks above `block`, newest first.
    fn pop_above(&mut self, block: BlockNumber) -> impl Iterator<Item = Undo> + '_ {
        std::iter::from_fn(move || {
            if self.entries.back().is_some_and(|(entry_block, _)| *entry_block > block) {
                self.entries.pop_back().map(|(_, undo)| undo)
            } else {
                None
            }
        })
    }
}

/// What [`apply_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppliedBatch {
    /// Undos applied for a rollback.
    pub undone: usize,
    /// Events applied.
    pub applied: usize,
    /// Events that changed nothing (see `pfs_core::token_network::IgnoredEvent`).
    pub ignored: usize,
}

/// Applies a batch: first its rollback (the kept undos of the blocks above the fork point, newest
/// first), then its events in order, then records its blocks, so that one `Store::commit` of
/// `changes` writes the state and the cursor together. `now` dates the replay of deferred
/// updates.
///
/// # Errors
/// [`ApplyError::RollbackBeyondUndoLog`] if the rollback needs undos the log no longer (or never)
/// had; nothing is then changed.
pub fn apply_batch(
    registry: &mut TokenNetworkRegistry,
    batch: &ChainBatch,
    undo_log: &mut UndoLog,
    changes: &mut StateChanges,
    now: NaiveTimestamp,
) -> Result<AppliedBatch, ApplyError> {
    let mut applied = AppliedBatch::default();
    if let Some(fork) = batch.rollback_to {
        for undo in undo_log.rollback_to(fork.block_number)? {
            changes.record_undo(&undo);
            registry.undo(undo);
            applied.undone += 1;
        }
        changes.record_block(fork);
    }
    for (block, event) in &batch.events {
        let effect = registry.apply_chain_event(event, now);
        changes.record_chain_event(event, &effect);
        changes.record_chain_undo(*block, &effect.undo);
        if effect.ignored.is_some() {
            applied.ignored += 1;
        } else {
            applied.applied += 1;
        }
        undo_log.push(*block, effect.undo);
    }
    for block in &batch.blocks {
        changes.record_block(*block);
    }
    if let Some(last) = batch.blocks.last() {
        undo_log.prune(last.block_number);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{B256, U256};
    use pfs_core::token_network::ChainEvent;
    use pfs_core::{Address, BlockTimeout, ChainId, ChannelId};
    use pfs_store::ChainCursor;

    use super::*;

    const NETWORK: Address = Address::from_bytes([0x11; 20]);
    const ALICE: Address = Address::from_bytes([0xaa; 20]);
    const BOB: Address = Address::from_bytes([0xbb; 20]);

    fn cursor(number: u64) -> ChainCursor {
        ChainCursor { block_number: BlockNumber(number), block_hash: B256::repeat_byte(number as u8) }
    }

    fn now() -> NaiveTimestamp {
        NaiveTimestamp::from_unix_micros(1_700_000_000_000_000).expect("in range")
    }

    fn batch(rollback_to: Option<ChainCursor>, events: Vec<(u64, ChainEvent)>, last: u64) -> ChainBatch {
        ChainBatch {
            rollback_to,
            events: events.into_iter().map(|(block, event)| (BlockNumber(block), event)).collect(),
            blocks: vec![cursor(last)],
            latest_block: BlockNumber(last),
        }
    }

    fn created() -> ChainEvent {
        ChainEvent::TokenNetworkCreated {
            token_network: NETWORK,
            token: ALICE,
            settle_timeout: BlockTimeout(U256::from(500)),
        }
    }

    fn opened(id: u64) -> ChainEvent {
        ChainEvent::ChannelOpened {
            token_network: NETWORK,
            channel_id: ChannelId(U256::from(id)),
            participant1: ALICE,
            participant2: BOB,
        }
    }

    fn deposit(id: u64, total: u64) -> ChainEvent {
        ChainEvent::Deposit {
            token_network: NETWORK,
            channel_id: ChannelId(U256::from(id)),
            participant: ALICE,
            total_deposit: U256::from(total),
        }
    }

    fn deposit_of(registry: &TokenNetworkRegistry, id: u64) -> Option<U256> {
        let channel = registry.token_network(&NETWORK)?.channel(&ChannelId(U256::from(id)))?;
        Some(channel.sides[0].total_deposit)
    }

    #[test]
    fn a_rollback_reverts_exactly_the_events_above_the_fork_point() {
        let mut registry = TokenNetworkRegistry::new(ChainId(1));
        let mut log = UndoLog::new(100, None);
        let mut changes = StateChanges::new();
        let first = batch(None, vec![(1, created()), (2, opened(1)), (3, deposit(1, 10))], 3);
        apply_batch(&mut registry, &first, &mut log, &mut changes, now()).expect("no rollback");
        let second = batch(None, vec![(5, deposit(1, 30))], 6);
        apply_batch(&mut registry, &second, &mut log, &mut changes, now()).expect("no rollback");
        assert_eq!(deposit_of(&registry, 1), Some(U256::from(30)));

        let rollback = batch(Some(cursor(3)), vec![], 3);
        let done = apply_batch(&mut registry, &rollback, &mut log, &mut changes, now()).expect("covered");
        assert_eq!(done.undone, 1);
        assert_eq!(deposit_of(&registry, 1), Some(U256::from(10)));

        let deeper = batch(Some(cursor(1)), vec![], 1);
        apply_batch(&mut registry, &deeper, &mut log, &mut changes, now()).expect("covered");
        assert_eq!(deposit_of(&registry, 1), None);
        assert!(registry.token_network(&NETWORK).is_some());
    }

    #[test]
    fn a_rollback_below_the_kept_blocks_is_refused_and_changes_nothing() {
        let mut registry = TokenNetworkRegistry::new(ChainId(1));
        let mut log = UndoLog::new(2, None);
        let mut changes = StateChanges::new();
        let first = batch(None, vec![(1, created()), (2, opened(1))], 10);
        apply_batch(&mut registry, &first, &mut log, &mut changes, now()).expect("no rollback");
        assert!(log.is_empty());
        let rollback = batch(Some(cursor(1)), vec![], 1);
        let error = apply_batch(&mut registry, &rollback, &mut log, &mut changes, now()).expect_err("beyond");
        assert_eq!(
            error,
            ApplyError::RollbackBeyondUndoLog { rollback_to: BlockNumber(1), covers_above: BlockNumber(8) }
        );
        assert!(registry.token_network(&NETWORK).is_some());
    }

    #[test]
    fn a_log_restored_from_the_stored_undos_reverts_across_the_restart() {
        let mut registry = TokenNetworkRegistry::new(ChainId(1));
        let mut log = UndoLog::new(100, None);
        let mut changes = StateChanges::new();
        let first =
            batch(None, vec![(1, created()), (2, opened(1)), (3, deposit(1, 10)), (5, deposit(1, 30))], 6);
        apply_batch(&mut registry, &first, &mut log, &mut changes, now()).expect("no rollback");
        let stored: Vec<(BlockNumber, Undo)> = log.entries.iter().cloned().collect();

        let mut restored = UndoLog::restore(100, Some(BlockNumber(6)), stored);
        let rollback = batch(Some(cursor(3)), vec![], 3);
        apply_batch(&mut registry, &rollback, &mut restored, &mut changes, now()).expect("covered");
        assert_eq!(deposit_of(&registry, 1), Some(U256::from(10)));
    }

    #[test]
    fn a_restored_log_covers_only_the_kept_blocks() {
        let log =
            UndoLog::restore(2, Some(BlockNumber(10)), [(BlockNumber(7), Undo::RemoveTokenNetwork(NETWORK))]);
        assert!(log.is_empty(), "block 7 is below the kept blocks 9 and 10");
        assert_eq!(log.covers_above(), Some(BlockNumber(8)));
    }

    #[test]
    fn a_log_started_on_a_restored_state_cannot_revert_below_it() {
        let mut log = UndoLog::new(100, Some(BlockNumber(50)));
        let mut registry = TokenNetworkRegistry::new(ChainId(1));
        let rollback = batch(Some(cursor(49)), vec![], 49);
        let error = apply_batch(&mut registry, &rollback, &mut log, &mut StateChanges::new(), now())
            .expect_err("beyond");
        assert!(matches!(error, ApplyError::RollbackBeyondUndoLog { .. }));
        let at_start = batch(Some(cursor(50)), vec![], 50);
        apply_batch(&mut registry, &at_start, &mut log, &mut StateChanges::new(), now())
            .expect("at the start is fine");
    }
}
