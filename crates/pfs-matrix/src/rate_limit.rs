//! The per-sender byte budget for to-device bodies: the reference's `RateLimiter`
//! (spec/REFERENCE-PFS.md §8.5) — 5,000,000 bytes per sender in a fixed 5-minute window, all
//! counters reset together when the window ends, checked lazily on the next body.
//!
//! A body that would take the sender over the budget is dropped whole and not counted. The size
//! counted is the body's length in bytes (the reference counts Python's `sys.getsizeof`, 49 bytes
//! more per body for ASCII text).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pfs_core::Address;

/// The reference's budget per sender and window.
pub const DEFAULT_ALLOWED_BYTES: u64 = 5_000_000;
/// The reference's window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Byte counters per sender address in the current window.
///
/// Invariant: every counter is at most `allowed_bytes`; the map only holds senders seen in the
/// current window.
#[derive(Debug)]
pub struct ByteRateLimiter {
    allowed_bytes: u64,
    window: Duration,
    window_started: Option<Instant>,
    used: HashMap<Address, u64>,
}

impl ByteRateLimiter {
    /// A limiter allowing `allowed_bytes` per sender per `window`.
    pub fn new(allowed_bytes: u64, window: Duration) -> Self {
        Self { allowed_bytes, window, window_started: None, used: HashMap::new() }
    }

    /// Counts `bytes` for `sender` at `now` and says whether the body may be processed.
    pub fn admit(&mut self, sender: Address, bytes: u64, now: Instant) -> bool {
        let expired =
            self.window_started.is_none_or(|started| now.saturating_duration_since(started) >= self.window);
        if expired {
            self.used.clear();
            self.window_started = Some(now);
        }
        let used = self.used.entry(sender).or_insert(0);
        match used.checked_add(bytes) {
            Some(total) if total <= self.allowed_bytes => {
                *used = total;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(byte: u8) -> Address {
        Address::from_bytes([byte; 20])
    }

    #[test]
    fn a_sender_over_budget_is_dropped_until_the_window_ends() {
        let start = Instant::now();
        let mut limiter = ByteRateLimiter::new(100, Duration::from_secs(300));
        assert!(limiter.admit(sender(1), 60, start));
        assert!(!limiter.admit(sender(1), 60, start + Duration::from_secs(1)));
        assert!(
            limiter.admit(sender(1), 40, start + Duration::from_secs(2)),
            "a dropped body is not counted"
        );
        assert!(!limiter.admit(sender(1), 1, start + Duration::from_secs(3)));
        assert!(limiter.admit(sender(1), 100, start + Duration::from_secs(300)));
    }

    #[test]
    fn senders_have_separate_budgets() {
        let now = Instant::now();
        let mut limiter = ByteRateLimiter::new(DEFAULT_ALLOWED_BYTES, DEFAULT_WINDOW);
        assert!(limiter.admit(sender(1), DEFAULT_ALLOWED_BYTES, now));
        assert!(limiter.admit(sender(2), DEFAULT_ALLOWED_BYTES, now));
        assert!(!limiter.admit(sender(1), 1, now));
    }

    #[test]
    fn a_huge_body_never_overflows_the_counter() {
        let now = Instant::now();
        let mut limiter = ByteRateLimiter::new(u64::MAX, DEFAULT_WINDOW);
        assert!(limiter.admit(sender(1), u64::MAX, now));
        assert!(!limiter.admit(sender(1), 1, now));
    }
}
