//! Path finding over a token network's channels (`spec/REFERENCE-PFS.md` §2): the graph
//! snapshot, who is online, the edge weight, and the diverse k-path search with exact fees.
//!
//! # Using it
//!
//! ```
//! use pfs_core::routing::{
//!     ChannelDescription, OnlineSet, PathRequest, SearchLimits, ChannelGraph, Unlimited, find_paths,
//! };
//! use pfs_core::{Address, ChannelId, FeeSchedule, U256};
//!
//! let node = |byte: u8| Address::from_bytes([byte; 20]);
//! let channel = |id: u64, first: u8, second: u8| ChannelDescription {
//!     channel_id: ChannelId(U256::from(id)),
//!     participant1: node(first),
//!     participant2: node(second),
//!     capacity1: U256::from(100),
//!     capacity2: U256::from(100),
//!     fee_schedule1: FeeSchedule::default(),
//!     fee_schedule2: FeeSchedule::default(),
//! };
//! let network = ChannelGraph::build(Address::ZERO, &[channel(1, 1, 2), channel(2, 2, 3)]).unwrap();
//! let online = OnlineSet::from_addresses(&network, &[node(1), node(2), node(3)]);
//! let request = PathRequest::new(node(1), node(3), U256::from(10));
//! let routes = find_paths(&network, &online, &request, &SearchLimits::default(), &Unlimited).unwrap();
//! assert_eq!(routes.paths[0].nodes, vec![node(1), node(2), node(3)]);
//! ```
//!
//! # Design
//!
//! The service keeps one immutable [`ChannelGraph`] snapshot per token network; queries read it
//! without locks while a single writer publishes new snapshots with
//! [`ChannelGraph::with_updates`], which copies only the touched chunks of edge state. Presence is
//! a separate [`OnlineSet`] bitset passed to each query. The search ([`PathFinder`]) reuses its
//! scratch buffers across queries, computes edge weights lazily once per request, never copies
//! the graph, and stops after [`SearchLimits::max_candidates`] candidates or when its [`Budget`]
//! says so, returning the paths found so far (see [`Routes::truncated`]). The core reads no
//! clock: the caller's [`Budget`] does.
//!
//! # Where it deliberately differs from the reference
//!
//! * **Order of equal and undefined weights.** Candidates are ordered by the exact sum of their
//!   (bit-identical) `f64` edge weights, then by the lexicographically smaller address list
//!   (§2.10); paths through edges whose fee weight is undefined (`+inf` in the reference, which
//!   orders them by networkx internals) come after all others, fewest such edges first. The
//!   reference's own float sums follow networkx's evaluation order, so only near-ties at the
//!   last bit can be ordered differently. Every table of the reference test suite is reproduced.
//! * **Mismatched `cap_fees`** on a mediator's two channels makes paths through that mediator
//!   invalid instead of failing the request (see [`crate::fees`]).
//! * **Bounded work.** The reference enumerates candidates until it finds `max_paths` valid ones,
//!   which can take minutes; here [`SearchLimits`] and the [`Budget`] cut the search and the
//!   answer is the paths found so far.
//! * Negative or non-finite penalties (which break the reference's search) count as 0.
//! * **Routing feedback is used.** Hops of routes that clients report as failed weigh more for
//!   a while ([`FeedbackPenalties`], passed to [`PathFinder::find_paths_with_feedback`]); without
//!   reports the weights are the reference's.

mod feedback;
mod graph;
mod mediation_range;
mod online;
mod request;
mod search;
mod weight;

pub use feedback::{
    EdgePenalties, FAILURE_PENALTY, FEEDBACK_HALF_LIFE_SECONDS, FORGOTTEN_BELOW, FeedbackPenalties,
    MAX_FEEDBACK_PENALTY, MAX_PENALISED_HOPS, SWEEP_INTERVAL_SECONDS,
};
pub use graph::{
    ChannelDescription, ChannelGraph, ChannelUpdate, ChannelView, EdgeIndex, GraphError, MAX_CHANNELS,
    NodeIndex,
};
pub use online::OnlineSet;
pub use request::{
    Budget, Capacities, DEFAULT_MAX_PATHS, DIVERSITY_PENALTY_DEFAULT, FEE_PENALTY_DEFAULT,
    MAX_PATHS_PER_REQUEST, NO_ROUTE_FOUND, Path, PathError, PathRequest, Routes, SearchLimits, Truncation,
    Unlimited,
};
pub use search::{
    PathFinder, SearchMode, SearchTuning, check_path_request, find_paths, find_paths_with_feedback,
};
pub use weight::edge_weight;
