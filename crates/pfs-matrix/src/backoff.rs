//! Exponential backoff with a cap, for retrying a homeserver that fails or is away.
//!
//! The reference waits 5 s after the first failure and doubles up to 60 s
//! (`timeout_exponential_backoff(1, 5.0, 60.0)`, spec/REFERENCE-PFS.md §8.1); those are the
//! defaults of [`crate::MatrixConfig`].

use std::time::Duration;

/// The delay before the next retry: `initial`, then doubling after each failure, never above
/// `max`; back to `initial` after a success.
///
/// Invariant: `initial <= current <= max` (`initial` is lowered to `max` if above it).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use pfs_matrix::Backoff;
///
/// let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
/// let delays: Vec<u64> = (0..6).map(|_| backoff.next_delay().as_secs()).collect();
/// assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// A backoff starting at `initial` and capped at `max` (`initial` is capped too).
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        Self { initial, max, current: initial }
    }

    /// The delay to wait now; the one after it is twice as long, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.current;
        self.current = self.current.saturating_mul(2).min(self.max);
        delay
    }

    /// The delay to wait after a failure whose answer asked for `retry_after`
    /// (`M_LIMIT_EXCEEDED`): that request wins over the own schedule, which still advances.
    pub fn next_delay_honouring(&mut self, retry_after: Option<Duration>) -> Duration {
        let own = self.next_delay();
        retry_after.unwrap_or(own)
    }

    /// After a success: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_like_the_reference() {
        let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        let delays: Vec<u64> = (0..7).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60, 60]);
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        backoff.next_delay();
        backoff.next_delay();
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_from_the_homeserver_wins() {
        let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        assert_eq!(
            backoff.next_delay_honouring(Some(Duration::from_millis(250))),
            Duration::from_millis(250)
        );
        assert_eq!(backoff.next_delay_honouring(None), Duration::from_secs(10));
    }
}
