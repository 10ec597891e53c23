//! The pair-aware search: a lower bound and an A* whose states are the edges by which a path
//! enters a node, so that every path they find passes each mediator's conditions on its *pair*
//! of edges (`pair_defined`: the same `cap_fees`, balances inside the penalties, and an incoming
//! penalty reaching far enough for the outgoing channel).
//!
//! Why states are edges: a node-by-node search keeps one best way into each node, so it cannot
//! know which edge a path entered a mediator by. Its shortest paths then often break a pair
//! condition (and are examined only to be found invalid), and its lower bound counts on
//! continuations that no path entering by the right edge can take. On the generated 15k-node
//! network a set's best path was often 10 to 40 units above that bound, and the A* settled
//! most of the network to find it; with the pair-aware bound, a few dozen states.
//!
//! What keeps it affordable: which outgoing edges an entry allows depends only on the entry's
//! slack and `cap_fees` ([`incoming_slack`]), and a larger slack allows more. So
//! * the A* expands a node again only for an entry with more slack than the first one it
//!   expanded (or a shorter distance): a mediator without imbalance penalty is expanded once,
//!   as in a node search;
//! * the bound gives a node without penalty one label, as a node search does, and labels the
//!   entries of a mediator with a penalty when one of its outgoing edges is settled, scanning
//!   them again only for an outgoing edge that needs less than every earlier one. It compares
//!   estimates kept in the graph ([`PairEstimates`]) instead of following every channel's
//!   penalty, which can only make it a little looser.
//!
//! It still costs more than the node search's bound (1 to 4 ms against 0.4 ms on the 15k-node
//! network), so a request starts with the node search and switches when that struggles
//! ([`super::SearchMode::Adaptive`]).
//!
//! The bound never counts on turning back along the channel an entry came by, because the A*
//! never does (see `expand_entry`). Without that it could be far too low after a learnt dead
//! end: a walk in a dead end's state could, to the bound, step out to a neighbour and straight
//! back, leave the dead end's states and take the barred edge after all. On the generated
//! 15k-node network, the two requests whose set searches flooded (5.4 and 6.3 s, millions of
//! queue pops) had such a dead end one edge before the target: its state's bound was 4 units,
//! the rest without turning back 26. Counting it took them to 19 and 37 ms, with the same
//! answers. So a node without penalty keeps a second label for the one entry its first label
//! would send back (see `compute_entry_bounds`).
//!
//! A shortest *walk* under these rules may visit a node twice (enter a mediator, go round, and
//! enter it again by an edge with more slack). Such a walk is not a path: the caller then falls
//! back to the node search for that set (see `PathFinder::best_of_set`), which is exact for
//! paths and leaves the pair conditions to the validity check.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::super::graph::{EdgeIndex, NodeIndex};
use super::super::mediation_range::{PairEstimates, PairRule, Slack, incoming_slack, outgoing_need};
use super::bounds::{MAX_BOUND_STEP, PENALTY_NODE, UNDEFINED_STEP, UNREACHED};
use super::candidate::{Candidate, SetSearch};
use super::dead_ends::{CLEAR, TrieState};
use super::distance::Distance;
use super::hub_order::NO_CURSOR;
use super::node_search::NO_EDGE;
use super::{PathFinder, Query};

/// One entry state of the current run (valid when `stamp` is the run): the best distance of a
/// path from the start that ends with this edge, and the entry state before it ([`NO_EDGE`] for
/// the start).
///
/// Entry states are indexed by their edge, except the walks that follow two or more edges of a
/// dead end (see [`super::dead_ends`]): those have states of their own after the network's
/// edges, one per state of the dead-end automaton (see `PathFinder::entry_edge`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct EntryState {
    stamp: u32,
    settled: u32,
    predecessor: EdgeIndex,
    distance: Distance,
}

/// The first entry by which the A* expanded a node in the current run, per `cap_fees` of the
/// entry (valid when `run` is the run): later entries with no more slack and no shorter
/// distance can reach nothing it did not, except back along its channel (`turn_back`, which it
/// did not take: see `expand_entry`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Expanded {
    run: u32,
    distance: Distance,
    slack: Slack,
    turn_back: EdgeIndex,
}

impl Default for Expanded {
    fn default() -> Self {
        Self { run: 0, distance: Distance::default(), slack: Slack::Unlimited, turn_back: NO_EDGE }
    }
}

/// The pair-aware bound's labels of a node without imbalance penalty (see
/// `compute_entry_bounds`), kept together because the A* reads them together, once per edge
/// it pushes.
#[derive(Debug, Clone, Copy)]
pub(super) struct NodeBound {
    /// The bound of the rest of a path after any edge into the node but one: the edge back
    /// along `via`. [`PENALTY_NODE`] for a node with a penalty, [`UNREACHED`] if not labelled.
    first: u32,
    /// The edge out of the node by which `first` came (meaningless without a label).
    via: EdgeIndex,
    /// The bound after the edge into the node along `via`, which must leave by another
    /// neighbour; never below `first`.
    second: u32,
}

impl NodeBound {
    /// Before a bound computation: no labels, or [`PENALTY_NODE`] (see `node_bounds_start`).
    pub(super) fn start(first: u32) -> Self {
        Self { first, via: NO_EDGE, second: UNREACHED }
    }

    /// The label of the entry whose reverse is `back`.
    fn of_entry(self, back: EdgeIndex) -> u32 {
        if self.via == back { self.second } else { self.first }
    }
}

/// What an entry state of the pair-aware A* expands (see `PathFinder::entry_dominated`).
enum Expansion {
    /// Every edge out of its head.
    All,
    /// Only this edge: an earlier entry reaches everything else as cheaply.
    Only(EdgeIndex),
    /// Nothing.
    Nothing,
}

/// How far the bound has labelled the entries of a mediator with a penalty, per `cap_fees`
/// (valid when `dial` is the bound's run): every entry whose estimated slack covers `least_need`
/// (see [`super::super::mediation_range::PairEstimates`]) is labelled, except perhaps
/// `skipped`, the one entry that scan could not label because it came back along the
/// outgoing edge being settled ([`NO_EDGE`] if none is left).
#[derive(Debug, Clone, Copy)]
pub(super) struct ScanMark {
    dial: u32,
    least_need: u32,
    skipped: EdgeIndex,
}

