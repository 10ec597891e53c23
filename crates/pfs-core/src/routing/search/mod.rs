//! The diverse k-path search of §2.5: loop-free candidates enumerated in order of total weight,
//! the first valid one not returned yet taken, `max_paths` times with the diversity penalty
//! added in between; one enumeration serves all paths of a request.
//!
//! # Order
//!
//! Edge weights are the reference's `f64` values bit for bit (§2.6). Candidates are ordered by
//! their [`Distance`]: first the number of edges whose fee is undefined (weight `+inf` in the
//! reference, which enumerates such paths last), then the *exact* sum of the finite weights, then
//! the lexicographically smaller node list (node indices are ranks in address byte order, §2.10).
//!
//! Summing exactly instead of in `f64` is a deliberate choice: the reference sums in an order
//! fixed by networkx internals (bidirectional Dijkstra, root plus spur), so its rounding is not
//! reproducible anyway, and float sums are not monotone enough for a label-setting search to find
//! the lexicographically first of several equal totals (`a < b` but `a + w == b + w`). With exact
//! sums, a label-setting search with lexicographic tie-breaking returns exactly the first path of
//! this order, which the property tests check against a brute-force enumeration. Every weight is
//! at least 1 and so a multiple of 2^-52; sums are kept as integers in units of 2^-52.
//!
//! # Speed
//!
//! * No per-request copy of the graph: the reachability pruning of §2.3 and the capacity bound
//!   are checked on the fly (offline heads and edges below `value` are skipped). What each edge
//!   allows for the request's value comes from one pass over compact keys that the graph keeps
//!   for this purpose ([`super::graph::SearchKey`], both directions of an edge in 12 bytes),
//!   without data-dependent branches (see [`edge_flags`]).
//! * Skipping edges whose capacity is below `value` does not change the answer: such an edge
//!   makes every path through it invalid (§2.7 step 1), and since candidates are taken in a
//!   strict total order, removing invalid candidates never changes which valid one comes first.
//!   The same holds for edges whose sender's imbalance penalty is not defined at its balance
//!   there, unless the sender is the source (into the edge) or the receiver is the target (out of
//!   its reverse): a mediator's fee evaluates that penalty whatever the amount (§2.8 step 5).
//! * More generally, a mediator's fee is undefined whatever the amount when its incoming
//!   penalty does not reach far enough for its outgoing channel, or its two `cap_fees` differ
//!   ([`super::mediation_range`] reduces these conditions to one number per channel direction).
//!   Penalty points come from Raiden's float `linspace`, so this is common: a mediator whose
//!   incoming channel is smaller than its outgoing one often cannot forward at all. Three rules
//!   follow, each removing only paths that contain such a pair, so (as above) the first valid
//!   candidate is the same:
//!   - an edge out of a mediator (not the source) that no incoming edge of it can feed, or into
//!     a mediator (not the target) that no outgoing edge can follow, is skipped; the last
//!     mediator forwards exactly the value, so an edge into the target also needs room for it;
//!   - a spur search leaves the spur node only by edges its fixed incoming edge allows;
//!   - a candidate with such a pair at mediator `i` splits into the sets that leave it at or
//!     before `i` only: every set that keeps the pair in its common start has no valid path.
//!
//!   On the generated 1k-node network with `max_paths` 1 this took the candidates examined per
//!   request from 707 to 1.1 (invalid paths through one such pair were examined one by one).
//! * Shortest paths are found by A* with a lower bound computed per returned path: a backwards
//!   Dial search with the integer weights `1 + ⌊diversity⌋ + no_refund` (every real weight is at
//!   least that) over the edges whose fee weight may be finite. It is exact up to fees, so the
//!   search stays on the paths that tie on it. Leaving out the edges whose fee weight is
//!   undefined whatever the amount (a few integer comparisons per edge, see
//!   [`super::graph::WeightAmounts`]) matters: about one edge in six the search weighs on the
//!   generated 15k-node network is such an edge, and a bound that counted them as cheap made
//!   the A* explore every path they seemed to allow (with `max_paths` 5, 61 of 300 requests
//!   ran out of a 200 ms budget; with them left out, 20 did). When the source reaches the
//!   target only through such edges, a second layer of the bound counts one undefined edge plus
//!   the finite steps after it (see `PathFinder::compute_hops`). The bound's search stops at
//!   the source's label, or earlier, after [`SearchTuning::node_bound_scan_limit`] edges: the
//!   rest get the frontier's label, and the A* meets it halfway.
//! * The node search above cannot see a mediator's conditions on its *pair* of edges: its
//!   paths often break them (each such path is examined, found invalid and split), and its
//!   bound counts on continuations that no path entering the mediator by the right edge can
//!   take. The pair-aware search (`by_entry`) searches over the edges by which paths enter
//!   nodes instead, with a bound that respects the pairs: on the generated 15k-node network a
//!   set's best path, 10 to 40 units above the node bound and found after some 12,000 queue
//!   pops, came within a unit of the pair-aware bound and took a few dozen. Its bound costs 1
//!   to 4 ms against the node bound's 0.4 ms, so with [`SearchMode::Adaptive`] (the default) a
//!   request starts with the node search and switches once it has taken
//!   [`SearchTuning::pair_aware_after_pops`] queue pops or found
//!   [`SearchTuning::pair_aware_after_invalid`] candidates invalid, or at once when one node
//!   search takes [`SearchTuning::node_search_pops`]; the sets already queued
//!   keep their keys, which are lower bounds under either search. After a
//!   returned path the pair-aware bound is recomputed only when a search finds it too loose
//!   ([`SearchTuning::stale_bound_after_pops`]): a bound from before the new diversity
//!   penalties is still a lower bound. Like the node bound, it stops early, after
//!   [`SearchTuning::entry_bound_scan_limit`] edges.
//! * A set whose paths need more edges with an undefined fee weight than the bound says (the
//!   bound ignores the set's blocked nodes) would have the A* settle every state the fewer
//!   undefined edges reach. After [`SearchTuning::undefined_check_after_pops`] queue pops
//!   either search counts them with a 0-1 breadth-first search over nodes, and if that puts
//!   the set beyond the frontier, the set goes back into the queue with that lower bound
//!   instead (or is dropped, if no path of it reaches the target at all). While the frontier
//!   counts no undefined edge beyond the root's, a search from both ends for a way that needs
//!   none comes first: it usually meets after a few nodes, where the count scanned much of the
//!   network (it took 8 to 13 % of the slowest requests on the generated 15k-node network).
//!   Then a search from both ends for any way: a set without a path is usually cut off near
//!   the target, whose side runs dry after a few nodes, where the count scanned everything the
//!   start reaches (some 2 ms each time on that network).
//! * Both searches queued every edge out of each node they expanded, and a path through the
//!   generated 15k-node network passes several hubs of hundreds or thousands of edges: one
//!   set's search that took a dozen pops scanned thousands of edges, most of them far beyond
//!   the path it found. A hub is now expanded by one queue entry that walks its edges in the
//!   order of their least keys ([`SearchTuning::hub_min_edges`], [`hub_order`]), sorted once
//!   per bound, and offers each edge only when the entry reaches the front. On the four
//!   slowest requests that finish (`max_paths` 5), the mean went from 28 to 20 ms with the
//!   pair-aware search's cursors (six alternated runs), and 9 % lower with the node search's
//!   too; on all 300 requests, with two smaller changes made beside it, the 99th percentile
//!   went from 24 to 16.5 ms (six alternated runs).
//! * More generally, a set's best path is searched for only as far as it may be needed: a
//!   search whose frontier passes the key of the next set in the queue (after
//!   [`SearchTuning::yield_after_pops`] queue pops) gives its set back under the frontier's
//!   key, a lower bound of its best path. A set whose short ways to the target all run
//!   through its own root can lie tens of units above its bound, and its best path is rarely
//!   the next one taken. On the generated 15k-node network with `max_paths` 5 (300 requests)
//!   these two rules and the node search's switch took the 90th percentile from 45 to 15 ms
//!   and the requests cut by a 200 ms budget from 10 to 6.
//! * A candidate found invalid because a mediator's fee is undefined condemns every path that
//!   ends with the same edges from that mediator's incoming one (the fees are computed
//!   backwards from the target). The request learns such suffixes as dead ends, and the
//!   pair-aware search walks around them ([`dead_ends`]); without that, every new way into the
//!   suffix was a candidate of its own (single requests on the generated 15k-node network
//!   examined 300 to 500 candidates that failed at the same three or four edges). The
//!   pair-aware bound knows the dead ends learnt before it was computed: once the cheap ways
//!   to the target all end in a dead end, the paths left can lie far above a bound that does
//!   not know it, and every set's search settles everything within that gap. Nor may the
//!   bound count on a walk that steps out of a dead end's state and back in: the A* never
//!   turns back along the channel it came by, and neither does its bound (two requests on the
//!   generated 15k-node network took 5 to 6 s when it did, and 19 and 37 ms after).
//! * Edge weights are computed lazily: an edge enters the queue with its cheap lower bound and
//!   gets its exact fee only when it reaches the front, once per request and edge (the fee part
//!   does not change between the paths of one request; only the diversity part does), into
//!   reusable scratch arrays stamped with a generation counter. Nothing is cleared or allocated
//!   per request or per relaxed edge.
//! * The enumeration is Lawler's form of Yen's algorithm over an explicit partition of the paths
//!   not examined yet ([`Candidate`]). The reference restarts it for every returned path; here
//!   it continues, because the sets do not depend on the weights and weights only grow (see
//!   [`PathFinder::search`]): a path found invalid is never examined again. A set enters the
//!   queue with a lower bound and its best path is searched for only when it reaches the front,
//!   so most spur searches of Yen's algorithm never run.
//! * Work is bounded per request by [`SearchLimits::max_candidates`] and a [`Budget`], polled
//!   between candidates and every few hundred queue pops of a shortest-path search; a cut
//!   search returns the paths found so far and says so in [`Routes::truncated`], which the
//!   service counts in a metric.

