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
//!   instead (or is dropped, if no path of it reaches the target at all).
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
//!   not know it, and every set's search settles everything within that gap.
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

mod by_entry;
mod dead_ends;
mod edge_flags;

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use alloy_primitives::{I256, U256};

use crate::fees::get_amount_with_fees;

use self::by_entry::{EntryFrontier, EntryState, Expanded, ScanMark};
use self::dead_ends::{DeadEnds, TrieState};
use self::edge_flags::{
    CARRIES, DIVERSE, EdgeFlags, MEDIATION_POSSIBLE, REVERSE_REFUNDABLE, REVERSE_USABLE,
    REVERSE_WEIGHT_MAY_BE_FINITE, USABLE, WEIGHT_MAY_BE_FINITE, bound_step,
};
use super::feedback::EdgePenalties;
use super::graph::{ChannelGraph, EdgeIndex, NodeIndex};
use super::mediation_range::{MediatorRange, PairRule, outgoing_need, pair_defined};
use super::online::OnlineSet;
use super::request::{Budget, Capacities, Path, PathError, PathRequest, Routes, SearchLimits, Truncation};
use super::weight::{fee_weight, no_refund_weight, refund_threshold};

/// How often a shortest-path search polls the budget, in queue pops (a few hundred
/// microseconds of work).
const BUDGET_POLL_POPS: u64 = 256;

/// Largest single edge step of the A* lower bound (see `PathFinder::compute_hops`).
const MAX_BOUND_STEP: u32 = 64;

/// How far beyond the source's label the lower-bound search goes before it stops. A larger
/// horizon costs more per search and prunes the A* better; any value keeps the bound admissible
/// and consistent. On the generated 15k-node network, 0 to 3 gave the same answer times: the
/// cost is in the hubs' edges, which any horizon scans.
const BOUND_HORIZON: u32 = 0;

/// A node's entry in `PathFinder::hops` when the lower-bound search did not reach it.
const UNREACHED: u32 = u32::MAX;

/// A node's entry in `PathFinder::node_bounds` when it has an imbalance penalty (its entries are
/// labelled one by one instead, see `compute_entry_bounds`).
const PENALTY_NODE: u32 = u32::MAX - 1;

/// `PathFinder::bound_steps` of an edge that the search may walk but whose fee weight is
/// undefined (larger than every real step).
const UNDEFINED_STEP: u8 = u8::MAX;

/// Added to a node's entry in `PathFinder::hops` when the lower-bound search reached it only
/// through edges whose fee weight is undefined (see `PathFinder::compute_hops`): such a bound
/// is one undefined edge plus the rest, and stays above every bound without one.
const THROUGH_UNDEFINED: u32 = 1 << 31;

/// Which search a [`PathFinder`] runs for the sets of a request's enumeration (see "Speed" in
/// the module docs). Every mode returns the same paths; they differ in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// The node search first; the pair-aware search once the request has taken
    /// [`SearchTuning::pair_aware_after_pops`] queue pops or found
    /// [`SearchTuning::pair_aware_after_invalid`] candidates invalid, or one node search has
    /// taken [`SearchTuning::node_search_pops`].
    #[default]
    Adaptive,
    /// The pair-aware search from the start.
    PairAware,
    /// The node search only (and the validity check for the pair conditions).
    Nodes,
}

/// How a [`PathFinder`] divides its work between lower bounds and searches. Every setting
/// returns the same paths; the defaults are what was fastest on the generated networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchTuning {
    /// Which search runs for the sets.
    pub mode: SearchMode,
    /// [`SearchMode::Adaptive`] switches after this many queue pops in a request...
    pub pair_aware_after_pops: u64,
    /// ...or this many candidates found invalid. On the generated 15k-node network with
    /// `max_paths` 5 (one run, 300 requests), 1,500 and 4 kept the median at the node search's
    /// 5.9 ms and took the 90th percentile from its 98 to 53 ms; 500 and 2 gave 7.1 and 44 ms.
    pub pair_aware_after_invalid: u64,
    /// A pair-aware search that has taken this many queue pops with a bound computed before
    /// the latest diversity penalties recomputes the bound and starts again (a stale bound is
    /// still a lower bound, and often close enough).
    pub stale_bound_after_pops: u64,
    /// A pair-aware search that has taken this many queue pops without reaching the target
    /// counts the edges with an undefined fee weight that its set's paths need, and gives the
    /// set up for now if that is more than its bound said (the bound ignores the set's blocked
    /// nodes). On the generated 15k-node network a set whose bound had that count right found
    /// its best path in a few dozen pops; one that needed more settled tens of thousands of
    /// states first.
    pub undefined_check_after_pops: u64,
    /// The node search's lower bound (a backward search from the target) stops once it has
    /// scanned this many edges, even before it reaches the source: the nodes it did not settle
    /// get the frontier's label. The A* then explores more from its start, but both searches
    /// together settle two smaller balls instead of one large one (the idea of a bidirectional
    /// search), and the bound is recomputed for every returned path. On the generated 15k-node
    /// network with `max_paths` 5 (300 requests), 10,000 took the median from 5.2 to 3.1 ms
    /// (the full search had scanned some 80,000 edges per bound); once the per-request flags
    /// were cheaper, 5,000 took it from 2.3 to 2.05 ms (on the 225 requests nearest the median,
    /// 2,000 / 3,000 / 5,000 / 10,000 / 20,000 gave 2.2 / 1.85 / 1.9 / 2.15 / 2.7 ms).
    pub node_bound_scan_limit: usize,
    /// In [`SearchMode::Adaptive`], a node search that has taken this many queue pops for one
    /// set gives up, and the request switches to the pair-aware search at once, which searches
    /// the set again (otherwise the switch waits for the next set). The node search's bound
    /// cannot see the pair conditions, and a set whose paths all break them near the spur
    /// settled tens of thousands of nodes before it found one (see
    /// [`SearchTuning::entry_bound_scan_limit`] for how 1,000 was chosen).
    pub node_search_pops: u64,
    /// A search for a set's best path that has taken this many queue pops and whose frontier
    /// has passed the key of the next set in the enumeration's queue gives its set back to the
    /// queue under the frontier's key (a lower bound of its best path): the set's best path
    /// may never be needed. A set whose shortcuts to the target run through its own root can
    /// be far above its bound, and searching it to the end cost up to 90,000 queue pops on the
    /// generated 15k-node network.
    pub yield_after_pops: u64,
    /// The pair-aware bound stops once it has scanned this many edges, as the node bound does
    /// after [`SearchTuning::node_bound_scan_limit`]: every entry not labelled by then gets the
    /// frontier's label. It is recomputed after most returned paths, and on the generated
    /// 15k-node network it had scanned the edges of most of the network (some 2 ms) before it
    /// reached the source. With 10,000 (and [`SearchTuning::node_search_pops`] 1,000 instead
    /// of 4,000), the 32 requests of the `max_paths` 5 set that took 14 to 60 ms went from a
    /// mean of 18 to 11 ms; the 90th percentile of the 300 went from 15 to 9 ms.
    pub entry_bound_scan_limit: usize,
    /// Whether a candidate found invalid because a mediator's fee is undefined teaches the
    /// pair-aware search to avoid every path that ends with the same edges from that
    /// mediator's incoming one (see "Speed" in the module docs).
    pub learn_dead_ends: bool,
}