impl Default for ScanMark {
    fn default() -> Self {
        Self { dial: 0, least_need: 0, skipped: NO_EDGE }
    }
}

/// An entry of the pair-aware A* frontier: an entry state reached at `reached` (`lazy` false),
/// or an edge to weigh and relax from the entry state `from` whose distance is `reached`.
/// Min-heap by `key`, then `reached` (see `Frontier` for why), then the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EntryFrontier {
    key: Distance,
    reached: Distance,
    edge: EdgeIndex,
    from: EdgeIndex,
    lazy: bool,
    /// [`NO_CURSOR`], or the cursor in `entry_hubs` of the next edge out of a hub that the
    /// entry state `from` expanded (`edge`; `key` is the least key that edge or any after it
    /// may have, see [`super::hub_order`]).
    cursor: u32,
}

impl EntryFrontier {
    /// The entry state `edge` reached at `reached`, with the estimated total `key`.
    fn state(key: Distance, reached: Distance, edge: EdgeIndex) -> Self {
        Self { key, reached, edge, from: NO_EDGE, lazy: false, cursor: NO_CURSOR }
    }

    /// The edge `edge` to weigh and relax from the entry state `from`, reached at `reached`,
    /// at hub position `cursor` (or [`NO_CURSOR`]).
    fn lazy(key: Distance, reached: Distance, edge: EdgeIndex, from: EdgeIndex, cursor: u32) -> Self {
        Self { key, reached, edge, from, lazy: true, cursor }
    }
}

impl Ord for EntryFrontier {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.key, other.reached, other.lazy, other.edge, other.from, other.cursor).cmp(&(
            self.key,
            self.reached,
            self.lazy,
            self.edge,
            self.from,
            self.cursor,
        ))
    }
}

impl PartialOrd for EntryFrontier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Which edges out of `node`, entered by `entry` (`None` at the start), a walk may take: those
/// its pair rule allows, except the edge back along the entry's channel (returned), which
/// returns to the node before. No path does that; a walk that did would not be a path, and the
/// set would need the node search (on the generated 15k-node network, a mediator that could not
/// forward to the target by its first entry but could after such a turn made hundreds of them
/// in one request).
fn exits(query: &Query<'_>, node: NodeIndex, entry: Option<EdgeIndex>) -> (PairRule, Option<usize>) {
    let turn_back = entry.map(|entry| query.network.topology.reverse[entry as usize] as usize);
    (PairRule::of(query.network, node, entry), turn_back)
}

/// A label of the pair-aware bound: the fewest edges with an undefined fee weight after the
/// edge (`layer`), then the least units of the finite ones, packed as `layer << 24 | units`
/// (comparing labels compares the pairs). Units saturate below `2^24`, which keeps labels
/// lower bounds.
fn label_of(layer: u32, units: u32) -> u32 {
    (layer.min(MAX_LAYER) << LAYER_SHIFT) | units.min(UNITS_LIMIT)
}

const LAYER_SHIFT: u32 = 24;
const UNITS_LIMIT: u32 = (1 << LAYER_SHIFT) - 1;
/// Layers above this count as this one (labels stay below [`PENALTY_NODE`]).
const MAX_LAYER: u32 = 0xFD;

/// The [`Distance`] a label stands for.
fn distance_of(label: u32) -> Distance {
    Distance::from_parts(u128::from(label >> LAYER_SHIFT), u128::from(label & UNITS_LIMIT) << 52)
}

/// A bucket item of the bound: a node without penalty whose first label is final when it is
/// settled ([`NODE_ITEM`] and the node), the same for its second label ([`SECOND_ITEM`] and the
/// node, see [`NodeBound`]), or an outgoing edge `x → m` of a mediator `x`
/// with a penalty (the edge alone: its estimated need and `x`'s `cap_fees` on it, which its
/// settling compares `x`'s entries with, are in its state).
type Item = u64;
const NODE_ITEM: Item = 1 << 63;
const SECOND_ITEM: Item = 1 << 62;

/// The work list of one bound computation.
struct Dial {
    buckets: Vec<Vec<Item>>,
    /// The dead-end automaton's states to settle, by their units (a ring like `buckets`).
    state_buckets: Vec<Vec<TrieState>>,
    /// The layer running.
    layer: u32,
    /// Entries with an undefined fee weight found by this layer, with the bound after them:
    /// the next layer starts from them.
    seeds: Vec<(u32, EdgeIndex)>,
    pending: usize,
    /// The least bound of a path from the source found by this layer.
    source_best: u32,
    /// Edges scanned so far (see [`super::SearchTuning::entry_bound_scan_limit`]).
    scanned: usize,
}

impl Dial {
    fn push(&mut self, units: u32, item: Item) {
        let ring = self.buckets.len();
        self.buckets[units as usize % ring].push(item);
        self.pending += 1;
    }

    fn push_state(&mut self, units: u32, state: TrieState) {
        let ring = self.state_buckets.len();
        self.state_buckets[units as usize % ring].push(state);
        self.pending += 1;
    }
}

