//! The chain follower task of `raiden-pfs serve`: takes confirmed batches from a
//! [`ChainFollower`] and hands each to the service's single writer, which applies the events and
//! commits them with their blocks (the cursor) and their undo records in ONE transaction.
//!
//! The task keeps the [`UndoLog`] of the recent blocks. It starts from the log committed with the
//! cursor ([`pfs_store::LoadedState::undo_log`]), so a reorganisation that reaches blocks
//! processed before a restart is reverted exactly like one within a run: the undos come back from
//! the database. The follower keeps the hashes of the same number of recent blocks, so every fork
//! point it can find is one the log can revert to.
//!
//! RPC outages never end the task (the follower retries them, logged and counted); it ends only
//! when the state cannot follow the chain any more: a reorganisation deeper than the kept blocks,
//! a node on another chain, or a stopped writer.

use pfs_chain::{ApplyError, ChainBatch, ChainFollower, FollowerError, UndoLog};
use pfs_core::ChainId;
use pfs_service::{Service, WriterError};

/// Why the follower task stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The node reports another chain than the service's database belongs to.
    #[error("the Ethereum node is on chain {reported}, but the service follows chain {expected}")]
    WrongChain {
        /// `--chain-id` (or the database's chain).
        expected: ChainId,
        /// `eth_chainId`.
        reported: u64,
    },
    /// The follower cannot go on: no fork point among its kept blocks, or no registry contract
    /// on the chain.
    #[error("{0}{hint}", hint = resync_hint(.0))]
    Follower(#[from] FollowerError),
    /// The fork point is below the kept undo records.
    #[error("{0}{RESYNC}")]
    Rollback(#[from] ApplyError),
    /// The writer stopped (a failed commit or a shutdown).
    #[error("the state writer did not take a chain batch: {0}")]
    Writer(#[from] WriterError),
}

/// What to do when the state cannot follow the chain back.
const RESYNC: &str = "; start again on a new database to resync from the start block";

/// What to do about a follower error, for its message.
fn resync_hint(error: &FollowerError) -> &'static str {
    match error {
        FollowerError::ReorgBeyondKeptBlocks { .. } => RESYNC,
        FollowerError::NoRegistry { .. } => "; check --token-network-registry-address and --eth-rpc",
        FollowerError::BadUrl(_) => "",
    }
}

/// Follows the chain into `service` until an unrecoverable error (see [`FollowError`]).
///
/// `undo_log` must be the one committed with the follower's cursor (built with
/// [`UndoLog::restore`] from the loaded state, with the follower's `recent_blocks`). First checks
/// that the node's chain id is the service's (retrying while the node is unreachable).
///
/// # Errors
/// [`FollowError`]; RPC failures are not errors (they are retried).
pub async fn follow(
    service: Service,
    mut follower: ChainFollower,
    mut undo_log: UndoLog,
) -> Result<(), FollowError> {
    let expected = service.chain_id();
    let reported = follower.chain_id().await;
    if reported != expected.0 {
        return Err(FollowError::WrongChain { expected, reported });
    }
    tracing::info!(cursor = follower.cursor().map(|cursor| cursor.block_number.0), "following the chain");
    loop {
        let batch = follower.next_batch().await?;
        apply(&service, &batch, &mut undo_log).await?;
    }
}

/// Sends one batch to the writer and keeps the undos it returns.
async fn apply(service: &Service, batch: &ChainBatch, undo_log: &mut UndoLog) -> Result<(), FollowError> {
    let (undo, blocks) = match batch.rollback_to {
        Some(fork) => (undo_log.rollback_to(fork.block_number)?, vec![fork]),
        None => (Vec::new(), batch.blocks.clone()),
    };
    let Some(cursor) = blocks.last().map(|block| block.block_number) else { return Ok(()) };
    let undos = service.apply_chain_blocks(undo, batch.events.clone(), blocks).await?;
    for ((block, _), undo) in batch.events.iter().zip(undos) {
        undo_log.record(*block, undo);
    }
    undo_log.prune_below(cursor);
    if batch.rollback_to.is_some() {
        tracing::warn!(fork = cursor.0, "reorganisation reverted");
    } else if !batch.events.is_empty() {
        tracing::info!(events = batch.events.len(), confirmed = cursor.0, "chain events applied");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use pfs_core::{Address, BlockNumber};

    use super::*;

    #[test]
    fn a_reorganisation_beyond_the_kept_blocks_says_to_resync() {
        let error = FollowError::from(FollowerError::ReorgBeyondKeptBlocks { oldest_kept: BlockNumber(7) });
        assert_eq!(
            error.to_string(),
            "reorganisation deeper than the kept blocks (oldest kept: block 7); start again on a new \
             database to resync from the start block"
        );
    }

    #[test]
    fn a_rollback_below_the_kept_undos_says_to_resync() {
        let error = FollowError::from(ApplyError::RollbackBeyondUndoLog {
            rollback_to: BlockNumber(3),
            covers_above: BlockNumber(5),
        });
        assert_eq!(
            error.to_string(),
            "cannot roll back to block 3: undos are kept only above block 5; start again on a new \
             database to resync from the start block"
        );
    }

    #[test]
    fn a_registry_without_code_says_which_settings_to_check() {
        let address = Address::from_bytes([0x5a; 20]);
        let error = FollowError::from(FollowerError::NoRegistry { address, latest: BlockNumber(11) });
        assert_eq!(
            error.to_string(),
            format!(
                "no TokenNetworkRegistry at {address} on this chain (no code at block 11); check \
                 --token-network-registry-address and --eth-rpc"
            )
        );
    }
}
