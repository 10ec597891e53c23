//! The mediator's fee function and its intersection with the payment line: a literal port of
//! Raiden's `_mediation_fee_func`, `_cap_fees`, `Interpolate` and `find_intersection`
//! (`spec/PROTOCOL.md` §3.1–3.2), generic over the exact number type.

use alloy_primitives::{I256, U256};

use super::arith::{Exact, Overflow};
use super::{ScheduleTerms, UndefinedFee};

/// Which amount is known: the PFS works backwards from what leaves the mediator, the mediator
/// forwards from what arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `amount` is what leaves the mediator; the unknown x is what must arrive
    /// (`get_amount_with_fees`).
    Backward,
    /// `amount` is what arrived; the unknown x is what may leave (`get_amount_without_fees`).
    Forward,
}

/// Why one run of the algorithm stopped without a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The number type overflowed: rerun with the big one.
    Overflow,
    /// The reference returns `None` (or crashes) here.
    Undefined(UndefinedFee),
}

impl From<Overflow> for Failure {
    fn from(_: Overflow) -> Self {
        Failure::Overflow
    }
}

/// The inputs of one mediation, in the reference's names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mediation<'a> {
    pub amount: U256,
    pub balance_in: U256,
    pub balance_out: U256,
    pub receivable: U256,
    pub schedule_in: &'a ScheduleTerms<'a>,
    pub schedule_out: &'a ScheduleTerms<'a>,
    pub direction: Direction,
}

/// A piecewise-linear function given by its points (Python's `Interpolate`); `xs` strictly
/// increasing, one `y` per `x`.
pub(crate) struct Points<N> {
    pub xs: Vec<N>,
    pub ys: Vec<N>,
}

impl<N: Exact> Points<N> {
    /// `Interpolate.__call__`: outside `[xs[0], xs[-1]]` the function is undefined.
    fn evaluate(&self, x: &N) -> Result<N, Failure> {
        let last = self.xs.len() - 1;
        if *x < self.xs[0] || *x > self.xs[last] {
            return Err(Failure::Undefined(UndefinedFee::OutsidePenaltyRange));
        }
        if *x == self.xs[last] {
            return Ok(self.ys[last].clone());
        }
        // bisect_right(xs, x) - 1: the last index whose x is <= the argument.
        let index = self.xs.partition_point(|point| point <= x) - 1;
        let rise = self.ys[index + 1].sub(&self.ys[index])?;
        let run = self.xs[index + 1].sub(&self.xs[index])?;
        let slope = rise.div(&run)?.ok_or(Failure::Undefined(UndefinedFee::DivisionByZero))?;
        Ok(self.ys[index].add(&slope.mul(&x.sub(&self.xs[index])?)?)?)
    }
}

/// A schedule's penalty as points; the zero function on `[0, zero_until]` when it has none (what
/// `_mediation_fee_func` installs).
fn penalty_points<N: Exact>(schedule: &ScheduleTerms<'_>, zero_until: &N) -> Result<Points<N>, Failure> {
    match schedule.imbalance_penalty {
        Some(points) => {
            let mut xs = Vec::with_capacity(points.len());
            let mut ys = Vec::with_capacity(points.len());
            for (x, y) in points {
                xs.push(N::from_u256(*x)?);
                ys.push(N::from_u256(*y)?);
            }
            Ok(Points { xs, ys })
        }
        None => Ok(Points { xs: vec![N::zero(), zero_until.clone()], ys: vec![N::zero(), N::zero()] }),
    }
}

/// `FeeScheduleState.fee(balance, amount)` with a penalty function installed.
fn schedule_fee<N: Exact>(
    schedule: &ScheduleTerms<'_>,
    penalty: &Points<N>,
    balance: &N,
    amount: &N,
) -> Result<N, Failure> {
    let flat = N::from_i256(schedule.flat)?;
    let proportional = N::per_million(schedule.proportional)?;
    let moved = proportional.mul(&amount.abs()?)?;
    let after = penalty.evaluate(&balance.add(amount)?)?;
    let before = penalty.evaluate(balance)?;
    Ok(flat.add(&moved)?.add(&after.sub(&before)?)?)
}

/// `_mediation_fee_func`: the mediator's total fee as a function of the unknown amount.
pub(crate) fn fee_function<N: Exact>(mediation: &Mediation<'_>) -> Result<Points<N>, Failure> {
    let Mediation { amount, balance_in, balance_out, receivable, schedule_in, schedule_out, direction } =
        *mediation;
    if balance_out.is_zero() || receivable.is_zero() {
        return Err(Failure::Undefined(UndefinedFee::NoBalance));
    }
    let amount = N::from_u256(amount)?;
    let balance_in = N::from_u256(balance_in)?;
    let balance_out = N::from_u256(balance_out)?;
    let receivable = N::from_u256(receivable)?;
    let penalty_in = penalty_points(schedule_in, &balance_in.add(&receivable)?)?;
    let penalty_out = penalty_points(schedule_out, &balance_out)?;

    let max_x = match direction {
        Direction::Backward => &receivable,
        Direction::Forward => &balance_out,
    };
    let upper = std::cmp::min(max_x, &balance_out).clone();
    let zero = N::zero();
    let clamp = |x: N| -> N {
        if x < zero {
            zero.clone()
        } else if x > upper {
            upper.clone()
        } else {
            x
        }
    };
    let mut xs = Vec::with_capacity(penalty_in.xs.len() + penalty_out.xs.len());
    for x in &penalty_in.xs {
        xs.push(clamp(x.sub(&balance_in)?));
    }
    for x in &penalty_out.xs {
        xs.push(clamp(balance_out.sub(x)?));
    }
    xs.sort();
    xs.dedup();

    let mut ys = Vec::with_capacity(xs.len());
    match direction {
        Direction::Backward => {
            let fee_out = schedule_fee(schedule_out, &penalty_out, &balance_out, &zero.sub(&amount)?)?;
            for x in &xs {
                ys.push(schedule_fee(schedule_in, &penalty_in, &balance_in, x)?.add(&fee_out)?);
            }
        }
        Direction::Forward => {
            let fee_in = schedule_fee(schedule_in, &penalty_in, &balance_in, &amount)?;
            for x in &xs {
                ys.push(fee_in.add(&schedule_fee(
                    schedule_out,
                    &penalty_out,
                    &balance_out,
                    &zero.sub(x)?,
                )?)?);
            }
        }
    }
    let mut points = Points { xs, ys };
    if schedule_in.cap_fees {
        cap_fees(&mut points)?;
    }
    Ok(points)
}

