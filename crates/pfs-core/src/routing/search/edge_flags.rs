//! The per-request facts about each edge that the searches read: its [`EdgeFlags`] (whether it
//! carries the value, whether its fee weight may be finite, the same for its reverse, ...) and
//! its lower-bound step (see `PathFinder::compute_hops`), computed for every edge at the start
//! of a request ([`PathFinder::compute_flags`]).
//!
//! One pass over every edge, rather than each node's edges when a search first looks at it:
//! on the generated network of 15k nodes and 52k channels a request with `max_paths` 5 looks
//! at a third of the edges (some 35,000 of 104,000) and working them out on demand was no
//! faster than the pass, which reads the graph's [`SearchKey`]s in order.

use super::super::graph::{EdgeIndex, NodeIndex, SearchKey, WeightAmounts, amount_key, weight_window};
use super::bounds::{MAX_BOUND_STEP, UNDEFINED_STEP};
use super::validity::at_least;
use super::{PathFinder, Query};

/// Per-edge bits of one request (`PathFinder::edge_flags`). The reverse edge's bits are copied
/// into each edge so that the searches read only the edge they walk (sequential in memory)
/// instead of its reverse (anywhere).
pub(super) type EdgeFlags = u16;
/// The search may use the edge (see [`usable`]).
pub(super) const USABLE: EdgeFlags = 1;
/// The edge's capacity reaches the refund threshold (so its reverse has no no-refund weight).
pub(super) const REFUNDABLE: EdgeFlags = 1 << 1;
/// The reverse edge's [`USABLE`].
pub(super) const REVERSE_USABLE: EdgeFlags = 1 << 2;
/// The reverse edge's [`REFUNDABLE`].
pub(super) const REVERSE_REFUNDABLE: EdgeFlags = 1 << 3;
/// The edge's channel carries a diversity penalty in this request.
pub(super) const DIVERSE: EdgeFlags = 1 << 4;
/// The sender's imbalance penalty is defined at its balance in this edge.
const PENALTY_COVERS: EdgeFlags = 1 << 5;
/// The edge's capacity is at least the value.
pub(super) const CARRIES: EdgeFlags = 1 << 6;
/// Valid when `edge_mediation_stamp` is the request's generation: some valid path may use the
/// edge as far as its mediators' amount-independent conditions go (see
/// [`super::super::mediation_range`]).
pub(super) const MEDIATION_POSSIBLE: EdgeFlags = 1 << 7;
/// The edge's fee weight may be finite for the value; without this bit it is `+inf` (see
/// [`WeightAmounts`]).
pub(super) const WEIGHT_MAY_BE_FINITE: EdgeFlags = 1 << 8;
/// The reverse edge's [`WEIGHT_MAY_BE_FINITE`].
pub(super) const REVERSE_WEIGHT_MAY_BE_FINITE: EdgeFlags = 1 << 9;

