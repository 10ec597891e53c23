//! The edge weight of §2.6, in the reference's f64 operation order:
//! `1 + diversity + fee / 1e18 · fee_penalty + no_refund`, summed left to right.

use alloy_primitives::{I256, U256};

use crate::fees::float::{f64_to_u256_truncated, i256_to_f64, u256_to_f64};
use crate::fees::{ScheduleTerms, get_amount_with_fees};
use crate::ids::TokenAmount;

use super::graph::ChannelView;

/// `int(float(amount) * 1.1)`: a partner capacity below this earns the no-refund weight; `None`
/// when it is at least 2^256 (then every capacity is below it).
pub(crate) fn refund_threshold(amount: TokenAmount) -> Option<U256> {
    f64_to_u256_truncated(u256_to_f64(amount) * 1.1)
}

/// `fee / 1e18 * fee_penalty` for the fee a channel's sender and receiver would charge to move
/// `amount` through it with `balance_in = balance_out = receivable = capacity` and `cap_fees`
/// forced on; `+inf` when that fee is undefined.
pub(crate) fn fee_weight(
    capacity: TokenAmount,
    sender: ScheduleTerms<'_>,
    receiver: ScheduleTerms<'_>,
    amount: TokenAmount,
    fee_penalty: f64,
) -> f64 {
    let fee = if sender.is_free() && receiver.is_free() && !amount.is_zero() && amount <= capacity {
        // No fees: the fee function is zero and the intersection is `amount` itself.
        I256::ZERO
    } else {
        let schedule_in = receiver.with_cap_fees(true);
        let schedule_out = sender.with_cap_fees(true);
        match get_amount_with_fees(amount, capacity, capacity, &schedule_in, &schedule_out, capacity) {
            Ok(with_fees) => match (I256::try_from(with_fees), I256::try_from(amount)) {
                (Ok(with_fees), Ok(amount)) => with_fees - amount,
                _ => return f64::INFINITY,
            },
            Err(_) => return f64::INFINITY,
        }
    };
    i256_to_f64(fee) / 1e18 * fee_penalty
}

/// `1` if the partner could not refund `amount` (its capacity is below `int(float(amount)·1.1)`).
pub(crate) fn no_refund_weight(capacity_partner: TokenAmount, threshold: Option<U256>) -> f64 {
    match threshold {
        Some(threshold) if capacity_partner >= threshold => 0.0,
        _ => 1.0,
    }
}

/// The weight of `view` for a payment of `amount` (`ChannelGraph.edge_weight`): `diversity` is
/// the penalty accumulated by earlier paths on this channel; `+inf` when the fee is undefined.
///
/// # Example
/// ```
/// use pfs_core::routing::{ChannelDescription, ChannelGraph, edge_weight};
/// use pfs_core::{Address, ChannelId, FeeSchedule, U256};
///
/// let (a, b) = (Address::from_bytes([1; 20]), Address::from_bytes([2; 20]));
/// let ether = U256::from(10u64).pow(U256::from(18));
/// let channel = ChannelDescription {
///     channel_id: ChannelId(U256::from(1)),
///     participant1: a,
///     participant2: b,
///     capacity1: ether * U256::from(20),
///     capacity2: ether * U256::from(10),
///     fee_schedule1: FeeSchedule::default(),
///     fee_schedule2: FeeSchedule::default(),
/// };
/// let network = ChannelGraph::build(Address::ZERO, &[channel]).unwrap();
/// let view = network.view(&a, &b).unwrap();
/// assert_eq!(edge_weight(2.0, &view, ether, 0.0), 3.0);
/// ```
pub fn edge_weight(diversity: f64, view: &ChannelView<'_>, amount: TokenAmount, fee_penalty: f64) -> f64 {
    let fee =
        fee_weight(view.capacity, view.fee_schedule_sender, view.fee_schedule_receiver, amount, fee_penalty);
    if fee.is_infinite() && fee > 0.0 {
        return f64::INFINITY;
    }
    1.0 + diversity + fee + no_refund_weight(view.capacity_partner, refund_threshold(amount))
}
