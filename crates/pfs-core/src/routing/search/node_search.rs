//! The node search: an A* over nodes from a set's spur node to the target, with lazily weighed
//! edges and the lexicographic tie-break of "Order" (see the `search` module docs), exact for
//! paths; and the checks by which a set's search gives up or gives its set back.

use std::cmp::Ordering;

use super::super::graph::{EdgeIndex, NodeIndex};
use super::candidate::{Candidate, SetSearch};
use super::distance::Distance;
use super::edge_flags::{USABLE, WEIGHT_MAY_BE_FINITE};
use super::hub_order::NO_CURSOR;
use super::{PathFinder, Query, SearchMode};

/// How many edges `PathFinder::meet` scans at most before it leaves the question to the full
/// count (which scans up to every edge).
const MEET_SCAN_LIMIT: usize = 16_384;

/// Which edges `PathFinder::meet` walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ways {
    /// Those whose fee weight may be finite.
    Finite,
    /// Every usable one.
    Any,
}

/// How `PathFinder::meet` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meeting {
    /// The two sides met: there is such a path.
    Met,
    /// One side ran out of nodes before they met: there is no such path.
    RanDry,
    /// It scanned its limit first: either may be.
    GaveUp,
}

/// How many edges `PathFinder::meet` scans at most when it looks for any way at all. It runs
/// before every count, to catch a set cut off near the target, whose side runs dry within a
/// few nodes; when the set has a way, the search only costs. On the generated 15k-node network,
/// with the 16,384 of [`MEET_SCAN_LIMIT`] a tight-edge request (thousands of counts) took 0.43
/// and 0.57 s against 0.34 s without the search; 64 to 1,024 gave the same times within the
/// noise.
const DRY_SCAN_LIMIT: usize = 1_024;

/// An entry of the A* frontier: a node reached with exact distance `reached`, or an edge whose
/// exact weight is not computed yet (`edge != NO_EDGE`; `reached` is then its tail's distance).
/// Min-heap by estimated total `key`, then `reached`, then node, then edge: among equal keys the
/// entry closer to the start comes first, so every predecessor of a node on an equally long path
/// is relaxed before the node is settled (which the lexicographic tie-break relies on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Frontier {
    key: Distance,
    reached: Distance,
    node: NodeIndex,
    edge: EdgeIndex,
    /// [`NO_CURSOR`], or the cursor in `node_hubs` of `edge`, the next edge out of the hub
    /// `node` (`key` is the least key that edge or any after it may have, see
    /// [`super::hub_order`]).
    cursor: u32,
}

pub(super) const NO_EDGE: EdgeIndex = EdgeIndex::MAX;

impl Ord for Frontier {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.key, other.reached, other.node, other.edge, other.cursor).cmp(&(
            self.key,
            self.reached,
            self.node,
            self.edge,
            self.cursor,
        ))
    }
}