impl PathFinder {
    /// Computes [`EdgeFlags`] and the lower-bound steps of every edge for `query`: one pass over
    /// the graph's [`SearchKey`]s (which hold both directions of each edge) in edge order, as if
    /// every edge were between two mediators, then the edges at the source and the target.
    ///
    /// Why it looks the way it does, measured at 15k nodes and 52k channels: with branches on
    /// the comparisons (whether an edge carries the value is a coin toss) and the reverse
    /// edge's flags read anywhere in memory, the pass took 1.8 ms per request; without either,
    /// 0.8 ms; with the source, the target and the heads' presence (a read anywhere) left out
    /// of the loop, so that the compiler vectorises it, 0.23 ms.
    pub(super) fn compute_flags(&mut self, query: &Query<'_>) {
        let network = query.network;
        let topology = &network.topology;
        let amounts = AmountKeys {
            value: amount_key(&query.value),
            // No threshold: no edge is refundable (a key that no capacity exceeds or equals).
            threshold: query.refund_threshold.as_ref().map_or(f32::NAN, amount_key),
        };
        let ends = RequestEnds {
            source: query.source,
            target: query.target,
            from_source: topology.out_edges(query.source),
            from_target: topology.out_edges(query.target),
        };
        // Every edge as if both its ends were mediators, from the keys alone: a loop without
        // branches or reads elsewhere, which the compiler vectorises.
        let mut first_edge = 0;
        for keys in network.search_key_chunks() {
            let edges = first_edge..first_edge + keys.len();
            let (flags, steps) = (&mut self.edge_flags[edges.clone()], &mut self.bound_steps[edges]);
            let mut exceptions = false;
            for (key, (flags, step)) in keys.iter().zip(flags.iter_mut().zip(steps.iter_mut())) {
                exceptions |= amounts.leaves_open(key);
                *flags = ends.combine_between_mediators(amounts.side(key, 0), amounts.side(key, 1));
                *step = bound_step(*flags, 0);
            }
            if exceptions {
                // Equal keys leave the order of amounts open and a weight window needs the
                // states: both are rare, so they are settled here, when the chunk has any.
                for (offset, (key, (flags, step))) in
                    keys.iter().zip(flags.iter_mut().zip(steps.iter_mut())).enumerate()
                {
                    if amounts.leaves_open(key) {
                        let (forward, backward) =
                            amounts.sides(query, (first_edge + offset) as EdgeIndex, key);
                        *flags = ends.combine_between_mediators(forward, backward);
                        *step = bound_step(*flags, 0);
                    }
                }
            }
            first_edge += keys.len();
        }
        // The edges at the source and the target (both ways), which are no mediators.
        for node in [query.source, query.target] {
            for out_edge in topology.out_edges(node) {
                for edge in [out_edge, topology.reverse[out_edge] as usize] {
                    let (forward, backward) =
                        amounts.sides(query, edge as EdgeIndex, network.search_key(edge as EdgeIndex));
                    self.edge_flags[edge] = ends.combine(forward, backward, edge, topology.target[edge]);
                    self.bound_steps[edge] = bound_step(self.edge_flags[edge], 0);
                }
            }
        }
    }
}

/// The lower-bound step of the reverse of an edge with final `flags` (see
/// `PathFinder::bound_steps`), with `diversity_steps` of penalty on its channel; 0 if the
/// search cannot walk that reverse, [`UNDEFINED_STEP`] if its fee weight is undefined. The
/// presence of the edge's head is left to the searches: they check it for the nodes they
/// label, which are far fewer than the edges.
#[inline]
pub(super) fn bound_step(flags: EdgeFlags, diversity_steps: u32) -> u8 {
    // Branch-free (see `compute_flags`): masks select the step.
    let walkable = u8::from(flags & REVERSE_USABLE != 0).wrapping_neg();
    let undefined = u8::from(flags & REVERSE_WEIGHT_MAY_BE_FINITE == 0).wrapping_neg();
    // No refund when this edge (the reverse of the one walked) is below the threshold.
    let no_refund = u32::from(flags & REFUNDABLE == 0);
    let finite = (1 + no_refund + diversity_steps).min(MAX_BOUND_STEP) as u8;
    walkable & ((undefined & UNDEFINED_STEP) | (!undefined & finite))
}

/// Whether an edge may be on a valid path, from its flags and its reverse's ([`CARRIES`],
/// [`PENALTY_COVERS`]) and whether its tail is the source and its head the
/// target. An edge below the value makes every path through it invalid (§2.7 step 1). A mediator
/// evaluates the imbalance penalty of its outgoing channel at its balance there (the edge's
/// capacity) and that of its incoming channel at its balance there (the reverse edge's
/// capacity), whatever the amount (§2.8 step 5): where the penalty is not defined, every path
/// with that mediator is invalid. The source and the target are not mediators.
#[inline]
fn usable(flags: EdgeFlags, reverse_flags: EdgeFlags, tail_is_source: bool, head_is_target: bool) -> bool {
    // `&` and `|` rather than `&&` and `||`: branch-free (see `PathFinder::compute_flags`).
    (flags & CARRIES != 0)
        & (tail_is_source | (flags & PENALTY_COVERS != 0))
        & (head_is_target | (reverse_flags & PENALTY_COVERS != 0))
}

/// The value and the refund threshold of a request as [`amount_key`]s.
struct AmountKeys {
    value: f32,
    threshold: f32,
}

impl AmountKeys {
    /// The [`CARRIES`], [`REFUNDABLE`], [`PENALTY_COVERS`] and [`WEIGHT_MAY_BE_FINITE`] bits of
    /// side `side` of `key` (0: the edge, 1: its reverse), exact unless `leaves_open`.
    #[inline]
    fn side(&self, key: &SearchKey, side: usize) -> EdgeFlags {
        let carries = key.capacity[side] > self.value;
        let up_to_capacity = key.weight_amounts[side] == WeightAmounts::UpToCapacity;
        bit(carries, CARRIES)
            | bit(key.capacity[side] > self.threshold, REFUNDABLE)
            | bit(key.penalty_covers_capacity[side], PENALTY_COVERS)
            | bit(carries & up_to_capacity, WEIGHT_MAY_BE_FINITE)
    }