impl PathFinder {
    /// Lower bounds of the rest of a path after each edge: a backwards Dial search from the
    /// target with the integer steps of `bound_steps`, in which an edge is followed back from an
    /// outgoing edge of a mediator only if the pair passes `pair_defined`.
    ///
    /// A path's length counts its edges with an undefined fee weight first (see [`Distance`]),
    /// and so does the bound: it runs in layers, layer `k` over the entries that need `k` such
    /// edges at least, each layer starting from the undefined entries the one before found
    /// (the pairs `(k, units)` add and compare like lengths, so each layer is a plain Dial
    /// search).
    ///
    /// The bound after an edge depends only on its head when the head has no imbalance penalty
    /// (every entry allows the same outgoing edges), except that no path turns back along the
    /// edge's channel: such nodes get one label (`node_bounds`, [`NodeBound::first`]), as in a
    /// node search, and the entry along the neighbour that label leaves by ([`NodeBound::via`])
    /// gets the best label by any other neighbour ([`NodeBound::second`]). Only the entries of mediators with a penalty
    /// are labelled one by one (`entry_bounds`, stored at the reverse edge), when an outgoing
    /// edge that their slack may cover is settled (not the entry back along that edge).
    ///
    /// The dead ends the request has learnt (see [`super::dead_ends`]) take part: a walk that
    /// follows part of one is a state of its own (`state_bounds`), labelled from the states it
    /// may step to (with the exact pair rule; an edge with an undefined fee weight counts
    /// [`MAX_BOUND_STEP`] units in the same layer, below any path through it), and an edge
    /// that starts a dead end is offered to the entries before it with the label of its state,
    /// not the label of its head. Without that, a path that must go round a dead end can lie
    /// far above its bound, and the A* settles everything within that gap.
    ///
    /// Stops when the frontier reaches the source's best bound in its layer, or after
    /// [`SearchTuning::entry_bound_scan_limit`](super::SearchTuning) edges (see
    /// `entry_heuristic` for what the bound of an edge not reached is then).
    pub(super) fn compute_entry_bounds(&mut self, query: &Query<'_>) {
        self.entry_bounds_stale = false;
        // The hubs' orders follow the bound.
        self.entry_hubs.reset(query.network.node_count());
        self.prepare_state_bounds(query);
        self.bound_target = query.target;
        let topology = &query.network.topology;
        self.entry_bounds.fill(UNREACHED);
        let nodes = query.network.node_count();
        for (bound, &start) in self.node_bounds[..nodes].iter_mut().zip(&self.node_bounds_start[..nodes]) {
            *bound = NodeBound::start(start);
        }
        self.entry_cap = None;
        self.dial = self.dial.wrapping_add(1);
        if self.dial == 0 {
            self.scan_marks.fill([ScanMark::default(); 2]);
            self.dial = 1;
        }
        let ring = MAX_BOUND_STEP as usize + 1;
        let mut dial = Dial {
            buckets: std::mem::take(&mut self.entry_buckets),
            state_buckets: std::mem::take(&mut self.state_buckets),
            layer: 0,
            seeds: std::mem::take(&mut self.entry_seeds),
            pending: 0,
            source_best: UNREACHED,
            scanned: 0,
        };
        for bucket in &mut dial.buckets {
            bucket.clear();
        }
        if dial.buckets.len() < ring {
            dial.buckets.resize_with(ring, Vec::new);
        }
        for bucket in &mut dial.state_buckets {
            bucket.clear();
        }
        if dial.state_buckets.len() < ring {
            dial.state_buckets.resize_with(ring, Vec::new);
        }
        // A walk in any state ends at the target.
        for index in self.states_at_node(query.target) {
            let state = self.states_at[index].1;
            self.state_bounds[usize::from(state)] = label_of(0, 0);
            dial.push_state(0, state);
        }
        dial.seeds.clear();
        let mut starts = std::mem::take(&mut self.entry_starts);
        starts.clear();
        // The entries of the target: nothing follows them. The last mediator forwards exactly
        // the value (see `mediation_possible`).
        for out_edge in topology.out_edges(query.target) {
            let tail = topology.target[out_edge];
            let edge_in = topology.reverse[out_edge];
            if tail == query.source || outgoing_need(query.network, edge_in).0 >= query.value {
                starts.push((0, out_edge as EdgeIndex));
            }
        }
        loop {
            // This layer's starts, in the order of their units, then everything they reach.
            let mut next_start = 0;
            let mut distance = 0u32;
            loop {
                while let Some(&(units, out_edge)) =
                    starts.get(next_start).filter(|(units, _)| *units <= distance)
                {
                    next_start += 1;
                    if dial.layer > 0 {
                        // The layer that found this start offered it to the dead-end states.
                        self.offer(query, out_edge as usize, units, true, &mut dial);
                    } else {
                        self.offer_entry(query, out_edge as usize, CLEAR, units, &mut dial);
                    }
                }
                if dial.source_best <= distance || dial.scanned >= self.tuning.entry_bound_scan_limit {
                    self.entry_cap = Some(label_of(dial.layer, distance));
                    break;
                }
                if dial.pending == 0 {
                    match starts.get(next_start) {
                        Some(&(units, _)) => {
                            distance = units;
                            continue;
                        }
                        None => break,
                    }
                }
                let slot = distance as usize % ring;
                while let Some(item) = dial.buckets[slot].pop() {
                    dial.pending -= 1;
                    self.settle(query, item, distance, &mut dial);
                }
                while let Some(state) = dial.state_buckets[slot].pop() {
                    dial.pending -= 1;
                    self.settle_state(query, state, distance, &mut dial);
                }
                distance += 1;
            }
            if self.entry_cap.is_some() || dial.seeds.is_empty() || dial.layer == MAX_LAYER {
                break;
            }
            std::mem::swap(&mut starts, &mut dial.seeds);
            dial.seeds.clear();
            starts.sort_unstable();
            dial.layer += 1;
        }
        self.entry_buckets = dial.buckets;
        self.state_buckets = dial.state_buckets;
        self.entry_seeds = dial.seeds;
        self.entry_starts = starts;
    }

    /// Offers the entry `x → m` (the reverse of `out_edge`), reached in the dead-end automaton's
    /// state `reached` with `units` of bound after it in this layer, to everything before it: the
    /// automaton's states at `x` that step into `reached` by it, and, when `reached` is the state
    /// its edge alone gives, `x` itself. Every labelled entry goes through here, so none can
    /// skip the dead-end states (the target's entries once did, and a state one edge before the
    /// target kept the frontier's bound).
    #[inline(always)]
    fn offer_entry(
        &mut self,
        query: &Query<'_>,
        out_edge: usize,
        reached: TrieState,
        units: u32,
        dial: &mut Dial,
    ) {
        if self.offer_to_states(query, out_edge, reached, units, dial) {
            self.offer(query, out_edge, units, false, dial);
        }
    }

