//! Dead ends: runs of edges into the target that no valid path ends with, learnt from the
//! candidates a request finds invalid, and the automaton by which the pair-aware search walks
//! around them.
//!
//! Why: the fees of §2.7 are computed backwards from the target, so whether a mediator's fee
//! is defined depends only on the edges from its incoming one to the target. A candidate whose
//! fee fails at a mediator therefore condemns every path that ends with the same edges. The
//! enumeration's sets share prefixes, not suffixes, so without this each new way into such a
//! suffix is examined and found invalid on its own: on the generated 15k-node network, single
//! requests examined 300 to 500 candidates that all failed at the same three or four edges.
//!
//! How: the dead ends are patterns over edges, and a walk may contain none of them (a walk
//! stops at the target, so containing one is ending with it). The search tracks how much of a
//! pattern its walk has just followed with an Aho–Corasick automaton over the patterns: its
//! states are the patterns' proper prefixes ([`TrieState`]), and a step that completes a
//! pattern is refused. An entry state of the pair-aware search is then an edge *and* an
//! automaton state; the state of most entries is the one their edge alone gives
//! ([`DeadEnds::state_of_edge`]), and only the entries that follow two or more edges of a
//! pattern need states of their own, one per automaton state. That keeps the search's arrays
//! indexed by edge, with a short tail for those states.
//!
//! The pair-aware bound labels the automaton's states too (`PathFinder::compute_entry_bounds`).
//! States are only ever added within a request, so a bound computed before the latest dead
//! ends stays consistent: a newer state counts as the longest of its fallbacks that the bound
//! knew ([`DeadEnds::known_by`]).

use super::super::graph::EdgeIndex;

/// A state of the automaton: the longest proper prefix of a dead end that the walk's last
/// edges follow, as an index into the trie of prefixes. [`CLEAR`] is the empty prefix.
pub(super) type TrieState = u16;

/// The state of a walk that follows no dead end.
pub(super) const CLEAR: TrieState = 0;

/// The most states the automaton keeps in one request; a dead end that would need more is not
/// learnt (which only costs speed: the validity check still finds its paths invalid).
pub(super) const MAX_STATES: usize = 512;

/// The longest dead end learnt, in edges. A longer suffix rarely comes again with another
/// prefix, and its states would crowd out shorter ones.
pub(super) const MAX_DEAD_END_EDGES: usize = 6;

/// One prefix of a dead end.
#[derive(Debug, Clone, Default)]
struct Prefix {
    /// Its last edge ([`EdgeIndex::MAX`] for [`CLEAR`]).
    edge: EdgeIndex,
    /// Its length in edges.
    depth: u8,
    /// The longest proper suffix of this prefix that is a prefix too (the automaton's failure
    /// link).
    fallback: TrieState,
    /// Whether it is a whole dead end.
    whole: bool,
    /// Whether it or one of its fallbacks is a whole dead end: a walk that reaches it ends
    /// with a dead end.
    dead: bool,
    /// The prefixes one edge longer.
    children: Vec<(EdgeIndex, TrieState)>,
}

/// The dead ends of one request and their automaton. Invariant: `prefixes[CLEAR]` is the empty
/// prefix, every other prefix is a proper prefix or a whole dead end reachable from it by
/// `children`, and the fallbacks and `dead` flags are current.
#[derive(Debug)]
pub(super) struct DeadEnds {
    prefixes: Vec<Prefix>,
    /// The edges that start a dead end and the prefix each is, sorted by edge: few, so a
    /// binary search here is cheaper than a lookup in an array over every edge (which would
    /// miss the cache).
    starts: Vec<(EdgeIndex, TrieState)>,
}

impl Default for DeadEnds {
    fn default() -> Self {
        let mut dead_ends = DeadEnds { prefixes: Vec::new(), starts: Vec::new() };
        dead_ends.clear();
        dead_ends
    }
}

impl DeadEnds {
    /// Forgets every dead end (a new request).
    pub(super) fn clear(&mut self) {
        self.starts.clear();
        self.prefixes.clear();
        self.prefixes.push(Prefix { edge: EdgeIndex::MAX, ..Prefix::default() });
    }

    /// Whether no dead end is known (the searches then skip the automaton).
    pub(super) fn is_empty(&self) -> bool {
        self.prefixes.len() == 1
    }

