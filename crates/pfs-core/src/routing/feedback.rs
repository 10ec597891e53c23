//! Routing feedback as a penalty: channels on routes that clients report as failed weigh more
//! for a while (ARCHITECTURE §4; the reference only stores the reports).
//!
//! # The rule, and why
//!
//! A report names a whole route and whether the payment over it succeeded, not which hop
//! failed, so every hop of a failed route shares the blame: each directed hop `a → b` gets
//! [`FAILURE_PENALTY`] more weight, up to [`MAX_FEEDBACK_PENALTY`]. A successful payment is
//! evidence for each of its hops and halves their penalty. Penalties decay with a half-life of
//! [`FEEDBACK_HALF_LIFE_SECONDS`]: a depleted channel is refilled or closed within minutes, and a
//! report that is never repeated should stop mattering.
//!
//! Hops are directed because capacity is: a channel that cannot forward one way may still
//! forward the other. The weights are in the same units as the search's edge weight (§2.6: one
//! unit is one hop), so one failure makes a hop cost as much as two more hops, and the cap (ten
//! hops, two diversity penalties' worth) bounds what reports can do to a channel. Reports need a
//! feedback token from a returned route (each route once), so a client can only penalise routes
//! it was given.
//!
//! [`FeedbackPenalties`] is the decaying state; [`EdgePenalties`] is what one search reads: the
//! penalties at one moment, looked up by edge of one graph snapshot. With no penalties the
//! search's weights, and so its answers, are the reference's bit for bit.

use std::collections::HashMap;

use crate::address::Address;
use crate::timestamp::NaiveTimestamp;

use super::graph::{ChannelGraph, EdgeIndex};

/// The weight a failed report adds to each hop of its route (one unit is one hop).
pub const FAILURE_PENALTY: f64 = 2.0;

/// The most weight reports can add to one hop.
pub const MAX_FEEDBACK_PENALTY: f64 = 10.0;

/// After this many seconds a penalty is worth half as much.
pub const FEEDBACK_HALF_LIFE_SECONDS: f64 = 600.0;

/// A penalty that has decayed below this is forgotten (and weighs nothing): after about 64
/// minutes for one failure, 87 for a capped hop.
pub const FORGOTTEN_BELOW: f64 = 0.01;

/// The most hops kept; beyond it, [`FeedbackPenalties::record`] forgets the decayed ones first
/// (looking at most once per [`SWEEP_INTERVAL_SECONDS`]) and then ignores new hops, so memory
/// stays bounded whatever clients report.
pub const MAX_PENALISED_HOPS: usize = 100_000;

/// How often, at most, a full [`FeedbackPenalties`] looks through all its hops for decayed ones.
/// A penalty takes an hour or more to be forgotten, so looking more often finds nothing new, and
/// a look at every new hop of every report would cost each a pass over all hops.
pub const SWEEP_INTERVAL_SECONDS: i64 = 60;

/// A hop's penalty when last changed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score {
    value: f64,
    at_micros: i64,
}

impl Score {
    /// The penalty at `now_micros` (no decay for a clock that went back).
    fn at(self, now_micros: i64) -> f64 {
        let elapsed = now_micros.saturating_sub(self.at_micros).max(0) as f64 / 1e6;
        self.value * (-elapsed / FEEDBACK_HALF_LIFE_SECONDS).exp2()
    }
}

/// The decaying penalties of one token network's hops (see the module docs). Invariant: every
/// kept value is in `(0, MAX_FEEDBACK_PENALTY]`, and there are at most [`MAX_PENALISED_HOPS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackPenalties {
    hops: HashMap<(Address, Address), Score>,
    /// When a full set last looked for decayed hops (unix microseconds).
    swept_at_micros: Option<i64>,
}

