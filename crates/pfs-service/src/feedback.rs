//! Routing feedback: clients' reports on returned routes are stored (as the reference does) and
//! also turned into the search's penalties (`pfs_core::routing::FeedbackPenalties`), one set per
//! token network, so that hops of failed routes weigh more for a while.
//!
//! The penalties live in memory beside the snapshots, not in them: a report changes no channel,
//! and publishing a snapshot per report would copy graphs for nothing. A query takes the
//! penalties of its token network's edges ([`RoutingFeedback::edge_penalties`]), worked out
//! again only when the network's snapshot changed or [`PENALTIES_REFRESH`] passed (in a second
//! a penalty decays by a thousandth), so that queries do not each look up every penalised hop
//! under the lock; a report updates the hops of its route in them. What a restart would lose is
//! rebuilt from the stored reports of the last [`FEEDBACK_RESTORE_WINDOW`]
//! ([`Service::restore_feedback`]): older ones have decayed to nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pfs_core::Address;
use pfs_core::routing::{EdgePenalties, FeedbackPenalties};
use pfs_store::{FeedbackOutcome, FeedbackToken, StoreError};

use crate::Service;
use crate::snapshot::NetworkSnapshot;
use crate::writer::naive_now;

/// How far back [`Service::restore_feedback`] reads the stored reports: a capped penalty decays
/// below `pfs_core::routing::FORGOTTEN_BELOW` in about 90 minutes.
pub const FEEDBACK_RESTORE_WINDOW: Duration = Duration::from_secs(2 * 60 * 60);

/// How long a token network's edge penalties serve queries before they are worked out again
/// (unless a report arrives or the snapshot changes first).
pub const PENALTIES_REFRESH: Duration = Duration::from_secs(1);

/// The routing penalties of every token network (see the module docs); cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoutingFeedback {
    networks: Arc<Mutex<HashMap<Address, NetworkFeedback>>>,
}

/// One token network's penalties, and their edges as last worked out.
#[derive(Debug, Default)]
struct NetworkFeedback {
    penalties: FeedbackPenalties,
    edges: Option<WorkedOut>,
}

/// Edge penalties worked out for one snapshot at one moment. The snapshot is kept (not only
/// its address) so that it cannot be freed and another one take its place.
#[derive(Debug)]
struct WorkedOut {
    snapshot: Arc<NetworkSnapshot>,
    at: SystemTime,
    edges: Arc<EdgePenalties>,
}

impl RoutingFeedback {
    fn networks(&self) -> std::sync::MutexGuard<'_, HashMap<Address, NetworkFeedback>> {
        // A panic while the lock was held leaves at worst one report applied to some of its
        // hops only: go on with that.
        self.networks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies a report on `route` in `token_network` received at `at`, and to the edge
    /// penalties last worked out, if any: only the route's hops change, so they are updated in
    /// place (copied first if a query still reads them) instead of worked out again.
    fn record(&self, token_network: Address, route: &[Address], successful: bool, at: SystemTime) {
        let mut networks = self.networks();
        let network = networks.entry(token_network).or_default();
        network.penalties.record(route, successful, naive_now(at));
        if let Some(worked_out) = &mut network.edges {
            let edges = Arc::make_mut(&mut worked_out.edges);
            network.penalties.update_route(edges, &worked_out.snapshot.graph, route, naive_now(at));
        }
    }

    /// The penalties of `token_network`'s edges in `snapshot` at `now` (see the module docs).
    pub(crate) fn edge_penalties(
        &self,
        token_network: &Address,
        snapshot: &Arc<NetworkSnapshot>,
        now: SystemTime,
    ) -> Arc<EdgePenalties> {
        let mut networks = self.networks();
        let Some(network) = networks.get_mut(token_network) else {
            return Arc::new(EdgePenalties::none());
        };
        if let Some(worked_out) = &network.edges
            && Arc::ptr_eq(&worked_out.snapshot, snapshot)
            && now.duration_since(worked_out.at).is_ok_and(|age| age < PENALTIES_REFRESH)
        {
            return Arc::clone(&worked_out.edges);
        }
        let edges = Arc::new(network.penalties.edge_penalties(&snapshot.graph, naive_now(now)));
        network.edges =
            Some(WorkedOut { snapshot: Arc::clone(snapshot), at: now, edges: Arc::clone(&edges) });
        edges
    }

    /// How many hops of `token_network` carry a penalty (decayed ones until forgotten).
    fn penalised_hops(&self, token_network: &Address) -> usize {
        self.networks().get(token_network).map_or(0, |network| network.penalties.len())
    }
}

impl Service {
    /// Records a client's report on a route returned with `token` (`POST .../feedback`): stored
    /// if it matches a returned route (see `pfs_store::Store::record_feedback`), and then, the
    /// first time, applied to the routing penalties of `token_network`.
    ///
    /// # Errors
    /// [`StoreError`] if the report cannot be stored.
    pub async fn record_feedback(
        &self,
        token: FeedbackToken,
        token_network: &Address,
        path: &[Address],
        successful: bool,
        now: SystemTime,
    ) -> Result<FeedbackOutcome, StoreError> {
        let outcome = self.store().record_feedback(token, token_network, path, successful, now).await?;
        if outcome == FeedbackOutcome::Recorded {
            self.feedback.record(*token_network, path, successful, now);
        }
        Ok(outcome)
    }

    /// Rebuilds the routing penalties from the reports stored in the [`FEEDBACK_RESTORE_WINDOW`]
    /// before `now`, for every followed token network; call once after a start.
    ///
    /// # Errors
    /// [`StoreError`] if the reports cannot be read.
    pub async fn restore_feedback(&self, now: SystemTime) -> Result<(), StoreError> {
        let since = now.checked_sub(FEEDBACK_RESTORE_WINDOW).unwrap_or(UNIX_EPOCH);
        let networks: Vec<Address> = self.snapshot().networks.keys().copied().collect();
        for token_network in networks {
            for report in self.store().feedback_since(&token_network, since).await? {
                self.feedback.record(token_network, &report.path, report.successful, report.feedback_time);
            }
        }
        Ok(())
    }

    /// How many hops of `token_network` carry a routing penalty.
    pub fn penalised_hops(&self, token_network: &Address) -> usize {
        self.feedback.penalised_hops(token_network)
    }
}