mod bounds;
mod by_entry;
mod candidate;
mod dead_ends;
mod distance;
mod edge_flags;
mod hub_order;
mod node_search;
mod tuning;
mod validity;
mod weights;

use std::collections::BinaryHeap;

use alloy_primitives::{I256, U256};

use self::bounds::{PENALTY_NODE, UNREACHED};
use self::by_entry::{EntryFrontier, EntryState, Expanded, NodeBound, ScanMark};
use self::candidate::Candidate;
use self::dead_ends::{DeadEnds, TrieState};
use self::distance::Distance;
use self::edge_flags::EdgeFlags;
use self::hub_order::HubOrders;
use self::node_search::Frontier;
use self::validity::{Invalid, examine_path};
use self::weights::EdgeWeight;
use super::feedback::EdgePenalties;
use super::graph::{ChannelGraph, EdgeIndex, NodeIndex};
use super::mediation_range::MediatorRange;
use super::online::OnlineSet;
use super::request::{Budget, Capacities, Path, PathError, PathRequest, Routes, SearchLimits, Truncation};
use super::weight::refund_threshold;

pub use self::tuning::{SearchMode, SearchTuning};

/// How often a shortest-path search polls the budget, in queue pops (a few hundred
/// microseconds of work).
const BUDGET_POLL_POPS: u64 = 256;

