//! The node search's A* lower bound: a backwards Dial search from the target with integer steps
//! (`PathFinder::compute_hops`), its second layer through undefined fee weights, and the
//! heuristic read from it; and the constants that both searches' bounds share.

use super::super::graph::NodeIndex;
use super::distance::Distance;
use super::edge_flags::{EdgeFlags, REVERSE_USABLE, REVERSE_WEIGHT_MAY_BE_FINITE};
use super::{PathFinder, Query};

/// Largest single edge step of the A* lower bound (see `PathFinder::compute_hops`).
pub(super) const MAX_BOUND_STEP: u32 = 64;

/// How far beyond the source's label the lower-bound search goes before it stops. A larger
/// horizon costs more per search and prunes the A* better; any value keeps the bound admissible
/// and consistent. On the generated 15k-node network, 0 to 3 gave the same answer times: the
/// cost is in the hubs' edges, which any horizon scans.
const BOUND_HORIZON: u32 = 0;

/// A node's entry in `PathFinder::hops` when the lower-bound search did not reach it.
pub(super) const UNREACHED: u32 = u32::MAX;

/// A node's entry in `PathFinder::node_bounds` when it has an imbalance penalty (its entries are
/// labelled one by one instead, see `compute_entry_bounds`).
pub(super) const PENALTY_NODE: u32 = u32::MAX - 1;

/// `PathFinder::bound_steps` of an edge that the search may walk but whose fee weight is
/// undefined (larger than every real step).
pub(super) const UNDEFINED_STEP: u8 = u8::MAX;

/// Added to a node's entry in `PathFinder::hops` when the lower-bound search reached it only
/// through edges whose fee weight is undefined (see `PathFinder::compute_hops`): such a bound
/// is one undefined edge plus the rest, and stays above every bound without one.
const THROUGH_UNDEFINED: u32 = 1 << 31;

impl PathFinder {
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
    pub(super) fn compute_hops(&mut self, query: &Query<'_>) {
        // The hubs' orders follow the bound.
        self.node_hubs.reset(query.network.node_count());
        let topology = &query.network.topology;
        let bound_steps = &self.bound_steps;
        let hops = &mut self.hops;
        hops.fill(UNREACHED);
        let ring = MAX_BOUND_STEP as usize + 1;
        let mut buckets = std::mem::take(&mut self.buckets);
        let mut improved = std::mem::take(&mut self.improved);
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
                // backwards (see `bound_steps`). Whether an edge is walkable, its tail online
                // and its label lowered are coin tosses: the loop decides them without
                // branches, lowering the label or writing it back, and lists every tail in
                // `improved`, keeping those whose label it lowered. With the branches, this
                // loop took some 10 ns per edge on the generated 15k-node network, a fifth of a
                // median request; without them, the 942 requests nearest the median went from
                // a p50 of 1.95 to 1.75 ms (four alternated runs, same answers).
                let edges = topology.out_edges(node);
                scanned += edges.len();
                if improved.len() < edges.len() {
                    improved.resize(edges.len(), 0);
                }
                let mut count = 0;
                for (&step, &tail) in bound_steps[edges.clone()].iter().zip(&topology.target[edges]) {
                    let walkable = u32::from(step != 0) & u32::from(step != UNDEFINED_STEP);
                    let candidate = distance + u32::from(step);
                    let label = hops[tail as usize];
                    let lower = u32::from(candidate < label) & walkable & query.online.node_bit(tail);
                    hops[tail as usize] = label ^ ((label ^ candidate) & lower.wrapping_neg());
                    improved[count] = tail;
                    count += lower as usize;
                }
                for &tail in &improved[..count] {
                    buckets[hops[tail as usize] as usize % ring].push(tail);
                }
                pending += count;
            }
            distance += 1;
        }
        self.improved = improved;
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
    pub(super) fn heuristic(&self, node: NodeIndex) -> Option<Distance> {
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
}
