//! How a [`PathFinder`](super::PathFinder) divides its work: which search it runs for the sets of
//! a request ([`SearchMode`]) and after how much work it switches, gives up or stops a bound
//! ([`SearchTuning`]). None of it changes an answer.

/// Which search a [`PathFinder`](super::PathFinder) runs for the sets of a request's enumeration
/// (see "Speed" in the `search` module docs). Every mode returns the same paths; they differ in
/// speed.
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

/// How a [`PathFinder`](super::PathFinder) divides its work between lower bounds and searches.
/// Every setting returns the same paths; the defaults are what was fastest on the generated
/// networks.
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
    /// Both searches expand a node with at least this many edges (a hub) by a cursor over its
    /// edges in the order of their least keys, one edge at a time, instead of queueing every
    /// edge (see `search::hub_order`): a search queued every edge of each hub it expanded,
    /// most of them far beyond the path it found. On the four slowest requests that finish on
    /// the generated 15k-node network (`max_paths` 5), 8 to 64 measured alike within the
    /// noise (18 to 20 ms), 128 slower (22 ms), and without cursors 28 ms.
    pub hub_min_edges: usize,
    /// Whether a candidate found invalid because a mediator's fee is undefined teaches the
    /// pair-aware search to avoid every path that ends with the same edges from that
    /// mediator's incoming one (see "Speed" in the `search` module docs).
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
            hub_min_edges: 32,
            learn_dead_ends: true,
        }
    }
}
