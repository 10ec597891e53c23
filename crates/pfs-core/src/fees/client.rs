//! The client-side fee helpers of Raiden (`raiden/utils/mediation_fees.py`,
//! `raiden/transfer/mediated_transfer/initiator.py`): how a node turns its CLI settings into the
//! schedule it announces, and the margin an initiator adds to the PFS's `estimated_fee`.
//!
//! The PFS never calls these; they are here so the project's node-side client announces exactly
//! what a Raiden node would, and they are tested against the vectors. `calculate_imbalance_fees`
//! and the margins run in IEEE-754 doubles with the reference's operation order.

use alloy_primitives::{I256, U256, U512};

use super::float::{divide_to_f64, f64_to_u256_truncated, i256_to_f64, u256_to_f64};
use crate::ids::TokenAmount;

/// Most points of Raiden's default imbalance curve (`NUM_DISCRETE_POINTS`).
pub const NUM_DISCRETE_POINTS: u64 = 21;

/// Steepest slope of Raiden's default imbalance curve (`MAXIMUM_SLOPE`).
pub const MAXIMUM_SLOPE: f64 = 0.1;

/// Why a client helper refused its input (the reference asserts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientFeeError {
    /// `linspace` needs at least two points.
    #[error("linspace needs at least two points, got {0}")]
    TooFewPoints(u64),
    /// `linspace` needs `start <= stop`.
    #[error("linspace needs start <= stop")]
    DescendingRange,
    /// The imbalance fee exceeds half the maximum slope (`proportional / 10^6 > 0.05`).
    #[error("imbalance fee {0} ppm is too high (at most 50000)")]
    ImbalanceFeeTooHigh(U256),
    /// A computed point does not fit 256 bits.
    #[error("a computed point does not fit 256 bits")]
    TooLarge,
}

/// `ppm_fee_per_channel`: a per-mediation proportional fee (ppm) as the per-channel fee that,
/// charged on both channels, adds up to it: `round(r / (r + 2) · 10^6)` with `r = ppm / 10^6`,
/// exact, halves to even.
pub fn ppm_fee_per_channel(per_hop_ppm: U256) -> U256 {
    // r/(r+2)·10^6 = ppm·10^6 / (ppm + 2·10^6), exactly.
    let numerator = U512::from(per_hop_ppm) * U512::from(1_000_000u64);
    let denominator = U512::from(per_hop_ppm) + U512::from(2_000_000u64);
    let quotient = numerator / denominator;
    let twice_remainder = (numerator % denominator) * U512::from(2u8);
    let rounded = match twice_remainder.cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + U512::from(1u8),
        std::cmp::Ordering::Equal => quotient + (quotient & U512::from(1u8)),
    };
    // The quotient is below 10^6.
    U256::from(rounded)
}

/// `linspace(start, stop, num)`: `num` integers from `start` to `stop` inclusive,
/// `start + round(i · step)` with `step = (stop − start) / (num − 1)` as a float.
///
/// # Errors
/// [`ClientFeeError`] for fewer than two points or a descending range.
pub fn linspace(start: TokenAmount, stop: TokenAmount, num: u64) -> Result<Vec<TokenAmount>, ClientFeeError> {
    if num <= 1 {
        return Err(ClientFeeError::TooFewPoints(num));
    }
    if start > stop {
        return Err(ClientFeeError::DescendingRange);
    }
    let step = divide_to_f64(stop - start, U256::from(num - 1));
    (0..num)
        .map(|index| {
            let offset = f64_to_u256_truncated((index as f64 * step).round_ties_even())
                .ok_or(ClientFeeError::TooLarge)?;
            start.checked_add(offset).ok_or(ClientFeeError::TooLarge)
        })
        .collect()
}

/// `calculate_imbalance_fees(capacity, proportional_imbalance_fee)`: Raiden's default U-shaped
/// imbalance penalty, up to 21 points, steepest slope 0.1; `None` when either argument is zero.
///
/// # Errors
/// [`ClientFeeError::ImbalanceFeeTooHigh`] above 50 000 ppm (the reference asserts).
pub fn calculate_imbalance_fees(
    channel_capacity: TokenAmount,
    proportional_imbalance_fee: U256,
) -> Result<Option<Vec<(TokenAmount, TokenAmount)>>, ClientFeeError> {
    if proportional_imbalance_fee.is_zero() || channel_capacity.is_zero() {
        return Ok(None);
    }
    let product = U512::from(channel_capacity) * U512::from(proportional_imbalance_fee);
    let max_imbalance_fee = f64::from(&product) / 1e6;
    if u256_to_f64(proportional_imbalance_fee) / 1e6 > MAXIMUM_SLOPE / 2.0 {
        return Err(ClientFeeError::ImbalanceFeeTooHigh(proportional_imbalance_fee));
    }
    let slope = MAXIMUM_SLOPE;
    let c = max_imbalance_fee;
    let o = divide_to_f64(channel_capacity, U256::from(2u8));
    let b = slope * o / c;
    let b = if 10.0 < b { 10.0 } else { b };
    let a = c / o.powf(b);
    let points =
        NUM_DISCRETE_POINTS.min(u64::try_from(channel_capacity).unwrap_or(u64::MAX).saturating_add(1));
    let xs = linspace(U256::ZERO, channel_capacity, points)?;
    xs.into_iter()
        .map(|x| {
            let y = (a * (u256_to_f64(x) - o).abs().powf(b)).round_ties_even();
            f64_to_u256_truncated(y).map(|y| (x, y)).ok_or(ClientFeeError::TooLarge)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `calculate_fee_margin`: 0 for a zero fee, else `ceil(|fee| · 0.03 + amount · 0.0005)` in floats.
pub fn calculate_fee_margin(payment_amount: TokenAmount, estimated_fee: I256) -> U256 {
    if estimated_fee.is_zero() {
        return U256::ZERO;
    }
    let margin = i256_to_f64(estimated_fee).abs() * 0.03 + u256_to_f64(payment_amount) * 0.0005;
    f64_to_u256_truncated(margin.ceil()).unwrap_or(U256::MAX)
}

/// `calculate_safe_amount_with_fee`: `amount + fee + margin`, what an initiator locks; `None` if
/// it is negative or does not fit 256 bits.
pub fn calculate_safe_amount_with_fee(payment_amount: TokenAmount, estimated_fee: I256) -> Option<U256> {
    let margin = calculate_fee_margin(payment_amount, estimated_fee);
    let base = I256::try_from(payment_amount).ok()?.checked_add(estimated_fee)?;
    let total = base.checked_add(I256::try_from(margin).ok()?)?;
    if total.is_negative() { None } else { Some(total.into_raw()) }
}
