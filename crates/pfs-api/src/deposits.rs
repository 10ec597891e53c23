//! The UserDeposit balances a paid request is checked against (§6.3 step 9), cached by sender and
//! height.
//!
//! The check reads a sender's `effectiveBalance` at two fixed heights (the confirmed block and
//! some blocks before it), which the reference asks the node for on every paid request. A
//! balance at a fixed height never changes while the chain keeps that block, so the answers are
//! kept and a client paying for several requests within one block costs the node nothing after
//! the first: with a remote provider, two round trips less per request. The chain does lose
//! blocks in a reorganisation; the cache is emptied whenever the service rolls its state back
//! (`pfs_service::ServiceSnapshot::chain_rollbacks`), which is when the service learns of one.
//! It holds at most [`MAX_CACHED_BALANCES`] answers and starts over when full.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use pfs_chain::user_deposit::{ChainReadError, UserDepositReader};
use pfs_core::{Address, BlockNumber, U256};

/// The most balances kept.
pub const MAX_CACHED_BALANCES: usize = 10_000;

/// Balances by sender and height (see the module docs), and how often each source answered.
#[derive(Debug, Default)]
pub(crate) struct DepositCache {
    state: Mutex<CacheState>,
    /// Balances read from the node.
    pub(crate) chain_reads: AtomicU64,
    /// Balances answered from the cache.
    pub(crate) cache_reads: AtomicU64,
}

/// The cached balances and the rollback count they were read under.
#[derive(Debug, Default)]
struct CacheState {
    chain_rollbacks: u64,
    balances: HashMap<(Address, BlockNumber), U256>,
}

impl DepositCache {
    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // The map is only ever inserted into or cleared: a panic elsewhere cannot leave it
        // inconsistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `owner`'s effective balances at `blocks`, from the cache or read with `reader`
    /// concurrently; `chain_rollbacks` is the service's count of rollbacks now.
    ///
    /// # Errors
    /// [`ChainReadError`] if a read from the node fails (nothing is cached then).
    pub(crate) async fn effective_balances(
        &self,
        reader: &UserDepositReader,
        owner: Address,
        blocks: [BlockNumber; 2],
        chain_rollbacks: u64,
    ) -> Result<[U256; 2], ChainReadError> {
        let cached = {
            let mut state = self.state();
            if state.chain_rollbacks != chain_rollbacks {
                state.balances.clear();
                state.chain_rollbacks = chain_rollbacks;
            }
            blocks.map(|block| state.balances.get(&(owner, block)).copied())
        };
        let read = |index: usize| async move {
            match cached[index] {
                Some(balance) => Ok((balance, false)),
                None => reader.effective_balance(owner, blocks[index]).await.map(|balance| (balance, true)),
            }
        };
        let (first, second) = tokio::join!(read(0), read(1));
        let answers = [first?, second?];
        let mut state = self.state();
        for (block, (balance, from_chain)) in blocks.into_iter().zip(answers) {
            let counter = if from_chain { &self.chain_reads } else { &self.cache_reads };
            counter.fetch_add(1, Ordering::Relaxed);
            // Read before a rollback the service has learnt of since: not kept.
            if from_chain && state.chain_rollbacks == chain_rollbacks {
                if state.balances.len() >= MAX_CACHED_BALANCES {
                    state.balances.clear();
                }
                state.balances.insert((owner, block), balance);
            }
        }
        Ok(answers.map(|(balance, _)| balance))
    }
}