/// Reusable buffers for path searches. Keep one per worker thread and pass it to every query:
/// it then allocates nothing per request once warm. Any network may be searched with it.
#[derive(Debug, Default)]
pub struct PathFinder {
    tuning: SearchTuning,
    request_generation: u32,
    /// Per node, the lower bound of its distance to the target in units of weight 1
    /// ([`UNREACHED`] if the last lower-bound search did not reach it); a dense array of its
    /// own because that search reads it for nearly every edge it scans.
    hops: Vec<u32>,
    /// Set when the lower-bound search stopped early: the bound of every node not settled.
    hops_cap: Option<u32>,
    /// Per edge, the [`EdgeFlags`] of the current request.
    edge_flags: Vec<EdgeFlags>,
    /// Per edge `e`, the lower-bound step of its reverse `tail(e) ← head(e)` walked backwards
    /// (see [`PathFinder::compute_hops`]): `1 + no_refund + ⌊diversity⌋` cut at
    /// [`MAX_BOUND_STEP`](bounds::MAX_BOUND_STEP); 0 when the reverse is unusable,
    /// [`UNDEFINED_STEP`](bounds::UNDEFINED_STEP) when its fee weight is undefined (see
    /// [`edge_flags::bound_step`]; the searches check that `head(e)` is online). Stored at `e`
    /// so that the backward search reads it in the order it scans a node's edges.
    bound_steps: Vec<u8>,
    edges_weighed: u64,
    queue_pops: u64,
    /// Per edge, its weight parts once computed in this request (one cache line per lookup).
    edge_weights: Vec<EdgeWeight>,
    channel_stamp: Vec<u32>,
    channel_diversity: Vec<f64>,
    /// Per channel, the outer iteration that last penalised it (valid with `channel_stamp`).
    channel_penalised_in: Vec<u32>,
    /// The enumeration's queue of candidate sets, kept for its capacity.
    candidates: BinaryHeap<Candidate>,
    run: u32,
    /// Per node, its search state (one cache line per lookup).
    node_states: Vec<NodeState>,
    /// One bit per node: whether the current run blocks it (the set's root before its spur
    /// node). A bit set rather than a field of `node_states`: the searches ask for every edge
    /// they scan, and its 2 KB (at 15k nodes) stay in the nearest cache where `node_states`
    /// does not. On the generated 15k-node network perf put half of the pair-aware A*'s own
    /// scan time on the field's read; the slowest requests took 2 to 3 % less with the bits.
    blocked_nodes: Vec<u64>,
    /// The nodes whose bit is set, to clear them for the next run.
    blocked_list: Vec<NodeIndex>,
    edge_blocked: Vec<u32>,
    heap: BinaryHeap<Frontier>,
    /// Seeds of the lower bound's second layer (see `bound_through_undefined`), kept for their
    /// capacity.
    seeds: Vec<(u32, NodeIndex)>,
    buckets: Vec<Vec<NodeIndex>>,
    /// The nodes whose label one node's scan in `compute_hops` lowered, kept for its capacity.
    improved: Vec<NodeIndex>,
    tie_left: Vec<NodeIndex>,
    tie_right: Vec<NodeIndex>,
    /// Per edge, the request generation whose
    /// [`MEDIATION_POSSIBLE`](edge_flags::MEDIATION_POSSIBLE) bit it carries.
    edge_mediation_stamp: Vec<u32>,
    /// Per node, its partner edges as a mediator, valid when `node_range_stamp` is the request's
    /// generation.
    node_ranges: Vec<MediatorRange>,
    node_range_stamp: Vec<u32>,
    /// Whether `hops` is current for this request and its diversity penalties (it is computed
    /// only when a set needs the node search, see `best_of_set`).
    node_hops_fresh: bool,
    /// Per edge `e`, the pair-aware lower bound of the rest of a path after `reverse(e)`
    /// ([`UNREACHED`] if not labelled), see `compute_entry_bounds`.
    entry_bounds: Vec<u32>,
    /// Set when the pair-aware bound stopped early: the label (see `label_of`) below which
    /// every edge was labelled.
    entry_cap: Option<u32>,
    /// Whether diversity penalties were added since the pair-aware bound was computed.
    entry_bounds_stale: bool,
    /// While a set is searched: the key of the next set in the enumeration's queue, and after
    /// how many queue pops the search may give its set back (see
    /// [`SearchTuning::yield_after_pops`] and [`Candidate::effort`]); `None` when the queue is
    /// empty.
    yield_to: Option<(Distance, u64)>,
    /// Whether this request searches sets with the pair-aware search (see `PathFinder::search`).
    pair_aware: bool,
    /// Candidates found invalid in this request.
    invalid_candidates: u64,
    /// Set when a shortest-path search stopped because the budget ran out (see
    /// `out_of_budget`).
    cut_by_budget: bool,
    entry_buckets: Vec<Vec<u64>>,
    /// The pair-aware bound's ring of buckets for the dead-end automaton's states.
    state_buckets: Vec<Vec<TrieState>>,
    /// Per state of the dead-end automaton other than [`dead_ends::CLEAR`], the pair-aware
    /// bound of the rest of a path after a walk in it (see `compute_entry_bounds`).
    state_bounds: Vec<u32>,
    /// How many states the dead-end automaton had when the pair-aware bound was computed (1,
    /// [`dead_ends::CLEAR`] alone, if it had none or the bound predates the request's first
    /// dead end): the bound labels those, and a state added later counts as the longest of its
    /// fallbacks among them (see [`DeadEnds::known_by`]), which keeps the bound consistent.
    state_bounds_len: usize,
    /// The dead-end automaton's states other than [`dead_ends::CLEAR`] by the node they are at
    /// (the head of their last edge), sorted.
    states_at: Vec<(NodeIndex, TrieState)>,
    entry_seeds: Vec<(u32, EdgeIndex)>,
    entry_starts: Vec<(u32, EdgeIndex)>,
    /// Counts the pair-aware bound's runs (`scan_marks` is valid for the current one).
    dial: u32,
    /// Per node and `cap_fees`, how far the bound has labelled its entries.
    scan_marks: Vec<[ScanMark; 2]>,
    /// Per edge, its entry state in the current pair-aware run; then one per state of the
    /// dead-end automaton (see [`EntryState`]).
    entry_states: Vec<EntryState>,
    /// Per node and `cap_fees`, the first entry the pair-aware A* expanded it by.
    expanded: Vec<[Expanded; 2]>,
    entry_heap: BinaryHeap<EntryFrontier>,
    /// The hubs' edge orders of the pair-aware A* under the current pair-aware bound.
    entry_hubs: HubOrders,
    /// The hubs' edge orders of the node search under the current node bound (`hops`).
    node_hubs: HubOrders,
    /// Per node without imbalance penalty, the pair-aware bound of the rest of a path after an
    /// edge into it (see `compute_entry_bounds`).
    node_bounds: Vec<NodeBound>,
    /// `node_bounds` before a bound computation: [`UNREACHED`], or [`PENALTY_NODE`] for the nodes
    /// with an imbalance penalty (set when a request switches to the pair-aware search).
    node_bounds_start: Vec<u32>,
    /// The target of the request the pair-aware bound was computed for.
    bound_target: NodeIndex,
    /// Per node, the `fewest_undefined` run that last queued it, and with how many undefined
    /// fee weights.
    node_reached: Vec<(u32, u32)>,
    reach_stamp: u32,
    reach_queue: std::collections::VecDeque<(NodeIndex, u32)>,
    /// The two frontiers of `meet`, kept for their capacity.
    meet_ahead: std::collections::VecDeque<NodeIndex>,
    meet_behind: std::collections::VecDeque<NodeIndex>,
    /// The dead ends this request has learnt (see [`SearchTuning::learn_dead_ends`]).
    dead_ends: DeadEnds,
    /// Per node, one bit: whether it lies on a dead end (so that the searches look at the
    /// automaton only there; elsewhere every walk is in state [`dead_ends::CLEAR`]).
    dead_end_nodes: Vec<u64>,
    /// The nodes whose bit is set, to clear them for the next request.
    dead_end_marked: Vec<NodeIndex>,
}

