//! The mediator's fee function and its intersection with the payment line: a literal port of
//! Raiden's `_mediation_fee_func`, `_cap_fees`, `Interpolate` and `find_intersection`
//! (`spec/PROTOCOL.md` §3.1–3.2), generic over the exact number type.

use alloy_primitives::{I256, U256, U512};

use super::arith::{Exact, Overflow, interpolation};
use super::finish::Finish;
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

impl<'a> Mediation<'a> {
    /// The inputs in the order of Raiden's `get_amount_with_fees` arguments.
    pub(crate) fn new(
        direction: Direction,
        amount: U256,
        balance_in: U256,
        balance_out: U256,
        schedule_in: &'a ScheduleTerms<'a>,
        schedule_out: &'a ScheduleTerms<'a>,
        receivable: U256,
    ) -> Self {
        Self { amount, balance_in, balance_out, receivable, schedule_in, schedule_out, direction }
    }
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
            for (x, y) in points.iter() {
                xs.push(N::from_u256(x)?);
                ys.push(N::from_u256(y)?);
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

/// A penalty's points as 512-bit integers; the zero function on `[0, zero_until]` when the
/// schedule has none (what `_mediation_fee_func` installs).
pub(super) struct IntegerPenalty {
    points: Vec<(U512, U512)>,
}

impl IntegerPenalty {
    pub(super) fn of(schedule: &ScheduleTerms<'_>, zero_until: U512) -> Self {
        let points = match schedule.imbalance_penalty {
            Some(points) => points.iter().map(|(x, y)| (U512::from(x), U512::from(y))).collect(),
            None => vec![(U512::ZERO, U512::ZERO), (zero_until, U512::ZERO)],
        };
        Self { points }
    }

    /// Where `position` falls among the points; `None` outside them.
    fn place(&self, position: U512) -> Option<Place> {
        let points = &self.points;
        let last = points.len() - 1;
        if position < points[0].0 || position > points[last].0 {
            return None;
        }
        if position == points[last].0 {
            return Some(Place::Last(points[last].1));
        }
        let index = points.partition_point(|point| point.0 <= position) - 1;
        Some(Place::Within(points[index], points[index + 1]))
    }

    /// `Interpolate.__call__` at an integer as `(numerator, width)`, the width of the segment it
    /// falls in (1 at a point); `None` outside the points or if a product overflows.
    pub(super) fn fraction(&self, position: U512) -> Option<(U512, U512)> {
        match self.place(position)? {
            Place::Last(y) => Some((y, U512::from(1u8))),
            Place::Within((x0, y0), _) if position == x0 => Some((y0, U512::from(1u8))),
            Place::Within((x0, y0), (x1, y1)) => interpolation(x0, y0, x1, y1, position),
        }
    }

    /// `Interpolate.__call__` at an integer: undefined outside the points.
    pub(super) fn at<N: Exact>(&self, position: U512) -> Result<N, Failure> {
        match self.place(position) {
            None => Err(Failure::Undefined(UndefinedFee::OutsidePenaltyRange)),
            Some(Place::Last(y)) => Ok(N::from_u512(y)?),
            Some(Place::Within((x0, y0), (x1, y1))) => Ok(N::interpolate(x0, y0, x1, y1, position)?),
        }
    }
}

/// Where a position falls among a penalty's points (see `IntegerPenalty::place`).
enum Place {
    /// On the last point, with this value.
    Last(U512),
    /// From this point (inclusive) to the next one.
    Within((U512, U512), (U512, U512)),
}

/// The sample points of `_mediation_fee_func`: `x − balance_in` for the incoming penalty's
/// points and `balance_out − x` for the outgoing one's, clamped to `[0, upper]` (a negative
/// difference clamps to 0), sorted, without duplicates. All integers.
fn sample_points(
    penalty_in: &IntegerPenalty,
    penalty_out: &IntegerPenalty,
    balance_in: U512,
    balance_out: U512,
    upper: U512,
) -> Vec<U512> {
    let mut xs: Vec<U512> = penalty_in
        .points
        .iter()
        .map(|(x, _)| x.saturating_sub(balance_in).min(upper))
        .chain(penalty_out.points.iter().map(|(x, _)| balance_out.saturating_sub(*x).min(upper)))
        .collect();
    xs.sort_unstable();
    xs.dedup();
    xs
}

/// `_mediation_fee_func`: the mediator's total fee as a function of the unknown amount.
///
/// Every sample point and every penalty evaluation point is an integer, so the sample points are
/// built, sorted and checked with integers, and each fee is assembled from a few exact
/// fractions (the value is the reference's: the arithmetic is exact either way).
pub(crate) fn fee_function<N: Exact>(mediation: &Mediation<'_>) -> Result<Points<N>, Failure> {
    let Mediation { amount, balance_in, balance_out, receivable, schedule_in, schedule_out, direction } =
        *mediation;
    if balance_out.is_zero() || receivable.is_zero() {
        return Err(Failure::Undefined(UndefinedFee::NoBalance));
    }
    let (amount, balance_in, balance_out, receivable) =
        (U512::from(amount), U512::from(balance_in), U512::from(balance_out), U512::from(receivable));
    let penalty_in = IntegerPenalty::of(schedule_in, balance_in + receivable);
    let penalty_out = IntegerPenalty::of(schedule_out, balance_out);

    let max_x = match direction {
        Direction::Backward => receivable,
        Direction::Forward => balance_out,
    };
    let upper = max_x.min(balance_out);
    let xs = sample_points(&penalty_in, &penalty_out, balance_in, balance_out, upper);

    let flat_in = N::from_i256(schedule_in.flat)?;
    let flat_out = N::from_i256(schedule_out.flat)?;
    let mut ys = Vec::with_capacity(xs.len());
    match direction {
        Direction::Backward => {
            // fee_out(balance_out, −amount) + flat_in − P_in(balance_in) is the same for every x.
            if amount > balance_out {
                return Err(Failure::Undefined(UndefinedFee::OutsidePenaltyRange));
            }
            let fee_out = flat_out
                .add(&N::per_million_of(schedule_out.proportional, amount)?)?
                .add(&penalty_out.at::<N>(balance_out - amount)?.sub(&penalty_out.at::<N>(balance_out)?)?)?;
            let constant = fee_out.add(&flat_in)?.sub(&penalty_in.at::<N>(balance_in)?)?;
            for x in &xs {
                let moved = N::per_million_of(schedule_in.proportional, *x)?;
                ys.push(constant.add(&moved)?.add(&penalty_in.at::<N>(balance_in + *x)?)?);
            }
        }
        Direction::Forward => {
            let fee_in = flat_in
                .add(&N::per_million_of(schedule_in.proportional, amount)?)?
                .add(&penalty_in.at::<N>(balance_in + amount)?.sub(&penalty_in.at::<N>(balance_in)?)?)?;
            let constant = fee_in.add(&flat_out)?.sub(&penalty_out.at::<N>(balance_out)?)?;
            for x in &xs {
                let moved = N::per_million_of(schedule_out.proportional, *x)?;
                // x <= upper <= balance_out, so the subtraction cannot wrap.
                ys.push(constant.add(&moved)?.add(&penalty_out.at::<N>(balance_out - *x)?)?);
            }
        }
    }
    let xs = xs.into_iter().map(N::from_u512).collect::<Result<Vec<_>, _>>()?;
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

/// `find_intersection`'s walk over `count` points, literally: start at index 0; walk while the fee
/// stays on the side of the line it started on (equality at index 0 selects "above" and stops at
/// once); running past the last point means insufficient capacity. Returns the indices of the
/// two points to interpolate between, with Python's `i - 1 == -1` wrap to the last point.
/// `compare(i)` orders the fee against the line at point `i`; its error aborts the walk.
pub(crate) fn intersection_segment<E>(
    count: usize,
    mut compare: impl FnMut(usize) -> Result<std::cmp::Ordering, E>,
) -> Result<Result<(usize, usize), UndefinedFee>, E> {
    use std::cmp::Ordering;
    let below = compare(0)? == Ordering::Less;
    let side = if below { Ordering::Less } else { Ordering::Greater };
    let mut index = 0;
    while compare(index)? == side {
        index += 1;
        if index == count {
            return Ok(Err(UndefinedFee::InsufficientCapacity));
        }
    }
    let previous = if index == 0 { count - 1 } else { index - 1 };
    Ok(Ok((previous, index)))
}

/// `find_intersection`, literally, including Python's `i - 1 == -1` wrap to the last point.
fn find_intersection<N: Exact>(
    points: &Points<N>,
    line: impl Fn(usize) -> Result<N, Overflow>,
) -> Result<N, Failure> {
    let segment = intersection_segment(points.xs.len(), |index| -> Result<_, Failure> {
        Ok(points.ys[index].cmp(&line(index)?))
    })?;
    let (previous, index) = segment.map_err(Failure::Undefined)?;
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

/// The domain of a penalty as `[first x, last x]`; the zero penalty's when there is none.
fn penalty_domain(schedule: &ScheduleTerms<'_>, zero_until: U512) -> (U512, U512) {
    match schedule.imbalance_penalty {
        Some(points) if !points.is_empty() => {
            (U512::from(points.point(0).0), U512::from(points.point(points.len() - 1).0))
        }
        _ => (U512::ZERO, zero_until),
    }
}

/// Decides with integers only whether `fee_function` would fail before computing any fraction:
/// the reference evaluates every penalty at every sample point before anything else, and all
/// those evaluation points are integers, so checking them against the penalty domains is exact.
/// `None` means the fee function is defined (the full computation then runs).
pub(crate) fn undefined_before_fractions(mediation: &Mediation<'_>) -> Option<UndefinedFee> {
    let Mediation { amount, balance_in, balance_out, receivable, schedule_in, schedule_out, direction } =
        *mediation;
    if balance_out.is_zero() || receivable.is_zero() {
        return Some(UndefinedFee::NoBalance);
    }
    let defined = match direction {
        Direction::Backward => {
            backward_defined_amounts(balance_in, balance_out, receivable, schedule_in, schedule_out)
                .is_some_and(|(least, most)| least <= amount && amount <= most)
        }
        Direction::Forward => {
            let (amount, balance_in, balance_out, receivable) =
                (U512::from(amount), U512::from(balance_in), U512::from(balance_out), U512::from(receivable));
            let samples = SampleDomains::of(
                balance_in,
                balance_out,
                receivable,
                balance_out,
                schedule_in,
                schedule_out,
            );
            let SampleDomains { in_first, in_last, out_first, out_last, lowest, highest } = samples;
            let inside = |value: U512, first: U512, last: U512| first <= value && value <= last;
            // fee_in(balance_in, amount), fee_out(balance_out, −x) for every x (x <= balance_out).
            inside(balance_in, in_first, in_last)
                && inside(balance_in + amount, in_first, in_last)
                && inside(balance_out, out_first, out_last)
                && inside(balance_out - lowest, out_first, out_last)
                && inside(balance_out - highest, out_first, out_last)
        }
    };
    (!defined).then_some(UndefinedFee::OutsidePenaltyRange)
}

/// The amounts leaving a mediator for which the backward fee function (`get_amount_with_fees`)
/// passes [`undefined_before_fractions`]: `Some((least, most))`, both inclusive, or `None` when
/// no amount does. Only the check `fee_out(balance_out, −amount)` depends on the amount, so
/// the routing search decides "undefined whatever else happens" for a whole request with two
/// comparisons per edge instead of a fee computation.
pub(crate) fn backward_defined_amounts(
    balance_in: U256,
    balance_out: U256,
    receivable: U256,
    schedule_in: &ScheduleTerms<'_>,
    schedule_out: &ScheduleTerms<'_>,
) -> Option<(U256, U256)> {
    if balance_out.is_zero() || receivable.is_zero() {
        return None;
    }
    let (balance_in, balance_out, receivable) =
        (U512::from(balance_in), U512::from(balance_out), U512::from(receivable));
    let samples =
        SampleDomains::of(balance_in, balance_out, receivable, receivable, schedule_in, schedule_out);
    let SampleDomains { in_first, in_last, out_first, out_last, lowest, highest } = samples;
    let inside = |value: U512, first: U512, last: U512| first <= value && value <= last;
    // fee_in(balance_in, x) for every sample x, and the outgoing balance itself.
    let amount_independent = inside(balance_in, in_first, in_last)
        && inside(balance_in + lowest, in_first, in_last)
        && inside(balance_in + highest, in_first, in_last)
        && inside(balance_out, out_first, out_last);
    if !amount_independent {
        return None;
    }
    // fee_out(balance_out, −amount): amount <= balance_out and balance_out − amount inside
    // [out_first, out_last]. Both ends fit 256 bits: they are at most balance_out.
    let least = balance_out.saturating_sub(out_last);
    let most = balance_out - out_first;
    Some((U256::from(least), U256::from(most)))
}

/// The penalty domains of a mediation and the extreme sample points of `_mediation_fee_func`
/// (`max_x` is the largest unknown amount it samples: the receivable backward, the outgoing
/// balance forward).
struct SampleDomains {
    in_first: U512,
    in_last: U512,
    out_first: U512,
    out_last: U512,
    lowest: U512,
    highest: U512,
}

impl SampleDomains {
    fn of(
        balance_in: U512,
        balance_out: U512,
        receivable: U512,
        max_x: U512,
        schedule_in: &ScheduleTerms<'_>,
        schedule_out: &ScheduleTerms<'_>,
    ) -> Self {
        let (in_first, in_last) = penalty_domain(schedule_in, balance_in + receivable);
        let (out_first, out_last) = penalty_domain(schedule_out, balance_out);
        let upper = max_x.min(balance_out);
        // Sample points: px − balance_in and balance_out − px, clamped to [0, upper]; clamping
        // is monotone, so the extremes come from the extreme raw values (negative raw values
        // clamp to 0).
        let clamp_difference = |left: U512, right: U512| left.saturating_sub(right).min(upper);
        let lowest = clamp_difference(in_first, balance_in).min(clamp_difference(balance_out, out_last));
        let highest = clamp_difference(in_last, balance_in).max(clamp_difference(balance_out, out_first));
        Self { in_first, in_last, out_first, out_last, lowest, highest }
    }
}

/// A float approximation of an exact value with a rigorous bound: `|exact − value| <= error`.
#[derive(Debug, Clone, Copy)]
struct Approximation {
    value: f64,
    error: f64,
}

/// Relative slack for every float computation below: far above the few units in the last place
/// that a handful of correctly rounded operations can accumulate (2^-53 each).
const SLACK: f64 = 1.0 / (1u64 << 40) as f64;

fn float(value: U512) -> f64 {
    f64::from(&value)
}

impl IntegerPenalty {
    /// `at` in floats: the value and the sum of the magnitudes that went into it.
    fn approximate(&self, position: U512) -> (f64, f64) {
        let points = &self.points;
        let last = points.len() - 1;
        if position >= points[last].0 {
            let value = float(points[last].1);
            return (value, value);
        }
        let index = points.partition_point(|point| point.0 <= position) - 1;
        let ((x0, y0), (x1, y1)) = (points[index], points[index + 1]);
        let fraction = float(position - x0) / float(x1 - x0);
        let rise = if y1 >= y0 { float(y1 - y0) } else { -float(y0 - y1) };
        let base = float(y0);
        (base + rise * fraction, base + rise.abs() * fraction)
    }
}

/// One point of the capped fee function as the filter sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum FilterPoint {
    /// Sample point `index` of the original list.
    Sample(usize),
    /// The zero crossing inserted between samples `index` and `index + 1`.
    Crossing(usize),
}

/// The backward fee through the float filter: every sign and comparison of `_cap_fees` and
/// `find_intersection` is decided on float approximations with error bounds, and only the two
/// points around the intersection are computed exactly. `None` when some decision is too close
/// to call (or a number overflows): the caller then runs the exact algorithm, so the result is
/// always the reference's. The caller has run `undefined_before_fractions` (all penalty
/// evaluations are inside their domains) and checked `cap_fees`.
pub(crate) fn backward_filtered(mediation: &Mediation<'_>) -> Option<Result<U256, UndefinedFee>> {
    let Mediation { amount, balance_in, balance_out, receivable, schedule_in, schedule_out, direction } =
        *mediation;
    if direction != Direction::Backward {
        return None;
    }
    let (amount, balance_in, balance_out, receivable) =
        (U512::from(amount), U512::from(balance_in), U512::from(balance_out), U512::from(receivable));
    let penalty_in = IntegerPenalty::of(schedule_in, balance_in + receivable);
    let penalty_out = IntegerPenalty::of(schedule_out, balance_out);
    let upper = receivable.min(balance_out);
    let xs = sample_points(&penalty_in, &penalty_out, balance_in, balance_out, upper);

    // y(x) = constant + p_in·x/10^6 + P_in(balance_in + x), with
    // constant = flat_in + flat_out + p_out·amount/10^6 + P_out(balance_out − amount) − P_out(balance_out) − P_in(balance_in).
    let signed_float = |value: I256| {
        let magnitude = float(U512::from(value.unsigned_abs()));
        if value.is_negative() { -magnitude } else { magnitude }
    };
    let (out_after, out_after_size) = penalty_out.approximate(balance_out - amount);
    let (out_before, out_before_size) = penalty_out.approximate(balance_out);
    let (in_before, in_before_size) = penalty_in.approximate(balance_in);
    let moved_out = float(U512::from(schedule_out.proportional)) * float(amount) / 1e6;
    let flats = signed_float(schedule_in.flat) + signed_float(schedule_out.flat);
    let constant = flats + moved_out + out_after - out_before - in_before;
    let constant_size = flats.abs() + moved_out + out_after_size + out_before_size + in_before_size;
    let proportional_in = float(U512::from(schedule_in.proportional));
    let ys: Vec<Approximation> = xs
        .iter()
        .map(|x| {
            let moved = proportional_in * float(*x) / 1e6;
            let (penalty, penalty_size) = penalty_in.approximate(balance_in + *x);
            let value = constant + moved + penalty;
            Approximation { value, error: SLACK * (constant_size + moved + penalty_size) }
        })
        .collect();
    // The sign of every sample, or give up when one is too close to zero.
    let mut signs = Vec::with_capacity(ys.len());
    for y in &ys {
        if y.value.abs() <= y.error {
            return None;
        }
        signs.push(if y.value > 0.0 { 1i8 } else { -1i8 });
    }

    // _cap_fees on the structure: the same loop over the original number of pairs.
    let mut points: Vec<FilterPoint> = (0..xs.len()).map(FilterPoint::Sample).collect();
    let capped = schedule_in.cap_fees;
    if capped {
        for index in 0..xs.len().saturating_sub(1) {
            if let (FilterPoint::Sample(left), FilterPoint::Sample(right)) =
                (points[index], points[index + 1])
                && signs[left] * signs[right] == -1
            {
                points.insert(index + 1, FilterPoint::Crossing(left));
            }
        }
    }

    // Float view of a point: (x, x error, y, y error, y is exactly zero).
    let view = |point: FilterPoint| -> (f64, f64, f64, f64, bool) {
        match point {
            FilterPoint::Sample(index) => {
                let x = float(xs[index]);
                let negative = signs[index] < 0;
                if capped && negative {
                    (x, x * SLACK, 0.0, 0.0, true)
                } else {
                    (x, x * SLACK, ys[index].value, ys[index].error, false)
                }
            }
            FilterPoint::Crossing(index) => {
                // x1 + |y1| / (|y1| + |y2|) · (x2 − x1), bounded through the y intervals.
                let (y1, y2) = (ys[index], ys[index + 1]);
                let (x1, width) = (float(xs[index]), float(xs[index + 1] - xs[index]));
                let low = (y1.value.abs() - y1.error).max(0.0)
                    / (y1.value.abs() + y1.error + y2.value.abs() + y2.error);
                let high =
                    (y1.value.abs() + y1.error) / (y1.value.abs() - y1.error + y2.value.abs() - y2.error);
                let (low, high) = (x1 + low * width, x1 + high.min(1.0) * width);
                let x = (low + high) / 2.0;
                (x, (high - low) / 2.0 + SLACK * (x1 + width), 0.0, 0.0, true)
            }
        }
    };
    let amount_float = float(amount);
    // Decides `y < line` (Less), `y > line` (Greater), or gives up.
    let compare = |point: FilterPoint| -> Option<std::cmp::Ordering> {
        use std::cmp::Ordering;
        if let FilterPoint::Sample(index) = point
            && capped
            && signs[index] < 0
        {
            // 0 against the integer x − amount: exact.
            return Some(amount.cmp(&xs[index]));
        }
        let (x, x_error, y, y_error, _) = view(point);
        let line = x - amount_float;
        let difference = y - line;
        let bound = y_error + x_error + SLACK * (y.abs() + x.abs() + amount_float);
        if difference.abs() <= bound {
            None
        } else if difference < 0.0 {
            Some(Ordering::Less)
        } else {
            Some(Ordering::Greater)
        }
    };
    let (previous, index) = match intersection_segment(points.len(), |index| compare(points[index]).ok_or(()))
    {
        Err(()) => return None,
        Ok(Err(reason)) => return Some(Err(reason)),
        Ok(Ok(segment)) => segment,
    };

    // Exact values at the two points: in integers over a common denominator where they fit,
    // else in reduced fractions.
    let finish = Finish {
        amount,
        balance_in,
        balance_out,
        schedule_in,
        schedule_out,
        penalty_in: &penalty_in,
        penalty_out: &penalty_out,
        xs: &xs,
        capped,
    };
    let (previous, current) = (points[previous], points[index]);
    finish.over_common_denominator(previous, current).or_else(|| finish.with_fractions(previous, current))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;
    use proptest::prelude::*;

    use super::*;
    use crate::fees::{PenaltyPoints, get_amount_with_fees_general};

    fn terms(points: &[(U256, U256)]) -> ScheduleTerms<'_> {
        ScheduleTerms {
            cap_fees: true,
            flat: I256::ZERO,
            proportional: U256::ZERO,
            imbalance_penalty: (!points.is_empty()).then_some(PenaltyPoints::Wide(points)),
        }
    }

    /// Increasing penalty points from `start` with the given steps (none: no penalty).
    fn points(start: u64, steps: &[u64]) -> Vec<(U256, U256)> {
        let mut x = start;
        steps
            .iter()
            .map(|step| {
                let point = (U256::from(x), U256::from(x % 7));
                x += step;
                point
            })
            .collect()
    }

    proptest! {
        /// Outside the window the full computation is undefined; inside it, the penalties are
        /// never evaluated outside their points (it may still fail for other reasons).
        #[test]
        fn the_backward_window_is_where_the_penalties_are_defined(
            balances in (1u64..400, 1u64..400, 1u64..400),
            amount in 0u64..450,
            penalty_in in (0u64..50, prop::collection::vec(1u64..200, 0..4)),
            penalty_out in (0u64..50, prop::collection::vec(1u64..200, 0..4)),
        ) {
            let (balance_in, balance_out, receivable) = balances;
            let points_in = points(penalty_in.0, &penalty_in.1);
            let points_out = points(penalty_out.0, &penalty_out.1);
            let (schedule_in, schedule_out) = (terms(&points_in), terms(&points_out));
            let [balance_in, balance_out, receivable, amount] =
                [balance_in, balance_out, receivable, amount].map(U256::from);
            let window = backward_defined_amounts(balance_in, balance_out, receivable, &schedule_in, &schedule_out);
            let inside = window.is_some_and(|(least, most)| least <= amount && amount <= most);
            let result = get_amount_with_fees_general(amount, balance_in, balance_out, &schedule_in, &schedule_out, receivable);
            if inside {
                prop_assert_ne!(result, Err(UndefinedFee::OutsidePenaltyRange));
            } else {
                prop_assert!(result.is_err());
            }
        }
    }
}