impl Default for SearchTuning {
    fn default() -> Self {
        Self {
            mode: SearchMode::Adaptive,
            pair_aware_after_pops: 1_500,
            pair_aware_after_invalid: 4,
            stale_bound_after_pops: 256,
            undefined_check_after_pops: 512,
            node_bound_scan_limit: 5_000,
            node_search_pops: 1_000,
            yield_after_pops: 256,
            entry_bound_scan_limit: 10_000,
            learn_dead_ends: true,
        }
    }
}

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
    /// [`MAX_BOUND_STEP`]; 0 when the reverse is unusable, [`UNDEFINED_STEP`] when its fee
    /// weight is undefined (see [`edge_flags::bound_step`]; the searches check that `head(e)`
    /// is online). Stored at `e` so that the backward search reads it in the order it scans a
    /// node's edges.
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
    edge_blocked: Vec<u32>,
    heap: BinaryHeap<Frontier>,
    /// Seeds of the lower bound's second layer (see `bound_through_undefined`), kept for their
    /// capacity.
    seeds: Vec<(u32, NodeIndex)>,
    buckets: Vec<Vec<NodeIndex>>,
    tie_left: Vec<NodeIndex>,
    tie_right: Vec<NodeIndex>,
    /// Per edge, the request generation whose [`MEDIATION_POSSIBLE`] bit it carries.
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
    /// Per node without imbalance penalty, the pair-aware bound of the rest of a path after any
    /// edge into it (see `compute_entry_bounds`).
    node_bounds: Vec<u32>,
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
    /// The dead ends this request has learnt (see [`SearchTuning::learn_dead_ends`]).
    dead_ends: DeadEnds,
    /// Per node, one bit: whether it lies on a dead end (so that the searches look at the
    /// automaton only there; elsewhere every walk is in state [`dead_ends::CLEAR`]).
    dead_end_nodes: Vec<u64>,
    /// The nodes whose bit is set, to clear them for the next request.
    dead_end_marked: Vec<NodeIndex>,
}

/// What a search for a set's best path found (see `PathFinder::best_of_set`).
enum SetSearch {
    /// The set's best path: exact for the node search; for the pair-aware search, the best
    /// among the paths that pass every pair condition.
    Found(Candidate),
    /// The set has no path (the pair-aware search: none that passes every pair condition), so
    /// no valid one.
    NoPath,
    /// The pair-aware search's best walk visits a node twice; the set needs the node search.
    NotSimple,
    /// Every path of the set weighs at least this (it has more edges with an undefined fee
    /// weight than the bound said): the search gave up (see `PathFinder::undefined_floor`).
    AtLeast(Distance),
    /// The pair-aware bound predates the latest diversity penalties and the search was not
    /// quick: it gave up, to run again with a fresh bound.
    StaleBound,
    /// The search's frontier passed the key of the next set in the queue and the search was
    /// not quick: every path of the set weighs at least this, and the set goes back to the
    /// queue under it (see [`SearchTuning::yield_after_pops`]).
    Yielded {
        /// The frontier's key, a lower bound of every path of the set.
        floor: Distance,
        /// The queue pops the search took.
        pops: u64,
    },
    /// The node search took [`SearchTuning::node_search_pops`] queue pops in a request of
    /// [`SearchMode::Adaptive`]: the request switches to the pair-aware search, which searches
    /// the set again.
    Struggling,
    /// The budget ran out (see `PathFinder::out_of_budget`).
    OutOfBudget,
}

/// The state of one node in the current shortest-path run (`stamp`, `settled`, `blocked` are
/// valid when equal to the run).
#[derive(Debug, Clone, Copy, Default)]
struct NodeState {
    stamp: u32,
    settled: u32,
    blocked: u32,
    predecessor: EdgeIndex,
    distance: Distance,
}

/// The weight parts of one edge for the current request (valid when `stamp` is the request's
/// generation): whether the search may use it, its fee weight and its no-refund weight.
#[derive(Debug, Clone, Copy, Default)]
struct EdgeWeight {
    stamp: u32,
    usable: bool,
    fee_weight: f64,
    no_refund: f64,
    /// The routing feedback's extra weight (see [`EdgePenalties`]).
    feedback: f64,
}

/// A path length: edges with undefined fee first, then the exact sum of the finite weights in
/// units of 2^-52, packed into one `u128` (the count in the top 16 bits, the sum in the low 112;
/// both saturate, which only totals beyond 2^60 could reach), so comparing lengths is comparing
/// integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Distance(u128);

const UNITS_BITS: u32 = 112;
const UNITS_MAX: u128 = (1 << UNITS_BITS) - 1;

impl Distance {
    fn parts(self) -> (u128, u128) {
        (self.0 >> UNITS_BITS, self.0 & UNITS_MAX)
    }

    fn from_parts(undefined: u128, units: u128) -> Self {
        Self((undefined.min(0xFFFF) << UNITS_BITS) | units.min(UNITS_MAX))
    }

    /// The length of one edge of `weight` (the reference's `f64`, at least 1, or `+inf`).
    pub(crate) fn of_weight(weight: f64) -> Self {
        if weight.is_infinite() || weight.is_nan() {
            return Self::from_parts(1, 0);
        }
        // weight >= 1 is a multiple of 2^-52, so this product is an exact integer.
        let scaled = weight * (1u64 << 52) as f64;
        let units = if scaled >= UNITS_MAX as f64 { UNITS_MAX } else { scaled as u128 };
        Self::from_parts(0, units)
    }

    /// A lower bound for `steps` more units of weight 1 (each edge weighs at least 1).
    pub(crate) fn of_hops(steps: u32) -> Self {
        Self::from_parts(0, u128::from(steps) << 52)
    }

    pub(crate) fn plus(self, other: Self) -> Self {
        let (left_undefined, left_units) = self.parts();
        let (right_undefined, right_units) = other.parts();
        Self::from_parts(left_undefined + right_undefined, left_units.saturating_add(right_units))
    }
}

