//! The conditions of a mediator's fee (§2.8) that do not depend on the amount, reduced to two
//! numbers per channel direction, so the search can drop edges that no valid path can use.
//!
//! A mediator `m` on a path `… → u → m → x → …` evaluates the imbalance penalty of its incoming
//! channel (its balance `Bi` there, towards `u`) at `Bi + ξ` for every sample point `ξ` of its
//! fee function, and these points reach `min(R, Bo)` (`R` what `u` can send to `m`, `Bo` what `m`
//! can send to `x`) unless both penalties stop earlier. Working through
//! `fees::mediation::undefined_before_fractions` with both balances inside their own penalty's
//! points (the search already requires that) leaves exactly these conditions:
//!
//! * `cap_fees` is the same on both channels, and `R > 0`, `Bo > 0`;
//! * the incoming penalty reaches every point: `R ≤ slack`, where `slack = last_x_in − Bi`
//!   (`R` itself when the channel has no penalty) — or the outgoing channel is small enough:
//!   `need ≤ slack`, where `need = Bo − first_x_out` (`Bo` without a penalty);
//! * the amount leaving `m` is at most `need` (the only condition that depends on the amount).
//!
//! None of these depend on the rest of the path, so an edge is useless for a mediator when no
//! partner edge at that mediator satisfies them: an edge `m → x` with `m` not the source needs
//! an incoming edge of `m` that can carry the value and whose slack covers its need, and an edge
//! `u → m` with `m` not the target needs such an outgoing edge of `m`. The last mediator forwards
//! exactly the value, so an edge into the target (from a mediator) also needs `need ≥ value`.
//! Each node's best slack and least need (estimated, see [`MediatorRange`]) are computed once
//! per request when the search first weighs one of its edges (an edge is checked when its exact weight is computed, not when it is
//! first looked at: most edges the search looks at are never weighed).
//!
//! Why it matters: penalty points come from Raiden's float `linspace`, so a channel's last point
//! is often a few hundred units below its deposit (`slack` just below `R`), and then any
//! outgoing balance larger than what the incoming partner can send makes the fee undefined.
//! Without these rules such a mediator was found invalid once per candidate path through it.

use alloy_primitives::U256;

use super::graph::{ChannelGraph, EdgeIndex, EdgeState, NodeIndex};

/// How far a mediator's incoming penalty reaches beyond its balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slack {
    /// Up to this many units.
    Limited(U256),
    /// Beyond everything the partner can send (`R ≤ slack`): every outgoing channel fits.
    Unlimited,
}

impl Slack {
    /// Whether an outgoing channel needing `need` fits.
    pub fn covers(self, need: U256) -> bool {
        match self {
            Slack::Limited(slack) => need <= slack,
            Slack::Unlimited => true,
        }
    }
}

/// The slack of `edge_in` (`u → m`) as the incoming channel of mediator `m`, and `m`'s
/// `cap_fees` on that channel.
pub(crate) fn incoming_slack(network: &ChannelGraph, edge_in: EdgeIndex) -> (Slack, bool) {
    let backward = network.topology.reverse[edge_in as usize];
    slack_of(network.state(backward), network.capacity(edge_in))
}

/// The slack of an entry of `m` whose reverse (`m`'s side of the channel) is `mediator_side`
/// and that can bring `receivable`, and `m`'s `cap_fees` on that channel.
fn slack_of(mediator_side: &EdgeState, receivable: U256) -> (Slack, bool) {
    let (cap_fees, span) = mediator_side.penalty_span();
    let slack = match span {
        Some((_, last)) => {
            let slack = last.saturating_sub(mediator_side.capacity);
            if receivable <= slack { Slack::Unlimited } else { Slack::Limited(slack) }
        }
        None => Slack::Unlimited,
    };
    (slack, cap_fees)
}

/// What `edge_out` (`m → x`) needs as the outgoing channel of mediator `m`, and `m`'s
/// `cap_fees` on it.
pub(crate) fn outgoing_need(network: &ChannelGraph, edge_out: EdgeIndex) -> (U256, bool) {
    need_of(network.state(edge_out))
}

