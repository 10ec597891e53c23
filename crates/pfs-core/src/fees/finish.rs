//! The last step of the float-filtered backward fee (`mediation::backward_filtered`): the
//! exact intersection between the two points the filter chose, worked out in integers over one
//! common denominator where they fit, else in reduced fractions.
//!
//! Every fee at a sample point is `C + p_in·x/10^6 + P_in(balance_in + x)`, where the constant
//! `C` holds the flat fees, the outgoing proportional fee and three penalty evaluations. Over the
//! common denominator `DC = 10^6·wa·wb·wc` of the constant (the widths of the penalty segments it
//! interpolates on), a sample's fee is `Y / (DC·w)`, `w` the width for its own evaluation. In the
//! intersection formula `DC` cancels (and where the segment has a zero crossing at one end, the
//! fee beside it cancels too), so the result is one quotient of integers of a few hundred bits:
//! a handful of 1024-bit multiplications and one division, where the reduced fractions took a
//! dozen gcds (some 8 µs of the 11 µs a fee with penalties took on the generated network). Only
//! when a number would not fit does the caller run the fractions.

use alloy_primitives::ruint::Uint;
use alloy_primitives::{I256, Signed, U256, U512};

use super::arith::{Exact, Wide, rounded_solution};
use super::mediation::{Failure, FilterPoint, IntegerPenalty};
use super::{ScheduleTerms, UndefinedFee};

/// The integers of this module: signed, 1024 bits, every operation checked.
type Integer = Signed<1024, 16>;

/// Checked products that skip the factors of 1 (most penalty widths are 1: the fee function's
/// samples lie on the penalties' points), each of which costs a full 1024-bit product.
trait Times: Sized {
    fn times(self, other: Self) -> Option<Self>;
}

impl Times for Integer {
    #[inline]
    fn times(self, other: Self) -> Option<Self> {
        if other == Self::ONE {
            Some(self)
        } else if self == Self::ONE {
            Some(other)
        } else {
            self.checked_mul(other)
        }
    }
}

fn integer(value: U512) -> Integer {
    Integer::from_raw(Uint::<1024, 16>::from(value))
}

fn signed(value: I256) -> Integer {
    let magnitude = integer(U512::from(value.unsigned_abs()));
    if value.is_negative() { -magnitude } else { magnitude }
}

/// `penalty` at `position` as `(numerator, width)`, in integers; `None` outside its points.
fn penalty_at(penalty: &IntegerPenalty, position: U512) -> Option<(Integer, Integer)> {
    let (numerator, width) = penalty.fraction(position)?;
    Some((integer(numerator), integer(width)))
}

/// The inputs of the backward mediation, as `backward_filtered` holds them.
pub(super) struct Finish<'a> {
    pub amount: U512,
    pub balance_in: U512,
    pub balance_out: U512,
    pub schedule_in: &'a ScheduleTerms<'a>,
    pub schedule_out: &'a ScheduleTerms<'a>,
    pub penalty_in: &'a IntegerPenalty,
    pub penalty_out: &'a IntegerPenalty,
    /// The sample points of the fee function.
    pub xs: &'a [U512],
    /// Whether negative fees are capped at zero (the crossings exist only then).
    pub capped: bool,
}

/// The constant part of every sample's fee, over its denominator.
struct Constant {
    /// `wa·wb·wc`, the widths of the segments its three penalty evaluations fall in.
    widths: Integer,
    /// `DC = 10^6·widths`.
    common: Integer,
    /// The constant times `DC`.
    numerator: Integer,
}

/// A sample's fee `Y / (DC·w)` before capping, with `DC` left out.
#[derive(Clone, Copy)]
struct SampleFee {
    scaled: Integer,
    width: Integer,
}

