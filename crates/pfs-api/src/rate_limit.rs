//! Per-client rate limits, answered `429 Too Many Requests` with `Retry-After` and the standard
//! error body (code [`codes::RATE_LIMITED`]).
//!
//! Three limits, each optional and configured in [`RateLimits`]:
//! * per client IP, on every request under `/api` (IPv6 clients by their /64 network, since one
//!   host usually holds a whole /64);
//! * per update signer, on each update of `POST /api/v1/updates`, counted after its signature
//!   is recovered (so nobody can spend another address's budget);
//! * per IOU sender, on `POST /api/v1/<tn>/paths` requests that carry an IOU.
//!
//! Each limit is a GCRA (generic cell rate algorithm, the token bucket without a refill timer):
//! one "theoretical arrival time" per client, so a check is one hash-map lookup under a mutex.
//! A client may make `burst` requests at once and `per_second` on average after that.
//!
//! Memory is bounded by [`RateLimits::max_tracked_clients`] per limit: when the table is full,
//! clients whose bucket has refilled (who are exactly as if never seen) are dropped; if every
//! tracked client is still limited, a new client is let through untracked. An attacker holding
//! that many addresses defeats a per-address limit anyway, and legitimate new clients are not
//! locked out.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, State as Extract};
use axum::http::{Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pfs_core::Address;

use crate::AppState;
use crate::error::{ApiError, codes};

/// One limit: `per_second` on average, at most `burst` at once.
///
/// Invariant: both are positive (a limit of zero would refuse everything; leave the limit out
/// instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests (or updates) per second.
    pub per_second: u32,
    /// How many may come at once after a quiet period.
    pub burst: u32,
}

impl RateLimit {
    /// A limit; `None` if either number is zero (meaning "no limit").
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        (per_second > 0 && burst > 0).then_some(Self { per_second, burst })
    }
}

/// The API's rate limits; `None` switches one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Every request under `/api`, per client IP (IPv6 per /64). Default 50/s, burst 200.
    pub per_ip: Option<RateLimit>,
    /// Each update of `POST /api/v1/updates`, per recovered signer. Default 20/s, burst 500
    /// (a node with hundreds of channels may report them all at once).
    pub per_update_signer: Option<RateLimit>,
    /// `POST /api/v1/<tn>/paths` with an IOU, per IOU sender. Default 10/s, burst 50.
    pub per_iou_sender: Option<RateLimit>,
    /// Clients tracked per limit at most (see the module docs). Default 100,000.
    pub max_tracked_clients: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_ip: RateLimit::new(50, 200),
            per_update_signer: RateLimit::new(20, 500),
            per_iou_sender: RateLimit::new(10, 50),
            max_tracked_clients: 100_000,
        }
    }
}

impl RateLimits {
    /// No limit at all (benchmarks, trusted deployments behind a limiting proxy).
    pub const UNLIMITED: Self =
        Self { per_ip: None, per_update_signer: None, per_iou_sender: None, max_tracked_clients: 0 };
}

/// The GCRA state of one limit for every tracked client.
#[derive(Debug)]
pub(crate) struct Limiter<K> {
    limit: Option<RateLimit>,
    max_tracked: usize,
    /// Client → theoretical arrival time of its next request.
    table: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub(crate) fn new(limit: Option<RateLimit>, max_tracked: usize) -> Self {
        Self { limit, max_tracked, table: Mutex::new(HashMap::new()) }
    }

    /// Takes `cost` units for `client` at `now`; `Err(wait)` if that would exceed the limit,
    /// with how long until it would not. A refused request takes nothing.
    pub(crate) fn check(&self, client: &K, cost: u32, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.limit else { return Ok(()) };
        let interval = Duration::from_secs(1) / limit.per_second;
        let tolerance = interval * limit.burst;
        // A poisoned lock only means another request panicked mid-check; the table is still a
        // valid map of instants.
        let mut table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let arrival = table.get(client).copied().unwrap_or(now).max(now);
        let next = arrival + interval * cost;
        let ahead = next - now;
        if ahead > tolerance {
            return Err(ahead - tolerance);
        }
        if !table.contains_key(client) && table.len() >= self.max_tracked {
            table.retain(|_, arrival| *arrival > now);
            if table.len() >= self.max_tracked {
                return Ok(());
            }
        }
        table.insert(client.clone(), next);
        Ok(())
    }

    /// How many clients are tracked.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table.lock().map(|table| table.len()).unwrap_or(0)
    }
}

/// The limiters of one API instance.
#[derive(Debug)]
pub(crate) struct Limiters {
    pub(crate) per_ip: Limiter<IpAddr>,
    pub(crate) per_update_signer: Limiter<Address>,
    pub(crate) per_iou_sender: Limiter<Address>,
}