fn need_of(state: &EdgeState) -> (U256, bool) {
    let (cap_fees, span) = state.penalty_span();
    let first = span.map_or(U256::ZERO, |(first, _)| first);
    (state.capacity.saturating_sub(first), cap_fees)
}

/// The pair conditions an edge `m → x` takes part in, as numbers that compare cheaply and never
/// rule out a pair the exact ones allow: for scans over all of a mediator's edges, which would
/// otherwise follow every channel's penalty. Kept in the state of `m → x`; they depend on it
/// and, for `entry_slack`, on whether the reverse edge's capacity exceeds the slack, so an
/// update rarely changes the reverse edge's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PairEstimates {
    /// `m`'s `cap_fees` on this channel.
    pub cap_fees: bool,
    /// At most [`outgoing_need`] of this edge as an outgoing edge of `m`, as the bits of a
    /// non-negative `f32` (such bits order as the numbers do); [`PairEstimates::NO_PAIR`] when
    /// the edge carries nothing or `m`'s penalty does not cover its balance (no entry of `m`
    /// may precede it).
    pub need: u32,
    /// At least the slack of the reverse edge `x → m` as an entry of `m` ([`incoming_slack`];
    /// `+inf` when unlimited), as the bits of a non-negative `f32`.
    pub entry_slack: u32,
}

impl PairEstimates {
    /// `need` of an edge that no entry may precede: above the bits of every slack.
    pub(crate) const NO_PAIR: u32 = u32::MAX;

    /// The estimates of the edge whose state is `state` and whose reverse carries
    /// `reverse_capacity`.
    pub(crate) fn of(state: &EdgeState, reverse_capacity: U256) -> Self {
        let (need, cap_fees) = need_of(state);
        let need = if state.capacity.is_zero() || !state.penalty_covers_capacity {
            Self::NO_PAIR
        } else {
            f32_at_most(need).to_bits()
        };
        let entry_slack = match slack_of(state, reverse_capacity).0 {
            Slack::Limited(slack) => f32_at_least(slack),
            Slack::Unlimited => f32::INFINITY,
        };
        Self { cap_fees, need, entry_slack: entry_slack.to_bits() }
    }

    /// Whether the entry `x → m` of these estimates (kept in the state of `m → x`) may precede
    /// an outgoing edge of `m` with `cap_fees` and the estimated `need`: true whenever the exact
    /// slack covers the exact need with the same `cap_fees` and `m`'s penalty covers its balance
    /// in this channel (`covers`).
    pub(crate) fn entry_may_precede(self, covers: bool, cap_fees: bool, need: u32) -> bool {
        covers && self.cap_fees == cap_fees && self.entry_slack >= need
    }
}

/// What a slack tells from an outgoing edge's estimated need ([`PairEstimates::need`], which
/// lies in `[need / (1 + 2^-18), need]` for needs in the `f32` range and is `f32::MAX` above)
/// without its exact need: an estimate at most `covered` means a need the slack covers, one
/// above `beyond` a need it does not. (Both as `f32` bits, which order as the numbers do.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NeedEstimates {
    covered: u32,
    beyond: u32,
}

impl NeedEstimates {
    /// Whether the slack covers an outgoing edge whose estimated need is `estimate`, if the
    /// estimate decides it.
    fn decide(self, estimate: u32) -> Option<bool> {
        if estimate <= self.covered {
            Some(true)
        } else if estimate > self.beyond {
            Some(false)
        } else {
            None
        }
    }

    fn of(slack: Slack) -> Self {
        match slack {
            // `covered` at most `slack · (1 - 2^-16)`: below `slack / (1 + 2^-18)` with room for
            // the roundings.
            Slack::Limited(slack) => Self {
                covered: ((f64::from(f32_at_most(slack)) * (1.0 - 1.0 / f64::from(1u32 << 16))) as f32)
                    .to_bits(),
                beyond: f32_at_least(slack).to_bits(),
            },
            Slack::Unlimited => {
                Self { covered: PairEstimates::NO_PAIR - 1, beyond: PairEstimates::NO_PAIR - 1 }
            }
        }
    }
}