/// The state of one node in the current shortest-path run (`stamp` and `settled` are valid when
/// equal to the run).
#[derive(Debug, Clone, Copy, Default)]
struct NodeState {
    stamp: u32,
    settled: u32,
    predecessor: EdgeIndex,
    distance: Distance,
}

/// What stays fixed during one request.
struct Query<'a> {
    network: &'a ChannelGraph,
    online: &'a OnlineSet,
    feedback: &'a EdgePenalties,
    value: U256,
    fee_penalty: f64,
    diversity_penalty: f64,
    refund_threshold: Option<U256>,
    source: NodeIndex,
    target: NodeIndex,
    limits: &'a SearchLimits,
    budget: &'a dyn Budget,
}

/// Counts the work of one request against its limits.
struct Work {
    candidates: u64,
}

/// The §2.4 pre-checks, in the reference's order.
///
/// # Errors
/// The first [`PathError`] that applies.
pub fn check_path_request(
    network: &ChannelGraph,
    online: &OnlineSet,
    request: &PathRequest,
) -> Result<(NodeIndex, NodeIndex), PathError> {
    if !online.contains(network, &request.source) {
        return Err(PathError::SourceNotOnline);
    }
    if !online.contains(network, &request.target) {
        return Err(PathError::TargetNotOnline);
    }
    let topology = &network.topology;
    let source = network.node_index(&request.source).ok_or(PathError::NoChannelFromSource)?;
    let target = network.node_index(&request.target).ok_or(PathError::NoChannelToTarget)?;
    let source_capacities: Vec<U256> =
        topology.out_edges(source).map(|edge| network.capacity(edge as EdgeIndex)).collect();
    if source_capacities.iter().max().is_none_or(|max| *max < request.value) {
        return Err(PathError::SourceCapacity {
            capacities: Capacities(source_capacities),
            value: request.value,
        });
    }
    let target_capacities: Vec<U256> =
        topology.out_edges(target).map(|edge| network.capacity(topology.reverse[edge])).collect();
    if target_capacities.iter().max().is_none_or(|max| *max < request.value) {
        return Err(PathError::TargetCapacity {
            capacities: Capacities(target_capacities),
            value: request.value,
        });
    }
    if topology.component[source as usize] != topology.component[target as usize] {
        return Err(PathError::NoRoute);
    }
    Ok((source, target))
}