/// An entry of the A* frontier: a node reached with exact distance `reached`, or an edge whose
/// exact weight is not computed yet (`edge != NO_EDGE`; `reached` is then its tail's distance).
/// Min-heap by estimated total `key`, then `reached`, then node, then edge: among equal keys the
/// entry closer to the start comes first, so every predecessor of a node on an equally long path
/// is relaxed before the node is settled (which the lexicographic tie-break relies on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frontier {
    key: Distance,
    reached: Distance,
    node: NodeIndex,
    edge: EdgeIndex,
}

const NO_EDGE: EdgeIndex = EdgeIndex::MAX;

impl Ord for Frontier {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.key, other.reached, other.node, other.edge).cmp(&(
            self.key,
            self.reached,
            self.node,
            self.edge,
        ))
    }
}

impl PartialOrd for Frontier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One set of the enumeration's partition of the loop-free paths not examined yet, represented by
/// its best path (min-heap by total weight, then node list).
///
/// The set holds the paths that start with `nodes[..=spur]` and leave `nodes[spur]` by an edge
/// not in `excluded`. Examining the best path splits the rest of its set into one set per spur
/// index from `spur` on (Lawler's form of Yen's algorithm), so no path is enumerated twice and
/// the sets stay a partition whatever the weights are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    total: Distance,
    nodes: Vec<NodeIndex>,
    edges: Vec<EdgeIndex>,
    /// Index of the node where the set's paths may leave this path.
    spur: usize,
    /// Edges out of `nodes[spur]` that no path of the set takes.
    excluded: Vec<EdgeIndex>,
    /// The outer iteration (returned paths so far) whose weights `total` was computed with.
    epoch: u32,
    /// Whether `nodes` is the set's best path. If not, `nodes` and `edges` are only the common
    /// start `nodes[..=spur]` and `total` is a lower bound of the best path's weight: the best
    /// path is searched for only if the set reaches the front of the queue.
    complete: bool,
    /// Whether `total` is already the fewest undefined fee weights the set's paths need (its
    /// search then does not count them again, see `best_of_set`).
    floor_known: bool,
    /// The queue pops of the set's last search if it gave the set back to the queue (see
    /// [`SearchTuning::yield_after_pops`]), else 0. The next search gives it back only after
    /// twice as many, so that a set searched again and again costs at most a few times its
    /// longest search.
    effort: u64,
}

impl Candidate {
    /// A path a search found from its start (`nodes[0]`) to the target, of length `total` (see
    /// [`PathFinder::joined`] for the whole path of its set).
    fn found(total: Distance, nodes: Vec<NodeIndex>, edges: Vec<EdgeIndex>) -> Self {
        Candidate {
            total,
            nodes,
            edges,
            spur: 0,
            excluded: Vec::new(),
            epoch: 0,
            complete: true,
            floor_known: false,
            effort: 0,
        }
    }

