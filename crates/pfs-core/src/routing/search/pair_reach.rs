//! Whether a set has any way to the target that passes the mediators' pair conditions
//! (`PathFinder::pair_way`): a search from both ends over the edges by which walks enter
//! nodes, for the pair-aware search to drop a set that has none before it settles everything
//! the set's start reaches.
//!
//! Why it is needed: the pair-aware A* proves that a set has no path only by running dry, and
//! the ways it may take ignore nothing but the blocked root. A set whose spur node lies in a
//! narrow approach to the target (on the generated 15k-node network, requests whose paths all
//! end with the same five or six edges) is cut off by its own root: the rest of the approach
//! passes the pair conditions only when entered along the path the root took. The node-level
//! checks (`PathFinder::meet`) see the side ways into the approach and find a way; the A*
//! settled everything the start reached before it ran dry, 1.3 to 1.7 ms each time, and a set
//! given back to the queue first (see `SearchTuning::yield_after_pops`) was searched again and
//! again. Seen from the target, the approach runs dry after a few entries.

use super::super::graph::{EdgeIndex, NodeIndex};
use super::super::mediation_range::{PairRule, pair_defined};
use super::edge_flags::USABLE;
use super::node_search::Meeting;
use super::{PathFinder, Query};

/// How many edges `PathFinder::pair_way` scans at most before it gives up.
const PAIR_WAY_SCAN_LIMIT: usize = 4_096;

