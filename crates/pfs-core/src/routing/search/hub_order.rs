//! The order in which an A* walks a hub's edges ([`HubOrders`]): each edge with the least key it
//! may add to the hub's distance, sorted, so that expanding a hub queues one entry (a cursor)
//! instead of every edge, and each edge is offered only when the cursor reaches the front.
//!
//! Why: on the generated 15k-node network a path passes several hubs of hundreds or thousands
//! of edges, and both searches queued every edge of each hub they expanded, most of them far
//! beyond the path they found: a set's search that took a dozen queue pops scanned thousands
//! of edges. The keys are lower bounds (an edge's weight bound and the bound after it), which
//! stay lower bounds while weights only grow, so an order serves until the search's bound is
//! computed again.

use super::super::graph::{EdgeIndex, NodeIndex};
use super::distance::Distance;
use super::{PathFinder, Query};

/// Where one hub's edges lie in [`HubOrders`] (valid when `generation` is the orders').
#[derive(Debug, Clone, Copy, Default)]
struct HubOrder {
    generation: u32,
    start: u32,
    end: u32,
}

/// The hubs' edge orders under one bound of one search, built on demand.
///
/// Invariant: for a hub whose order is valid, `edges[start..end]` holds each edge out of it that
/// the search may take in this request with the least key it may add, sorted by key and then
/// edge (the order in which the search queued them), and a position of that range is a cursor.
#[derive(Debug, Default)]
pub(super) struct HubOrders {
    orders: Vec<HubOrder>,
    edges: Vec<(Distance, EdgeIndex)>,
    generation: u32,
}

/// A cursor that is no hub's (see [`HubOrders`]).
pub(super) const NO_CURSOR: u32 = u32::MAX;

impl HubOrders {
    /// Forgets every order (the bound changed), and sizes the orders for `nodes` nodes.
    pub(super) fn reset(&mut self, nodes: usize) {
        if self.orders.len() < nodes {
            self.orders.resize(nodes, HubOrder::default());
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.orders.fill(HubOrder::default());
            self.generation = 1;
        }
        self.edges.clear();
    }

    /// The first cursor of `hub`'s order, built from `keyed` (each edge the search may take
    /// with its least key) if it is not yet; `None` if the search may take none of its edges.
    pub(super) fn first(
        &mut self,
        hub: NodeIndex,
        keyed: impl FnOnce(&mut Vec<(Distance, EdgeIndex)>),
    ) -> Option<(u32, Distance, EdgeIndex)> {
        let mut order = self.orders[hub as usize];
        if order.generation != self.generation {
            let start = self.edges.len();
            keyed(&mut self.edges);
            self.edges[start..].sort_unstable();
            order =
                HubOrder { generation: self.generation, start: start as u32, end: self.edges.len() as u32 };
            self.orders[hub as usize] = order;
        }
        (order.start < order.end).then(|| {
            let (key, edge) = self.edges[order.start as usize];
            (order.start, key, edge)
        })
    }

    /// The edge at `cursor` of `hub`'s order, and the next cursor with its least key and edge
    /// if the order goes on.
    pub(super) fn at(&self, hub: NodeIndex, cursor: u32) -> (EdgeIndex, Option<(u32, Distance, EdgeIndex)>) {
        let (_, edge) = self.edges[cursor as usize];
        let next = cursor + 1;
        let rest = (next < self.orders[hub as usize].end).then(|| {
            let (key, edge) = self.edges[next as usize];
            (next, key, edge)
        });
        (edge, rest)
    }
}

impl PathFinder {
    /// The first cursor of `hub`'s order in `orders` (the search's, see [`HubOrders`]): each
    /// edge out of it that the search may take in this request with its weight's lower bound
    /// plus `heuristic` of the edge (the bound after it), as they are now.
    pub(super) fn first_hub_cursor(
        &mut self,
        query: &Query<'_>,
        hub: NodeIndex,
        orders: fn(&mut Self) -> &mut HubOrders,
        heuristic: impl Fn(&Self, EdgeIndex) -> Option<Distance>,
    ) -> Option<(u32, Distance, EdgeIndex)> {
        let mut taken = std::mem::take(orders(self));
        let first = taken.first(hub, |keyed| {
            for edge in query.network.topology.out_edges(hub) {
                let edge = edge as EdgeIndex;
                if let Some(after) = heuristic(self, edge)
                    && let Some((bound, _)) = self.weight_bound(query, edge)
                {
                    keyed.push((bound.plus(after), edge));
                }
            }
        });
        *orders(self) = taken;
        first
    }
}