    /// The set of paths that start with `root_nodes` (joined by `root_edges`) and leave its
    /// last node by an edge not in `excluded`, not searched yet: `total` is a lower bound of
    /// its best path.
    fn unsearched(
        root_nodes: &[NodeIndex],
        root_edges: &[EdgeIndex],
        excluded: Vec<EdgeIndex>,
        total: Distance,
        epoch: u32,
        floor_known: bool,
    ) -> Self {
        Candidate {
            total,
            nodes: root_nodes.to_vec(),
            edges: root_edges.to_vec(),
            spur: root_edges.len(),
            excluded,
            epoch,
            complete: false,
            floor_known,
            effort: 0,
        }
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other.total.cmp(&self.total).then_with(|| other.nodes.cmp(&self.nodes))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
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
            self.hops.resize(nodes, UNREACHED);
            self.node_ranges.resize(nodes, MediatorRange::default());
            self.node_range_stamp.resize(nodes, 0);
            self.scan_marks.resize(nodes, [ScanMark::default(); 2]);
            self.expanded.resize(nodes, [Expanded::default(); 2]);
            self.node_bounds.resize(nodes, UNREACHED);
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
                (state.stamp, state.settled, state.blocked) = (0, 0, 0);
            }
            self.edge_blocked.fill(0);
            self.entry_states.fill(EntryState::default());
            self.expanded.fill([Expanded::default(); 2]);
            self.run = 1;
        }
        self.run
    }

    /// Adds `penalty` to the diversity of `edge`'s channel, penalised in outer iteration `epoch`.
    fn add_diversity(&mut self, network: &ChannelGraph, edge: EdgeIndex, penalty: f64, epoch: u32) {
        let channel = network.topology.channel[edge as usize] as usize;
        if self.channel_stamp[channel] != self.request_generation {
            self.channel_stamp[channel] = self.request_generation;
            // Python: `visited[channel_id] += penalty` starting from int 0.
            self.channel_diversity[channel] = 0.0;
        }
        self.channel_diversity[channel] += penalty;
        self.channel_penalised_in[channel] = epoch;
        let steps = self.channel_diversity[channel].floor().min(f64::from(MAX_BOUND_STEP)) as u32;
        for edge in [edge, network.topology.reverse[edge as usize]] {
            let index = edge as usize;
            self.edge_flags[index] |= DIVERSE;
            // Still 0 for a reverse the search cannot walk.
            self.bound_steps[index] = bound_step(self.edge_flags[index], steps);
        }
    }

    fn diversity(&self, network: &ChannelGraph, edge: EdgeIndex) -> f64 {
        if self.edge_flags[edge as usize] & DIVERSE == 0 {
            return 0.0;
        }
        let channel = network.topology.channel[edge as usize] as usize;
        if self.channel_stamp[channel] == self.request_generation {
            self.channel_diversity[channel]
        } else {
            0.0
        }
    }

    /// The length of `edge` now, or `None` if the search must not use it (head offline, or
    /// capacity below the value).
    fn weight(&mut self, query: &Query<'_>, edge: EdgeIndex) -> Option<Distance> {
        let index = edge as usize;
        if self.edge_weights[index].stamp != self.request_generation {
            self.edge_weights[index].stamp = self.request_generation;
            let network = query.network;
            let head = network.topology.target[index];
            let usable = self.edge_flags[index] & USABLE != 0
                && query.online.contains_node(head)
                && self.mediation_possible(query, edge);
            self.edge_weights[index].usable = usable;
            if usable {
                self.edges_weighed += 1;
                // Outside its window the fee computation fails at once; skip even that.
                self.edge_weights[index].fee_weight = if self.edge_flags[index] & WEIGHT_MAY_BE_FINITE == 0 {
                    f64::INFINITY
                } else {
                    let (sender, receiver) = network.terms(edge);
                    fee_weight(network.capacity(edge), sender, receiver, query.value, query.fee_penalty)
                };
                let backward = network.topology.reverse[index];
                self.edge_weights[index].no_refund =
                    no_refund_weight(network.capacity(backward), query.refund_threshold);
                self.edge_weights[index].feedback = query.feedback.of(edge);
            }
        }
        let EdgeWeight { usable, fee_weight: fee, no_refund, feedback, .. } = self.edge_weights[index];
        if !usable {
            return None;
        }
        if fee == f64::INFINITY {
            return Some(Distance::of_weight(f64::INFINITY));
        }
        let weight = 1.0 + self.diversity(query.network, edge) + fee + no_refund;
        // Added last, and only when there is some: without feedback the weight is the
        // reference's bit for bit.
        Some(Distance::of_weight(if feedback > 0.0 { weight + feedback } else { weight }))
    }

    /// Whether `edge` passes the amount-independent conditions of the mediators at its ends
    /// (see [`super::mediation_range`]); cached per request. An edge that fails them is on no
    /// valid path, so the search may skip it without changing the answer.
    fn mediation_possible(&mut self, query: &Query<'_>, edge: EdgeIndex) -> bool {
        let index = edge as usize;
        if self.edge_mediation_stamp[index] == self.request_generation {
            return self.edge_flags[index] & MEDIATION_POSSIBLE != 0;
        }
        let network = query.network;
        let (tail, head) = (network.topology.source(edge), network.topology.target[index]);
        let mut possible = true;
        if tail != query.source {
            possible = self.mediator_range(query, tail).can_forward_into(network, edge)
                // The last mediator forwards exactly the value.
                && (head != query.target || outgoing_need(network, edge).0 >= query.value);
        }
        if possible && head != query.target {
            possible = self.mediator_range(query, head).can_forward_from(network, edge);
        }
        self.edge_mediation_stamp[index] = self.request_generation;
        if possible {
            self.edge_flags[index] |= MEDIATION_POSSIBLE;
        }
        possible
    }

    /// `node`'s partner edges as a mediator in this request (computed on first use).
    fn mediator_range(&mut self, query: &Query<'_>, node: NodeIndex) -> MediatorRange {
        let index = node as usize;
        if self.node_range_stamp[index] != self.request_generation {
            let (network, flags) = (query.network, &self.edge_flags);
            // An edge that carries the value carries something, unless the value is zero.
            let value_is_zero = query.value.is_zero();
            let usable = |edge: EdgeIndex| {
                flags[edge as usize] & CARRIES != 0 && (!value_is_zero || !network.capacity(edge).is_zero())
            };
            self.node_ranges[index] = MediatorRange::of(network, node, usable);
            self.node_range_stamp[index] = self.request_generation;
        }
        self.node_ranges[index]
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

    /// Whether a channel of `candidate` was penalised after its total was computed.
    fn is_stale(&self, network: &ChannelGraph, candidate: &Candidate) -> bool {
        candidate.edges.iter().any(|&edge| {
            let channel = network.topology.channel[edge as usize] as usize;
            self.channel_stamp[channel] == self.request_generation
                && self.channel_penalised_in[channel] > candidate.epoch
        })
    }

    /// Splits the set of an examined `candidate` into one set per spur index (Lawler's form of
    /// Yen's algorithm) and queues each non-empty one with its best path.
    fn split(
        &mut self,
        query: &Query<'_>,
        candidate: &Candidate,
        epoch: u32,
        queue: &mut BinaryHeap<Candidate>,
    ) -> Result<(), Truncation> {
        // A set whose common start holds a pair of edges that no mediator fee allows has no
        // valid path: keep only the sets that leave the candidate at or before its first such
        // mediator.
        let last_spur = (candidate.spur.max(1)..candidate.edges.len())
            .find(|&mediator| {
                !pair_defined(query.network, candidate.edges[mediator - 1], candidate.edges[mediator])
            })
            .unwrap_or(candidate.nodes.len() - 2);
        for spur in candidate.spur..=last_spur {
            if query.budget.exhausted() {
                return Err(Truncation::Deadline);
            }
            let mut excluded = if spur == candidate.spur { candidate.excluded.clone() } else { Vec::new() };
            excluded.push(candidate.edges[spur]);
            let (root_nodes, root_edges) = (&candidate.nodes[..=spur], &candidate.edges[..spur]);
            if let Some(bound) = self.set_bound(query, root_nodes, root_edges, &excluded) {
                queue.push(Candidate::unsearched(root_nodes, root_edges, excluded, bound, epoch, false));
            }
        }
        Ok(())
    }

    /// Starts looking at a set whose paths begin with `root_nodes` (joined by `root_edges`):
    /// returns the root's weight and a new run in which the root's nodes before the spur node
    /// are blocked (the set's paths are loop-free).
    fn enter_set(
        &mut self,
        query: &Query<'_>,
        root_nodes: &[NodeIndex],
        root_edges: &[EdgeIndex],
    ) -> (Distance, u32) {
        let mut root_length = Distance::default();
        for &edge in root_edges {
            let length = self.weight(query, edge).unwrap_or(Distance::of_weight(f64::INFINITY));
            root_length = root_length.plus(length);
        }
        let run = self.next_run();
        for &node in &root_nodes[..root_edges.len()] {
            self.node_states[node as usize].blocked = run;
        }
        (root_length, run)
    }

    /// A lower bound of the weight of every path of a set (see [`PathFinder::best_of_set`]):
    /// the root's weight, plus the least lower bound of an allowed edge out of the spur node and
    /// the heuristic of its head. `None` if no allowed edge can lead to the target.
    fn set_bound(
        &mut self,
        query: &Query<'_>,
        root_nodes: &[NodeIndex],
        root_edges: &[EdgeIndex],
        excluded: &[EdgeIndex],
    ) -> Option<Distance> {
        let (root_length, run) = self.enter_set(query, root_nodes, root_edges);
        let spur = root_edges.len();
        let mut best: Option<Distance> = None;
        let pairs = PairRule::of(query.network, root_nodes[spur], root_edges.last().copied());
        for edge in query.network.topology.out_edges(root_nodes[spur]) {
            let head = query.network.topology.target[edge];
            if self.node_states[head as usize].blocked == run
                || excluded.contains(&(edge as EdgeIndex))
                || !pairs.allow(query.network, edge as EdgeIndex)
            {
                continue;
            }
            let heuristic = if self.pair_aware {
                self.entry_heuristic(query.network, edge as EdgeIndex)
            } else {
                self.heuristic(head)
            };
            let Some(heuristic) = heuristic else {
                continue;
            };
            let Some((bound, _)) = self.weight_bound(query, edge as EdgeIndex) else {
                continue;
            };
            let through = bound.plus(heuristic);
            best = Some(best.map_or(through, |best| best.min(through)));
        }
        best.map(|best| root_length.plus(best))
    }

    /// The best path of the set of paths that start with `root_nodes` (joined by `root_edges`)
    /// and leave its last node by an edge not in `excluded`, under the current weights; or,
    /// when the search finds that every path of the set has more undefined fee weights than its
    /// bound said (unless `floor_known`: it found that before), the set again with that lower
    /// bound, so that its best path is searched for only if the set reaches the front of the
    /// queue again.
    fn best_of_set(
        &mut self,
        query: &Query<'_>,
        root_nodes: &[NodeIndex],
        root_edges: &[EdgeIndex],
        excluded: Vec<EdgeIndex>,
        epoch: u32,
        floor_known: bool,
    ) -> Option<Candidate> {
        let searched = if self.pair_aware {
            self.set_by_entry(query, root_nodes, root_edges, &excluded, floor_known)
        } else {
            let (root_length, run) = self.enter_set(query, root_nodes, root_edges);
            for &edge in &excluded {
                self.edge_blocked[edge as usize] = run;
            }
            match self.node_search(query, root_nodes, root_edges, root_length, run, !floor_known) {
                SetSearch::Struggling => {
                    self.switch_to_pair_aware(query);
                    self.set_by_entry(query, root_nodes, root_edges, &excluded, floor_known)
                }
                outcome => outcome,
            }
        };
        match searched {
            SetSearch::Found(best) => {
                Some(Self::joined(root_nodes, root_edges, best, excluded, epoch, floor_known))
            }
            SetSearch::AtLeast(floor) => {
                Some(Candidate::unsearched(root_nodes, root_edges, excluded, floor, epoch, true))
            }
            SetSearch::Yielded { floor, pops } => Some(Candidate {
                effort: pops,
                ..Candidate::unsearched(root_nodes, root_edges, excluded, floor, epoch, floor_known)
            }),
            // No path, or the budget ran out (`cut_by_budget` says which). `set_by_entry` has
            // dealt with the other outcomes.
            _ => None,
        }
    }

    /// The pair-aware search for the set of `best_of_set`, with the node search for a set
    /// whose best walk is not a path.
    fn set_by_entry(
        &mut self,
        query: &Query<'_>,
        root_nodes: &[NodeIndex],
        root_edges: &[EdgeIndex],
        excluded: &[EdgeIndex],
        floor_known: bool,
    ) -> SetSearch {
        let spur = root_edges.len();
        let entry = root_edges.last().copied();
        // A root never reaches the target, so it never completes a dead end.
        let Some(start_state) = self.dead_ends.state_after(root_edges) else {
            return SetSearch::NoPath;
        };
        // A search may give up a stale bound once: it runs again with a fresh one.
        let mut fresh_bound = false;
        loop {
            let (root_length, run) = self.enter_set(query, root_nodes, root_edges);
            for &edge in excluded {
                self.edge_blocked[edge as usize] = run;
            }
            let start = root_nodes[spur];
            match self.shortest_path_by_entry(query, start, entry, root_length, start_state, !floor_known) {
                SetSearch::StaleBound if !fresh_bound => {
                    self.compute_entry_bounds(query);
                    fresh_bound = true;
                }
                // A walk that is not a path needs the node search. (A stale bound again cannot
                // be: the search ran with the bound just computed. The node search does not
                // struggle once the request searches with the pair-aware search.)
                SetSearch::NotSimple | SetSearch::StaleBound => {
                    return self.node_search(query, root_nodes, root_edges, root_length, run, !floor_known);
                }
                outcome => return outcome,
            }
        }
    }

    /// The node search for the set of `best_of_set` (entered in `run`): exact for paths, and
    /// the pair conditions are left to the validity check, except at the spur node. That node
    /// is a mediator entered by the root's last edge: its other edges that this entry makes
    /// undefined lead to no valid path. With `check_undefined`, see `PathFinder::shortest_path`.
    fn node_search(
        &mut self,
        query: &Query<'_>,
        root_nodes: &[NodeIndex],
        root_edges: &[EdgeIndex],
        root_length: Distance,
        run: u32,
        check_undefined: bool,
    ) -> SetSearch {
        let spur = root_edges.len();
        if let Some(&edge_in) = root_edges.last() {
            let pairs = PairRule::of(query.network, root_nodes[spur], Some(edge_in));
            for edge_out in query.network.topology.out_edges(root_nodes[spur]) {
                if !pairs.allow(query.network, edge_out as EdgeIndex) {
                    self.edge_blocked[edge_out] = run;
                }
            }
        }
        if !self.node_hops_fresh {
            self.compute_hops(query);
            self.node_hops_fresh = true;
        }
        self.shortest_path(query, root_nodes[spur], root_length, check_undefined)
    }

    /// The set's root followed by `best`, the best path from its spur node.
    fn joined(
        root_nodes: &[NodeIndex],
        root_edges: &[EdgeIndex],
        best: Candidate,
        excluded: Vec<EdgeIndex>,
        epoch: u32,
        floor_known: bool,
    ) -> Candidate {
        let spur = root_edges.len();
        let mut nodes = root_nodes[..spur].to_vec();
        nodes.extend_from_slice(&best.nodes);
        let mut edges = root_edges.to_vec();
        edges.extend_from_slice(&best.edges);
        Candidate {
            total: best.total,
            nodes,
            edges,
            spur,
            excluded,
            epoch,
            complete: true,
            floor_known,
            effort: 0,
        }
    }

    /// Lower bounds of the distance to the target, by a backwards shortest-path search over
    /// usable edges (head online, capacity at least the value) whose fee weight may be finite,
    /// with the integer weights `1 + ⌊diversity⌋ + no_refund` (Dial's algorithm over a ring of
    /// buckets; steps above [`MAX_BOUND_STEP`] are cut to it, which keeps them lower bounds).
    /// Every finite weight is at least that (the fee part is never negative), and a path with
    /// an undefined fee weight is longer than every path without one, so this is an admissible
    /// and consistent A* heuristic, exact up to fees and fractional diversity: the search expands
    /// little beyond the paths that tie on it. It is recomputed for every returned path because
    /// the diversity penalties change.
    ///
    /// It stops when the frontier is [`BOUND_HORIZON`] units beyond the source's label: labels
    /// up to the frontier are final, and every node not settled by then is at least as far as
    /// the frontier. When it runs to completion instead (the source cannot reach the target
    /// through edges whose fee weight may be finite), a second layer bounds the nodes that reach
    /// the target only through undefined fee weights (see `bound_through_undefined`).
    fn compute_hops(&mut self, query: &Query<'_>) {
        let topology = &query.network.topology;
        let bound_steps = &self.bound_steps;
        let hops = &mut self.hops;
        hops.fill(UNREACHED);
        let ring = MAX_BOUND_STEP as usize + 1;
        let mut buckets = std::mem::take(&mut self.buckets);
        for bucket in &mut buckets {
            bucket.clear();
        }
        if buckets.len() < ring {
            buckets.resize_with(ring, Vec::new);
        }
        hops[query.target as usize] = 0;
        buckets[0].push(query.target);
        let mut distance = 0u32;
        let mut pending = 1usize;
        let mut scanned = 0usize;
        self.hops_cap = None;
        while pending > 0 {
            // Labels up to `distance` are final here. Nodes much farther than the source cannot
            // be on a path the search will take: stop, and bound the rest by the frontier. So
            // does a search that has scanned its share of the work (see
            // `SearchTuning::node_bound_scan_limit`).
            let source_hops = hops[query.source as usize];
            if (source_hops != UNREACHED && distance >= source_hops + BOUND_HORIZON)
                || scanned >= self.tuning.node_bound_scan_limit
            {
                self.hops_cap = Some(distance);
                break;
            }
            let slot = distance as usize % ring;
            while let Some(node) = buckets[slot].pop() {
                pending -= 1;
                if hops[node as usize] != distance {
                    continue;
                }
                // Each out-edge `node → tail` stands for its reverse `tail → node`, walked
                // backwards (see `bound_steps`).
                let edges = topology.out_edges(node);
                scanned += edges.len();
                for (&step, &tail) in bound_steps[edges.clone()].iter().zip(&topology.target[edges]) {
                    if step == 0 || step == UNDEFINED_STEP {
                        continue;
                    }
                    let candidate = distance + u32::from(step);
                    let label = &mut hops[tail as usize];
                    if *label <= candidate || !query.online.contains_node(tail) {
                        continue;
                    }
                    *label = candidate;
                    buckets[candidate as usize % ring].push(tail);
                    pending += 1;
                }
            }
            distance += 1;
        }
        if self.hops_cap.is_none() {
            self.bound_through_undefined(query, &mut buckets);
        }
        self.buckets = buckets;
    }

    /// The second layer of `compute_hops`, when the source cannot reach the target through
    /// edges whose fee weight may be finite: bounds for the nodes that reach it only through
    /// edges whose fee weight is undefined, as `THROUGH_UNDEFINED + units`. Such a path weighs
    /// at least one undefined edge plus the finite steps after the last of them, so the seeds
    /// are the tails of undefined edges into nodes of the first layer, at that node's bound,
    /// and Dial's algorithm goes on from them over every usable edge (an undefined one adds no
    /// units: a second undefined edge only makes the path longer still). Nodes left unreached
    /// cannot reach the target at all.
    fn bound_through_undefined(&mut self, query: &Query<'_>, buckets: &mut [Vec<NodeIndex>]) {
        let topology = &query.network.topology;
        let hops = &mut self.hops;
        let ring = buckets.len();
        let walkable = |flags: EdgeFlags, tail: NodeIndex| {
            flags & REVERSE_USABLE != 0 && query.online.contains_node(tail)
        };
        let mut seeds = std::mem::take(&mut self.seeds);
        seeds.clear();
        for node in 0..hops.len() as NodeIndex {
            let units = hops[node as usize];
            if units == UNREACHED {
                continue;
            }
            for edge in topology.out_edges(node) {
                let tail = topology.target[edge];
                let flags = self.edge_flags[edge];
                if flags & REVERSE_WEIGHT_MAY_BE_FINITE == 0
                    && walkable(flags, tail)
                    && hops[tail as usize] == UNREACHED
                {
                    seeds.push((units, tail));
                }
            }
        }
        seeds.sort_unstable();
        let mut next_seed = 0;
        let mut distance = 0u32;
        let mut pending = 0usize;
        loop {
            while let Some(&(units, tail)) = seeds.get(next_seed).filter(|(units, _)| *units == distance) {
                next_seed += 1;
                if hops[tail as usize] > THROUGH_UNDEFINED + units {
                    hops[tail as usize] = THROUGH_UNDEFINED + units;
                    buckets[units as usize % ring].push(tail);
                    pending += 1;
                }
            }
            if pending == 0 {
                match seeds.get(next_seed) {
                    Some(&(units, _)) => {
                        distance = units;
                        continue;
                    }
                    None => break,
                }
            }
            let slot = distance as usize % ring;
            while let Some(node) = buckets[slot].pop() {
                pending -= 1;
                if hops[node as usize] != THROUGH_UNDEFINED + distance {
                    continue;
                }
                for edge in topology.out_edges(node) {
                    let tail = topology.target[edge];
                    let flags = self.edge_flags[edge];
                    if !walkable(flags, tail) {
                        continue;
                    }
                    // A finite edge steps as in the first layer (its step is not 0: usable,
                    // finite, tail online); an undefined one adds nothing.
                    let step = if flags & REVERSE_WEIGHT_MAY_BE_FINITE != 0 {
                        u32::from(self.bound_steps[edge])
                    } else {
                        0
                    };
                    let candidate = THROUGH_UNDEFINED + distance + step;
                    if hops[tail as usize] <= candidate {
                        continue;
                    }
                    hops[tail as usize] = candidate;
                    buckets[(distance + step) as usize % ring].push(tail);
                    pending += 1;
                }
            }
            distance += 1;
        }
        self.seeds = seeds;
    }

    /// The heuristic of `node`, or `None` if it cannot reach the target.
    fn heuristic(&self, node: NodeIndex) -> Option<Distance> {
        let hops = self.hops[node as usize];
        match self.hops_cap {
            // Complete search: see `compute_hops`.
            None => match hops {
                UNREACHED => None,
                hops if hops >= THROUGH_UNDEFINED => {
                    Some(Distance::of_weight(f64::INFINITY).plus(Distance::of_hops(hops - THROUGH_UNDEFINED)))
                }
                hops => Some(Distance::of_hops(hops)),
            },
            // Cut search: labels up to the cap are exact; every other node is at least as far
            // as the frontier was.
            Some(cap) => Some(Distance::of_hops(hops.min(cap))),
        }
    }

    /// A lower bound of an edge's weight that needs no fee computation (`1 + diversity +
    /// no_refund`; the fee part is never negative), or its exact weight when already known.
    /// `None` if the edge is unusable. The flag tells whether the value is exact.
    fn weight_bound(&mut self, query: &Query<'_>, edge: EdgeIndex) -> Option<(Distance, bool)> {
        let index = edge as usize;
        if self.edge_weights[index].stamp == self.request_generation {
            return self.weight(query, edge).map(|weight| (weight, true));
        }
        let network = query.network;
        let head = network.topology.target[index];
        // The mediators' conditions are checked only when the edge is weighed: most edges the
        // search looks at never are.
        if self.edge_flags[index] & USABLE == 0 || !query.online.contains_node(head) {
            return None;
        }
        if self.edge_flags[index] & WEIGHT_MAY_BE_FINITE == 0 {
            // Exact unless the mediators' conditions rule the edge out.
            return Some((Distance::of_weight(f64::INFINITY), false));
        }
        let no_refund = if self.edge_flags[index] & REVERSE_REFUNDABLE == 0 { 1.0 } else { 0.0 };
        Some((Distance::of_weight(1.0 + self.diversity(network, edge) + 0.0 + no_refund), false))
    }

    /// Relaxes `edge` (tail at exact distance `reached`, exact `weight`).
    fn relax(
        &mut self,
        topology: &super::graph::Topology,
        edge: EdgeIndex,
        reached: Distance,
        weight: Distance,
        start: NodeIndex,
    ) {
        let run = self.run;
        let tail = topology.source(edge);
        let head = topology.target[edge as usize];
        let candidate = reached.plus(weight);
        let improves = if self.node_states[head as usize].stamp != run {
            true
        } else {
            match candidate.cmp(&self.node_states[head as usize].distance) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => self.lexicographically_smaller(topology, tail, head, start),
            }
        };
        if improves && let Some(heuristic) = self.heuristic(head) {
            self.node_states[head as usize].stamp = run;
            self.node_states[head as usize].distance = candidate;
            self.node_states[head as usize].predecessor = edge;
            self.heap.push(Frontier {
                key: candidate.plus(heuristic),
                reached: candidate,
                node: head,
                edge: NO_EDGE,
            });
        }
    }

    /// A* from `start` (whose distance is `start_distance`, the root's weight) to the target,
    /// avoiding nodes and edges blocked in the current run; ties keep the lexicographically
    /// smaller path. Edge weights are computed only when an edge's lower-bound entry reaches the
    /// front of the queue, so most edges of a hub are never weighed.
    ///
    /// With `check_undefined`, a search that has not reached the target after
    /// [`SearchTuning::undefined_check_after_pops`] queue pops counts the edges with an undefined
    /// fee weight that a path of the set needs (see `PathFinder::undefined_floor`). In a request
    /// of [`SearchMode::Adaptive`] that has not switched yet, the search gives up after
    /// [`SearchTuning::node_search_pops`] with [`SetSearch::Struggling`]. It may give its set
    /// back to the queue (see `PathFinder::yield_to_queue`).
    fn shortest_path(
        &mut self,
        query: &Query<'_>,
        start: NodeIndex,
        start_distance: Distance,
        check_undefined: bool,
    ) -> SetSearch {
        let run = self.run;
        let topology = &query.network.topology;
        self.heap.clear();
        let Some(heuristic) = self.heuristic(start) else {
            return SetSearch::NoPath;
        };
        let may_struggle = self.tuning.mode == SearchMode::Adaptive && !self.pair_aware;
        let mut check_undefined = check_undefined;
        let mut pops = 0u64;
        self.node_states[start as usize].stamp = run;
        self.node_states[start as usize].distance = start_distance;
        self.node_states[start as usize].predecessor = EdgeIndex::MAX;
        self.heap.push(Frontier {
            key: start_distance.plus(heuristic),
            reached: start_distance,
            node: start,
            edge: NO_EDGE,
        });
        let mut found = false;
        while let Some(Frontier { key, reached, node, edge }) = self.heap.pop() {
            self.queue_pops += 1;
            pops += 1;
            if self.out_of_budget(query) {
                return SetSearch::OutOfBudget;
            }
            // A search that pops the target has its answer: it neither counts, gives up nor
            // yields.
            let at_target = edge == NO_EDGE && node == query.target;
            if check_undefined && pops > self.tuning.undefined_check_after_pops && !at_target {
                check_undefined = false;
                if let Some(outcome) = self.undefined_floor(query, start, start_distance, key) {
                    return outcome;
                }
            }
            if may_struggle && pops > self.tuning.node_search_pops && !at_target {
                return SetSearch::Struggling;
            }
            if !at_target && let Some(outcome) = self.yield_to_queue(pops, key) {
                return outcome;
            }
            if edge != NO_EDGE {
                // A lazily weighed edge: compute its exact weight now and relax it.
                let head = topology.target[edge as usize];
                if self.node_states[head as usize].settled == run {
                    continue;
                }
                if let Some(weight) = self.weight(query, edge) {
                    self.relax(topology, edge, reached, weight, start);
                }
                continue;
            }
            if self.node_states[node as usize].settled == run
                || reached != self.node_states[node as usize].distance
            {
                continue;
            }
            self.node_states[node as usize].settled = run;
            if node == query.target {
                found = true;
                break;
            }
            for edge in topology.out_edges(node) {
                let head = topology.target[edge];
                if self.node_states[head as usize].blocked == run
                    || self.node_states[head as usize].settled == run
                    || self.edge_blocked[edge] == run
                {
                    continue;
                }
                let Some(head_heuristic) = self.heuristic(head) else {
                    continue;
                };
                let Some((bound, exact)) = self.weight_bound(query, edge as EdgeIndex) else {
                    continue;
                };
                if exact {
                    self.relax(topology, edge as EdgeIndex, reached, bound, start);
                } else {
                    self.heap.push(Frontier {
                        key: reached.plus(bound).plus(head_heuristic),
                        reached,
                        node,
                        edge: edge as EdgeIndex,
                    });
                }
            }
        }
        if !found {
            return SetSearch::NoPath;
        }
        let mut nodes = vec![query.target];
        let mut edges = Vec::new();
        let mut node = query.target;
        while node != start {
            let edge = self.node_states[node as usize].predecessor;
            edges.push(edge);
            node = topology.source(edge);
            nodes.push(node);
        }
        nodes.reverse();
        edges.reverse();
        SetSearch::Found(Candidate::found(self.node_states[query.target as usize].distance, nodes, edges))
    }

    /// Whether a set's search that has taken `pops` queue pops and pops `key` now should give
    /// its set back to the queue (see [`SearchTuning::yield_after_pops`]).
    fn yield_to_queue(&self, pops: u64, key: Distance) -> Option<SetSearch> {
        let (next, patience) = self.yield_to?;
        (pops > patience && key > next).then_some(SetSearch::Yielded { floor: key, pops })
    }

    /// Whether a set's search, popping `key` after a while without reaching the target, should
    /// give up: [`SetSearch::NoPath`] if no path of the set reaches the target at all, or
    /// [`SetSearch::AtLeast`] if its paths need more edges with an undefined fee weight than
    /// `key` says (the searches' bounds ignore the set's blocked nodes and edges, so they may
    /// count fewer). The search would otherwise settle every state that the fewer undefined
    /// edges reach before it finds the set's best path, if any. `None`: go on.
    fn undefined_floor(
        &mut self,
        query: &Query<'_>,
        start: NodeIndex,
        start_distance: Distance,
        key: Distance,
    ) -> Option<SetSearch> {
        match self.fewest_undefined(query, start) {
            None => Some(SetSearch::NoPath),
            Some(count) => {
                let floor = start_distance.plus(Distance::from_parts(u128::from(count), 0));
                (floor > key).then_some(SetSearch::AtLeast(floor))
            }
        }
    }

    /// At most the fewest edges with an undefined fee weight on a path from `start` to the
    /// target that avoids the nodes and edges blocked in the current run; `None` if there is no
    /// such path. A breadth-first search over nodes that takes finite edges before undefined
    /// ones (0-1 BFS). It ignores the pair conditions, which keeps it a lower bound (it counts
    /// walks that break them too) and cheap: about one node search's worth of work.
    fn fewest_undefined(&mut self, query: &Query<'_>, start: NodeIndex) -> Option<u32> {
        let topology = &query.network.topology;
        self.reach_stamp = self.reach_stamp.wrapping_add(1);
        if self.reach_stamp == 0 {
            self.node_reached.fill((0, 0));
            self.reach_stamp = 1;
        }
        let stamp = self.reach_stamp;
        let mut queue = std::mem::take(&mut self.reach_queue);
        queue.clear();
        self.node_reached[start as usize] = (stamp, 0);
        queue.push_back((start, 0u32));
        let mut fewest = None;
        'search: while let Some((node, count)) = queue.pop_front() {
            // Queued again with fewer since (the queue holds two counts at most).
            if self.node_reached[node as usize] != (stamp, count) {
                continue;
            }
            if node == query.target {
                fewest = Some(count);
                break;
            }
            for edge in topology.out_edges(node) {
                let head = topology.target[edge];
                let flags = self.edge_flags[edge];
                if flags & USABLE == 0 || self.edge_blocked[edge] == self.run {
                    continue;
                }
                let finite = flags & WEIGHT_MAY_BE_FINITE != 0;
                let next = count + u32::from(!finite);
                let (reached_in, reached) = self.node_reached[head as usize];
                if (reached_in == stamp && reached <= next)
                    || self.node_states[head as usize].blocked == self.run
                    || !query.online.contains_node(head)
                {
                    continue;
                }
                if finite && head == query.target {
                    // Nothing is queued with fewer than `count`.
                    fewest = Some(count);
                    break 'search;
                }
                self.node_reached[head as usize] = (stamp, next);
                if finite {
                    queue.push_front((head, next));
                } else {
                    queue.push_back((head, next));
                }
            }
        }
        self.reach_queue = queue;
        fewest
    }

    /// Whether the path to `via` followed by `head` is lexicographically smaller than the current
    /// path to `head` (both start at `start`).
    fn lexicographically_smaller(
        &mut self,
        topology: &super::graph::Topology,
        via: NodeIndex,
        head: NodeIndex,
        start: NodeIndex,
    ) -> bool {
        let mut left = std::mem::take(&mut self.tie_left);
        let mut right = std::mem::take(&mut self.tie_right);
        self.collect_path(topology, via, start, &mut left);
        left.push(head);
        let current = topology.source(self.node_states[head as usize].predecessor);
        self.collect_path(topology, current, start, &mut right);
        right.push(head);
        let smaller = left < right;
        self.tie_left = left;
        self.tie_right = right;
        smaller
    }

    fn collect_path(
        &self,
        topology: &super::graph::Topology,
        end: NodeIndex,
        start: NodeIndex,
        into: &mut Vec<NodeIndex>,
    ) {
        into.clear();
        let mut node = end;
        into.push(node);
        while node != start {
            node = topology.source(self.node_states[node as usize].predecessor);
            into.push(node);
        }
        into.reverse();
    }
}