impl PathFinder {
    /// A search from both ends for a walk from `start`, entered by `entry` (`None` at the
    /// source), to the target that takes only edges the pair-aware A* may take in the current
    /// run (usable, head online and not blocked, edge not blocked) and passes `pair_defined` at
    /// every node between them; it scans at most [`PAIR_WAY_SCAN_LIMIT`] edges. Its states are
    /// edges, each reached by one side only: the start's side marks an edge when a walk from
    /// the start may end with it, the target's side when a walk to the target may begin with
    /// it, and the two meet on an edge both would mark. The side with the shorter queue goes
    /// on.
    ///
    /// [`Meeting::RanDry`] means that no path of the set passes every pair condition, so none
    /// is valid (the A* takes no step this search does not allow, and it turns neither back
    /// nor into a dead end, which this search ignores).
    pub(super) fn pair_way(
        &mut self,
        query: &Query<'_>,
        start: NodeIndex,
        entry: Option<EdgeIndex>,
    ) -> Meeting {
        let network = query.network;
        let topology = &network.topology;
        let (forward, backward) = (self.next_reach_stamp(), self.next_reach_stamp());
        let run = self.run;
        let mut ahead = std::mem::take(&mut self.pair_ahead);
        let mut behind = std::mem::take(&mut self.pair_behind);
        ahead.clear();
        behind.clear();
        // Whether the A* may take `edge` in this run, the pair rules aside.
        let walkable = |finder: &Self, edge: usize| {
            let head = topology.target[edge];
            finder.edge_flags[edge] & USABLE != 0
                && finder.edge_blocked[edge] != run
                && !finder.blocked(head)
                && query.online.contains_node(head)
        };
        let start_rule = PairRule::of(network, start, entry);
        let mut scanned = topology.out_edges(start).len() + topology.out_edges(query.target).len();
        let meeting = 'search: {
            // The start's side: the edges out of the start that its entry allows.
            for edge in topology.out_edges(start) {
                if walkable(self, edge) && start_rule.allow(network, edge as EdgeIndex) {
                    if topology.target[edge] == query.target {
                        break 'search Meeting::Met;
                    }
                    self.edge_reached[edge] = forward;
                    ahead.push_back(edge as EdgeIndex);
                }
            }
            // The target's side: the edges into the target (one from the start met above, if
            // its entry allows it).
            for out_edge in topology.out_edges(query.target) {
                let edge = topology.reverse[out_edge] as usize;
                let tail = topology.target[out_edge];
                if tail != start
                    && walkable(self, edge)
                    && !self.blocked(tail)
                    && query.online.contains_node(tail)
                {
                    self.edge_reached[edge] = backward;
                    behind.push_back(edge as EdgeIndex);
                }
            }
            loop {
                let from_start = match (ahead.front(), behind.front()) {
                    (None, _) | (_, None) => break 'search Meeting::RanDry,
                    _ if scanned > PAIR_WAY_SCAN_LIMIT => break 'search Meeting::GaveUp,
                    _ => ahead.len() <= behind.len(),
                };
                if from_start {
                    // A walk ends with `edge` into `node`: extend it by the edges `edge` allows.
                    let Some(edge) = ahead.pop_front() else { break 'search Meeting::RanDry };
                    let node = topology.target[edge as usize];
                    let rule = PairRule::of(network, node, Some(edge));
                    let out_edges = topology.out_edges(node);
                    scanned += out_edges.len();
                    for next in out_edges {
                        let reached = self.edge_reached[next];
                        if reached == forward
                            || !walkable(self, next)
                            || !rule.allow(network, next as EdgeIndex)
                        {
                            continue;
                        }
                        if reached == backward || topology.target[next] == query.target {
                            break 'search Meeting::Met;
                        }
                        self.edge_reached[next] = forward;
                        ahead.push_back(next as EdgeIndex);
                    }
                } else {
                    // A walk to the target begins with `edge` out of `node`: the edges into
                    // `node` that allow `edge` begin one too.
                    let Some(edge) = behind.pop_front() else { break 'search Meeting::RanDry };
                    let node = topology.source(edge);
                    let out_edges = topology.out_edges(node);
                    scanned += out_edges.len();
                    for out_edge in out_edges {
                        let previous = topology.reverse[out_edge] as usize;
                        let tail = topology.target[out_edge];
                        let reached = self.edge_reached[previous];
                        if reached == backward
                            || !walkable(self, previous)
                            || !pair_defined(network, previous as EdgeIndex, edge)
                        {
                            continue;
                        }
                        if tail == start {
                            // An edge out of the start: the start's entry must allow it too.
                            if start_rule.allow(network, previous as EdgeIndex) {
                                break 'search Meeting::Met;
                            }
                            continue;
                        }
                        if reached == forward {
                            break 'search Meeting::Met;
                        }
                        if self.blocked(tail) || !query.online.contains_node(tail) {
                            continue;
                        }
                        self.edge_reached[previous] = backward;
                        behind.push_back(previous as EdgeIndex);
                    }
                }
            }
        };
        self.pair_ahead = ahead;
        self.pair_behind = behind;
        meeting
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::graph::ChannelDescription;
    use super::super::node_search::{Meeting, Ways};
    use super::super::test_network::{channel, from_1_to_9};

    /// 1 → 2 → 3 → 9 is the way to the target 9; 3 → 4 → 5 → 9 goes round the last edge, and
    /// 1 → 6 → 5 reaches 5 from the other side. With `mixed`, 5 does not cap its fees towards 4
    /// but does towards 9 and 6, so no path passes 4 → 5 → 9.
    fn a_way_round_the_last_edge(mixed: bool) -> Vec<ChannelDescription> {
        let mut channels: Vec<_> = (1..)
            .zip([[1, 2], [2, 3], [3, 9], [3, 4], [4, 5], [5, 9], [1, 6], [6, 5]])
            .map(|(id, pair)| channel(id, pair[0], pair[1], 100))
            .collect();
        // Channel 5 is 4–5: 5 is its second participant.
        channels[4].fee_schedule2.cap_fees = !mixed;
        channels
    }

    /// What `pair_way` and the node-level `meet` (any way) find for the set of paths from 1 to
    /// 9 that start with `root` (a run of nodes) and leave its last node by none of the edges
    /// to `excluded`.
    fn ways_of_set(channels: &[ChannelDescription], root: &[u8], excluded: &[u8]) -> (Meeting, Meeting) {
        from_1_to_9(channels, |finder, query, nodes| {
            let run = finder.next_run();
            let spur = *root.last().expect("a root of one node at least");
            let blocked: Vec<_> = root[..root.len() - 1].iter().map(|&byte| nodes.index(byte)).collect();
            finder.block_nodes(&blocked);
            for &to in excluded {
                finder.edge_blocked[nodes.edge(spur, to) as usize] = run;
            }
            let entry = root.windows(2).last().map(|pair| nodes.edge(pair[0], pair[1]));
            let pairs = finder.pair_way(query, nodes.index(spur), entry);
            (pairs, finder.meet(query, nodes.index(spur), Ways::Any))
        })
    }
    #[test]
    fn a_set_cut_off_by_a_pair_condition_has_no_pair_way() {
        // From 3, with 3 → 9 excluded: 3 → 4 → 5 → 9 breaks 5's pair condition, and the other
        // way into 5 starts at the blocked source. The nodes alone still show a way.
        let channels = a_way_round_the_last_edge(true);
        assert_eq!(ways_of_set(&channels, &[1, 2, 3], &[9]), (Meeting::RanDry, Meeting::Met));
    }

    #[test]
    fn a_set_with_a_way_that_passes_every_pair_condition_meets() {
        let channels = a_way_round_the_last_edge(false);
        assert_eq!(ways_of_set(&channels, &[1, 2, 3], &[9]).0, Meeting::Met);
    }

    #[test]
    fn a_way_may_enter_the_mediator_by_another_edge() {
        // From the source, 1 → 6 → 5 → 9 passes 5 (its fees towards 6 and 9 are both capped)
        // even though 3 → 4 → 5 → 9 does not.
        let channels = a_way_round_the_last_edge(true);
        assert_eq!(ways_of_set(&channels, &[1], &[2]).0, Meeting::Met);
    }

    #[test]
    fn the_start_s_entry_decides_which_edges_it_may_leave_by() {
        // 5 entered from 4 may not go on to 9; entered from 6 it may.
        let channels = a_way_round_the_last_edge(true);
        assert_eq!(ways_of_set(&channels, &[1, 2, 3, 4, 5], &[]).0, Meeting::RanDry);
        assert_eq!(ways_of_set(&channels, &[1, 6, 5], &[]).0, Meeting::Met);
    }
}