/// `_cap_fees`, literally: the loop runs over the *original* number of pairs while points are
/// inserted (Python's `range(len(x_list) - 1)` is evaluated once), then negative fees become 0.
fn cap_fees<N: Exact>(points: &mut Points<N>) -> Result<(), Failure> {
    let original_pairs = points.xs.len().saturating_sub(1);
    for index in 0..original_pairs {
        let (y1, y2) = (&points.ys[index], &points.ys[index + 1]);
        let opposite = (y1.is_negative() && y2.is_positive()) || (y1.is_positive() && y2.is_negative());
        if opposite {
            let (x1, x2) = (&points.xs[index], &points.xs[index + 1]);
            let fraction = y1
                .abs()?
                .div(&y2.sub(y1)?.abs()?)?
                .ok_or(Failure::Undefined(UndefinedFee::DivisionByZero))?;
            let new_x = x1.add(&fraction.mul(&x2.sub(x1)?)?)?;
            points.xs.insert(index + 1, new_x);
            points.ys.insert(index + 1, N::zero());
        }
    }
    for y in &mut points.ys {
        if y.is_negative() {
            *y = N::zero();
        }
    }
    Ok(())
}

/// `find_intersection`, literally, including Python's `i - 1 == -1` wrap to the last point.
fn find_intersection<N: Exact>(
    points: &Points<N>,
    line: impl Fn(usize) -> Result<N, Overflow>,
) -> Result<N, Failure> {
    let count = points.xs.len();
    let mut index = 0;
    let below = points.ys[0] < line(0)?;
    loop {
        let y = &points.ys[index];
        let line_y = line(index)?;
        let keep_walking = if below { *y < line_y } else { *y > line_y };
        if !keep_walking {
            break;
        }
        index += 1;
        if index == count {
            return Err(Failure::Undefined(UndefinedFee::InsufficientCapacity));
        }
    }
    let previous = if index == 0 { count - 1 } else { index - 1 };
    let (x1, x2) = (&points.xs[previous], &points.xs[index]);
    let (fee1, fee2) = (&points.ys[previous], &points.ys[index]);
    let (line1, line2) = (line(previous)?, line(index)?);
    let numerator = line1.sub(fee1)?.mul(&x2.sub(x1)?)?;
    let denominator = fee2.sub(fee1)?.sub(&line2.sub(&line1)?)?;
    let quotient = numerator.div(&denominator)?.ok_or(Failure::Undefined(UndefinedFee::DivisionByZero))?;
    Ok(quotient.add(x1)?)
}

/// `get_amount_with_fees` (backward) or `get_amount_without_fees` (forward) after the `cap_fees`
/// check: the rounded solution of `x ∓ amount = fee(x)`.
pub(crate) fn solve<N: Exact>(mediation: &Mediation<'_>) -> Result<U256, Failure> {
    let points = fee_function::<N>(mediation)?;
    let amount = N::from_u256(mediation.amount)?;
    let solution = match mediation.direction {
        Direction::Backward => find_intersection(&points, |index| points.xs[index].sub(&amount))?,
        Direction::Forward => find_intersection(&points, |index| amount.sub(&points.xs[index]))?,
    };
    if !solution.is_positive() {
        return Err(Failure::Undefined(UndefinedFee::NotPositive));
    }
    let rounded = solution.round_half_even().ok_or(Failure::Undefined(UndefinedFee::TooLarge))?;
    if rounded < I256::ZERO {
        return Err(Failure::Undefined(UndefinedFee::NotPositive));
    }
    Ok(rounded.into_raw())
}

/// `Interpolate.__call__` on big fractions; `None` outside the points.
pub(crate) fn evaluate_point(
    points: &Points<super::arith::Big>,
    x: &super::arith::Big,
) -> Option<super::arith::Big> {
    points.evaluate(x).ok()
}

/// `FeeScheduleState.fee(balance, amount)` with the zero penalty `Interpolate([0, 10^6], [0, 0])`
/// installed when the schedule has none (as the vector generator does), as Python prints it.
pub(crate) fn schedule_fee_text(schedule: &ScheduleTerms<'_>, balance: I256, amount: I256) -> Option<String> {
    use super::arith::Big;
    let zero_until = Big::from_u256(U256::from(1_000_000u64)).ok()?;
    let penalty = penalty_points::<Big>(schedule, &zero_until).ok()?;
    let balance = Big::from_i256(balance).ok()?;
    let amount = Big::from_i256(amount).ok()?;
    schedule_fee(schedule, &penalty, &balance, &amount).ok().map(|fee| fee.to_fraction_string())
}