/// Relative margin that covers the rounding of a 256-bit integer to `f64` and then to `f32`.
const ESTIMATE_MARGIN: f64 = 1.0 / (1u64 << 20) as f64;

/// A non-negative `f32` no larger than `amount`.
fn f32_at_most(amount: U256) -> f32 {
    ((crate::fees::float::u256_to_f64(amount) * (1.0 - ESTIMATE_MARGIN)) as f32).min(f32::MAX)
}

/// An `f32` no smaller than `amount` (`+inf` beyond the `f32` range).
fn f32_at_least(amount: U256) -> f32 {
    (crate::fees::float::u256_to_f64(amount) * (1.0 + ESTIMATE_MARGIN)) as f32
}

/// One node's partner edges as a mediator, per `cap_fees` setting (index 0: `false`, 1: `true`):
/// the largest slack of an incoming edge that can carry the value, and the least need of an
/// outgoing edge that can carry it, both as the [`PairEstimates`] of those edges (`f32` bits;
/// `None` when there is no such edge). For a node without any penalty every slack is
/// unlimited, so any need serves: the range then holds the first one found, and finding it
/// needs no walk over all of a hub's edges.
///
/// Estimates, not exact amounts: the range is built from the states of the node's own
/// outgoing edges (which hold the estimates of both directions' roles), in order, without
/// following any channel's penalty. The exact version took a tenth of a median request at 15k
/// nodes and 52k channels, in the penalised hubs. Estimates never rule out a pair the exact
/// conditions allow, so the checks below stay sound; they may let through a pair the exact
/// ones would not, which the validity check then finds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MediatorRange {
    best_slack: [Option<u32>; 2],
    least_need: [Option<u32>; 2],
}

impl MediatorRange {
    /// The range of `node`; `usable(edge)` says whether an edge carries the value and carries
    /// something.
    pub fn of(network: &ChannelGraph, node: NodeIndex, usable: impl Fn(EdgeIndex) -> bool) -> Self {
        let topology = &network.topology;
        let mut range = Self::default();
        let penalty_free = network.penalty_free_cap_fees(node);
        for edge_out in topology.out_edges(node) {
            let edge_out = edge_out as EdgeIndex;
            // The estimates of `m → x` and of the entry `x → m`, both in the state of `m → x`.
            let pair = network.state(edge_out).pair;
            let index = usize::from(pair.cap_fees);
            if pair.need != PairEstimates::NO_PAIR && usable(edge_out) {
                let least = &mut range.least_need[index];
                *least = Some(least.map_or(pair.need, |least| least.min(pair.need)));
            }
            if usable(topology.reverse[edge_out as usize]) {
                let best = &mut range.best_slack[index];
                *best = Some(best.map_or(pair.entry_slack, |best| best.max(pair.entry_slack)));
            }
            if penalty_free.is_some()
                && range.least_need[index].is_some()
                && range.best_slack[index].is_some()
            {
                // Every slack is unlimited and every `cap_fees` the same: nothing more to learn.
                break;
            }
        }
        range
    }

    /// Whether some incoming edge of this mediator may feed `edge_out`.
    pub fn can_forward_into(&self, network: &ChannelGraph, edge_out: EdgeIndex) -> bool {
        let pair = network.state(edge_out).pair;
        self.best_slack[usize::from(pair.cap_fees)].is_some_and(|slack| slack >= pair.need)
    }

    /// Whether some outgoing edge of this mediator may follow `edge_in`.
    pub fn can_forward_from(&self, network: &ChannelGraph, edge_in: EdgeIndex) -> bool {
        let pair = network.state(network.topology.reverse[edge_in as usize]).pair;
        self.least_need[usize::from(pair.cap_fees)].is_some_and(|need| pair.entry_slack >= need)
    }
}

