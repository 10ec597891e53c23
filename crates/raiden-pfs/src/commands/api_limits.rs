//! The HTTP API's rate-limit flags of `serve` (each also a `PFS_*` variable), kept apart from
//! the rest of `serve`'s configuration so they map one to one onto [`pfs_api::RateLimits`].
//! A rate or burst of 0 switches that limit off.

use clap::Args;
use pfs_api::{RateLimit, RateLimits};

/// Rate limits of the HTTP API (429 with `Retry-After` beyond them).
#[derive(Debug, Args)]
pub struct ApiLimitArgs {
    /// Requests per second per client IP (IPv6 per /64), every `/api` endpoint; 0 = no limit.
    #[arg(long, env = "PFS_RATE_LIMIT_PER_IP", default_value_t = 50)]
    rate_limit_per_ip: u32,
    /// Requests a client IP may make at once.
    #[arg(long, env = "PFS_RATE_LIMIT_PER_IP_BURST", default_value_t = 200)]
    rate_limit_per_ip_burst: u32,
    /// Updates per second per signer on `POST /api/v1/updates`; 0 = no limit.
    #[arg(long, env = "PFS_RATE_LIMIT_PER_SIGNER", default_value_t = 20)]
    rate_limit_per_signer: u32,
    /// Updates a signer may send at once.
    #[arg(long, env = "PFS_RATE_LIMIT_PER_SIGNER_BURST", default_value_t = 500)]
    rate_limit_per_signer_burst: u32,
    /// Path requests per second per IOU sender; 0 = no limit.
    #[arg(long, env = "PFS_RATE_LIMIT_PER_IOU_SENDER", default_value_t = 10)]
    rate_limit_per_iou_sender: u32,
    /// Path requests an IOU sender may make at once.
    #[arg(long, env = "PFS_RATE_LIMIT_PER_IOU_SENDER_BURST", default_value_t = 50)]
    rate_limit_per_iou_sender_burst: u32,
}

impl ApiLimitArgs {
    /// The limits these flags describe.
    pub fn rate_limits(&self) -> RateLimits {
        RateLimits {
            per_ip: RateLimit::new(self.rate_limit_per_ip, self.rate_limit_per_ip_burst),
            per_update_signer: RateLimit::new(self.rate_limit_per_signer, self.rate_limit_per_signer_burst),
            per_iou_sender: RateLimit::new(
                self.rate_limit_per_iou_sender,
                self.rate_limit_per_iou_sender_burst,
            ),
            ..RateLimits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        limits: ApiLimitArgs,
    }

    #[test]
    fn the_default_flags_are_the_library_defaults() {
        let command = Command::parse_from(["serve"]);
        assert_eq!(command.limits.rate_limits(), RateLimits::default());
    }

    #[test]
    fn a_zero_rate_switches_a_limit_off() {
        let command =
            Command::parse_from(["serve", "--rate-limit-per-ip", "0", "--rate-limit-per-signer", "7"]);
        let limits = command.limits.rate_limits();
        assert_eq!(limits.per_ip, None);
        assert_eq!(limits.per_update_signer, RateLimit::new(7, 500));
    }
}