    /// The bits of `edge` (whose key is `key`) and of its reverse: from the key, or from the
    /// states when the key `leaves_open` them.
    fn sides(&self, query: &Query<'_>, edge: EdgeIndex, key: &SearchKey) -> (EdgeFlags, EdgeFlags) {
        if self.leaves_open(key) {
            let backward = query.network.topology.reverse[edge as usize];
            (exact_side(query, edge, backward), exact_side(query, backward, edge))
        } else {
            (self.side(key, 0), self.side(key, 1))
        }
    }

    /// Whether `side` may be wrong for `key`: a capacity key equal to the value's or the
    /// threshold's, or a weight window.
    #[inline]
    fn leaves_open(&self, key: &SearchKey) -> bool {
        let open = |side: usize| {
            (key.capacity[side] == self.value)
                | (key.capacity[side] == self.threshold)
                | (key.weight_amounts[side] == WeightAmounts::Window)
        };
        open(0) | open(1)
    }
}

/// `AmountKeys::side` for `edge` (whose reverse is `backward`) from its state: exact.
#[cold]
fn exact_side(query: &Query<'_>, edge: EdgeIndex, backward: EdgeIndex) -> EdgeFlags {
    let network = query.network;
    let state = network.state(edge);
    let carries = at_least(&state.capacity, &query.value);
    let refundable = query.refund_threshold.is_some_and(|threshold| at_least(&state.capacity, &threshold));
    let may_be_finite = match state.weight_amounts {
        WeightAmounts::Never => false,
        WeightAmounts::UpToCapacity => carries,
        WeightAmounts::Window => weight_window(state, network.state(backward))
            .is_some_and(|(least, most)| least <= query.value && query.value <= most),
    };
    bit(carries, CARRIES)
        | bit(refundable, REFUNDABLE)
        | bit(state.penalty_covers_capacity, PENALTY_COVERS)
        | bit(may_be_finite, WEIGHT_MAY_BE_FINITE)
}

/// The source and the target of a request: they are no mediators.
struct RequestEnds {
    source: NodeIndex,
    target: NodeIndex,
    from_source: std::ops::Range<usize>,
    from_target: std::ops::Range<usize>,
}

impl RequestEnds {
    /// The final flags of `edge` (into `head`) from its own bits and its reverse's (see
    /// [`AmountKeys::side`]).
    #[inline]
    fn combine(&self, forward: EdgeFlags, backward: EdgeFlags, edge: usize, head: NodeIndex) -> EdgeFlags {
        let (tail_is_source, tail_is_target) =
            (self.from_source.contains(&edge), self.from_target.contains(&edge));
        let forward_usable = usable(forward, backward, tail_is_source, head == self.target);
        let backward_usable = usable(backward, forward, head == self.source, tail_is_target);
        with_reverse(forward, backward, forward_usable, backward_usable)
    }

    /// [`RequestEnds::combine`] for an edge whose ends are neither the source nor the target.
    #[inline]
    fn combine_between_mediators(&self, forward: EdgeFlags, backward: EdgeFlags) -> EdgeFlags {
        let forward_usable = usable(forward, backward, false, false);
        let backward_usable = usable(backward, forward, false, false);
        with_reverse(forward, backward, forward_usable, backward_usable)
    }
}

/// An edge's final flags from its own bits, its reverse's and whether each is usable.
#[inline]
fn with_reverse(
    forward: EdgeFlags,
    backward: EdgeFlags,
    forward_usable: bool,
    backward_usable: bool,
) -> EdgeFlags {
    forward
        | bit(forward_usable, USABLE)
        | bit(backward_usable, REVERSE_USABLE)
        | bit(backward & REFUNDABLE != 0, REVERSE_REFUNDABLE)
        | bit(backward & WEIGHT_MAY_BE_FINITE != 0, REVERSE_WEIGHT_MAY_BE_FINITE)
}

/// `flag` if `set`, else nothing, without a branch.
#[inline]
fn bit(set: bool, flag: EdgeFlags) -> EdgeFlags {
    EdgeFlags::from(set) * flag
}