/// Finds paths with a fresh [`PathFinder`]; see [`PathFinder::find_paths`].
///
/// # Errors
/// As [`PathFinder::find_paths`].
pub fn find_paths(
    network: &ChannelGraph,
    online: &OnlineSet,
    request: &PathRequest,
    limits: &SearchLimits,
    budget: &dyn Budget,
) -> Result<Routes, PathError> {
    PathFinder::default().find_paths(network, online, request, limits, budget)
}

/// [`find_paths`] with the routing feedback's extra weights (see
/// [`PathFinder::find_paths_with_feedback`]).
///
/// # Errors
/// As [`find_paths`].
pub fn find_paths_with_feedback(
    network: &ChannelGraph,
    online: &OnlineSet,
    feedback: &EdgePenalties,
    request: &PathRequest,
    limits: &SearchLimits,
    budget: &dyn Budget,
) -> Result<Routes, PathError> {
    PathFinder::default().find_paths_with_feedback(network, online, feedback, request, limits, budget)
}

impl PathFinder {
    /// A finder with empty buffers (they grow to the largest network searched) and the default
    /// [`SearchTuning`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A finder with empty buffers and `tuning`.
    pub fn with_tuning(tuning: SearchTuning) -> Self {
        Self { tuning, ..Self::default() }
    }

    /// Answers `request` on `network` with `online` as the reachable nodes: the §2.4 pre-checks,
    /// then up to `max_paths` valid paths in the reference's order with their estimated fees.
    ///
    /// Penalties that are negative or not finite are treated as 0 (the reference's behaviour for
    /// them is undefined: negative weights break its shortest-path search).
    ///
    /// # Errors
    /// [`PathError`] from the pre-checks. A search that finds nothing is `Ok` with no paths.
    pub fn find_paths(
        &mut self,
        network: &ChannelGraph,
        online: &OnlineSet,
        request: &PathRequest,
        limits: &SearchLimits,
        budget: &dyn Budget,
    ) -> Result<Routes, PathError> {
        self.find_paths_with_feedback(network, online, &EdgePenalties::none(), request, limits, budget)
    }

    /// [`PathFinder::find_paths`] with `feedback`'s extra weight added to each edge's (§2.6
    /// weight plus [`EdgePenalties::of`]), for the routing feedback (see
    /// [`super::FeedbackPenalties`]). `feedback` must belong to `network`'s snapshot (it is
    /// indexed by its edges); with [`EdgePenalties::none`] the answer is the reference's.
    ///
    /// # Errors
    /// As [`PathFinder::find_paths`].
    pub fn find_paths_with_feedback(
        &mut self,
        network: &ChannelGraph,
        online: &OnlineSet,
        feedback: &EdgePenalties,
        request: &PathRequest,
        limits: &SearchLimits,
        budget: &dyn Budget,
    ) -> Result<Routes, PathError> {
        let (source, target) = check_path_request(network, online, request)?;
        let sanitize = |penalty: f64| if penalty.is_finite() && penalty >= 0.0 { penalty } else { 0.0 };
        let query = Query {
            network,
            online,
            feedback,
            value: request.value,
            fee_penalty: sanitize(request.fee_penalty),
            diversity_penalty: sanitize(request.diversity_penalty),
            refund_threshold: refund_threshold(request.value),
            source,
            target,
            limits,
            budget,
        };
        self.prepare(network);
        self.edges_weighed = 0;
        self.queue_pops = 0;
        self.compute_flags(&query);
        let mut work = Work { candidates: 0 };
        let mut paths = Vec::new();
        let truncated = if online.contains_node(source) && online.contains_node(target) {
            self.search(&query, request.max_paths, &mut work, &mut paths)
        } else {
            None
        };
        Ok(Routes {
            paths,
            truncated,
            candidates_examined: work.candidates,
            edges_weighed: self.edges_weighed,
            queue_pops: self.queue_pops,
        })
    }