    /// Offers the entry `x → m` (the reverse of `out_edge`, which leaves `m`), after which
    /// `units` of bound follow in this layer, to its tail `x`: the tail's label if it has no
    /// penalty, else the entry is queued to label `x`'s own entries when settled. An entry with
    /// an undefined fee weight goes to the next layer, unless it is one of this layer's starts
    /// (`counted`: the layer counts it already).
    fn offer(&mut self, query: &Query<'_>, out_edge: usize, units: u32, counted: bool, dial: &mut Dial) {
        let step = self.bound_steps[out_edge];
        let topology = &query.network.topology;
        let tail = topology.target[out_edge];
        if step == 0
            || tail == query.target
            || !query.online.contains_node(tail)
            // An edge that carries the value carries something, unless the value is zero.
            || (query.value.is_zero() && query.network.capacity(topology.reverse[out_edge]).is_zero())
        {
            return;
        }
        let step = match step {
            UNDEFINED_STEP if counted => 0,
            UNDEFINED_STEP => {
                dial.seeds.push((units, out_edge as EdgeIndex));
                return;
            }
            step => u32::from(step),
        };
        let reached = units + step;
        if tail == query.source {
            dial.source_best = dial.source_best.min(reached);
        }
        // The entry `x → m` as an edge out of `x`: the way by which `x` is offered this label.
        let via = topology.reverse[out_edge];
        let bound = &mut self.node_bounds[tail as usize];
        let offered = label_of(dial.layer, reached);
        if bound.first == PENALTY_NODE {
            if query.network.state(via).pair.need != PairEstimates::NO_PAIR {
                dial.push(reached, u64::from(via));
            }
        } else if offered < bound.first {
            // A first label by another neighbour becomes the second (it never exceeds it).
            if bound.first != UNREACHED && bound.via != via {
                bound.second = bound.first;
                dial.push(bound.first & UNITS_LIMIT, SECOND_ITEM | u64::from(tail));
            }
            bound.first = offered;
            bound.via = via;
            dial.push(reached, NODE_ITEM | u64::from(tail));
        } else if offered < bound.second && bound.via != via {
            bound.second = offered;
            dial.push(reached, SECOND_ITEM | u64::from(tail));
        }
    }

    /// Settles a bucket item at `units`: a node without penalty (if `units` is still its label)
    /// offers all its entries but the one its label came back by, and, settling its second
    /// label, that one; an edge out of a mediator with a penalty labels the entries of the
    /// mediator that may precede it, by the estimates of the pair conditions (a looser bound
    /// where an estimate lets a pair through, never a wrong one), but not the entry back along
    /// that edge, scanning them again only for an edge that needs less than every earlier one.
    fn settle(&mut self, query: &Query<'_>, item: Item, units: u32, dial: &mut Dial) {
        let network = query.network;
        let topology = &network.topology;
        if item & NODE_ITEM != 0 {
            let node = item as NodeIndex;
            // The source is never a mediator: a path that passed it again would not be simple.
            let bound = self.node_bounds[node as usize];
            if bound.first != label_of(dial.layer, units) || node == query.source {
                return;
            }
            let via = bound.via as usize;
            let out_edges = topology.out_edges(node);
            dial.scanned += out_edges.len();
            for out_edge in out_edges {
                if out_edge != via {
                    self.offer_entry(query, out_edge, CLEAR, units, dial);
                }
            }
            return;
        }
        if item & SECOND_ITEM != 0 {
            let node = item as NodeIndex;
            let bound = self.node_bounds[node as usize];
            if bound.second != label_of(dial.layer, units) || node == query.source {
                return;
            }
            dial.scanned += 1;
            self.offer_entry(query, bound.via as usize, CLEAR, units, dial);
            return;
        }
        let edge = item as EdgeIndex;
        let mediator = topology.target[topology.reverse[edge as usize] as usize];
        let PairEstimates { cap_fees, need, .. } = network.state(edge).pair;
        if mediator == query.source {
            return;
        }
        let mark = self.scan_marks[mediator as usize][usize::from(cap_fees)];
        if mark.dial == self.dial && mark.least_need <= need {
            // Every entry that may precede this edge was labelled by an earlier, shorter one,
            // but the one that earlier edge came back by, which this one may precede.
            let skipped = mark.skipped;
            if skipped != NO_EDGE && skipped != edge && self.waits_for_label(query, skipped, cap_fees, need) {
                self.scan_marks[mediator as usize][usize::from(cap_fees)].skipped = NO_EDGE;
                dial.scanned += 1;
                self.label_entry(query, skipped, units, dial);
            }
            return;
        }
        let mut skipped = NO_EDGE;
        let out_edges = topology.out_edges(mediator);
        dial.scanned += out_edges.len();
        for entry_out_edge in out_edges {
            let entry_out_edge = entry_out_edge as EdgeIndex;
            if !self.waits_for_label(query, entry_out_edge, cap_fees, need) {
                continue;
            }
            if entry_out_edge == edge {
                // The entry back along this edge: no path turns back.
                skipped = edge;
                continue;
            }
            self.label_entry(query, entry_out_edge, units, dial);
        }
        self.scan_marks[mediator as usize][usize::from(cap_fees)] =
            ScanMark { dial: self.dial, least_need: need, skipped };
    }

    /// Whether the entry of a mediator with a penalty whose reverse is `entry_out_edge` has no
    /// label yet and may precede an outgoing edge with `cap_fees` and the estimated `need`.
    fn waits_for_label(
        &self,
        query: &Query<'_>,
        entry_out_edge: EdgeIndex,
        cap_fees: bool,
        need: u32,
    ) -> bool {
        let mediator_side = query.network.state(entry_out_edge);
        self.entry_bounds[entry_out_edge as usize] == UNREACHED
            && mediator_side.pair.entry_may_precede(mediator_side.penalty_covers_capacity, cap_fees, need)
    }

    /// Labels the entry of a mediator with a penalty whose reverse is `entry_out_edge` with
    /// `units` in this layer, and offers it to everything before it.
    fn label_entry(&mut self, query: &Query<'_>, entry_out_edge: EdgeIndex, units: u32, dial: &mut Dial) {
        self.entry_bounds[entry_out_edge as usize] = label_of(dial.layer, units);
        self.offer_entry(query, entry_out_edge as usize, CLEAR, units, dial);
    }

    /// Readies the labels of the dead-end automaton's states for a bound computation.
    fn prepare_state_bounds(&mut self, query: &Query<'_>) {
        let topology = &query.network.topology;
        self.state_bounds_len = self.dead_ends.len();
        self.state_bounds.clear();
        self.state_bounds.resize(self.dead_ends.len(), UNREACHED);
        self.states_at.clear();
        let dead_ends = &self.dead_ends;
        self.states_at.extend(
            (1..dead_ends.len() as TrieState)
                .map(|state| (topology.target[dead_ends.last_edge(state) as usize], state)),
        );
        self.states_at.sort_unstable();
    }

    /// The indices in `states_at` of the dead-end automaton's states at `node`.
    fn states_at_node(&self, node: NodeIndex) -> std::ops::Range<usize> {
        let start = self.states_at.partition_point(|&(at, _)| at < node);
        let end = start + self.states_at[start..].partition_point(|&(at, _)| at == node);
        start..end
    }

