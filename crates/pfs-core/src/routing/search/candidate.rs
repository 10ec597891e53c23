//! Lawler's sets: the partition of the paths not examined yet ([`Candidate`]), how an examined
//! candidate's set splits, and how a set gets its lower bound and its best path (by the node or
//! the pair-aware search, [`SetSearch`]).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::super::graph::{ChannelGraph, EdgeIndex, NodeIndex};
use super::super::mediation_range::{PairRule, pair_defined};
use super::super::request::Truncation;
use super::distance::Distance;
use super::{PathFinder, Query};

/// What a search for a set's best path found (see `PathFinder::best_of_set`).
pub(super) enum SetSearch {
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
    ///
    /// [`SearchTuning::yield_after_pops`]: super::SearchTuning::yield_after_pops
    Yielded {
        /// The frontier's key, a lower bound of every path of the set.
        floor: Distance,
        /// The queue pops the search took.
        pops: u64,
    },
    /// The node search took [`SearchTuning::node_search_pops`] queue pops in a request of
    /// [`SearchMode::Adaptive`]: the request switches to the pair-aware search, which searches
    /// the set again.
    ///
    /// [`SearchTuning::node_search_pops`]: super::SearchTuning::node_search_pops
    /// [`SearchMode::Adaptive`]: super::SearchMode::Adaptive
    Struggling,
    /// The budget ran out (see `PathFinder::out_of_budget`).
    OutOfBudget,
}

/// One set of the enumeration's partition of the loop-free paths not examined yet, represented by
/// its best path (min-heap by total weight, then node list).
///
/// The set holds the paths that start with `nodes[..=spur]` and leave `nodes[spur]` by an edge
/// not in `excluded`. Examining the best path splits the rest of its set into one set per spur
/// index from `spur` on (Lawler's form of Yen's algorithm), so no path is enumerated twice and
/// the sets stay a partition whatever the weights are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidate {
    pub(super) total: Distance,
    pub(super) nodes: Vec<NodeIndex>,
    pub(super) edges: Vec<EdgeIndex>,
    /// Index of the node where the set's paths may leave this path.
    pub(super) spur: usize,
    /// Edges out of `nodes[spur]` that no path of the set takes.
    pub(super) excluded: Vec<EdgeIndex>,
    /// The outer iteration (returned paths so far) whose weights `total` was computed with.
    pub(super) epoch: u32,
    /// Whether `nodes` is the set's best path. If not, `nodes` and `edges` are only the common
    /// start `nodes[..=spur]` and `total` is a lower bound of the best path's weight: the best
    /// path is searched for only if the set reaches the front of the queue.
    pub(super) complete: bool,
    /// Whether `total` is already the fewest undefined fee weights the set's paths need (its
    /// search then does not count them again, see `best_of_set`).
    pub(super) floor_known: bool,
    /// The queue pops of the set's last search if it gave the set back to the queue (see
    /// [`SearchTuning::yield_after_pops`]), else 0. The next search gives it back only after
    /// twice as many, so that a set searched again and again costs at most a few times its
    /// longest search.
    ///
    /// [`SearchTuning::yield_after_pops`]: super::SearchTuning::yield_after_pops
    pub(super) effort: u64,
}

impl Candidate {
    /// A path a search found from its start (`nodes[0]`) to the target, of length `total` (see
    /// [`PathFinder::joined`] for the whole path of its set).
    pub(super) fn found(total: Distance, nodes: Vec<NodeIndex>, edges: Vec<EdgeIndex>) -> Self {
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

impl PathFinder {
    /// Whether a channel of `candidate` was penalised after its total was computed.
    pub(super) fn is_stale(&self, network: &ChannelGraph, candidate: &Candidate) -> bool {
        candidate.edges.iter().any(|&edge| {
            let channel = network.topology.channel[edge as usize] as usize;
            self.channel_stamp[channel] == self.request_generation
                && self.channel_penalised_in[channel] > candidate.epoch
        })
    }

    /// Splits the set of an examined `candidate` into one set per spur index (Lawler's form of
    /// Yen's algorithm) and queues each non-empty one with its best path.
    pub(super) fn split(
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
        self.block_nodes(&root_nodes[..root_edges.len()]);
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
        let (root_length, _) = self.enter_set(query, root_nodes, root_edges);
        let spur = root_edges.len();
        let mut best: Option<Distance> = None;
        let pairs = PairRule::of(query.network, root_nodes[spur], root_edges.last().copied());
        for edge in query.network.topology.out_edges(root_nodes[spur]) {
            let head = query.network.topology.target[edge];
            if self.blocked(head)
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
    pub(super) fn best_of_set(
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
}