/// `left >= right`, comparing two limbs at a time when both fit 128 bits (nearly every amount).
#[inline]
fn at_least(left: &U256, right: &U256) -> bool {
    let (left, right) = (left.as_limbs(), right.as_limbs());
    if (left[2] | left[3] | right[2] | right[3]) == 0 {
        (u128::from(left[1]) << 64 | u128::from(left[0]))
            >= (u128::from(right[1]) << 64 | u128::from(right[0]))
    } else {
        U256::from_limbs(*left) >= U256::from_limbs(*right)
    }
}

/// Why [`examine_path`] found a path invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Invalid {
    /// An edge cannot carry the value (§2.7 step 1).
    Capacity,
    /// The fee of the mediator at this index of the path's nodes is undefined, or the fees do
    /// not fit the arithmetic. It depends only on the edges from the mediator's incoming one to
    /// the target: every path that ends with them is invalid too.
    Fee {
        /// The mediator's index in the path's nodes (its incoming edge has the index before).
        mediator: usize,
    },
}

/// §2.7 on the edges of a path: every edge carries `value`, and each mediator's fee, from the
/// last to the first, is defined; returns the sum of the fees, or why the path is invalid.
fn examine_path(network: &ChannelGraph, value: U256, edges: &[EdgeIndex]) -> Result<I256, Invalid> {
    if edges.iter().any(|&edge| network.capacity(edge) < value) {
        return Err(Invalid::Capacity);
    }
    let topology = &network.topology;
    let mut total = value;
    let mut estimated_fee = I256::ZERO;
    for (index, pair) in edges.windows(2).enumerate().rev() {
        let (edge_in, edge_out) = (pair[0], pair[1]);
        let invalid = Invalid::Fee { mediator: index + 1 };
        let backward_in = topology.reverse[edge_in as usize];
        let (schedule_in, _) = network.terms(backward_in);
        let (schedule_out, _) = network.terms(edge_out);
        let with_fees = get_amount_with_fees(
            total,
            network.capacity(backward_in),
            network.capacity(edge_out),
            &schedule_in,
            &schedule_out,
            network.capacity(edge_in),
        )
        .map_err(|_| invalid)?;
        let fee = I256::try_from(with_fees)
            .ok()
            .zip(I256::try_from(total).ok())
            .and_then(|(with_fees, total)| with_fees.checked_sub(total))
            .ok_or(invalid)?;
        estimated_fee = estimated_fee.checked_add(fee).ok_or(invalid)?;
        total = with_fees;
    }
    Ok(estimated_fee)
}
