//! Edge weights in the current request: the exact length of an edge (§2.6 weight, diversity and
//! feedback), computed once per request and edge and cached, the cheap lower bound that the
//! searches queue an edge with until then, and the mediators' amount-independent conditions.

use super::super::graph::{ChannelGraph, EdgeIndex, NodeIndex};
use super::super::mediation_range::{MediatorRange, outgoing_need};
use super::super::weight::{fee_weight, no_refund_weight};
use super::bounds::MAX_BOUND_STEP;
use super::distance::Distance;
use super::edge_flags::{
    CARRIES, DIVERSE, MEDIATION_POSSIBLE, REVERSE_REFUNDABLE, USABLE, WEIGHT_MAY_BE_FINITE, bound_step,
};
use super::{PathFinder, Query};

/// The weight parts of one edge for the current request (valid when `stamp` is the request's
/// generation): whether the search may use it, its fee weight and its no-refund weight.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct EdgeWeight {
    stamp: u32,
    usable: bool,
    fee_weight: f64,
    no_refund: f64,
    /// The routing feedback's extra weight (see
    /// [`EdgePenalties`](super::super::feedback::EdgePenalties)).
    feedback: f64,
}

impl PathFinder {
    /// Adds `penalty` to the diversity of `edge`'s channel, penalised in outer iteration `epoch`.
    pub(super) fn add_diversity(
        &mut self,
        network: &ChannelGraph,
        edge: EdgeIndex,
        penalty: f64,
        epoch: u32,
    ) {
        let channel = network.topology.channel[edge as usize] as usize;
        if self.channel_stamp[channel] != self.request_generation {
            self.channel_stamp[channel] = self.request_generation;
            // Python: `visited[channel_id] += penalty` starting from int 0.
            self.channel_diversity[channel] = 0.0;
        }
        self.channel_diversity[channel] += penalty;
        self.channel_penalised_in[channel] = epoch;
        let steps = self.channel_diversity[channel].floor().min(f64::from(MAX_BOUND_STEP)) as u32;
        for edge in [edge, network.topology.reverse[edge as usize]] {
            let index = edge as usize;
            self.edge_flags[index] |= DIVERSE;
            // Still 0 for a reverse the search cannot walk.
            self.bound_steps[index] = bound_step(self.edge_flags[index], steps);
        }
    }

    fn diversity(&self, network: &ChannelGraph, edge: EdgeIndex) -> f64 {
        if self.edge_flags[edge as usize] & DIVERSE == 0 {
            return 0.0;
        }
        let channel = network.topology.channel[edge as usize] as usize;
        if self.channel_stamp[channel] == self.request_generation {
            self.channel_diversity[channel]
        } else {
            0.0
        }
    }

    /// The length of `edge` now, or `None` if the search must not use it (head offline, or
    /// capacity below the value).
    pub(super) fn weight(&mut self, query: &Query<'_>, edge: EdgeIndex) -> Option<Distance> {
        let index = edge as usize;
        if self.edge_weights[index].stamp != self.request_generation {
            self.edge_weights[index].stamp = self.request_generation;
            let network = query.network;
            let head = network.topology.target[index];
            let usable = self.edge_flags[index] & USABLE != 0
                && query.online.contains_node(head)
                && self.mediation_possible(query, edge);
            self.edge_weights[index].usable = usable;
            if usable {
                self.edges_weighed += 1;
                // Outside its window the fee computation fails at once; skip even that.
                self.edge_weights[index].fee_weight = if self.edge_flags[index] & WEIGHT_MAY_BE_FINITE == 0 {
                    f64::INFINITY
                } else {
                    let (sender, receiver) = network.terms(edge);
                    fee_weight(network.capacity(edge), sender, receiver, query.value, query.fee_penalty)
                };
                let backward = network.topology.reverse[index];
                self.edge_weights[index].no_refund =
                    no_refund_weight(network.capacity(backward), query.refund_threshold);
                self.edge_weights[index].feedback = query.feedback.of(edge);
            }
        }
        let EdgeWeight { usable, fee_weight: fee, no_refund, feedback, .. } = self.edge_weights[index];
        if !usable {
            return None;
        }
        if fee == f64::INFINITY {
            return Some(Distance::of_weight(f64::INFINITY));
        }
        let weight = 1.0 + self.diversity(query.network, edge) + fee + no_refund;
        // Added last, and only when there is some: without feedback the weight is the
        // reference's bit for bit.
        Some(Distance::of_weight(if feedback > 0.0 { weight + feedback } else { weight }))
    }

    /// Whether `edge` passes the amount-independent conditions of the mediators at its ends
    /// (see [`super::super::mediation_range`]); cached per request. An edge that fails them is on no
    /// valid path, so the search may skip it without changing the answer.
    fn mediation_possible(&mut self, query: &Query<'_>, edge: EdgeIndex) -> bool {
        let index = edge as usize;
        if self.edge_mediation_stamp[index] == self.request_generation {
            return self.edge_flags[index] & MEDIATION_POSSIBLE != 0;
        }
        let network = query.network;
        let (tail, head) = (network.topology.source(edge), network.topology.target[index]);
        let mut possible = true;
        if tail != query.source {
            possible = self.mediator_range(query, tail).can_forward_into(network, edge)
                // The last mediator forwards exactly the value.
                && (head != query.target || outgoing_need(network, edge).0 >= query.value);
        }
        if possible && head != query.target {
            possible = self.mediator_range(query, head).can_forward_from(network, edge);
        }
        self.edge_mediation_stamp[index] = self.request_generation;
        if possible {
            self.edge_flags[index] |= MEDIATION_POSSIBLE;
        }
        possible
    }

    /// `node`'s partner edges as a mediator in this request (computed on first use).
    fn mediator_range(&mut self, query: &Query<'_>, node: NodeIndex) -> MediatorRange {
        let index = node as usize;
        if self.node_range_stamp[index] != self.request_generation {
            let (network, flags) = (query.network, &self.edge_flags);
            // An edge that carries the value carries something, unless the value is zero.
            let value_is_zero = query.value.is_zero();
            let usable = |edge: EdgeIndex| {
                flags[edge as usize] & CARRIES != 0 && (!value_is_zero || !network.capacity(edge).is_zero())
            };
            self.node_ranges[index] = MediatorRange::of(network, node, usable);
            self.node_range_stamp[index] = self.request_generation;
        }
        self.node_ranges[index]
    }

    /// A lower bound of an edge's weight that needs no fee computation (`1 + diversity +
    /// no_refund`; the fee part is never negative), or its exact weight when already known.
    /// `None` if the edge is unusable. The flag tells whether the value is exact.
    pub(super) fn weight_bound(&mut self, query: &Query<'_>, edge: EdgeIndex) -> Option<(Distance, bool)> {
        let index = edge as usize;
        if self.edge_weights[index].stamp == self.request_generation {
            return self.weight(query, edge).map(|weight| (weight, true));
        }
        let network = query.network;
        let head = network.topology.target[index];
        // The mediators' conditions are checked only when the edge is weighed: most edges the
        // search looks at never are.
        if self.edge_flags[index] & USABLE == 0 || !query.online.contains_node(head) {
            return None;
        }
        if self.edge_flags[index] & WEIGHT_MAY_BE_FINITE == 0 {
            // Exact unless the mediators' conditions rule the edge out.
            return Some((Distance::of_weight(f64::INFINITY), false));
        }
        let no_refund = if self.edge_flags[index] & REVERSE_REFUNDABLE == 0 { 1.0 } else { 0.0 };
        Some((Distance::of_weight(1.0 + self.diversity(network, edge) + 0.0 + no_refund), false))
    }
}
