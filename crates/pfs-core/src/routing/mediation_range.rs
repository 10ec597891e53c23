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
//! Each node's best slack and least need are computed once per request when the search first
//! looks at one of its edges.
//!
//! Why it matters: penalty points come from Raiden's float `linspace`, so a channel's last point
//! is often a few hundred units below its deposit, and then any outgoing channel larger than the
//! incoming one makes the fee undefined. Without this rule, a mediator whose every incoming
//! channel is too small for its outgoing one was found invalid once per path through it.

use alloy_primitives::U256;

use super::graph::{ChannelGraph, EdgeIndex, NodeIndex};

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
    let state = network.state(backward);
    let terms = state.terms();
    let receivable = network.capacity(edge_in);
    let slack = match terms.imbalance_penalty {
        Some(points) if !points.is_empty() => {
            let last = points.point(points.len() - 1).0;
            let slack = last.saturating_sub(state.capacity);
            if receivable <= slack { Slack::Unlimited } else { Slack::Limited(slack) }
        }
        _ => Slack::Unlimited,
    };
    (slack, terms.cap_fees)
}

/// What `edge_out` (`m → x`) needs as the outgoing channel of mediator `m`, and `m`'s
/// `cap_fees` on it.
pub(crate) fn outgoing_need(network: &ChannelGraph, edge_out: EdgeIndex) -> (U256, bool) {
    let state = network.state(edge_out);
    let terms = state.terms();
    let first = match terms.imbalance_penalty {
        Some(points) if !points.is_empty() => points.point(0).0,
        _ => U256::ZERO,
    };
    (state.capacity.saturating_sub(first), terms.cap_fees)
}

/// One node's partner edges as a mediator, per `cap_fees` setting (index 0: `false`, 1: `true`):
/// the largest slack of an incoming edge that can carry the value, and the least need of an
/// outgoing edge that can carry it. `None` when there is no such edge.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MediatorRange {
    pub best_slack: [Option<Slack>; 2],
    pub least_need: [Option<U256>; 2],
}

impl MediatorRange {
    /// The range of `node`; `carries(edge)` says whether an edge's capacity reaches the value.
    pub fn of(network: &ChannelGraph, node: NodeIndex, carries: impl Fn(EdgeIndex) -> bool) -> Self {
        let topology = &network.topology;
        let mut range = Self::default();
        for edge_out in topology.out_edges(node) {
            let edge_out = edge_out as EdgeIndex;
            if carries(edge_out) && !network.capacity(edge_out).is_zero() {
                let (need, cap_fees) = outgoing_need(network, edge_out);
                let least = &mut range.least_need[usize::from(cap_fees)];
                *least = Some(least.map_or(need, |least| least.min(need)));
            }
            let edge_in = topology.reverse[edge_out as usize];
            if carries(edge_in) && !network.capacity(edge_in).is_zero() {
                let (slack, cap_fees) = incoming_slack(network, edge_in);
                let best = &mut range.best_slack[usize::from(cap_fees)];
                *best = Some(best.map_or(slack, |best| best.max(slack)));
            }
        }
        range
    }

    /// Whether some incoming edge of this mediator can feed `edge_out`.
    pub fn can_forward_into(&self, network: &ChannelGraph, edge_out: EdgeIndex) -> bool {
        let (need, cap_fees) = outgoing_need(network, edge_out);
        self.best_slack[usize::from(cap_fees)].is_some_and(|slack| slack.covers(need))
    }

    /// Whether some outgoing edge of this mediator can follow `edge_in`.
    pub fn can_forward_from(&self, network: &ChannelGraph, edge_in: EdgeIndex) -> bool {
        let (slack, cap_fees) = incoming_slack(network, edge_in);
        self.least_need[usize::from(cap_fees)].is_some_and(|need| slack.covers(need))
    }
}

/// Whether a mediator entered by `edge_in` and left by `edge_out` passes the conditions of its
/// fee that do not depend on the amount (both balances inside their penalty's points, the same
/// `cap_fees`, something to receive and to forward, and the incoming penalty reaching far
/// enough). If not, every path through these two edges is invalid (§2.7 step 2).
pub(crate) fn pair_defined(network: &ChannelGraph, edge_in: EdgeIndex, edge_out: EdgeIndex) -> bool {
    let backward = network.topology.reverse[edge_in as usize];
    let (slack, cap_fees_in) = incoming_slack(network, edge_in);
    let (need, cap_fees_out) = outgoing_need(network, edge_out);
    cap_fees_in == cap_fees_out
        && !network.capacity(edge_in).is_zero()
        && !network.capacity(edge_out).is_zero()
        && network.state(backward).penalty_covers_capacity
        && network.state(edge_out).penalty_covers_capacity
        && slack.covers(need)
}