    /// Settles the dead-end automaton's state `settled` at `units`: offers it to the walks
    /// that step into it by its last edge, the entries of that edge's tail if it is the
    /// state that edge alone gives, and the automaton's states at that tail.
    fn settle_state(&mut self, query: &Query<'_>, settled: TrieState, units: u32, dial: &mut Dial) {
        if self.state_bounds[usize::from(settled)] != label_of(dial.layer, units) {
            return;
        }
        let edge = self.dead_ends.last_edge(settled);
        let out_edge = query.network.topology.reverse[edge as usize] as usize;
        dial.scanned += 1;
        self.offer_entry(query, out_edge, settled, units, dial);
    }

    /// Offers the state `reached` of the entry `x → m` (the reverse of `out_edge`), after which
    /// `units` of bound follow in this layer, to the dead-end automaton's states at `x` that
    /// step into it by that edge. Returns whether the entry's state is `reached` when no dead
    /// end precedes it, that is whether the entries of `x` may be offered `units` too (an
    /// entry that starts a dead end is offered by its own state instead).
    #[inline(always)]
    fn offer_to_states(
        &mut self,
        query: &Query<'_>,
        out_edge: usize,
        reached: TrieState,
        units: u32,
        dial: &mut Dial,
    ) -> bool {
        // The bound scans edges by the thousand; nearly all lead off every dead end.
        if self.dead_ends.is_empty() || !self.near_dead_end(query.network.topology.target[out_edge]) {
            return true;
        }
        self.offer_to_states_near(query, out_edge, reached, units, dial)
    }

    /// `offer_to_states` for an edge whose tail lies on a dead end.
    fn offer_to_states_near(
        &mut self,
        query: &Query<'_>,
        out_edge: usize,
        reached: TrieState,
        units: u32,
        dial: &mut Dial,
    ) -> bool {
        let network = query.network;
        let tail = network.topology.target[out_edge];
        let edge = network.topology.reverse[out_edge];
        let plain = self.dead_ends.state_of_edge(edge) == reached;
        let states = self.states_at_node(tail);
        if states.is_empty() || tail == query.target || !query.online.contains_node(tail) {
            return plain;
        }
        let step = match self.bound_steps[out_edge] {
            0 => return plain,
            UNDEFINED_STEP => MAX_BOUND_STEP,
            step => u32::from(step),
        };
        let label = label_of(dial.layer, units + step);
        for index in states {
            let state = self.states_at[index].1;
            // A walk does not turn back along the edge it came by (see `expand_entry`).
            if self.dead_ends.last_edge(state) == out_edge as EdgeIndex
                || self.dead_ends.step(state, edge) != Some(reached)
                || self.state_bounds[usize::from(state)] <= label
                || !PairRule::of(network, tail, Some(self.dead_ends.last_edge(state))).allow(network, edge)
            {
                continue;
            }
            self.state_bounds[usize::from(state)] = label;
            dial.push_state(units + step, state);
        }
        plain
    }

    /// The bound of the rest of a path after `edge`, or `None` if no path that passes every
    /// pair condition leads from it to the target. When the bound's search stopped early, an
    /// edge it did not reach is at least as far as its frontier was (`entry_cap`; so is a label
    /// not settled yet).
    pub(super) fn entry_heuristic(&self, network: &super::ChannelGraph, edge: EdgeIndex) -> Option<Distance> {
        let topology = &network.topology;
        let head = topology.target[edge as usize];
        let back = topology.reverse[edge as usize];
        let bound = self.node_bounds[head as usize];
        let label = match bound.first {
            _ if head == self.bound_target => 0,
            PENALTY_NODE => self.entry_bounds[back as usize],
            // The head's first label may come back along this edge: the path cannot.
            _ => bound.of_entry(back),
        };
        match (label, self.entry_cap) {
            (UNREACHED, None) => None,
            (label, None) => Some(distance_of(label)),
            (label, Some(cap)) => Some(distance_of(label.min(cap))),
        }
    }

    /// The bound of the rest of a path after an entry state whose edge is `edge` and whose walk
    /// is in the dead-end automaton's state `trie` (see `entry_heuristic`; a walk that follows
    /// part of a dead end has a bound of its own).
    #[inline]
    fn entry_state_heuristic(&self, query: &Query<'_>, trie: TrieState, edge: EdgeIndex) -> Option<Distance> {
        if trie == CLEAR {
            return self.entry_heuristic(query.network, edge);
        }
        let trie = self.dead_ends.known_by(trie, self.state_bounds_len);
        if trie == CLEAR {
            return self.entry_heuristic(query.network, edge);
        }
        match (self.state_bounds[usize::from(trie)], self.entry_cap) {
            (UNREACHED, None) => None,
            (label, None) => Some(distance_of(label)),
            (label, Some(cap)) => Some(distance_of(label.min(cap))),
        }
    }

