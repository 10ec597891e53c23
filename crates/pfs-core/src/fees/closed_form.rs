//! The backward mediation fee in closed form when neither schedule has an imbalance penalty: the
//! same points, capping and intersection as [`super::mediation`], worked out by hand for the two
//! (or, after capping, three) points that case produces, in 512-bit integers. It is the common
//! case of the search's edge weights and costs a few multiplications instead of dozens of
//! fraction operations; the property tests check it against the general algorithm.

use alloy_primitives::aliases::I512;
use alloy_primitives::{I256, U256, U512};

use super::UndefinedFee;
use super::arith::rounded_solution;
use super::mediation::{Direction, Mediation, intersection_segment};

fn unsigned(value: U256) -> I512 {
    I512::from_raw(U512::from(value))
}

fn signed(value: I256) -> I512 {
    let magnitude = unsigned(value.unsigned_abs());
    if value.is_negative() { -magnitude } else { magnitude }
}

/// `Some(result)` for a backward mediation without penalties whose numbers fit 512 bits; `None`
/// when the general algorithm must run. The caller has already established what
/// `undefined_before_fractions` checks (outgoing balance and receivable positive, amount at most
/// the outgoing balance) and that both schedules agree on `cap_fees`.
pub(crate) fn backward_without_penalties(mediation: &Mediation<'_>) -> Option<Result<U256, UndefinedFee>> {
    let (schedule_in, schedule_out) = (mediation.schedule_in, mediation.schedule_out);
    if mediation.direction != Direction::Backward
        || schedule_in.imbalance_penalty.is_some()
        || schedule_out.imbalance_penalty.is_some()
    {
        return None;
    }
    let scale = I512::try_from(1_000_000u64).ok()?;
    let amount = unsigned(mediation.amount);
    let upper = unsigned(mediation.balance_out.min(mediation.receivable));
    let flat = signed(schedule_in.flat).checked_add(signed(schedule_out.flat))?;
    let proportional_in = unsigned(schedule_in.proportional);
    let proportional_out = unsigned(schedule_out.proportional);
    // Fees scaled by 10^6: at x = 0 and at x = upper.
    let fee_start = scale.checked_mul(flat)?.checked_add(proportional_out.checked_mul(amount)?)?;
    let fee_end = fee_start.checked_add(proportional_in.checked_mul(upper)?)?;
    let zero = I512::ZERO;
    // Points (x, fee) scaled by `denominator` (and fees by 10^6), as `_cap_fees` leaves them.
    let (denominator, points, count) = if schedule_in.cap_fees && fee_start < zero && fee_end > zero {
        // The zero crossing lies at x = −fee_start / proportional_in.
        let denominator = proportional_in;
        let points = [
            (zero, zero),
            (-fee_start, zero),
            (denominator.checked_mul(upper)?, denominator.checked_mul(fee_end)?),
        ];
        (denominator, points, 3)
    } else if schedule_in.cap_fees {
        (I512::ONE, [(zero, fee_start.max(zero)), (upper, fee_end.max(zero)), (zero, zero)], 2)
    } else {
        (I512::ONE, [(zero, fee_start), (upper, fee_end), (zero, zero)], 2)
    };
    let scaled_amount = denominator.checked_mul(amount)?;
    let line =
        |index: usize| -> Option<I512> { scale.checked_mul(points[index].0.checked_sub(scaled_amount)?) };

    let (previous, index) = match intersection_segment(count, |index| {
        Ok::<_, ()>(points[index].1.cmp(&line(index).ok_or(())?))
    }) {
        Err(()) => return None,
        Ok(Err(reason)) => return Some(Err(reason)),
        Ok(Ok(segment)) => segment,
    };
    let (line_previous, line_current) = (line(previous)?, line(index)?);
    let (x_previous, fee_previous) = points[previous];
    let (x_current, fee_current) = points[index];
    let numerator =
        line_previous.checked_sub(fee_previous)?.checked_mul(x_current.checked_sub(x_previous)?)?;
    let divisor =
        fee_current.checked_sub(fee_previous)?.checked_sub(line_current.checked_sub(line_previous)?)?;
    if divisor.is_zero() {
        return Some(Err(UndefinedFee::DivisionByZero));
    }
    // x = numerator / divisor / denominator + x_previous / denominator
    let top = numerator.checked_add(x_previous.checked_mul(divisor)?)?;
    rounded_solution(top, divisor.checked_mul(denominator)?)
}
