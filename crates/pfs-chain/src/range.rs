//! The adaptive `eth_getLogs` block range: how many blocks one step asks for.
//!
//! It starts at [`RangeLimits::initial`], halves on a provider's "too many results"/range-limit
//! answer or a timeout (down to [`RangeLimits::min`]), and doubles after a quiet, fast answer (up to
//! [`RangeLimits::max`]), like the reference's `current_event_filter_interval`.

use std::time::Duration;

/// Bounds and thresholds of the adaptive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeLimits {
    /// The first range, in blocks (the reference's `DEFAULT_FILTER_INTERVAL`, 1,000).
    pub initial: u64,
    /// The smallest range (≥ 1).
    pub min: u64,
    /// The largest range (the reference's `MAX_FILTER_INTERVAL`, 100,000).
    pub max: u64,
    /// A step with at most this many logs, answered within [`RangeLimits::fast`], grows the range.
    pub quiet_logs: usize,
    /// See [`RangeLimits::quiet_logs`].
    pub fast: Duration,
}

impl Default for RangeLimits {
    fn default() -> Self {
        Self { initial: 1_000, min: 1, max: 100_000, quiet_logs: 10_000, fast: Duration::from_secs(2) }
    }
}

/// The current range. Invariant: `min ≤ blocks ≤ max` with `min ≥ 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRange {
    limits: RangeLimits,
    blocks: u64,
}

impl BlockRange {
    /// A range at `limits.initial`, clamped to the limits (and `min` to at least 1, `max` to at
    /// least `min`).
    pub fn new(limits: RangeLimits) -> Self {
        let min = limits.min.max(1);
        let limits = RangeLimits { min, max: limits.max.max(min), ..limits };
        Self { limits, blocks: limits.initial.clamp(limits.min, limits.max) }
    }

    /// The number of blocks the next step asks for.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// The provider refused the range as too large (or timed out). Returns whether it shrank;
    /// `false` means it was already at its minimum.
    pub fn shrink(&mut self) -> bool {
        let before = self.blocks;
        self.blocks = (self.blocks / 2).max(self.limits.min);
        self.blocks < before
    }

    /// A step succeeded with `logs` logs in `elapsed`: grows the range if that was quiet and fast.
    pub fn succeeded(&mut self, logs: usize, elapsed: Duration) {
        if logs <= self.limits.quiet_logs && elapsed <= self.limits.fast {
            self.blocks = self.blocks.saturating_mul(2).min(self.limits.max);
        }
    }
}

/// Whether an RPC error message says the range or result set was too large (the wordings of
/// geth, Erigon, Nethermind, Infura, Alchemy, QuickNode and anvil), or that the request timed out.
pub fn is_range_limit(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    // A rate limit is an outage to wait out, not a range to shrink.
    if message.contains("rate limit") || message.contains("429") {
        return false;
    }
    [
        "too many",
        "query returned more than",
        "block range",
        "range limit",
        "range is too large",
        "exceed",
        "limit",
        "response size",
        "timeout",
        "timed out",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RangeLimits {
        RangeLimits { initial: 8, min: 2, max: 32, quiet_logs: 10, fast: Duration::from_secs(1) }
    }

    #[test]
    fn starts_at_the_initial_range() {
        assert_eq!(BlockRange::new(limits()).blocks(), 8);
    }

    #[test]
    fn shrinks_by_half_down_to_the_minimum() {
        let mut range = BlockRange::new(limits());
        assert!(range.shrink());
        assert_eq!(range.blocks(), 4);
        assert!(range.shrink());
        assert_eq!(range.blocks(), 2);
        assert!(!range.shrink());
        assert_eq!(range.blocks(), 2);
    }

    #[test]
    fn grows_after_a_quiet_fast_step_up_to_the_maximum() {
        let mut range = BlockRange::new(limits());
        range.succeeded(3, Duration::from_millis(10));
        assert_eq!(range.blocks(), 16);
        range.succeeded(3, Duration::from_millis(10));
        range.succeeded(3, Duration::from_millis(10));
        assert_eq!(range.blocks(), 32);
    }

    #[test]
    fn keeps_its_size_after_a_busy_or_slow_step() {
        let mut range = BlockRange::new(limits());
        range.succeeded(11, Duration::from_millis(10));
        range.succeeded(3, Duration::from_secs(2));
        assert_eq!(range.blocks(), 8);
    }

    #[test]
    fn zero_limits_are_clamped_to_one_block() {
        let range = BlockRange::new(RangeLimits { initial: 0, min: 0, max: 0, ..limits() });
        assert_eq!(range.blocks(), 1);
    }

    #[test]
    fn recognises_provider_range_errors() {
        assert!(is_range_limit("query returned more than 10000 results"));
        assert!(is_range_limit(
            "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range"
        ));
        assert!(is_range_limit("request timed out"));
        assert!(!is_range_limit("connection refused"));
        assert!(!is_range_limit("HTTP error 429: rate limit exceeded"));
    }
}