/// Whether a mediator entered by `edge_in` and left by `edge_out` passes the conditions of its
/// fee that do not depend on the amount (both balances inside their penalty's points, the same
/// `cap_fees`, something to receive and to forward, and the incoming penalty reaching far
/// enough). If not, every path through these two edges is invalid (§2.7 step 2).
pub(crate) fn pair_defined(network: &ChannelGraph, edge_in: EdgeIndex, edge_out: EdgeIndex) -> bool {
    let mediator = network.topology.target[edge_in as usize];
    PairRule::of(network, mediator, Some(edge_in)).allow(network, edge_out)
}

/// Which outgoing edges of a node the edge it was entered by allows: the conditions of
/// [`pair_defined`], with the entry's part evaluated once, for scans over all of a mediator's
/// outgoing edges (a hub has thousands).
pub(crate) enum PairRule {
    /// The start of the search: the source is no mediator, and the spur node's entry is
    /// checked like any other.
    Any,
    /// A mediator without penalty, entered by an edge that carries something and with the same
    /// `cap_fees`: every outgoing edge that carries something.
    Carrying,
    /// A mediator with a penalty entered with this slack and `cap_fees`, and which outgoing
    /// edges the slack covers by their estimated need alone.
    Covered(Slack, bool, NeedEstimates),
    /// The entry breaks a condition of every pair.
    Nothing,
}

impl PairRule {
    /// The rule at `node`, entered by `entry` (`None` at the start of a search).
    pub(crate) fn of(network: &ChannelGraph, node: NodeIndex, entry: Option<EdgeIndex>) -> Self {
        let Some(entry) = entry else {
            return PairRule::Any;
        };
        let backward = network.topology.reverse[entry as usize];
        if network.capacity(entry).is_zero() || !network.state(backward).penalty_covers_capacity {
            return PairRule::Nothing;
        }
        let (slack, cap_fees) = incoming_slack(network, entry);
        match network.penalty_free_cap_fees(node) {
            Some(uniform) if uniform == cap_fees => PairRule::Carrying,
            Some(_) => PairRule::Nothing,
            None => PairRule::Covered(slack, cap_fees, NeedEstimates::of(slack)),
        }
    }