    /// Sizes the buffers for `network` and starts a new request generation.
    fn prepare(&mut self, network: &ChannelGraph) {
        let edges = network.topology.target.len();
        let nodes = network.node_count();
        let channels = network.channel_count();
        if self.edge_flags.len() < edges {
            self.edge_flags.resize(edges, 0);
            self.bound_steps.resize(edges, 0);
        }
        if self.edge_weights.len() < edges {
            self.edge_weights.resize(edges, EdgeWeight::default());
            self.edge_blocked.resize(edges, 0);
            self.edge_mediation_stamp.resize(edges, 0);
            self.entry_bounds.resize(edges, UNREACHED);
        }
        if self.entry_states.len() < edges + dead_ends::MAX_STATES {
            self.entry_states.resize(edges + dead_ends::MAX_STATES, EntryState::default());
        }
        if self.channel_stamp.len() < channels {
            self.channel_stamp.resize(channels, 0);
            self.channel_diversity.resize(channels, 0.0);
            self.channel_penalised_in.resize(channels, 0);
        }
        if self.node_states.len() < nodes {
            self.node_states.resize(nodes, NodeState::default());
            self.blocked_nodes.resize(nodes.div_ceil(64), 0);
            self.hops.resize(nodes, UNREACHED);
            self.node_ranges.resize(nodes, MediatorRange::default());
            self.node_range_stamp.resize(nodes, 0);
            self.scan_marks.resize(nodes, [ScanMark::default(); 2]);
            self.expanded.resize(nodes, [Expanded::default(); 2]);
            self.node_bounds.resize(nodes, NodeBound::start(UNREACHED));
            self.node_bounds_start.resize(nodes, UNREACHED);
            self.node_reached.resize(nodes, (0, 0));
            self.dead_end_nodes.resize(nodes.div_ceil(64), 0);
        }
        self.request_generation = self.request_generation.wrapping_add(1);
        if self.request_generation == 0 {
            self.edge_weights.fill(EdgeWeight::default());
            self.channel_stamp.fill(0);
            self.edge_mediation_stamp.fill(0);
            self.node_range_stamp.fill(0);
            self.request_generation = 1;
        }
    }

    /// Starts a new shortest-path run (fresh distances and blocks).
    fn next_run(&mut self) -> u32 {
        self.run = self.run.wrapping_add(1);
        if self.run == 0 {
            for state in &mut self.node_states {
                (state.stamp, state.settled) = (0, 0);
            }
            self.edge_blocked.fill(0);
            self.entry_states.fill(EntryState::default());
            self.expanded.fill([Expanded::default(); 2]);
            self.run = 1;
        }
        self.run
    }