impl FeedbackPenalties {
    /// No penalties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a report on `route` (its nodes in order) received `at`: each hop's penalty grows
    /// by [`FAILURE_PENALTY`] (up to [`MAX_FEEDBACK_PENALTY`]) if the payment failed, or halves
    /// if it succeeded. Routes of fewer than two nodes have no hops.
    ///
    /// ```
    /// use pfs_core::routing::{FAILURE_PENALTY, FeedbackPenalties};
    /// use pfs_core::{Address, NaiveTimestamp};
    ///
    /// let [a, b, c] = [1, 2, 3].map(|byte| Address::from_bytes([byte; 20]));
    /// let noon = NaiveTimestamp::from_unix_micros(1_800_000_000_000_000).unwrap();
    /// let mut penalties = FeedbackPenalties::new();
    /// penalties.record(&[a, b, c], false, noon);
    /// assert_eq!(penalties.penalty(&b, &c, noon), FAILURE_PENALTY);
    /// assert_eq!(penalties.penalty(&c, &b, noon), 0.0); // the other direction
    /// ```
    pub fn record(&mut self, route: &[Address], successful: bool, at: NaiveTimestamp) {
        let now = at.unix_micros();
        for hop in route.windows(2) {
            let key = (hop[0], hop[1]);
            let current = self.hops.get(&key).map_or(0.0, |score| score.at(now));
            let value = if successful {
                current / 2.0
            } else {
                (current + FAILURE_PENALTY).min(MAX_FEEDBACK_PENALTY)
            };
            if value < FORGOTTEN_BELOW {
                self.hops.remove(&key);
                continue;
            }
            if !self.hops.contains_key(&key) && self.hops.len() >= MAX_PENALISED_HOPS {
                let sweep_due = self
                    .swept_at_micros
                    .is_none_or(|swept| now.saturating_sub(swept) >= SWEEP_INTERVAL_SECONDS * 1_000_000);
                if sweep_due {
                    self.forget_decayed(at);
                    self.swept_at_micros = Some(now);
                }
                if self.hops.len() >= MAX_PENALISED_HOPS {
                    continue;
                }
            }
            self.hops.insert(key, Score { value, at_micros: now });
        }
    }

    /// The penalty of the hop `from → to` at `now` (0 if none).
    pub fn penalty(&self, from: &Address, to: &Address, now: NaiveTimestamp) -> f64 {
        let value = self.hops.get(&(*from, *to)).map_or(0.0, |score| score.at(now.unix_micros()));
        if value < FORGOTTEN_BELOW { 0.0 } else { value }
    }

    /// Forgets the hops whose penalty has decayed below [`FORGOTTEN_BELOW`] by `now`.
    pub fn forget_decayed(&mut self, now: NaiveTimestamp) {
        let now = now.unix_micros();
        self.hops.retain(|_, score| score.at(now) >= FORGOTTEN_BELOW);
    }

    /// How many hops carry a penalty (decayed ones included until forgotten).
    pub fn len(&self) -> usize {
        self.hops.len()
    }

    /// Whether no hop carries a penalty.
    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// The penalties at `now` of the edges of `network` (hops between nodes without a channel
    /// are left out), for one search.
    pub fn edge_penalties(&self, network: &ChannelGraph, now: NaiveTimestamp) -> EdgePenalties {
        let mut edges: Vec<(EdgeIndex, f64)> = self
            .hops
            .iter()
            .filter_map(|((from, to), score)| {
                let value = score.at(now.unix_micros());
                if value < FORGOTTEN_BELOW {
                    return None;
                }
                let (from, to) = (network.node_index(from)?, network.node_index(to)?);
                Some((network.topology.find_edge(from, to)?, value))
            })
            .collect();
        edges.sort_unstable_by_key(|&(edge, _)| edge);
        EdgePenalties { edges }
    }

    /// Brings the hops of `route` in `edges` (worked out by [`Self::edge_penalties`] for
    /// `network`) up to date at `now`, after [`Self::record`] changed them: a report costs a
    /// lookup per hop instead of a new pass over every penalised hop. The other edges keep the
    /// values of the moment they were worked out.
    pub fn update_route(
        &self,
        edges: &mut EdgePenalties,
        network: &ChannelGraph,
        route: &[Address],
        now: NaiveTimestamp,
    ) {
        for hop in route.windows(2) {
            let (Some(from), Some(to)) = (network.node_index(&hop[0]), network.node_index(&hop[1])) else {
                continue;
            };
            let Some(edge) = network.topology.find_edge(from, to) else { continue };
            edges.set(edge, self.penalty(&hop[0], &hop[1], now));
        }
    }
}