    /// Learns that no valid path ends with `suffix` (edges, the last one into the target).
    /// Returns whether it was learnt: it is not when it was known, is longer than
    /// [`MAX_DEAD_END_EDGES`], or the automaton would need more than [`MAX_STATES`] states.
    pub(super) fn learn(&mut self, suffix: &[EdgeIndex]) -> bool {
        if suffix.is_empty() || suffix.len() > MAX_DEAD_END_EDGES {
            return false;
        }
        let mut state = CLEAR;
        let mut missing = 0;
        for (depth, &edge) in suffix.iter().enumerate() {
            match self.child(state, edge) {
                Some(next) => state = next,
                None => {
                    missing = suffix.len() - depth;
                    break;
                }
            }
        }
        if missing == 0 && self.prefixes[state as usize].whole {
            return false;
        }
        if self.prefixes.len() + missing > MAX_STATES {
            return false;
        }
        let mut state = CLEAR;
        for (depth, &edge) in suffix.iter().enumerate() {
            state = match self.child(state, edge) {
                Some(next) => next,
                None => {
                    let next = self.prefixes.len() as TrieState;
                    self.prefixes.push(Prefix { edge, depth: depth as u8 + 1, ..Prefix::default() });
                    if state == CLEAR {
                        let at = self.starts.partition_point(|&(start, _)| start < edge);
                        self.starts.insert(at, (edge, next));
                    }
                    self.prefixes[state as usize].children.push((edge, next));
                    next
                }
            };
        }
        self.prefixes[state as usize].whole = true;
        self.link();
        true
    }

    /// The automaton's state after a walk that followed no dead end takes `edge`: the prefix
    /// `edge` is if it starts a dead end, else [`CLEAR`].
    pub(super) fn state_of_edge(&self, edge: EdgeIndex) -> TrieState {
        self.child(CLEAR, edge).unwrap_or(CLEAR)
    }

    /// The state after `edge` is taken in `state`, or `None` if that completes a dead end.
    pub(super) fn step(&self, state: TrieState, edge: EdgeIndex) -> Option<TrieState> {
        let mut from = state;
        loop {
            if let Some(next) = self.child(from, edge) {
                return (!self.prefixes[next as usize].dead).then_some(next);
            }
            if from == CLEAR {
                return Some(CLEAR);
            }
            from = self.prefixes[from as usize].fallback;
        }
    }

    /// The state after the walk `edges` from [`CLEAR`], or `None` if it contains a dead end.
    pub(super) fn state_after(&self, edges: &[EdgeIndex]) -> Option<TrieState> {
        edges.iter().try_fold(CLEAR, |state, &edge| self.step(state, edge))
    }

    /// Whether a walk in `state` needs a search state of its own: it follows two or more
    /// edges of a dead end, which its last edge alone does not say.
    pub(super) fn needs_own_entry(&self, state: TrieState) -> bool {
        self.prefixes[state as usize].depth >= 2
    }

    /// The last edge of the walks in `state` (not [`CLEAR`]).
    pub(super) fn last_edge(&self, state: TrieState) -> EdgeIndex {
        self.prefixes[state as usize].edge
    }

    /// The number of states, [`CLEAR`] included (the states are `0..len`).
    pub(super) fn len(&self) -> usize {
        self.prefixes.len()
    }

    /// The state `state` stands for in the automaton as it was when it had `len` states (a
    /// bound computed then labels those only): the longest prefix that was known then among
    /// `state` and its fallbacks. States are only ever added, so the earlier automaton's
    /// prefixes are the first `len` states, and a walk's state in it is that one.
    pub(super) fn known_by(&self, state: TrieState, len: usize) -> TrieState {
        let mut state = state;
        while usize::from(state) >= len {
            state = self.prefixes[usize::from(state)].fallback;
        }
        state
    }

    fn child(&self, state: TrieState, edge: EdgeIndex) -> Option<TrieState> {
        if state == CLEAR {
            return match self.starts.binary_search_by_key(&edge, |&(start, _)| start) {
                Ok(index) => Some(self.starts[index].1),
                Err(_) => None,
            };
        }
        let children = &self.prefixes[state as usize].children;
        children.iter().find(|(child_edge, _)| *child_edge == edge).map(|&(_, next)| next)
    }