    /// The diverse k-path loop of §2.5 as one enumeration: returns the paths (at most
    /// `max_paths`) into `paths`, and why it stopped early, if it did.
    ///
    /// The reference restarts its enumeration for every path because the diversity penalties
    /// change the weights. Here the partition of the paths not examined yet (see [`Candidate`])
    /// is kept: the sets do not depend on the weights, only their best paths do, and weights
    /// only grow. So a set whose best path uses no channel penalised since it was computed keeps
    /// it, and any other set's old best is a lower bound of its new one (in the total order of
    /// (total, node list), as every path of the set was at least that before and weights only
    /// grew): the set stays in the queue under its old key and is recomputed only if it reaches
    /// the front. A candidate once found invalid is never examined again, and a returned path
    /// leaves the enumeration (its set is split like an invalid one's), which is the reference's
    /// "not returned yet" rule.
    fn search(
        &mut self,
        query: &Query<'_>,
        max_paths: usize,
        work: &mut Work,
        paths: &mut Vec<Path>,
    ) -> Option<Truncation> {
        let network = query.network;
        let mut queue = std::mem::take(&mut self.candidates);
        queue.clear();
        let mut epoch = 0;
        self.pair_aware = false;
        self.invalid_candidates = 0;
        self.cut_by_budget = false;
        self.dead_ends.clear();
        for node in self.dead_end_marked.drain(..) {
            self.dead_end_nodes[node as usize / 64] &= !(1 << (node % 64));
        }
        self.state_bounds_len = 1;
        if self.tuning.mode == SearchMode::PairAware {
            self.switch_to_pair_aware(query);
        } else {
            self.compute_hops(query);
            self.node_hops_fresh = true;
        }
        let outcome = 'search: {
            if query.budget.exhausted() {
                break 'search Some(Truncation::Deadline);
            }
            if let Some(first) = self.best_of_set(query, &[query.source], &[], Vec::new(), epoch, false) {
                queue.push(first);
            }
            if self.cut_by_budget {
                break 'search Some(Truncation::Deadline);
            }
            while paths.len() < max_paths {
                let (candidate, estimated_fee) = match self.next_valid(query, &mut queue, epoch, work) {
                    Ok(Some(found)) => found,
                    Ok(None) => break 'search None,
                    Err(reason) => break 'search Some(reason),
                };
                paths.push(Path {
                    nodes: candidate.nodes.iter().map(|&node| network.node_address(node)).collect(),
                    estimated_fee,
                });
                if paths.len() == max_paths {
                    break;
                }
                epoch += 1;
                for &edge in &candidate.edges {
                    self.add_diversity(network, edge, query.diversity_penalty, epoch);
                }
                if self.pair_aware {
                    // The bounds stay lower bounds as weights only grew: recomputed when a
                    // search finds them too loose (see `shortest_path_by_entry`).
                    self.entry_bounds_stale = true;
                    self.node_hops_fresh = false;
                } else {
                    self.compute_hops(query);
                    self.node_hops_fresh = true;
                }
                if let Err(reason) = self.split(query, &candidate, epoch, &mut queue) {
                    break 'search Some(reason);
                }
            }
            None
        };
        self.candidates = queue;
        outcome
    }

    /// Takes candidates best first until one is valid (§2.7) and returns it with its fee;
    /// invalid ones are split. `Ok(None)` when every path has been examined.
    fn next_valid(
        &mut self,
        query: &Query<'_>,
        queue: &mut BinaryHeap<Candidate>,
        epoch: u32,
        work: &mut Work,
    ) -> Result<Option<(Candidate, I256)>, Truncation> {
        while let Some(candidate) = queue.pop() {
            if self.tuning.mode == SearchMode::Adaptive
                && !self.pair_aware
                && (self.queue_pops >= self.tuning.pair_aware_after_pops
                    || self.invalid_candidates >= self.tuning.pair_aware_after_invalid)
            {
                // A hard request: from now on, sets are searched with the pair-aware search.
                // The keys in the queue stay lower bounds.
                self.switch_to_pair_aware(query);
            }
            if !candidate.complete || (candidate.epoch != epoch && self.is_stale(query.network, &candidate)) {
                // Its key was a lower bound: find the set's best path under today's weights.
                if query.budget.exhausted() {
                    return Err(Truncation::Deadline);
                }
                let Candidate { nodes, edges, spur, excluded, floor_known, effort, .. } = candidate;
                let (root_nodes, root_edges) = (&nodes[..=spur], &edges[..spur]);
                let patience = self.tuning.yield_after_pops.max(effort.saturating_mul(2));
                self.yield_to = queue.peek().map(|next| (next.total, patience));
                let best = self.best_of_set(query, root_nodes, root_edges, excluded, epoch, floor_known);
                self.yield_to = None;
                if let Some(best) = best {
                    queue.push(best);
                }
                if self.cut_by_budget {
                    return Err(Truncation::Deadline);
                }
                continue;
            }
            if work.candidates >= query.limits.max_candidates {
                return Err(Truncation::Candidates);
            }
            work.candidates += 1;
            let invalid = match examine_path(query.network, query.value, &candidate.edges) {
                Ok(fee) => return Ok(Some((candidate, fee))),
                Err(invalid) => invalid,
            };
            self.invalid_candidates += 1;
            // A suffix from the source's own edge is the whole path: no other path ends with it.
            if let Invalid::Fee { mediator } = invalid
                && mediator >= 2
                && self.tuning.learn_dead_ends
            {
                // The pair-aware bound stays a consistent lower bound: it learns the dead end
                // when it is computed again.
                self.learn_dead_end(&candidate.nodes[mediator - 1..], &candidate.edges[mediator - 1..]);
            }
            self.split(query, &candidate, epoch, queue)?;
        }
        Ok(None)
    }

    /// Learns that no valid path ends with `edges`, which join `nodes` (see
    /// [`DeadEnds::learn`]), and marks the nodes (see `dead_end_nodes`).
    fn learn_dead_end(&mut self, nodes: &[NodeIndex], edges: &[EdgeIndex]) {
        if !self.dead_ends.learn(edges) {
            return;
        }
        for &node in nodes {
            let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
            if self.dead_end_nodes[word] & bit == 0 {
                self.dead_end_nodes[word] |= bit;
                self.dead_end_marked.push(node);
            }
        }
    }

    /// Blocks `nodes` (and no other node) in the current run.
    fn block_nodes(&mut self, nodes: &[NodeIndex]) {
        for node in self.blocked_list.drain(..) {
            self.blocked_nodes[node as usize / 64] &= !(1 << (node % 64));
        }
        for &node in nodes {
            self.blocked_nodes[node as usize / 64] |= 1 << (node % 64);
            self.blocked_list.push(node);
        }
    }

    /// Whether the current run blocks `node` (see `block_nodes`).
    #[inline]
    fn blocked(&self, node: NodeIndex) -> bool {
        self.blocked_nodes[node as usize / 64] & (1 << (node % 64)) != 0
    }

    /// Whether `node` lies on a dead end the request has learnt. A walk through any other node
    /// is in state [`dead_ends::CLEAR`] after it, and an edge out of it starts no dead end.
    #[inline]
    fn near_dead_end(&self, node: NodeIndex) -> bool {
        self.dead_end_nodes[node as usize / 64] & (1 << (node % 64)) != 0
    }

    /// Whether the budget ran out, polled every [`BUDGET_POLL_POPS`] queue pops of a shortest-path
    /// search; sets `cut_by_budget`, after which the search's answer for its set is dropped
    /// and the request must stop before it takes another candidate.
    fn out_of_budget(&mut self, query: &Query<'_>) -> bool {
        if self.queue_pops.is_multiple_of(BUDGET_POLL_POPS) && query.budget.exhausted() {
            self.cut_by_budget = true;
        }
        self.cut_by_budget
    }

    /// Searches the sets of this request with the pair-aware search from now on.
    fn switch_to_pair_aware(&mut self, query: &Query<'_>) {
        self.pair_aware = true;
        let network = query.network;
        for (node, start) in self.node_bounds_start[..network.node_count()].iter_mut().enumerate() {
            let penalty_free = network.penalty_free_cap_fees(node as NodeIndex).is_some();
            *start = if penalty_free { UNREACHED } else { PENALTY_NODE };
        }
        self.compute_entry_bounds(query);
    }
}

