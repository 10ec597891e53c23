//! The validity check of §2.7 ([`examine_path`]): every edge carries the value, and each
//! mediator's fee, from the last to the first, is defined; and [`at_least`], the quick
//! comparison of amounts by which the edge flags test capacities against the value.

use alloy_primitives::{I256, U256};

use crate::fees::get_amount_with_fees;

use super::super::graph::{ChannelGraph, EdgeIndex};

/// `left >= right`, comparing two limbs at a time when both fit 128 bits (nearly every amount).
#[inline]
pub(super) fn at_least(left: &U256, right: &U256) -> bool {
    let (left, right) = (left.as_limbs(), right.as_limbs());
    if (left[2] | left[3] | right[2] | right[3]) == 0 {
        (u128::from(left[1]) << 64 | u128::from(left[0]))
            >= (u128::from(right[1]) << 64 | u128::from(right[0]))
    } else {
        U256::from_limbs(*left) >= U256::from_limbs(*right)
    }
}

/// Why [`examine_path`] found a path invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Invalid {
    /// An edge cannot carry the value (§2.7 step 1).
    Capacity,
    /// The fee of the mediator at this index of the path's nodes is undefined, or the fees do
    /// not fit the arithmetic. It depends only on the edges from the mediator's incoming one to
    /// the target: every path that ends with them is invalid too.
    Fee {
        /// The mediator's index in the path's nodes (its incoming edge has the index before).
        mediator: usize,
    },
}

/// §2.7 on the edges of a path: every edge carries `value`, and each mediator's fee, from the
/// last to the first, is defined; returns the sum of the fees, or why the path is invalid.
pub(super) fn examine_path(
    network: &ChannelGraph,
    value: U256,
    edges: &[EdgeIndex],
) -> Result<I256, Invalid> {
    if edges.iter().any(|&edge| network.capacity(edge) < value) {
        return Err(Invalid::Capacity);
    }
    let topology = &network.topology;
    let mut total = value;
    let mut estimated_fee = I256::ZERO;
    for (index, pair) in edges.windows(2).enumerate().rev() {
        let (edge_in, edge_out) = (pair[0], pair[1]);
        let invalid = Invalid::Fee { mediator: index + 1 };
        let backward_in = topology.reverse[edge_in as usize];
        let (schedule_in, _) = network.terms(backward_in);
        let (schedule_out, _) = network.terms(edge_out);
        let with_fees = get_amount_with_fees(
            total,
            network.capacity(backward_in),
            network.capacity(edge_out),
            &schedule_in,
            &schedule_out,
            network.capacity(edge_in),
        )
        .map_err(|_| invalid)?;
        let fee = I256::try_from(with_fees)
            .ok()
            .zip(I256::try_from(total).ok())
            .and_then(|(with_fees, total)| with_fees.checked_sub(total))
            .ok_or(invalid)?;
        estimated_fee = estimated_fee.checked_add(fee).ok_or(invalid)?;
        total = with_fees;
    }
    Ok(estimated_fee)
}