    /// A* over entry states from `start` (reached by `entry`, the root's last edge, at
    /// `start_distance`, the root's walk leaving the dead-end automaton in `start_state`) to the
    /// target, avoiding the nodes and edges blocked in the current run and the known dead ends;
    /// ties keep the lexicographically smaller path.
    ///
    /// With `check_undefined`, a search that has not reached the target after
    /// [`SearchTuning::undefined_check_after_pops`](super::SearchTuning) queue pops counts the
    /// edges with an undefined fee weight that a path of the set needs (see
    /// `PathFinder::undefined_floor`); and any search may give its set back to the queue (see
    /// `PathFinder::yield_to_queue`).
    pub(super) fn shortest_path_by_entry(
        &mut self,
        query: &Query<'_>,
        start: NodeIndex,
        entry: Option<EdgeIndex>,
        start_distance: Distance,
        start_state: TrieState,
        check_undefined: bool,
    ) -> SetSearch {
        let run = self.run;
        let topology = &query.network.topology;
        let mut heap = std::mem::take(&mut self.entry_heap);
        heap.clear();
        let from_start = Reached { state: NO_EDGE, entry, trie: start_state, distance: start_distance };
        self.expand_entry(query, &mut heap, start, from_start, start, None);
        let mut found: Option<EdgeIndex> = None;
        let mut pops = 0u64;
        let mut check_undefined = check_undefined;
        let gave_up = 'search: {
            while let Some(EntryFrontier { key, reached, edge, from, lazy, cursor }) = heap.pop() {
                self.queue_pops += 1;
                pops += 1;
                if self.out_of_budget(query) {
                    break 'search Some(SetSearch::OutOfBudget);
                }
                if self.entry_bounds_stale && pops > self.tuning.stale_bound_after_pops {
                    break 'search Some(SetSearch::StaleBound);
                }
                let last_edge = self.entry_edge(query, edge);
                let at_target = !lazy && topology.target[last_edge as usize] == query.target;
                if let Some(last) = found {
                    // Other edges into the target may end paths of the same total (each is a
                    // state of its own): take the lexicographically smallest.
                    if key > self.entry_states[last as usize].distance {
                        break;
                    }
                } else if at_target {
                    // The search has its answer: it neither yields nor counts.
                } else if let Some(outcome) = self.yield_to_queue(pops, key) {
                    break 'search Some(outcome);
                } else if check_undefined && pops > self.tuning.undefined_check_after_pops {
                    check_undefined = false;
                    if let Some(outcome) = self.undefined_floor(query, start, start_distance, key) {
                        break 'search Some(outcome);
                    }
                }
                if cursor != NO_CURSOR {
                    self.advance_hub_cursor(query, &mut heap, cursor, from, reached, start);
                    continue;
                }
                let index = edge as usize;
                if self.entry_states[index].settled == run {
                    continue;
                }
                if lazy {
                    if let Some(weight) = self.weight(query, last_edge) {
                        let trie = self.entry_trie_state(query, edge);
                        if let Some(heuristic) = self.entry_state_heuristic(query, trie, last_edge) {
                            self.relax_entry(
                                query,
                                &mut heap,
                                edge,
                                from,
                                reached.plus(weight),
                                start,
                                heuristic,
                            );
                        }
                    }
                    continue;
                }
                if reached != self.entry_states[index].distance {
                    continue;
                }
                self.entry_states[index].settled = run;
                let head = topology.target[last_edge as usize];
                if head == query.target {
                    found = match found {
                        Some(last) if !self.entry_path_smaller(query, edge, last, start) => Some(last),
                        _ => Some(edge),
                    };
                    continue;
                }
                let only = match self.entry_dominated(query, edge, reached) {
                    Expansion::All => None,
                    Expansion::Only(out_edge) => Some(out_edge),
                    Expansion::Nothing => continue,
                };
                let trie = self.entry_trie_state(query, edge);
                let from = Reached { state: edge, entry: Some(last_edge), trie, distance: reached };
                self.expand_entry(query, &mut heap, head, from, start, only);
            }
            None
        };
        self.entry_heap = heap;
        if let Some(outcome) = gave_up {
            return outcome;
        }
        let Some(last) = found else {
            return SetSearch::NoPath;
        };
        let mut edges = Vec::new();
        let mut edge = last;
        while edge != NO_EDGE {
            edges.push(self.entry_edge(query, edge));
            edge = self.entry_states[edge as usize].predecessor;
        }
        edges.reverse();
        let mut nodes = Vec::with_capacity(edges.len() + 1);
        nodes.push(start);
        nodes.extend(edges.iter().map(|&edge| topology.target[edge as usize]));
        let simple = nodes.iter().enumerate().all(|(index, node)| !nodes[..index].contains(node));
        if !simple {
            return SetSearch::NotSimple;
        }
        SetSearch::Found(Candidate::found(self.entry_states[last as usize].distance, nodes, edges))
    }

    /// What the entry state `edge` (settled at `distance`) must expand: everything, unless an
    /// entry of its head expanded before reaches as cheaply all it could reach, which leaves
    /// only the edge that entry could not take (back along its own channel). Records the entry
    /// if it is the head's first.
    ///
    /// Only entries that follow no dead end take part: one that follows part of a dead end may
    /// not take every edge the head's first entry could, so it expands everything and is not
    /// recorded.
    fn entry_dominated(&mut self, query: &Query<'_>, state: EdgeIndex, distance: Distance) -> Expansion {
        let network = query.network;
        let edge = self.entry_edge(query, state);
        let head = network.topology.target[edge as usize];
        let backward = network.topology.reverse[edge as usize];
        // An entry that breaks every pair condition leads nowhere.
        if network.capacity(edge).is_zero() || !network.state(backward).penalty_covers_capacity {
            return Expansion::Nothing;
        }
        if self.entry_trie_state(query, state) != CLEAR {
            return Expansion::All;
        }
        let (slack, cap_fees) = match network.penalty_free_cap_fees(head) {
            Some(cap_fees) => (Slack::Unlimited, cap_fees),
            None => incoming_slack(network, edge),
        };
        let record = &mut self.expanded[head as usize][usize::from(cap_fees)];
        if record.run == self.run {
            return if record.distance < distance && record.slack >= slack {
                Expansion::Only(record.turn_back)
            } else {
                Expansion::All
            };
        }
        *record = Expanded { run: self.run, distance, slack, turn_back: backward };
        Expansion::All
    }

    /// Queues the edges out of `node` (only `only`, if given), reached as `from` says, except
    /// those that would complete a dead end.
    fn expand_entry(
        &mut self,
        query: &Query<'_>,
        heap: &mut BinaryHeap<EntryFrontier>,
        node: NodeIndex,
        from: Reached,
        start: NodeIndex,
        only: Option<EdgeIndex>,
    ) {
        let topology = &query.network.topology;
        let Reached { state, entry, trie, distance } = from;
        // Out of a node off every dead end, in state CLEAR, every step stays in CLEAR.
        let watch_dead_ends = !self.dead_ends.is_empty() && (trie != CLEAR || self.near_dead_end(node));
        let edges = match only {
            Some(edge) => edge as usize..edge as usize + 1,
            None => topology.out_edges(node),
        };
        if only.is_none() && !watch_dead_ends && state != NO_EDGE && edges.len() >= self.tuning.hub_min_edges
        {
            // A hub: its edges in the order of their least keys, one at a time.
            if let Some((cursor, least, edge)) = self.first_hub_cursor(
                query,
                node,
                |finder| &mut finder.entry_hubs,
                |finder, edge| finder.entry_heuristic(query.network, edge),
            ) {
                heap.push(EntryFrontier::lazy(distance.plus(least), distance, edge, state, cursor));
            }
            return;
        }
        let (pairs, turn_back) = exits(query, node, entry);
        for edge in edges {
            self.offer_edge(query, heap, edge, from, &pairs, turn_back, watch_dead_ends, start);
        }
    }

    /// Queues the edge `edge` out of the head of the entry state `from.state` (which allows
    /// `pairs`, and came along the reverse of `turn_back`), unless it would complete a dead end
    /// or the run rules it out.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn offer_edge(
        &mut self,
        query: &Query<'_>,
        heap: &mut BinaryHeap<EntryFrontier>,
        edge: usize,
        from: Reached,
        pairs: &PairRule,
        turn_back: Option<usize>,
        watch_dead_ends: bool,
        start: NodeIndex,
    ) {
        let run = self.run;
        let network = query.network;
        let topology = &network.topology;
        let Reached { state: from, trie, distance: reached, .. } = from;
        let head = topology.target[edge];
        if self.blocked(head) || self.edge_blocked[edge] == run || turn_back == Some(edge) {
            return;
        }
        let edge = edge as EdgeIndex;
        let (next, next_trie) = if !watch_dead_ends {
            (edge, CLEAR)
        } else {
            match self.dead_ends.step(trie, edge) {
                None => return,
                Some(next) if self.dead_ends.needs_own_entry(next) => {
                    ((topology.target.len() + usize::from(next)) as EdgeIndex, next)
                }
                Some(next) => (edge, next),
            }
        };
        if self.entry_states[next as usize].settled == run || !pairs.allow(network, edge) {
            return;
        }
        let Some(heuristic) = self.entry_state_heuristic(query, next_trie, edge) else {
            return;
        };
        let Some((bound, exact)) = self.weight_bound(query, edge) else {
            return;
        };
        if exact {
            self.relax_entry(query, heap, next, from, reached.plus(bound), start, heuristic);
        } else {
            heap.push(EntryFrontier::lazy(
                reached.plus(bound).plus(heuristic),
                reached,
                next,
                from,
                NO_CURSOR,
            ));
        }
    }

    /// Takes the hub cursor at `cursor` of the entry state `from` (reached at `reached`): queues
    /// the next edge's cursor, then offers this edge as `expand_entry` would have.
    fn advance_hub_cursor(
        &mut self,
        query: &Query<'_>,
        heap: &mut BinaryHeap<EntryFrontier>,
        cursor: u32,
        from: EdgeIndex,
        reached: Distance,
        start: NodeIndex,
    ) {
        let topology = &query.network.topology;
        let entry = self.entry_edge(query, from);
        let hub = topology.target[entry as usize];
        let (edge, rest) = self.entry_hubs.at(hub, cursor);
        if let Some((next, least, next_edge)) = rest {
            heap.push(EntryFrontier::lazy(reached.plus(least), reached, next_edge, from, next));
        }
        let (pairs, turn_back) = exits(query, hub, Some(entry));
        let from = Reached { state: from, entry: Some(entry), trie: CLEAR, distance: reached };
        self.offer_edge(query, heap, edge as usize, from, &pairs, turn_back, false, start);
    }

    /// Offers `distance` by way of the entry state `from` to the entry state `edge`, whose
    /// heuristic is `heuristic`.
    #[allow(clippy::too_many_arguments)]
    fn relax_entry(
        &mut self,
        query: &Query<'_>,
        heap: &mut BinaryHeap<EntryFrontier>,
        edge: EdgeIndex,
        from: EdgeIndex,
        distance: Distance,
        start: NodeIndex,
        heuristic: Distance,
    ) {
        let index = edge as usize;
        let state = self.entry_states[index];
        let improves = if state.stamp != self.run {
            true
        } else {
            match distance.cmp(&state.distance) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => self.entry_path_smaller(query, from, state.predecessor, start),
            }
        };
        if improves {
            self.entry_states[index] =
                EntryState { stamp: self.run, settled: 0, predecessor: from, distance };
            heap.push(EntryFrontier::state(distance.plus(heuristic), distance, edge));
        }
    }

    /// Whether the path to the entry state `left` is lexicographically smaller than the path to
    /// `right` (both end at the same node; [`NO_EDGE`] is the start alone).
    fn entry_path_smaller(
        &mut self,
        query: &Query<'_>,
        left: EdgeIndex,
        right: EdgeIndex,
        start: NodeIndex,
    ) -> bool {
        let mut left_nodes = std::mem::take(&mut self.tie_left);
        let mut right_nodes = std::mem::take(&mut self.tie_right);
        self.collect_entry_path(query, left, start, &mut left_nodes);
        self.collect_entry_path(query, right, start, &mut right_nodes);
        let smaller = left_nodes < right_nodes;
        self.tie_left = left_nodes;
        self.tie_right = right_nodes;
        smaller
    }

    fn collect_entry_path(
        &self,
        query: &Query<'_>,
        last: EdgeIndex,
        start: NodeIndex,
        into: &mut Vec<NodeIndex>,
    ) {
        into.clear();
        let mut edge = last;
        while edge != NO_EDGE {
            into.push(query.network.topology.target[self.entry_edge(query, edge) as usize]);
            edge = self.entry_states[edge as usize].predecessor;
        }
        into.push(start);
        into.reverse();
    }

    /// The edge the entry state `state` ends with.
    pub(super) fn entry_edge(&self, query: &Query<'_>, state: EdgeIndex) -> EdgeIndex {
        let edges = query.network.topology.target.len();
        match (state as usize).checked_sub(edges) {
            Some(own) => self.dead_ends.last_edge(own as TrieState),
            None => state,
        }
    }

    /// The dead-end automaton's state of the walks that reach the entry state `state`.
    fn entry_trie_state(&self, query: &Query<'_>, state: EdgeIndex) -> TrieState {
        let edges = query.network.topology.target.len();
        match (state as usize).checked_sub(edges) {
            Some(own) => own as TrieState,
            None => self.dead_ends.state_of_edge(state),
        }
    }
}