/// What the unit tests of the search's parts share: a [`PathFinder`] prepared for a request on
/// a small network whose nodes are addresses of one repeated byte.
#[cfg(test)]
mod test_network {
    use alloy_primitives::U256;

    use super::super::feedback::EdgePenalties;
    use super::super::graph::{ChannelDescription, ChannelGraph, EdgeIndex, NodeIndex};
    use super::super::online::OnlineSet;
    use super::super::request::{SearchLimits, Unlimited};
    use super::super::weight::refund_threshold;
    use super::{PathFinder, Query};
    use crate::{Address, ChannelId, FeeSchedule};

    /// The address of the test node `byte`.
    pub(super) fn node(byte: u8) -> Address {
        Address::from_bytes([byte; 20])
    }

    /// The channel `id` between the test nodes `first` and `second`, of capacity `capacity1`
    /// from `first` and 100 back, whose participants charge nothing.
    pub(super) fn channel(id: u64, first: u8, second: u8, capacity1: u64) -> ChannelDescription {
        ChannelDescription {
            channel_id: ChannelId(U256::from(id)),
            participant1: node(first),
            participant2: node(second),
            capacity1: U256::from(capacity1),
            capacity2: U256::from(100),
            fee_schedule1: FeeSchedule::default(),
            fee_schedule2: FeeSchedule::default(),
        }
    }

    /// The test nodes' indices and edges in one network.
    pub(super) struct Nodes<'a>(&'a ChannelGraph);

    impl Nodes<'_> {
        /// The index of the test node `byte`.
        ///
        /// # Panics
        /// If the network has no such node.
        pub(super) fn index(&self, byte: u8) -> NodeIndex {
            self.0.node_index(&node(byte)).expect("a node of the network")
        }

        /// The edge `from → to`.
        ///
        /// # Panics
        /// If the network has no such edge.
        pub(super) fn edge(&self, from: u8, to: u8) -> EdgeIndex {
            self.0.topology.find_edge(self.index(from), self.index(to)).expect("an edge")
        }
    }

    /// Runs `test` with a fresh [`PathFinder`] prepared (flags computed) for a request of value
    /// 10 from node 1 to node 9 on `channels`, every node online, without penalties.
    ///
    /// # Panics
    /// If `channels` do not make a valid network with nodes 1 and 9.
    pub(super) fn from_1_to_9<R>(
        channels: &[ChannelDescription],
        test: impl FnOnce(&mut PathFinder, &Query<'_>, &Nodes<'_>) -> R,
    ) -> R {
        let network = ChannelGraph::build(Address::ZERO, channels).expect("valid channels");
        let everyone: Vec<Address> = channels.iter().flat_map(|c| [c.participant1, c.participant2]).collect();
        let online = OnlineSet::from_addresses(&network, &everyone);
        let nodes = Nodes(&network);
        let value = U256::from(10);
        let query = Query {
            network: &network,
            online: &online,
            feedback: &EdgePenalties::none(),
            value,
            fee_penalty: 0.0,
            diversity_penalty: 0.0,
            refund_threshold: refund_threshold(value),
            source: nodes.index(1),
            target: nodes.index(9),
            limits: &SearchLimits::default(),
            budget: &Unlimited,
        };
        let mut finder = PathFinder::new();
        finder.prepare(&network);
        finder.compute_flags(&query);
        test(&mut finder, &query, &nodes)
    }
}