impl Finish<'_> {
    /// The rounded solution of `x − amount = fee(x)` on the segment from `previous` to
    /// `current` (`find_intersection`'s last step, then `round_half_even`), or why it is
    /// undefined. `None` when a number does not fit 1024 bits or a penalty evaluation falls
    /// outside its points: then [`Finish::with_fractions`] decides.
    pub(super) fn over_common_denominator(
        &self,
        previous: FilterPoint,
        current: FilterPoint,
    ) -> Option<Result<U256, UndefinedFee>> {
        let constant = self.constant()?;
        let common = constant.common;
        let fee = |sample: usize| self.sample_fee(sample, &constant);
        let zero = Integer::ZERO;
        let amount = integer(self.amount);
        // U = (x − amount)·DC·w − F: how far the line lies above a sample's fee, times DC·w.
        let above = |x: Integer, fee: SampleFee| {
            x.checked_sub(amount)?.times(common)?.times(fee.width)?.checked_sub(fee.scaled)
        };
        // The solution as `top / bottom`.
        let (top, bottom) = match (previous, current) {
            (FilterPoint::Sample(first), FilterPoint::Sample(second)) => {
                // x1 + U·Δ·w2 / V with U = (x1 − amount)·DC·w1 − F1 and
                // V = F2·w1 − F1·w2 − Δ·DC·w1·w2.
                let (fee1, fee2) = (self.capped_fee(fee(first)?), self.capped_fee(fee(second)?));
                let (x1, x2) = (integer(self.xs[first]), integer(self.xs[second]));
                let step = x2.checked_sub(x1)?;
                let above = above(x1, fee1)?;
                let divisor = fee2
                    .scaled
                    .times(fee1.width)?
                    .checked_sub(fee1.scaled.times(fee2.width)?)?
                    .checked_sub(step.times(common)?.times(fee1.width)?.times(fee2.width)?)?;
                if divisor == zero {
                    return Some(Err(UndefinedFee::DivisionByZero));
                }
                let rise = above.times(step)?.times(fee2.width)?;
                (x1.times(divisor)?.checked_add(rise)?, divisor)
            }
            (FilterPoint::Sample(first), FilterPoint::Crossing(left)) if first == left => {
                // The crossing after sample `first` lies at x1 + H/G with
                // G = |Y2·w1 − Y1·w2| and H = |Y1|·w2·(x2 − x1) (from the uncapped fees of the
                // samples around it), where the fee is 0: x1 − U·H / V with
                // V = F1·G + H·DC·w1.
                let (raw1, raw2) = (fee(first)?, fee(first + 1)?);
                let spread = raw2
                    .scaled
                    .times(raw1.width)?
                    .checked_sub(raw1.scaled.times(raw2.width)?)?
                    .checked_abs()?;
                if spread == zero {
                    return Some(Err(UndefinedFee::DivisionByZero));
                }
                let (x1, x2) = (integer(self.xs[first]), integer(self.xs[first + 1]));
                let offset = raw1.scaled.checked_abs()?.times(raw2.width)?.times(x2.checked_sub(x1)?)?;
                let fee1 = self.capped_fee(raw1);
                let above = above(x1, fee1)?;
                let divisor =
                    fee1.scaled.times(spread)?.checked_add(offset.times(common)?.times(fee1.width)?)?;
                if divisor == zero {
                    return Some(Err(UndefinedFee::DivisionByZero));
                }
                (x1.times(divisor)?.checked_sub(above.times(offset)?)?, divisor)
            }
            (FilterPoint::Crossing(left), FilterPoint::Sample(second)) if second == left + 1 => {
                // With a1 = |Y1|·w2 and a2 = |Y2|·w1 for the uncapped fees on either side
                // (of opposite signs), the crossing lies at x1 + a1·s/G, s = x2 − x1 and
                // G = a1 + a2, and the rest of the segment is a2·s/G. If the fee at x2 is
                // negative (capped to 0) the solution is the amount; else |Y2| cancels and the
                // solution is x_c + (x_c − amount)·L/(G − L) with L = DC·w1·w2·s.
                let (raw1, raw2) = (fee(left)?, fee(second)?);
                if raw1.scaled.is_negative() == raw2.scaled.is_negative()
                    || raw1.scaled == zero
                    || raw2.scaled == zero
                {
                    return None;
                }
                if raw2.scaled.is_negative() {
                    // Only `_cap_fees` inserts crossings, and it makes this fee 0.
                    if !self.capped {
                        return None;
                    }
                    (amount, Integer::ONE)
                } else {
                    let (x1, x2) = (integer(self.xs[left]), integer(self.xs[second]));
                    let spacing = x2.checked_sub(x1)?;
                    let before = raw1.scaled.checked_abs()?.times(raw2.width)?;
                    let spread = before.checked_add(raw2.scaled.checked_abs()?.times(raw1.width)?)?;
                    let level = common.times(raw1.width)?.times(raw2.width)?.times(spacing)?;
                    let divisor = spread.checked_sub(level)?;
                    if divisor == zero {
                        return Some(Err(UndefinedFee::DivisionByZero));
                    }
                    let crossing = x1.times(spread)?.checked_add(before.times(spacing)?)?;
                    let beyond = crossing.checked_sub(amount.times(spread)?)?;
                    (crossing.times(divisor)?.checked_add(beyond.times(level)?)?, spread.times(divisor)?)
                }
            }
            _ => return None,
        };
        rounded_solution(top, bottom)
    }

    /// [`Finish::over_common_denominator`] in reduced fractions, literally as
    /// `find_intersection` and `round_half_even`: `None` when a fraction overflows 512 bits or
    /// the constant's penalties are evaluated outside their points (the caller then runs the
    /// whole algorithm).
    pub(super) fn with_fractions(
        &self,
        previous: FilterPoint,
        current: FilterPoint,
    ) -> Option<Result<U256, UndefinedFee>> {
        let Self {
            amount,
            balance_in,
            balance_out,
            schedule_in,
            schedule_out,
            penalty_in,
            penalty_out,
            xs,
            capped,
        } = *self;
        let exact_constant = || -> Result<Wide, Failure> {
            let flat = Wide::from_i256(schedule_in.flat)?.add(&Wide::from_i256(schedule_out.flat)?)?;
            let moved = Wide::per_million_of(schedule_out.proportional, amount)?;
            let out =
                penalty_out.at::<Wide>(balance_out - amount)?.sub(&penalty_out.at::<Wide>(balance_out)?)?;
            Ok(flat.add(&moved)?.add(&out)?.sub(&penalty_in.at::<Wide>(balance_in)?)?)
        };
        let constant = exact_constant().ok()?;
        let exact_y = |sample: usize| -> Result<Wide, Failure> {
            let moved = Wide::per_million_of(schedule_in.proportional, xs[sample])?;
            Ok(constant.add(&moved)?.add(&penalty_in.at::<Wide>(balance_in + xs[sample])?)?)
        };
        let exact_point = |point: FilterPoint| -> Result<(Wide, Wide), Failure> {
            match point {
                FilterPoint::Sample(sample) => {
                    let y = exact_y(sample)?;
                    let y = if capped && y.is_negative() { Wide::zero() } else { y };
                    Ok((Wide::from_u512(xs[sample])?, y))
                }
                FilterPoint::Crossing(sample) => {
                    let (y1, y2) = (exact_y(sample)?, exact_y(sample + 1)?);
                    let (x1, x2) = (Wide::from_u512(xs[sample])?, Wide::from_u512(xs[sample + 1])?);
                    let fraction = y1
                        .abs()?
                        .div(&y2.sub(&y1)?.abs()?)?
                        .ok_or(Failure::Undefined(UndefinedFee::DivisionByZero))?;
                    Ok((x1.add(&fraction.mul(&x2.sub(&x1)?)?)?, Wide::zero()))
                }
            }
        };
        let finish = || -> Result<U256, Failure> {
            let amount = Wide::from_u512(amount)?;
            let (x1, fee1) = exact_point(previous)?;
            let (x2, fee2) = exact_point(current)?;
            let (line1, line2) = (x1.sub(&amount)?, x2.sub(&amount)?);
            let numerator = line1.sub(&fee1)?.mul(&x2.sub(&x1)?)?;
            let denominator = fee2.sub(&fee1)?.sub(&line2.sub(&line1)?)?;
            let quotient =
                numerator.div(&denominator)?.ok_or(Failure::Undefined(UndefinedFee::DivisionByZero))?;
            let solution = quotient.add(&x1)?;
            if !solution.is_positive() {
                return Err(Failure::Undefined(UndefinedFee::NotPositive));
            }
            let rounded = solution.round_half_even().ok_or(Failure::Undefined(UndefinedFee::TooLarge))?;
            Ok(rounded.into_raw())
        };
        match finish() {
            Ok(value) => Some(Ok(value)),
            Err(Failure::Undefined(reason)) => Some(Err(reason)),
            Err(Failure::Overflow) => None,
        }
    }

    /// The constant `flat_in + flat_out + p_out·amount/10^6 + P_out(balance_out − amount) −
    /// P_out(balance_out) − P_in(balance_in)` over `DC`.
    fn constant(&self) -> Option<Constant> {
        let million = Integer::try_from(1_000_000u64).ok()?;
        let (after, after_width) = penalty_at(self.penalty_out, self.balance_out.checked_sub(self.amount)?)?;
        let (before, before_width) = penalty_at(self.penalty_out, self.balance_out)?;
        let (incoming, incoming_width) = penalty_at(self.penalty_in, self.balance_in)?;
        let widths = after_width.times(before_width)?.times(incoming_width)?;
        let common = million.times(widths)?;
        let flats = signed(self.schedule_in.flat).checked_add(signed(self.schedule_out.flat))?;
        let moved = integer(U512::from(self.schedule_out.proportional)).times(integer(self.amount))?;
        let numerator = flats
            .times(common)?
            .checked_add(moved.times(widths)?)?
            .checked_add(after.times(million)?.times(before_width)?.times(incoming_width)?)?
            .checked_sub(before.times(million)?.times(after_width)?.times(incoming_width)?)?
            .checked_sub(incoming.times(million)?.times(after_width)?.times(before_width)?)?;
        Some(Constant { widths, common, numerator })
    }

    /// The fee at sample `sample` before capping: `C + p_in·x/10^6 + P_in(balance_in + x)` is
    /// `(constant·w + p_in·x·(DC/10^6)·w + e·DC) / (DC·w)` for `P_in(balance_in + x) = e/w`.
    fn sample_fee(&self, sample: usize, constant: &Constant) -> Option<SampleFee> {
        let x = self.xs[sample];
        let (penalty, width) = penalty_at(self.penalty_in, self.balance_in.checked_add(x)?)?;
        let moved = integer(U512::from(self.schedule_in.proportional)).times(integer(x))?;
        let scaled = constant
            .numerator
            .times(width)?
            .checked_add(moved.times(constant.widths)?.times(width)?)?
            .checked_add(penalty.times(constant.common)?)?;
        Some(SampleFee { scaled, width })
    }

    /// `_cap_fees` on one sample: a negative fee counts as 0 when fees are capped.
    fn capped_fee(&self, fee: SampleFee) -> SampleFee {
        if self.capped && fee.scaled.is_negative() { SampleFee { scaled: Integer::ZERO, ..fee } } else { fee }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{I256, U256, U512};
    use proptest::prelude::*;

    use super::*;
    use crate::fees::PenaltyPoints;

    fn terms(points: &[(U256, U256)], flat: i64, proportional: u64, cap_fees: bool) -> ScheduleTerms<'_> {
        ScheduleTerms {
            cap_fees,
            flat: I256::try_from(flat).unwrap(),
            proportional: U256::from(proportional),
            imbalance_penalty: (!points.is_empty()).then_some(PenaltyPoints::Wide(points)),
        }
    }

    /// Penalty points with x increasing by `steps` from 0 and the given ys, times `scale`.
    fn points(steps: &[(u64, u64)], scale: u64) -> Vec<(U256, U256)> {
        let scale = U256::from(scale);
        let mut x = U256::ZERO;
        steps
            .iter()
            .map(|&(step, y)| {
                let point = (x, U256::from(y) * scale);
                x += U256::from(step) * scale;
                point
            })
            .collect()
    }

    /// The segments `find_intersection` may end on: two samples (in either order, as its wrap
    /// gives), a sample and the crossing after it, or a crossing and the sample after it.
    fn segment(count: usize, first: usize, second: usize, crossing: u8) -> (FilterPoint, FilterPoint) {
        let first = first % count;
        match crossing {
            1 if first + 1 < count => (FilterPoint::Sample(first), FilterPoint::Crossing(first)),
            2 if first + 1 < count => (FilterPoint::Crossing(first), FilterPoint::Sample(first + 1)),
            _ => (FilterPoint::Sample(first), FilterPoint::Sample(second % count)),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Wherever the integers fit, they give the fractions' answer, including why it is
        /// undefined.
        #[test]
        fn the_common_denominator_gives_the_answer_of_the_fractions(
            scale in prop_oneof![Just(1u64), Just(1_000_000_007), Just(1 << 50)],
            steps_in in prop::collection::vec((1u64..1_000, 0u64..1_000), 2..6),
            steps_out in prop::collection::vec((1u64..1_000, 0u64..1_000), 0..6),
            flats in (-500i64..500, -500i64..500),
            proportionals in (0u64..200_000, 0u64..200_000),
            balances in (0u64..2_000, 0u64..2_000, 0u64..2_000),
            samples in prop::collection::btree_set(0u64..2_000, 2..8),
            choice in (0usize..8, 0usize..8, 0u8..3),
            capped in any::<bool>(),
        ) {
            let (points_in, points_out) = (points(&steps_in, scale), points(&steps_out, scale));
            let schedule_in = terms(&points_in, flats.0, proportionals.0, capped);
            let schedule_out = terms(&points_out, flats.1, proportionals.1, capped);
            let unit = |value: u64| U512::from(value) * U512::from(scale);
            let (balance_in, balance_out) = (unit(balances.0), unit(balances.1));
            let amount = unit(balances.2).min(balance_out);
            let penalty_in = IntegerPenalty::of(&schedule_in, balance_in + balance_out);
            let penalty_out = IntegerPenalty::of(&schedule_out, balance_out);
            let xs: Vec<U512> = samples.into_iter().map(unit).collect();
            let finish = Finish {
                amount,
                balance_in,
                balance_out,
                schedule_in: &schedule_in,
                schedule_out: &schedule_out,
                penalty_in: &penalty_in,
                penalty_out: &penalty_out,
                xs: &xs,
                capped,
            };
            let (previous, current) = segment(xs.len(), choice.0, choice.1, choice.2);
            if let Some(answer) = finish.over_common_denominator(previous, current) {
                prop_assert_eq!(Some(answer), finish.with_fractions(previous, current));
            }
        }
    }

    #[test]
    fn a_fee_between_two_samples_with_token_sized_numbers_needs_no_fractions() {
        // A penalty of 1e17-scale steps, like Raiden's, on both channels.
        let steps: Vec<(u64, u64)> = (0..21).map(|index| (169_491_958, 10_169_517 / (index + 1))).collect();
        let shape = points(&steps, 1_000_000_000);
        let schedule = terms(&shape, 500_000_000_000, 1_996, true);
        let capacity = U512::from(1_700_000_000u64) * U512::from(1_000_000_000u64);
        let penalty = IntegerPenalty::of(&schedule, capacity);
        let xs: Vec<U512> = [0u64, 169_491_958, 338_983_916]
            .iter()
            .map(|&x| U512::from(x) * U512::from(1_000_000_000u64))
            .collect();
        let finish = Finish {
            amount: U512::from(4_542_720_394_356_157u64),
            balance_in: capacity,
            balance_out: capacity,
            schedule_in: &schedule,
            schedule_out: &schedule,
            penalty_in: &penalty,
            penalty_out: &penalty,
            xs: &xs,
            capped: true,
        };
        let (previous, current) = (FilterPoint::Sample(0), FilterPoint::Sample(1));
        let answer = finish.over_common_denominator(previous, current);
        assert!(answer.is_some());
        assert_eq!(answer, finish.with_fractions(previous, current));
    }

    #[test]
    fn a_solution_halfway_between_two_integers_rounds_to_the_even_one() {
        // No penalties and a proportional fee of one half on the way out: the fee is
        // amount/2 wherever the amount goes, so amount + amount/2 must arrive.
        let schedule_in = terms(&[], 0, 0, true);
        let schedule_out = terms(&[], 0, 500_000, true);
        let balance = U512::from(100u8);
        let (penalty_in, penalty_out) =
            (IntegerPenalty::of(&schedule_in, balance + balance), IntegerPenalty::of(&schedule_out, balance));
        let xs = [U512::ZERO, balance];
        for (amount, arriving) in [(3u8, 4u8), (5, 8)] {
            let finish = Finish {
                amount: U512::from(amount),
                balance_in: balance,
                balance_out: balance,
                schedule_in: &schedule_in,
                schedule_out: &schedule_out,
                penalty_in: &penalty_in,
                penalty_out: &penalty_out,
                xs: &xs,
                capped: true,
            };
            let (previous, current) = (FilterPoint::Sample(0), FilterPoint::Sample(1));
            let expected = Some(Ok(U256::from(arriving)));
            assert_eq!(finish.over_common_denominator(previous, current), expected, "amount {amount}");
            assert_eq!(finish.with_fractions(previous, current), expected, "amount {amount}");
        }
    }
}