/// How the pair-aware A* reached a node it expands: by the entry state `state` ([`NO_EDGE`] at
/// the start), whose edge is `entry` (the root's last edge at the start, if any), in the
/// dead-end automaton's state `trie`, at `distance`.
#[derive(Debug, Clone, Copy)]
struct Reached {
    state: EdgeIndex,
    entry: Option<EdgeIndex>,
    trie: TrieState,
    distance: Distance,
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    use super::super::super::graph::ChannelDescription;
    use super::super::Distance;
    use super::super::test_network::{channel, from_1_to_9};
    use crate::FeeSchedule;

    /// 1 → 2 → 3 → 4 → 9 is the shortest way, but 4 charges 5 towards 9, which 2's channel to 3
    /// (12) cannot bring in for a value of 10: its last three edges are a dead end. From 3 the
    /// way round it is 3 → 5 → 6 → 9; 1 → 20 → 21 → 22 → 23 → 9 is another way (long enough for
    /// the bound, which stops at the source's label, to reach 2 first).
    fn a_dead_end_with_a_way_round() -> Vec<ChannelDescription> {
        let mut channels = vec![
            channel(1, 1, 2, 100),
            channel(2, 2, 3, 12),
            channel(3, 3, 4, 100),
            ChannelDescription {
                fee_schedule1: FeeSchedule { flat: U256::from(5), ..FeeSchedule::default() },
                ..channel(4, 4, 9, 100)
            },
        ];
        for (id, pair) in (5..).zip([[3, 5], [5, 6], [6, 9], [1, 20], [20, 21], [21, 22], [22, 23], [23, 9]])
        {
            channels.push(channel(id, pair[0], pair[1], 100));
        }
        channels
    }