    /// Recomputes the fallbacks and `dead` flags, breadth first (a prefix's fallback is
    /// shorter, so it is done before the prefix).
    fn link(&mut self) {
        let mut queue = std::collections::VecDeque::new();
        for index in 0..self.prefixes[CLEAR as usize].children.len() {
            let (_, child) = self.prefixes[CLEAR as usize].children[index];
            let prefix = &mut self.prefixes[child as usize];
            prefix.fallback = CLEAR;
            prefix.dead = prefix.whole;
            queue.push_back(child);
        }
        while let Some(state) = queue.pop_front() {
            for index in 0..self.prefixes[state as usize].children.len() {
                let (edge, child) = self.prefixes[state as usize].children[index];
                let mut from = self.prefixes[state as usize].fallback;
                let fallback = loop {
                    if let Some(next) = self.child(from, edge) {
                        break next;
                    }
                    if from == CLEAR {
                        break CLEAR;
                    }
                    from = self.prefixes[from as usize].fallback;
                };
                let dead = self.prefixes[child as usize].whole || self.prefixes[fallback as usize].dead;
                let prefix = &mut self.prefixes[child as usize];
                prefix.fallback = fallback;
                prefix.dead = dead;
                queue.push_back(child);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learnt(suffixes: &[&[EdgeIndex]]) -> DeadEnds {
        let mut dead_ends = DeadEnds::default();
        for suffix in suffixes {
            assert!(dead_ends.learn(suffix));
        }
        dead_ends
    }

    #[test]
    fn a_walk_that_follows_a_dead_end_to_its_end_is_refused() {
        let dead_ends = learnt(&[&[1, 2, 3]]);
        assert_eq!(dead_ends.state_after(&[7, 1, 2, 3]), None);
        assert_eq!(dead_ends.state_after(&[1, 2]).map(|state| dead_ends.needs_own_entry(state)), Some(true));
        assert_eq!(dead_ends.state_after(&[1, 4, 3]), Some(CLEAR));
    }

    #[test]
    fn a_dead_end_inside_a_longer_prefix_is_found_by_the_fallbacks() {
        // 5 → 1 → 2 follows the first pattern; its fallback 1 → 2 is a prefix of the second,
        // whose end 3 must be refused even though the walk never started it anew.
        let dead_ends = learnt(&[&[5, 1, 2, 9], &[1, 2, 3]]);
        assert_eq!(dead_ends.state_after(&[5, 1, 2, 3]), None);
        assert!(dead_ends.state_after(&[5, 1, 2, 4]).is_some());
    }

    #[test]
    fn a_shorter_dead_end_ends_every_walk_through_a_longer_one() {
        let dead_ends = learnt(&[&[4, 1, 2, 3], &[2, 3]]);
        assert_eq!(
            dead_ends.state_after(&[4, 1, 2]).map(|state| dead_ends.needs_own_entry(state)),
            Some(true)
        );
        assert_eq!(dead_ends.state_after(&[8, 2, 3]), None);
    }

    #[test]
    fn the_state_of_an_edge_alone_is_the_prefix_it_starts() {
        let dead_ends = learnt(&[&[1, 2, 3]]);
        assert_eq!(dead_ends.state_of_edge(1), dead_ends.state_after(&[1]).unwrap());
        assert_ne!(dead_ends.state_of_edge(1), CLEAR);
        assert_eq!(dead_ends.state_of_edge(2), CLEAR);
        assert_eq!(dead_ends.last_edge(dead_ends.state_of_edge(1)), 1);
    }

    #[test]
    fn a_new_request_forgets_the_dead_ends_of_the_last() {
        let mut dead_ends = learnt(&[&[1, 2, 3]]);
        dead_ends.clear();
        assert!(dead_ends.is_empty());
        assert_eq!(dead_ends.state_of_edge(1), CLEAR);
        assert_eq!(dead_ends.state_after(&[1, 2, 3]), Some(CLEAR));
    }

    #[test]
    fn a_state_added_later_stands_for_its_longest_fallback_known_before() {
        let mut dead_ends = learnt(&[&[1, 2, 3]]);
        let before = dead_ends.len();
        assert!(dead_ends.learn(&[7, 1, 2, 9]));
        let later = dead_ends.state_after(&[7, 1, 2]).unwrap();
        assert!(usize::from(later) >= before);
        assert_eq!(dead_ends.known_by(later, before), dead_ends.state_after(&[1, 2]).unwrap());
        assert_eq!(dead_ends.known_by(dead_ends.state_of_edge(7), before), CLEAR);
    }

    #[test]
    fn a_known_dead_end_is_not_learnt_again() {
        let mut dead_ends = learnt(&[&[1, 2, 3]]);
        assert!(!dead_ends.learn(&[1, 2, 3]));
        assert!(dead_ends.learn(&[1, 2]));
    }

    #[test]
    fn too_long_a_suffix_is_not_learnt() {
        let mut dead_ends = learnt(&[]);
        let long: Vec<EdgeIndex> = (0..MAX_DEAD_END_EDGES as EdgeIndex + 1).collect();
        assert!(!dead_ends.learn(&long));
        assert!(dead_ends.is_empty());
    }
}