/// Extra weights of some edges of one graph snapshot, for one search (see
/// [`super::PathFinder::find_paths_with_feedback`]). Invariant: sorted by edge, one entry per
/// edge, every weight positive and finite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EdgePenalties {
    edges: Vec<(EdgeIndex, f64)>,
}

impl EdgePenalties {
    /// No extra weight anywhere: the reference's weights.
    pub fn none() -> Self {
        Self::default()
    }

    /// The extra weight of `edge` (0 if none).
    pub fn of(&self, edge: EdgeIndex) -> f64 {
        if self.edges.is_empty() {
            return 0.0;
        }
        self.edges.binary_search_by_key(&edge, |&(edge, _)| edge).map_or(0.0, |index| self.edges[index].1)
    }

    /// Sets the extra weight of `edge`; a weight that is not positive and finite removes it.
    pub fn set(&mut self, edge: EdgeIndex, weight: f64) {
        let position = self.edges.binary_search_by_key(&edge, |&(edge, _)| edge);
        match (position, weight.is_finite() && weight > 0.0) {
            (Ok(index), true) => self.edges[index].1 = weight,
            (Ok(index), false) => {
                self.edges.remove(index);
            }
            (Err(index), true) => self.edges.insert(index, (edge, weight)),
            (Err(_), false) => {}
        }
    }

    /// How many edges carry extra weight.
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Whether no edge carries extra weight.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(byte: u8) -> Address {
        Address::from_bytes([byte; 20])
    }

    fn at_seconds(seconds: i64) -> NaiveTimestamp {
        // Invariant: these offsets stay well inside years 1–9999.
        NaiveTimestamp::from_unix_micros(1_800_000_000_000_000 + seconds * 1_000_000).expect("in range")
    }

    #[test]
    fn a_failure_penalises_every_hop_of_the_route_in_its_direction() {
        let mut penalties = FeedbackPenalties::new();
        penalties.record(&[node(1), node(2), node(3)], false, at_seconds(0));
        assert_eq!(penalties.penalty(&node(1), &node(2), at_seconds(0)), FAILURE_PENALTY);
        assert_eq!(penalties.penalty(&node(2), &node(3), at_seconds(0)), FAILURE_PENALTY);
        assert_eq!(penalties.penalty(&node(2), &node(1), at_seconds(0)), 0.0);
        assert_eq!(penalties.penalty(&node(1), &node(3), at_seconds(0)), 0.0);
    }

    #[test]
    fn a_penalty_halves_every_half_life() {
        let mut penalties = FeedbackPenalties::new();
        penalties.record(&[node(1), node(2)], false, at_seconds(0));
        let half_life = FEEDBACK_HALF_LIFE_SECONDS as i64;
        assert_eq!(penalties.penalty(&node(1), &node(2), at_seconds(half_life)), FAILURE_PENALTY / 2.0);
        assert_eq!(penalties.penalty(&node(1), &node(2), at_seconds(2 * half_life)), FAILURE_PENALTY / 4.0);
    }

    #[test]
    fn repeated_failures_add_up_to_the_cap() {
        let mut penalties = FeedbackPenalties::new();
        for _ in 0..3 {
            penalties.record(&[node(1), node(2)], false, at_seconds(0));
        }
        assert_eq!(penalties.penalty(&node(1), &node(2), at_seconds(0)), 3.0 * FAILURE_PENALTY);
        for _ in 0..10 {
            penalties.record(&[node(1), node(2)], false, at_seconds(0));
        }
        assert_eq!(penalties.penalty(&node(1), &node(2), at_seconds(0)), MAX_FEEDBACK_PENALTY);
    }

    #[test]
    fn a_failure_adds_to_what_is_left_of_an_older_one() {
        let mut penalties = FeedbackPenalties::new();
        penalties.record(&[node(1), node(2)], false, at_seconds(0));
        penalties.record(&[node(1), node(2)], false, at_seconds(FEEDBACK_HALF_LIFE_SECONDS as i64));
        let expected = FAILURE_PENALTY / 2.0 + FAILURE_PENALTY;
        assert_eq!(
            penalties.penalty(&node(1), &node(2), at_seconds(FEEDBACK_HALF_LIFE_SECONDS as i64)),
            expected
        );
    }