impl PartialOrd for Frontier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PathFinder {
    /// Relaxes `edge` (tail at exact distance `reached`, exact `weight`).
    fn relax(
        &mut self,
        topology: &super::super::graph::Topology,
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
                cursor: NO_CURSOR,
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
    ///
    /// [`SearchTuning::undefined_check_after_pops`]: super::SearchTuning::undefined_check_after_pops
    /// [`SearchTuning::node_search_pops`]: super::SearchTuning::node_search_pops
    pub(super) fn shortest_path(
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
            cursor: NO_CURSOR,
        });
        let mut found = false;
        while let Some(Frontier { key, reached, node, edge, cursor }) = self.heap.pop() {
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
            if cursor != NO_CURSOR {
                let (edge, rest) = self.node_hubs.at(node, cursor);
                if let Some((next, least, next_edge)) = rest {
                    self.heap.push(Frontier {
                        key: reached.plus(least),
                        reached,
                        node,
                        edge: next_edge,
                        cursor: next,
                    });
                }
                self.offer_node_edge(query, edge as usize, node, reached, start);
                continue;
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
            let edges = topology.out_edges(node);
            if edges.len() >= self.tuning.hub_min_edges {
                // A hub: its edges in the order of their least keys, one at a time.
                if let Some((cursor, least, edge)) = self.first_hub_cursor(
                    query,
                    node,
                    |finder| &mut finder.node_hubs,
                    |finder, edge| finder.heuristic(topology.target[edge as usize]),
                ) {
                    self.heap.push(Frontier { key: reached.plus(least), reached, node, edge, cursor });
                }
                continue;
            }
            for edge in edges {
                self.offer_node_edge(query, edge, node, reached, start);
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

    /// Queues the edge `edge` out of `node` (settled at `reached`), unless the run rules it out.
    #[inline]
    fn offer_node_edge(
        &mut self,
        query: &Query<'_>,
        edge: usize,
        node: NodeIndex,
        reached: Distance,
        start: NodeIndex,
    ) {
        let run = self.run;
        let topology = &query.network.topology;
        let head = topology.target[edge];
        if self.blocked(head)
            || self.node_states[head as usize].settled == run
            || self.edge_blocked[edge] == run
        {
            return;
        }
        let Some(head_heuristic) = self.heuristic(head) else {
            return;
        };
        let Some((bound, exact)) = self.weight_bound(query, edge as EdgeIndex) else {
            return;
        };
        if exact {
            self.relax(topology, edge as EdgeIndex, reached, bound, start);
        } else {
            self.heap.push(Frontier {
                key: reached.plus(bound).plus(head_heuristic),
                reached,
                node,
                edge: edge as EdgeIndex,
                cursor: NO_CURSOR,
            });
        }
    }

    /// Whether a set's search that has taken `pops` queue pops and pops `key` now should give
    /// its set back to the queue (see [`SearchTuning::yield_after_pops`]).
    ///
    /// [`SearchTuning::yield_after_pops`]: super::SearchTuning::yield_after_pops
    pub(super) fn yield_to_queue(&self, pops: u64, key: Distance) -> Option<SetSearch> {
        let (next, patience) = self.yield_to?;
        (pops > patience && key > next).then_some(SetSearch::Yielded { floor: key, pops })
    }

    /// Whether a set's search, popping `key` after a while without reaching the target, should
    /// give up: [`SetSearch::NoPath`] if no path of the set reaches the target at all, or
    /// [`SetSearch::AtLeast`] if its paths need more edges with an undefined fee weight than
    /// `key` says (the searches' bounds ignore the set's blocked nodes and edges, so they may
    /// count fewer). The search would otherwise settle every state that the fewer undefined
    /// edges reach before it finds the set's best path, if any. `None`: go on.
    pub(super) fn undefined_floor(
        &mut self,
        query: &Query<'_>,
        start: NodeIndex,
        start_distance: Distance,
        key: Distance,
    ) -> Option<SetSearch> {
        // While the bound counts no more undefined edges than the root has, a path that needs
        // none usually exists, and a search from both ends finds one after a few nodes where
        // the count scans much of the network. (Once the bound counts more, none exists, and
        // that search would only run until it gave up.)
        if key.undefined_edges() == start_distance.undefined_edges()
            && self.meet(query, start, Ways::Finite) == Meeting::Met
        {
            return None;
        }
        // A set without any path usually has its way to the target cut off near the target
        // (by its root's nodes): the target's side of a search from both ends runs dry after a
        // few nodes, where the count would scan everything the start reaches.
        if self.meet(query, start, Ways::Any) == Meeting::RanDry {
            return Some(SetSearch::NoPath);
        }
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
        let stamp = self.next_reach_stamp();
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
                    || self.blocked(head)
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

    /// A search from both ends for a path from `start` to the target over `ways`, among the
    /// edges and nodes that `fewest_undefined` may take, which scans at most
    /// [`MEET_SCAN_LIMIT`] edges ([`DRY_SCAN_LIMIT`] for any way). The side with the shorter
    /// queue goes on, so a side that is cut off runs dry after about as many nodes as it
    /// reaches.
    fn meet(&mut self, query: &Query<'_>, start: NodeIndex, ways: Ways) -> Meeting {
        let topology = &query.network.topology;
        let (forward, backward) = (self.next_reach_stamp(), self.next_reach_stamp());
        let run = self.run;
        let mut ahead = std::mem::take(&mut self.meet_ahead);
        let mut behind = std::mem::take(&mut self.meet_behind);
        ahead.clear();
        behind.clear();
        self.node_reached[start as usize] = (forward, 0);
        self.node_reached[query.target as usize] = (backward, 0);
        ahead.push_back(start);
        behind.push_back(query.target);
        let required = match ways {
            Ways::Finite => USABLE | WEIGHT_MAY_BE_FINITE,
            Ways::Any => USABLE,
        };
        let walkable = |finder: &Self, edge: usize| {
            finder.edge_flags[edge] & required == required && finder.edge_blocked[edge] != run
        };
        let open = |finder: &Self, node: NodeIndex| !finder.blocked(node) && query.online.contains_node(node);
        let limit = match ways {
            Ways::Finite => MEET_SCAN_LIMIT,
            Ways::Any => DRY_SCAN_LIMIT,
        };
        let mut scanned = 0usize;
        let meeting = 'search: loop {
            let (from_start, node) = match (ahead.len() <= behind.len(), ahead.front(), behind.front()) {
                (_, None, _) | (_, _, None) => break Meeting::RanDry,
                _ if scanned > limit => break Meeting::GaveUp,
                (true, Some(&node), _) => (true, node),
                (false, _, Some(&node)) => (false, node),
            };
            let (own, other, queue) =
                if from_start { (forward, backward, &mut ahead) } else { (backward, forward, &mut behind) };
            queue.pop_front();
            let edges = topology.out_edges(node);
            scanned += edges.len();
            for out_edge in edges {
                // From the target's side, an edge out of `node` stands for its reverse
                // `next → node`.
                let walked = if from_start { out_edge } else { topology.reverse[out_edge] as usize };
                let next = topology.target[out_edge];
                if !walkable(self, walked) || self.node_reached[next as usize].0 == own {
                    continue;
                }
                if self.node_reached[next as usize].0 == other {
                    break 'search Meeting::Met;
                }
                if open(self, next) {
                    self.node_reached[next as usize] = (own, 0);
                    queue.push_back(next);
                }
            }
        };
        self.meet_ahead = ahead;
        self.meet_behind = behind;
        meeting
    }

    /// A fresh stamp for `node_reached`.
    fn next_reach_stamp(&mut self) -> u32 {
        self.reach_stamp = self.reach_stamp.wrapping_add(1);
        if self.reach_stamp == 0 {
            self.node_reached.fill((0, 0));
            self.reach_stamp = 1;
        }
        self.reach_stamp
    }

    /// Whether the path to `via` followed by `head` is lexicographically smaller than the current
    /// path to `head` (both start at `start`).
    fn lexicographically_smaller(
        &mut self,
        topology: &super::super::graph::Topology,
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
        topology: &super::super::graph::Topology,
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
