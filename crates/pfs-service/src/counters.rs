//! What the service counts for `GET /metrics`: updates by source and outcome (HTTP and Matrix
//! alike, by the same reason names).

use std::collections::BTreeMap;
use std::sync::Mutex;

use pfs_core::token_network::{UpdateOutcome, UpdateRejection};
use pfs_matrix::{DropReason, ToDeviceRejection};

/// Where an update came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UpdateSource {
    /// `POST /api/v1/updates`.
    Http,
    /// A Matrix to-device message.
    Matrix,
}

impl UpdateSource {
    /// The metric label value: `http` or `matrix`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Matrix => "matrix",
        }
    }
}

/// The reason name of an update's outcome: `accepted`, `deferred`, or why it was refused
/// (`invalid_signature`, `wrong_chain`, `unknown_token_network`, `not_participant`,
/// `other_not_participant`, `stale_nonce`, `stale_timestamp`, `timestamp_in_future`).
pub fn outcome_reason(result: &Result<UpdateOutcome, UpdateRejection>) -> &'static str {
    match result {
        Ok(UpdateOutcome::Applied) => "accepted",
        Ok(UpdateOutcome::Deferred) => "deferred",
        Err(rejection) => rejection_reason(rejection),
    }
}

/// The reason name of a refused update (see [`outcome_reason`]).
pub fn rejection_reason(rejection: &UpdateRejection) -> &'static str {
    match rejection {
        UpdateRejection::InvalidSignature { .. } => "invalid_signature",
        UpdateRejection::WrongChain { .. } => "wrong_chain",
        UpdateRejection::UnknownTokenNetwork(_) => "unknown_token_network",
        UpdateRejection::NotParticipant { .. } => "not_participant",
        UpdateRejection::OtherNotParticipant { .. } => "other_not_participant",
        UpdateRejection::StaleNonce { .. } => "stale_nonce",
        UpdateRejection::StaleTimestamp { .. } => "stale_timestamp",
        UpdateRejection::TimestampInFuture { .. } => "timestamp_in_future",
    }
}

/// The reason name of a to-device line that was not applied: `unreadable`,
/// `signer_not_sender`, or the [`rejection_reason`].
pub fn to_device_rejection_reason(rejection: &ToDeviceRejection) -> &'static str {
    match rejection {
        ToDeviceRejection::Unreadable(_) => "unreadable",
        ToDeviceRejection::Rejected(rejection) => rejection_reason(rejection),
        ToDeviceRejection::SignerNotSender { .. } => "signer_not_sender",
    }
}

/// The reason name of a to-device event dropped whole (`dropped_*`).
pub fn drop_reason(reason: &DropReason) -> &'static str {
    match reason {
        DropReason::NotTextMessage => "dropped_not_text",
        DropReason::UnverifiedSender(_) => "dropped_unverified_sender",
        DropReason::ProfileUnavailable => "dropped_profile_unavailable",
        DropReason::TooLarge { .. } => "dropped_too_large",
        DropReason::RateLimited => "dropped_rate_limited",
    }
}

/// Update counts by source and reason; shared by the writer and the API.
#[derive(Debug, Default)]
pub struct ServiceCounters {
    updates: Mutex<BTreeMap<(UpdateSource, &'static str), u64>>,
}

impl ServiceCounters {
    /// Counts `count` updates from `source` with outcome `reason` (a name from this module's
    /// functions, or one the caller documents).
    pub fn count_updates(&self, source: UpdateSource, reason: &'static str, count: u64) {
        // A poisoned lock only means a panic elsewhere while counting; the map is intact.
        let mut updates = self.updates.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *updates.entry((source, reason)).or_default() += count;
    }

    /// Every count so far, by source and reason.
    pub fn updates(&self) -> Vec<(UpdateSource, &'static str, u64)> {
        let updates = self.updates.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        updates.iter().map(|((source, reason), count)| (*source, *reason, *count)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_source_and_reason() {
        let counters = ServiceCounters::default();
        counters.count_updates(UpdateSource::Http, "accepted", 2);
        counters.count_updates(UpdateSource::Matrix, "accepted", 1);
        counters.count_updates(UpdateSource::Http, "accepted", 3);
        assert_eq!(
            counters.updates(),
            vec![(UpdateSource::Http, "accepted", 5), (UpdateSource::Matrix, "accepted", 1)]
        );
    }
}