    #[test]
    fn a_success_halves_the_penalty_of_each_hop() {
        let mut penalties = FeedbackPenalties::new();
        penalties.record(&[node(1), node(2), node(3)], false, at_seconds(0));
        penalties.record(&[node(1), node(2)], true, at_seconds(0));
        assert_eq!(penalties.penalty(&node(1), &node(2), at_seconds(0)), FAILURE_PENALTY / 2.0);
        assert_eq!(penalties.penalty(&node(2), &node(3), at_seconds(0)), FAILURE_PENALTY);
    }

    #[test]
    fn a_success_on_an_unpenalised_hop_keeps_nothing() {
        let mut penalties = FeedbackPenalties::new();
        penalties.record(&[node(1), node(2)], true, at_seconds(0));
        assert!(penalties.is_empty());
    }

    #[test]
    fn decayed_penalties_weigh_nothing_and_are_forgotten() {
        let mut penalties = FeedbackPenalties::new();
        penalties.record(&[node(1), node(2)], false, at_seconds(0));
        let much_later = at_seconds(10 * FEEDBACK_HALF_LIFE_SECONDS as i64);
        assert_eq!(penalties.penalty(&node(1), &node(2), much_later), 0.0);
        assert_eq!(penalties.len(), 1);
        penalties.forget_decayed(much_later);
        assert!(penalties.is_empty());
    }

    #[test]
    fn a_clock_that_went_back_does_not_raise_a_penalty() {
        let mut penalties = FeedbackPenalties::new();
        penalties.record(&[node(1), node(2)], false, at_seconds(100));
        assert_eq!(penalties.penalty(&node(1), &node(2), at_seconds(0)), FAILURE_PENALTY);
    }

    #[test]
    fn the_number_of_penalised_hops_is_bounded() {
        let mut penalties = FeedbackPenalties::new();
        let address = |index: usize| {
            let mut bytes = [0u8; 20];
            bytes[..8].copy_from_slice(&(index as u64).to_be_bytes());
            Address::from_bytes(bytes)
        };
        for index in 0..MAX_PENALISED_HOPS + 10 {
            penalties.record(&[address(index), address(index + 1)], false, at_seconds(0));
        }
        assert_eq!(penalties.len(), MAX_PENALISED_HOPS);
        // Full, and all decayed, but the last look was less than a minute ago: not kept yet.
        let decayed = at_seconds(10 * FEEDBACK_HALF_LIFE_SECONDS as i64);
        penalties.swept_at_micros = Some(decayed.unix_micros() - 1_000_000);
        penalties.record(&[node(3), node(4)], false, decayed);
        assert_eq!(penalties.penalty(&node(3), &node(4), decayed), 0.0);
        assert_eq!(penalties.len(), MAX_PENALISED_HOPS);
        // Once the old ones have decayed and a minute has passed, new hops are kept again.
        let later = at_seconds(10 * FEEDBACK_HALF_LIFE_SECONDS as i64 + SWEEP_INTERVAL_SECONDS);
        penalties.record(&[node(1), node(2)], false, later);
        assert_eq!(penalties.penalty(&node(1), &node(2), later), FAILURE_PENALTY);
        assert_eq!(penalties.len(), 1);
    }

    #[test]
    fn setting_an_edge_penalty_keeps_the_edges_sorted_and_drops_weights_that_are_not_positive() {
        let mut penalties = EdgePenalties { edges: vec![(3, 1.5), (7, 2.0)] };
        penalties.set(5, 1.0);
        penalties.set(1, 0.5);
        penalties.set(7, 4.0);
        penalties.set(3, 0.0);
        penalties.set(9, f64::NAN);
        assert_eq!(penalties.edges, vec![(1, 0.5), (5, 1.0), (7, 4.0)]);
    }

    #[test]
    fn edge_penalties_are_looked_up_by_edge() {
        let penalties = EdgePenalties { edges: vec![(3, 1.5), (7, 2.0)] };
        assert_eq!(penalties.of(3), 1.5);
        assert_eq!(penalties.of(7), 2.0);
        assert_eq!(penalties.of(5), 0.0);
        assert_eq!(EdgePenalties::none().of(3), 0.0);
    }
}
