//! Claiming the service fees (`raiden-pfs claim-fees`, spec/REFERENCE-PFS.md §6.5): the stored
//! unclaimed IOUs whose `claimable_until` falls inside a window and whose amount covers the
//! claim's gas are checked with `eth_call`, claimed one transaction at a time, and marked claimed
//! once the transaction is mined successfully.
//!
//! Each IOU ends in one [`ClaimOutcome`]; one IOU's failure does not stop the others. A session
//! found already settled on chain (claimed by an earlier run that stopped before marking it) is
//! marked claimed without a transaction, so it is never claimed twice.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{B256, U256};
use pfs_core::Iou;
use pfs_core::payment::{CLAIM_GAS, claim_cost};
use pfs_store::{Store, StoreError};

use crate::one_to_n::{OneToNClient, OneToNError};

/// Which IOUs are worth claiming.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClaimPolicy {
    /// Claim IOUs whose `claimable_until` is at most this far in the future (the reference's
    /// `--expire-within`, default 7 days).
    pub expire_within: Duration,
    /// The service token's price in ETH (the reference's `--rdn-per-eth`, default 0.0025): the
    /// claim's gas cost is converted with it, and IOUs (and deposits) below it are skipped.
    pub eth_per_token: f64,
}

impl Default for ClaimPolicy {
    fn default() -> Self {
        Self { expire_within: Duration::from_secs(604_800), eth_per_token: 0.0025 }
    }
}

/// What happened to one IOU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Claimed: `transferred` tokens moved to the service in `transaction`; marked claimed.
    Claimed {
        /// The claim transaction.
        transaction: B256,
        /// The amount transferred (at most the IOU's amount, at most the sender's deposit).
        transferred: U256,
    },
    /// The session was already settled on chain; marked claimed, no transaction sent.
    AlreadySettled,
    /// The sender's deposit would yield less than the claim costs; not claimed (a later run
    /// may claim it).
    NotWorthClaiming {
        /// What the claim would transfer now.
        transferable: U256,
        /// What the claim costs, in tokens.
        claim_cost: U256,
    },
    /// The IOU names another receiver than the claiming account; not claimed.
    OtherReceiver,
    /// The check or the transaction failed; not marked, a later run retries.
    Failed(String),
}

/// The result of one claiming run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimReport {
    /// The claim cost used, in tokens.
    pub claim_cost: U256,
    /// Each candidate IOU with its outcome, in `claimable_until` order.
    pub outcomes: Vec<(Iou, ClaimOutcome)>,
}

impl ClaimReport {
    /// How many IOUs were claimed in this run.
    pub fn claimed(&self) -> usize {
        self.count(|outcome| matches!(outcome, ClaimOutcome::Claimed { .. }))
    }

    /// How many were skipped (not worth it, settled earlier, other receiver).
    pub fn skipped(&self) -> usize {
        self.count(|outcome| {
            matches!(
                outcome,
                ClaimOutcome::NotWorthClaiming { .. }
                    | ClaimOutcome::AlreadySettled
                    | ClaimOutcome::OtherReceiver
            )
        })
    }

    /// How many failed.
    pub fn failures(&self) -> usize {
        self.count(|outcome| matches!(outcome, ClaimOutcome::Failed(_)))
    }

    /// The total transferred in this run.
    pub fn transferred(&self) -> U256 {
        self.outcomes
            .iter()
            .filter_map(|(_, outcome)| match outcome {
                ClaimOutcome::Claimed { transferred, .. } => Some(*transferred),
                _ => None,
            })
            .fold(U256::ZERO, U256::saturating_add)
    }

    fn count(&self, predicate: impl Fn(&ClaimOutcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, outcome)| predicate(outcome)).count()
    }
}

/// Why a claiming run could not start or record its results.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// The gas price could not be read.
    #[error("cannot price a claim: {0}")]
    GasPrice(#[source] OneToNError),
    /// The database failed (listing or marking IOUs).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Claims the IOUs worth claiming at `now` (see the module docs).
///
/// # Errors
/// [`ClaimError`] if the gas price cannot be read or the store fails; a failure of one IOU's
/// check or transaction is a [`ClaimOutcome::Failed`] instead.
pub async fn claim_fees(
    store: &Store,
    one_to_n: &OneToNClient,
    policy: &ClaimPolicy,
    now: SystemTime,
) -> Result<ClaimReport, ClaimError> {
    let gas_price = one_to_n.gas_price().await.map_err(ClaimError::GasPrice)?;
    let cost = claim_cost(CLAIM_GAS, gas_price, policy.eth_per_token);
    let now_seconds = now.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let after = U256::from(now_seconds);
    let before = after.saturating_add(U256::from(policy.expire_within.as_secs()));
    let candidates = store.claimable_ious(&after, &before, &cost).await?;
    let mut outcomes = Vec::with_capacity(candidates.len());
    for iou in candidates {
        let outcome = claim_one(store, one_to_n, &iou, cost, now).await?;
        match &outcome {
            ClaimOutcome::Failed(reason) => {
                tracing::warn!(sender = %iou.fields().sender, %reason, "claim failed");
            }
            outcome => tracing::info!(sender = %iou.fields().sender, ?outcome, "claim"),
        }
        outcomes.push((iou, outcome));
    }
    Ok(ClaimReport { claim_cost: cost, outcomes })
}

async fn claim_one(
    store: &Store,
    one_to_n: &OneToNClient,
    iou: &Iou,
    cost: U256,
    now: SystemTime,
) -> Result<ClaimOutcome, StoreError> {
    let fields = iou.fields();
    if fields.receiver != one_to_n.account() {
        return Ok(ClaimOutcome::OtherReceiver);
    }
    match one_to_n.is_settled(iou).await {
        Ok(true) => {
            store.mark_iou_claimed(&fields.sender, &fields.claimable_until, now).await?;
            return Ok(ClaimOutcome::AlreadySettled);
        }
        Ok(false) => {}
        Err(error) => return Ok(ClaimOutcome::Failed(error.to_string())),
    }
    let transferable = match one_to_n.claimable(iou).await {
        Ok(transferable) => transferable,
        Err(error) => return Ok(ClaimOutcome::Failed(error.to_string())),
    };
    if transferable.is_zero() || transferable < cost {
        return Ok(ClaimOutcome::NotWorthClaiming { transferable, claim_cost: cost });
    }
    match one_to_n.claim(iou).await {
        // The deposit was drained between the check and the transaction: nothing was settled.
        Ok(receipt) if receipt.transferred.is_zero() => {
            Ok(ClaimOutcome::NotWorthClaiming { transferable: U256::ZERO, claim_cost: cost })
        }
        Ok(receipt) => {
            store.mark_iou_claimed(&fields.sender, &fields.claimable_until, now).await?;
            Ok(ClaimOutcome::Claimed { transaction: receipt.transaction, transferred: receipt.transferred })
        }
        Err(error) => Ok(ClaimOutcome::Failed(error.to_string())),
    }
}