    /// Whether the pair of the entry and `edge` passes `pair_defined`.
    pub(crate) fn allow(&self, network: &ChannelGraph, edge: EdgeIndex) -> bool {
        match *self {
            PairRule::Any => true,
            PairRule::Carrying => !network.capacity(edge).is_zero(),
            PairRule::Covered(slack, cap_fees, estimates) => {
                let state = network.state(edge);
                if state.capacity.is_zero()
                    || !state.penalty_covers_capacity
                    || state.pair.cap_fees != cap_fees
                {
                    return false;
                }
                // An unlimited slack covers every need. A limited one needs the edge's need,
                // which follows its penalty (a read anywhere in memory, for each edge of a
                // penalised hub), unless the estimate kept in the edge's state decides.
                match slack {
                    Slack::Unlimited => true,
                    Slack::Limited(_) => estimates
                        .decide(state.pair.need)
                        .unwrap_or_else(|| slack.covers(outgoing_need(network, edge).0)),
                }
            }
            PairRule::Nothing => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;
    use proptest::prelude::*;

    use super::*;
    use crate::address::Address;
    use crate::fee_schedule::{FeeSchedule, ImbalancePenalty};
    use crate::fees::get_amount_with_fees;
    use crate::ids::ChannelId;
    use crate::routing::graph::ChannelDescription;

    fn node(byte: u8) -> Address {
        Address::from_bytes([byte; 20])
    }

    fn schedule(cap_fees: bool, penalty: Option<Vec<(u64, u64)>>) -> FeeSchedule {
        FeeSchedule {
            cap_fees,
            imbalance_penalty: penalty.map(|points| {
                ImbalancePenalty::new(
                    points.into_iter().map(|(x, y)| (U256::from(x), U256::from(y))).collect(),
                )
                .expect("strictly increasing test points")
            }),
            ..FeeSchedule::default()
        }
    }

    /// `a → m → b` where `m` holds `balance_in` towards `a` (which can send `receivable`) with
    /// schedule `schedule_in`, and `balance_out` towards `b` (which holds nothing) with
    /// `schedule_out`. Returns the
    /// graph and the edges `a → m`, `m → b`.
    fn mediator(
        receivable: u64,
        balance_in: u64,
        schedule_in: FeeSchedule,
        balance_out: u64,
        schedule_out: FeeSchedule,
    ) -> (ChannelGraph, EdgeIndex, EdgeIndex) {
        let channels = [
            ChannelDescription {
                channel_id: ChannelId(U256::from(1)),
                participant1: node(1),
                participant2: node(2),
                capacity1: U256::from(receivable),
                capacity2: U256::from(balance_in),
                fee_schedule1: FeeSchedule::default(),
                fee_schedule2: schedule_in,
            },
            ChannelDescription {
                channel_id: ChannelId(U256::from(2)),
                participant1: node(2),
                participant2: node(3),
                capacity1: U256::from(balance_out),
                // `b` cannot send back, so `m` has exactly one incoming edge that carries anything.
                capacity2: U256::ZERO,
                fee_schedule1: schedule_out,
                fee_schedule2: FeeSchedule::default(),
            },
        ];
        let network = ChannelGraph::build(Address::ZERO, &channels).expect("valid test channels");
        let topology = &network.topology;
        let (a, m, b) =
            (topology.node_index(&node(1)), topology.node_index(&node(2)), topology.node_index(&node(3)));
        let (a, m, b) = (a.expect("a"), m.expect("m"), b.expect("b"));
        let edge_in = topology.find_edge(a, m).expect("a → m");
        let edge_out = topology.find_edge(m, b).expect("m → b");
        (network, edge_in, edge_out)
    }

    fn fee_defined(network: &ChannelGraph, edge_in: EdgeIndex, edge_out: EdgeIndex, amount: u64) -> bool {
        let backward = network.topology.reverse[edge_in as usize];
        get_amount_with_fees(
            U256::from(amount),
            network.capacity(backward),
            network.capacity(edge_out),
            &network.state(backward).terms(),
            &network.state(edge_out).terms(),
            network.capacity(edge_in),
        )
        .is_ok()
    }

    #[test]
    fn an_incoming_penalty_short_of_the_deposit_rules_out_a_larger_outgoing_balance() {
        // m's penalty on the incoming channel ends at 150: 50 above its balance of 100, while
        // `a` can send 100. An outgoing balance of 80 needs the penalty up to 180.
        let (network, edge_in, edge_out) =
            mediator(100, 100, schedule(true, Some(vec![(0, 0), (150, 10)])), 80, schedule(true, None));
        assert!(!pair_defined(&network, edge_in, edge_out));
        assert!((1..=80).all(|amount| !fee_defined(&network, edge_in, edge_out, amount)));
    }

    #[test]
    fn an_outgoing_balance_within_the_slack_keeps_the_pair() {
        let (network, edge_in, edge_out) =
            mediator(100, 100, schedule(true, Some(vec![(0, 0), (150, 10)])), 40, schedule(true, None));
        assert!(pair_defined(&network, edge_in, edge_out));
        assert!(fee_defined(&network, edge_in, edge_out, 30));
    }

    #[test]
    fn an_incoming_channel_without_penalty_feeds_any_outgoing_balance() {
        let (network, edge_in, edge_out) = mediator(10, 10, schedule(true, None), 900, schedule(true, None));
        assert_eq!(incoming_slack(&network, edge_in), (Slack::Unlimited, true));
        assert!(pair_defined(&network, edge_in, edge_out));
    }

    #[test]
    fn mismatched_cap_fees_rule_out_the_pair() {
        let (network, edge_in, edge_out) =
            mediator(100, 100, schedule(false, None), 50, schedule(true, None));
        assert!(!pair_defined(&network, edge_in, edge_out));
        assert!(!fee_defined(&network, edge_in, edge_out, 10));
    }

    #[test]
    fn an_outgoing_edge_no_incoming_edge_can_feed_is_ruled_out() {
        let (network, edge_in, edge_out) =
            mediator(100, 100, schedule(true, Some(vec![(0, 0), (150, 10)])), 80, schedule(true, None));
        let m = network.topology.target[edge_in as usize];
        let range = MediatorRange::of(&network, m, |edge| !network.capacity(edge).is_zero());
        assert!(!range.can_forward_into(&network, edge_out));
        // Nor can the incoming edge be followed by anything: `m → b` needs 80 and `m → a` 100,
        // both beyond its slack of 50.
        assert!(!range.can_forward_from(&network, edge_in));
    }

    fn penalty_strategy() -> impl Strategy<Value = Option<Vec<(u64, u64)>>> {
        prop_oneof![
            Just(None),
            (0u64..200, 1u64..1500, 0u64..100, 0u64..100, 0u64..100).prop_map(
                |(first, width, y0, y1, y2)| Some(vec![
                    (first, y0),
                    (first + width, y1),
                    (first + width + 1 + width / 2, y2)
                ])
            ),
        ]
    }

    /// A mediator as [`mediator`] builds it, with random balances, penalties and `cap_fees`.
    fn mediator_strategy() -> impl Strategy<Value = (ChannelGraph, EdgeIndex, EdgeIndex)> {
        (
            (0u64..1000, 0u64..1000, 0u64..1000),
            (penalty_strategy(), penalty_strategy()),
            (any::<bool>(), any::<bool>()),
        )
            .prop_map(
                |((receivable, balance_in, balance_out), (penalty_in, penalty_out), (cap_in, cap_out))| {
                    mediator(
                        receivable,
                        balance_in,
                        schedule(cap_in, penalty_in),
                        balance_out,
                        schedule(cap_out, penalty_out),
                    )
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Soundness of the pruning: whenever the pair is ruled out, the fee model agrees for
        /// every amount.
        #[test]
        fn a_pair_ruled_out_has_no_fee_at_any_amount(
            (network, edge_in, edge_out) in mediator_strategy(),
        ) {
            if !pair_defined(&network, edge_in, edge_out) {
                for amount in [1, 2, 7, 50, 199, 500, 999, 1500] {
                    prop_assert!(!fee_defined(&network, edge_in, edge_out, amount), "amount {}", amount);
                }
            }
            let (need, _) = outgoing_need(&network, edge_out);
            for amount in [1u64, 50, 500] {
                if U256::from(amount) > need {
                    prop_assert!(!fee_defined(&network, edge_in, edge_out, amount));
                }
            }
        }

        /// A slack's [`NeedEstimates`] decide an outgoing edge's need from its estimate only as
        /// the exact comparison does, at any magnitude and however close the two are.
        #[test]
        fn need_estimates_decide_as_the_exact_need_does(
            scale in 0usize..250,
            slack in any::<u64>(),
            delta in -2_000i64..2_000,
            multiplied in 0u32..3,
        ) {
            let slack = U256::from(slack) << scale;
            let near = if delta < 0 {
                slack.saturating_sub(U256::from(delta.unsigned_abs()))
            } else {
                slack.saturating_add(U256::from(delta.unsigned_abs()))
            };
            // Right beside the slack, or a few per mille and per cent away from it.
            let need = match multiplied {
                0 => near,
                1 => near + (near >> 9),
                _ => near - (near >> 6),
            };
            let estimate = f32_at_most(need).to_bits();
            let decided = NeedEstimates::of(Slack::Limited(slack)).decide(estimate);
            prop_assert!(decided.is_none_or(|covered| covered == (need <= slack)), "{:?}", decided);
        }

        /// The estimates the bound scans with never rule out a pair the exact conditions allow.
        #[test]
        fn estimates_never_rule_out_a_defined_pair(
            (network, edge_in, edge_out) in mediator_strategy(),
        ) {
            if pair_defined(&network, edge_in, edge_out) {
                // The entry's estimates are kept at the mediator's side of its channel.
                let mediator_side = network.state(network.topology.reverse[edge_in as usize]);
                let outgoing = network.state(edge_out).pair;
                prop_assert!(outgoing.need != PairEstimates::NO_PAIR);
                prop_assert!(mediator_side.pair.entry_may_precede(
                    mediator_side.penalty_covers_capacity,
                    outgoing.cap_fees,
                    outgoing.need,
                ));
            }
        }
    }
}