impl Limiters {
    pub(crate) fn new(limits: &RateLimits) -> Self {
        Self {
            per_ip: Limiter::new(limits.per_ip, limits.max_tracked_clients),
            per_update_signer: Limiter::new(limits.per_update_signer, limits.max_tracked_clients),
            per_iou_sender: Limiter::new(limits.per_iou_sender, limits.max_tracked_clients),
        }
    }
}

/// The client key of an IP: IPv4 as is, IPv6 by its /64 network (IPv4-mapped IPv6 as IPv4).
pub(crate) fn client_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                IpAddr::V6(Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The 429 answer: the standard error body with `retry_after` in whole seconds (at least 1),
/// which [`ApiError`]'s response also puts in the `Retry-After` header.
pub(crate) fn too_many_requests(limit: &'static str, wait: Duration) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED, "Too many requests; try again later.")
        .detail("limit", limit)
        .detail("retry_after", retry_after_seconds(wait))
}

/// `wait` rounded up to whole seconds, at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// Middleware: the per-IP limit on every `/api` request. Without a peer address (a server not
/// started with `into_make_service_with_connect_info::<SocketAddr>()`) it does nothing.
pub(crate) async fn per_ip(
    Extract(state): Extract<Arc<AppState>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| client_ip(info.0.ip()));
    if let Some(ip) = peer
        && let Err(wait) = state.limiters.per_ip.check(&ip, 1, Instant::now())
    {
        state.metrics.count_rate_limited("ip");
        return too_many_requests("ip", wait).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32) -> Limiter<u8> {
        Limiter::new(RateLimit::new(per_second, burst), 100)
    }

    #[test]
    fn a_burst_passes_and_the_next_request_waits_one_interval() {
        let limiter = limiter(10, 5);
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.check(&1, 1, now), Ok(()));
        }
        assert_eq!(limiter.check(&1, 1, now), Err(Duration::from_millis(100)));
        assert_eq!(limiter.check(&1, 1, now + Duration::from_millis(100)), Ok(()));
    }

    #[test]
    fn clients_have_separate_budgets() {
        let limiter = limiter(1, 1);
        let now = Instant::now();
        assert_eq!(limiter.check(&1, 1, now), Ok(()));
        assert!(limiter.check(&1, 1, now).is_err());
        assert_eq!(limiter.check(&2, 1, now), Ok(()));
    }

    #[test]
    fn a_refused_request_costs_nothing() {
        let limiter = limiter(10, 2);
        let now = Instant::now();
        assert_eq!(limiter.check(&1, 2, now), Ok(()));
        for _ in 0..10 {
            assert!(limiter.check(&1, 1, now).is_err());
        }
        assert_eq!(limiter.check(&1, 1, now + Duration::from_millis(100)), Ok(()));
    }

    #[test]
    fn a_cost_above_the_burst_is_refused() {
        let limiter = limiter(10, 5);
        assert_eq!(limiter.check(&1, 6, Instant::now()), Err(Duration::from_millis(100)));
    }

    #[test]
    fn a_sustained_rate_at_the_limit_passes() {
        let limiter = limiter(100, 1);
        let start = Instant::now();
        for step in 0..1_000 {
            assert_eq!(limiter.check(&1, 1, start + Duration::from_millis(10) * step), Ok(()), "{step}");
        }
    }

    #[test]
    fn no_limit_lets_everything_through() {
        let limiter: Limiter<u8> = Limiter::new(None, 0);
        for _ in 0..1_000 {
            assert_eq!(limiter.check(&1, 1_000, Instant::now()), Ok(()));
        }
        assert_eq!(RateLimit::new(0, 10), None);
        assert_eq!(RateLimit::new(10, 0), None);
    }

    #[test]
    fn a_full_table_drops_refilled_clients_and_then_lets_new_ones_through_untracked() {
        let limiter: Limiter<u32> = Limiter::new(RateLimit::new(1, 1), 2);
        let now = Instant::now();
        assert_eq!(limiter.check(&1, 1, now), Ok(()));
        assert_eq!(limiter.check(&2, 1, now), Ok(()));
        // Both are limited: the third client passes without being tracked.
        assert_eq!(limiter.check(&3, 1, now), Ok(()));
        assert_eq!(limiter.tracked(), 2);
        // Two seconds later both buckets refilled: they are dropped to make room.
        assert_eq!(limiter.check(&3, 1, now + Duration::from_secs(2)), Ok(()));
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_bit_network() {
        let first: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let second: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_ip(first), client_ip(second));
        assert_ne!(client_ip(first), client_ip(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_ip(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2_001)), 3);
    }
}
