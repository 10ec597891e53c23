//! The follower's counters and gauges: plain atomics the service reads and exports (e.g. to
//! Prometheus) without this crate choosing an exporter.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters (monotonic) and gauges (current values) of one follower. Shared through an `Arc`
/// ([`crate::ChainFollower::metrics`]); every read is a relaxed atomic load.
#[derive(Debug, Default)]
pub struct FollowerMetrics {
    /// RPC requests that failed (each retry counts again).
    pub rpc_errors: AtomicU64,
    /// `eth_getLogs` answers that said the range was too large, or timed out.
    pub range_shrinks: AtomicU64,
    /// Logs that did not decode and were skipped.
    pub undecodable_logs: AtomicU64,
    /// Events delivered in batches.
    pub events: AtomicU64,
    /// Reorganisations detected (rollbacks delivered).
    pub reorgs: AtomicU64,
    /// Gauge: the chain's latest block at the last poll.
    pub latest_block: AtomicU64,
    /// Gauge: the last confirmed block processed (delivered in a batch).
    pub processed_block: AtomicU64,
    /// Gauge: the current `eth_getLogs` range in blocks.
    pub range_blocks: AtomicU64,
}

impl FollowerMetrics {
    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    /// Reads a counter or gauge.
    pub fn get(value: &AtomicU64) -> u64 {
        value.load(Ordering::Relaxed)
    }
}