    /// The pair-aware bound after the edge `from → to` (in the state its edge alone gives) once
    /// the request knows `dead_ends` (runs of nodes), on [`a_dead_end_with_a_way_round`].
    fn bound_after(from: u8, to: u8, dead_ends: &[&[u8]]) -> Option<Distance> {
        bound_after_on(&a_dead_end_with_a_way_round(), from, to, dead_ends)
    }

    /// [`bound_after`] on `channels`, from 1 to 9.
    fn bound_after_on(
        channels: &[ChannelDescription],
        from: u8,
        to: u8,
        dead_ends: &[&[u8]],
    ) -> Option<Distance> {
        bound_after_walk_on(channels, &[from, to], dead_ends)
    }

    /// The pair-aware bound after the walk `walk` (a run of nodes, in the dead-end automaton's
    /// state it leads to) once the request knows `dead_ends`, on `channels`, from 1 to 9;
    /// `None` also if the walk completes a dead end.
    fn bound_after_walk_on(
        channels: &[ChannelDescription],
        walk: &[u8],
        dead_ends: &[&[u8]],
    ) -> Option<Distance> {
        from_1_to_9(channels, |finder, query, nodes| {
            finder.dead_ends.clear();
            for run in dead_ends {
                let edges: Vec<_> = run.windows(2).map(|pair| nodes.edge(pair[0], pair[1])).collect();
                let run: Vec<_> = run.iter().map(|&byte| nodes.index(byte)).collect();
                finder.learn_dead_end(&run, &edges);
            }
            finder.switch_to_pair_aware(query);
            let walk: Vec<_> = walk.windows(2).map(|pair| nodes.edge(pair[0], pair[1])).collect();
            let state = finder.dead_ends.state_after(&walk)?;
            finder.entry_state_heuristic(query, state, *walk.last().expect("a walk of one edge at least"))
        })
    }

    #[test]
    fn the_bound_counts_the_way_round_a_dead_end() {
        // Unaware: 2 → 3 → 4 → 9. Aware: 2 → 3 → 5 → 6 → 9.
        assert_eq!(bound_after(1, 2, &[]), Some(Distance::of_hops(3)));
        assert_eq!(bound_after(1, 2, &[&[2, 3, 4, 9]]), Some(Distance::of_hops(4)));
    }

    #[test]
    fn an_edge_that_starts_a_dead_end_has_the_bound_of_its_state() {
        // After 2 → 3 in the dead end's first state: 3 → 5 → 6 → 9, not 3 → 4 → 9.
        assert_eq!(bound_after(2, 3, &[]), Some(Distance::of_hops(2)));
        assert_eq!(bound_after(2, 3, &[&[2, 3, 4, 9]]), Some(Distance::of_hops(3)));
        // Entered otherwise, 3 is as far from the target as before.
        assert_eq!(bound_after(5, 3, &[&[2, 3, 4, 9]]), Some(Distance::of_hops(2)));
    }

    #[test]
    fn an_entry_is_not_bounded_by_the_way_back_along_its_own_channel() {
        // 3's nearest way to the target is 3 → 4 → 9; entered from 4, the walk cannot go back
        // to 4, so its rest is 3 → 5 → 6 → 9. Entered from 5, 3 → 4 → 9 is open.
        assert_eq!(bound_after(4, 3, &[]), Some(Distance::of_hops(3)));
        assert_eq!(bound_after(5, 3, &[]), Some(Distance::of_hops(2)));
    }

    #[test]
    fn a_dead_end_state_is_not_bounded_by_leaving_and_coming_back() {
        // After 2 → 3 → 4 the dead end bars 4 → 9, and 4's only other edge goes back to 3.
        // Stepping back to 3 and in again would leave the dead end's states and open 4 → 9, but
        // no walk turns back: nothing after 2 → 3 → 4 reaches the target. The state gets no
        // label, so its bound is where the bound's search stopped: the source's 5 hops
        // (1 → 20 → 21 → 22 → 23 → 9), not 3 (4 → 3 → 4 → 9).
        assert_eq!(bound_after(3, 4, &[]), Some(Distance::of_hops(1)));
        let walk = [2, 3, 4];
        assert_eq!(
            bound_after_walk_on(&a_dead_end_with_a_way_round(), &walk, &[&[2, 3, 4, 9]]),
            Some(Distance::of_hops(5))
        );
    }

    #[test]
    fn a_dead_end_state_one_edge_before_the_target_has_the_bound_of_that_edge() {
        // 1 → 2 → 3 → 9, and 3 → 4 → 9 beside the last edge. With 2 → 3 → 4 → 9 a dead end, a walk
        // that came to 3 by 2 → 3 may still end with 3 → 9, an entry of the target.
        let channels: Vec<_> = (1..)
            .zip([[1, 2], [2, 3], [3, 9], [3, 4], [4, 9]])
            .map(|(id, pair)| channel(id, pair[0], pair[1], 100))
            .collect();
        let dead_end: &[u8] = &[2, 3, 4, 9];
        assert_eq!(bound_after_on(&channels, 2, 3, &[dead_end]), Some(Distance::of_hops(1)));
        assert_eq!(bound_after_on(&channels, 1, 2, &[dead_end]), Some(Distance::of_hops(2)));
    }
}
