//! The path query: pre-checks and search on the latest snapshot (inline first on a small network,
//! else on the blocking pool), then the nodes' metadata and a feedback token stored for the
//! returned routes.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pfs_core::presence::AddressMetadata;
use pfs_core::routing::{
    EdgePenalties, Path, PathError, PathFinder, PathRequest, Routes, SearchLimits, Truncation,
};
use pfs_core::{Address, BlockNumber};
use pfs_store::{FeedbackToken, ReturnedRoute, ReturnedRouteSet, StoreError};

use crate::Service;
use crate::snapshot::NetworkSnapshot;

thread_local! {
    /// One finder per thread that searches (blocking-pool threads, and async workers for inline
    /// searches): its buffers grow to the largest network searched on that thread, once.
    static FINDER: RefCell<PathFinder> = RefCell::new(PathFinder::new());
}

/// One search of `request` on `network` with the routing feedback's `penalties` and `budget` of
/// wall-clock time (at most the configured one), with this thread's [`PathFinder`].
fn search(
    network: &NetworkSnapshot,
    penalties: &EdgePenalties,
    request: &PathRequest,
    limits: &SearchLimits,
    budget: Duration,
) -> Result<Routes, PathError> {
    let deadline = Instant::now() + budget.min(limits.time_budget);
    let exhausted = move || Instant::now() >= deadline;
    FINDER.with_borrow_mut(|finder| {
        finder.find_paths_with_feedback(
            &network.graph,
            &network.online,
            penalties,
            request,
            limits,
            &exhausted,
        )
    })
}

/// A returned route with the metadata of each of its nodes.
#[derive(Debug, Clone)]
pub struct FoundPath {
    /// The route and its estimated fee.
    pub path: Path,
    /// The metadata of each node of `path.nodes`, in the same order.
    pub metadata: Vec<AddressMetadata>,
}

/// The answer to a path query that found routes.
#[derive(Debug, Clone)]
pub struct PathsAnswer {
    /// The routes, best first.
    pub paths: Vec<FoundPath>,
    /// The token under which the routes were stored for feedback.
    pub feedback_token: FeedbackToken,
}

/// Why a path query has no routes.
#[derive(Debug, thiserror::Error)]
pub enum PathQueryError {
    /// The token network is not followed.
    #[error("unknown token network {0}")]
    UnknownTokenNetwork(Address),
    /// A pre-check failed (§2.4); `confirmed_block` is the block of the snapshot used.
    #[error("{error}")]
    PreCheck {
        /// The reference's message.
        error: PathError,
        /// The confirmed block at the time of the request.
        confirmed_block: BlockNumber,
    },
    /// The search found no valid route whose nodes all have metadata.
    #[error("No route between nodes found.")]
    NoRoute,
    /// The search task panicked or was cancelled.
    #[error("path search failed: {0}")]
    SearchFailed(String),
    /// The feedback rows could not be stored.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The feedback rows could not be stored (group commit of concurrent answers).
    #[error("returned routes not stored: {0}")]
    RoutesNotStored(#[from] crate::routes_recorder::RecordError),
}

impl Service {
    /// Answers a path request on the latest snapshot of `token_network`.
    ///
    /// Paths with a node that has no metadata (not online on Matrix) are skipped, as the
    /// reference does.
    ///
    /// # Errors
    /// [`PathQueryError`].
    pub async fn find_paths(
        &self,
        token_network: Address,
        request: PathRequest,
    ) -> Result<PathsAnswer, PathQueryError> {
        let snapshot = self.snapshot();
        let network = snapshot
            .networks
            .get(&token_network)
            .map(Arc::clone)
            .ok_or(PathQueryError::UnknownTokenNetwork(token_network))?;
        let confirmed_block = snapshot.confirmed_block.unwrap_or(BlockNumber(0));
        let config = self.config();
        let limits = config.search_limits;
        let penalties = self.feedback.edge_penalties(&token_network, &network, SystemTime::now());
        let small = network.graph.channel_count() <= config.inline_search_max_channels;
        let inline =
            small.then(|| search(&network, &penalties, &request, &limits, config.inline_search_budget));
        let routes = match inline {
            Some(Ok(routes)) if routes.truncated != Some(Truncation::Deadline) => routes,
            Some(Err(error)) => return Err(PathQueryError::PreCheck { error, confirmed_block }),
            // Cut by the inline budget (or a large network): the whole search again, off the
            // async threads (see `ServiceConfig::inline_search_budget`). Searches are
            // deterministic, so the answer is the one a single search with the full budget gives.
            _ => tokio::task::spawn_blocking(move || {
                search(&network, &penalties, &request, &limits, limits.time_budget)
            })
            .await
            .map_err(|error| PathQueryError::SearchFailed(error.to_string()))?
            .map_err(|error| PathQueryError::PreCheck { error, confirmed_block })?,
        };
        let paths: Vec<FoundPath> = routes
            .paths
            .into_iter()
            .filter_map(|path| {
                let metadata: Option<Vec<AddressMetadata>> =
                    path.nodes.iter().map(|node| snapshot.presence.metadata(node)).collect();
                Some(FoundPath { metadata: metadata?, path })
            })
            .collect();
        self.count_routes(paths.len(), routes.truncated.is_some());
        if paths.is_empty() {
            return Err(PathQueryError::NoRoute);
        }
        // A time-ordered UUID (version 7: milliseconds, then 74 random bits) rather than the
        // reference's random version 4: the feedback rows are keyed by the token, and keys that
        // grow with time are appended to the index instead of landing on a random page of it,
        // which keeps each group commit to a few pages. 74 random bits stay unguessable.
        let feedback_token = FeedbackToken(*uuid::Uuid::now_v7().as_bytes());
        let returned: Vec<ReturnedRoute> = paths
            .iter()
            .map(|found| ReturnedRoute {
                path: found.path.nodes.clone(),
                estimated_fee: found.path.estimated_fee,
            })
            .collect();
        let set = ReturnedRouteSet {
            token: feedback_token,
            token_network,
            created_at: SystemTime::now(),
            routes: returned,
        };
        self.routes_recorder.record(set).await?;
        Ok(PathsAnswer { paths, feedback_token })
    }
}
