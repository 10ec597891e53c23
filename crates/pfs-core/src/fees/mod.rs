//! The mediation fee model: what a mediator charges for forwarding a payment, in exact arithmetic,
//! exactly as Raiden computes it (`spec/PROTOCOL.md` §3, `spec/REFERENCE-PFS.md` §2.8).
//!
//! A mediator's fee for one transfer is `flat + proportional·|amount| + P(balance + amount) −
//! P(balance)` on each of its two channels, where `P` is a piecewise-linear imbalance penalty.
//! [`get_amount_with_fees`] answers the PFS's question "how much must arrive at the mediator so
//! that `amount` leaves it?" and [`get_amount_without_fees`] the mediator's own question in the
//! other direction. Both return [`UndefinedFee`] exactly where the reference returns `None`
//! (there is no route through that mediator), and never panic.
//!
//! # Design: one algorithm, two number types
//!
//! The reference computes with Python `Fraction`s, and every result must match it to the token
//! unit, including round-half-to-even. The algorithm (`mediation`) is a literal port written
//! once, generically over an exact rational type (`arith`). It first runs on `i128` fractions
//! whose every operation is overflow-checked (no allocation per number, fast), and only if one of
//! them overflows it reruns on arbitrary-precision fractions. Both are exact, so the fast run
//! either produces the reference value or reports that it cannot; the property tests check that
//! both agree on random inputs.
//!
//! # Deliberate deviations from the reference (ARCHITECTURE.md §4)
//!
//! * **Mismatched `cap_fees`.** The reference asserts that a mediator's incoming and outgoing
//!   schedules agree on `cap_fees` and answers HTTP 500 when they do not. Here the fee is
//!   [`UndefinedFee::CapFeesMismatch`]: no route through that mediator. The mediator's own Raiden
//!   node makes the same assertion when it forwards (`get_amount_without_fees`), so it could not
//!   mediate such a payment anyway; answering "no route through here" is the only value that is
//!   both safe and consistent with what the reference can return.
//! * **Division by zero.** `find_intersection` divides by zero in degenerate single-point cases,
//!   which Python does not catch; here it is [`UndefinedFee::DivisionByZero`].

pub(crate) mod arith;
pub mod client;
mod closed_form;
mod finish;
pub(crate) mod float;
mod mediation;
pub(crate) use mediation::backward_defined_amounts;

use alloy_primitives::{I256, U256};

use crate::fee_schedule::FeeSchedule;
use crate::ids::TokenAmount;
use arith::{Big, Exact, Small, Wide};
use mediation::{Direction, Failure, Mediation};

/// The arithmetic view of a [`FeeSchedule`]: what the fee model reads from it.
///
/// Raiden's `FeeScheduleState.flat` is a signed `FeeAmount`, so `flat` is signed here (a negative
/// flat fee is a rebate; it cannot arrive in a signed `PFSFeeUpdate`, but the fee model defines it
/// and the vectors test it). The penalty is borrowed, so building one is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleTerms<'a> {
    /// Whether negative total fees are raised to zero.
    pub cap_fees: bool,
    /// Flat fee in token units (signed).
    pub flat: I256,
    /// Proportional fee in parts per million.
    pub proportional: U256,
    /// The penalty points `(balance, penalty)`, balances strictly increasing, or `None`.
    pub imbalance_penalty: Option<PenaltyPoints<'a>>,
}

/// Borrowed imbalance-penalty points, at full width or narrowed to `u128` (how the routing graph
/// stores them when they fit, at half the memory). Invariant: at least one point, balances
/// strictly increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PenaltyPoints<'a> {
    /// Points as announced.
    Wide(&'a [(TokenAmount, TokenAmount)]),
    /// The same points narrowed: balances below 2^128, penalties below 2^64.
    Narrow {
        /// The balances.
        xs: &'a [u128],
        /// The penalties, one per balance.
        ys: &'a [u64],
    },
}

impl PenaltyPoints<'_> {
    /// Number of points.
    pub fn len(&self) -> usize {
        match self {
            Self::Wide(points) => points.len(),
            Self::Narrow { xs, .. } => xs.len(),
        }
    }

    /// Whether there are no points (never, by the invariant).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Point `index`.
    ///
    /// # Panics
    /// If `index` is not below [`PenaltyPoints::len`].
    pub fn point(&self, index: usize) -> (TokenAmount, TokenAmount) {
        match self {
            Self::Wide(points) => points[index],
            Self::Narrow { xs, ys } => (U256::from(xs[index]), U256::from(ys[index])),
        }
    }

    /// The points in order.
    pub fn iter(&self) -> impl Iterator<Item = (TokenAmount, TokenAmount)> + '_ {
        (0..self.len()).map(|index| self.point(index))
    }
}

impl<'a> ScheduleTerms<'a> {
    /// The terms of `schedule`.
    ///
    /// A `flat` at or above 2^255 (which no signed update can carry) saturates at `I256::MAX`.
    pub fn of(schedule: &'a FeeSchedule) -> Self {
        Self {
            cap_fees: schedule.cap_fees,
            flat: I256::try_from(schedule.flat).unwrap_or(I256::MAX),
            proportional: schedule.proportional,
            imbalance_penalty: schedule
                .imbalance_penalty
                .as_ref()
                .map(|penalty| PenaltyPoints::Wide(penalty.points())),
        }
    }

    /// The same terms with `cap_fees` replaced (the PFS's edge weight forces `true`).
    pub fn with_cap_fees(self, cap_fees: bool) -> Self {
        Self { cap_fees, ..self }
    }

    /// Whether the schedule charges nothing at all: no flat, no proportional, no penalty.
    pub fn is_free(&self) -> bool {
        self.flat.is_zero() && self.proportional.is_zero() && self.imbalance_penalty.is_none()
    }
}

/// Why no fee is defined, i.e. why the reference returns `None` (no route through this mediator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UndefinedFee {
    /// The outgoing balance or the receivable amount is zero: the mediator cannot forward.
    #[error("the mediator has no balance to forward or cannot receive")]
    NoBalance,
    /// A penalty function was evaluated outside its points (this includes an amount larger than
    /// the outgoing balance).
    #[error("an imbalance penalty does not cover the balance the transfer would produce")]
    OutsidePenaltyRange,
    /// The fee function never meets the payment line inside its domain.
    #[error("the mediator's channels cannot carry the amount with its fees")]
    InsufficientCapacity,
    /// The solution is not positive.
    #[error("the amount with fees would not be positive")]
    NotPositive,
    /// The solution does not fit 256 bits.
    #[error("the amount with fees does not fit 256 bits")]
    TooLarge,
    /// A degenerate fee function made the reference divide by zero.
    #[error("degenerate fee function (the reference divides by zero)")]
    DivisionByZero,
    /// The mediator's two schedules disagree on `cap_fees` (the reference crashes).
    #[error("the mediator's incoming and outgoing schedules disagree on cap_fees")]
    CapFeesMismatch,
}

fn run(mediation: &Mediation<'_>) -> Result<TokenAmount, UndefinedFee> {
    if mediation.schedule_in.cap_fees != mediation.schedule_out.cap_fees {
        return Err(UndefinedFee::CapFeesMismatch);
    }
    if let Some(reason) = mediation::undefined_before_fractions(mediation) {
        return Err(reason);
    }
    if let Some(result) = closed_form::backward_without_penalties(mediation) {
        return result;
    }
    if let Some(result) = mediation::backward_filtered(mediation) {
        return result;
    }
    // i128 fractions overflow as soon as two amounts beyond ~2^50 are multiplied with a
    // parts-per-million denominator; skip the attempt when that is certain to happen.
    let small_fits = [mediation.amount, mediation.balance_in, mediation.balance_out, mediation.receivable]
        .iter()
        .all(|value| value.bit_len() <= 40);
    let first = if small_fits { mediation::solve::<Small>(mediation) } else { Err(Failure::Overflow) };
    match first {
        Ok(amount) => Ok(amount),
        Err(Failure::Undefined(reason)) => Err(reason),
        Err(Failure::Overflow) => match mediation::solve::<Wide>(mediation) {
            Ok(amount) => Ok(amount),
            Err(Failure::Undefined(reason)) => Err(reason),
            Err(Failure::Overflow) => match mediation::solve::<Big>(mediation) {
                Ok(amount) => Ok(amount),
                Err(Failure::Undefined(reason)) => Err(reason),
                // Big fractions never overflow.
                Err(Failure::Overflow) => Err(UndefinedFee::TooLarge),
            },
        },
    }
}

/// How much must arrive at a mediator so that `amount_without_fees` leaves it (Raiden's
/// `get_amount_with_fees`, the function the PFS calls per mediator, backwards from the target).
///
/// `balance_in` is the mediator's balance in the incoming channel, `receivable` what its partner
/// there can still send it, `balance_out` its balance in the outgoing channel; `schedule_in` and
/// `schedule_out` are the mediator's schedules for those two channels.
///
/// # Errors
/// [`UndefinedFee`] wherever the reference returns `None`, and for mismatched `cap_fees` (see the
/// module documentation).
///
/// # Example
/// ```
/// use pfs_core::fees::{ScheduleTerms, get_amount_with_fees};
/// use pfs_core::{FeeSchedule, U256};
///
/// let flat_ten = FeeSchedule { flat: U256::from(10), ..FeeSchedule::default() };
/// let terms = ScheduleTerms::of(&flat_ten);
/// let amount = U256::from(100);
/// let capacity = U256::from(1000);
/// let with_fees = get_amount_with_fees(amount, capacity, capacity, &terms, &terms, capacity);
/// assert_eq!(with_fees, Ok(U256::from(120)));
/// ```
pub fn get_amount_with_fees(
    amount_without_fees: TokenAmount,
    balance_in: TokenAmount,
    balance_out: TokenAmount,
    schedule_in: &ScheduleTerms<'_>,
    schedule_out: &ScheduleTerms<'_>,
    receivable: TokenAmount,
) -> Result<TokenAmount, UndefinedFee> {
    run(&Mediation::new(
        Direction::Backward,
        amount_without_fees,
        balance_in,
        balance_out,
        schedule_in,
        schedule_out,
        receivable,
    ))
}

/// How much a mediator forwards when `amount_with_fees` arrived (Raiden's mediator-side
/// `get_amount_without_fees`). Arguments as for [`get_amount_with_fees`].
///
/// # Errors
/// [`UndefinedFee`] wherever the reference returns `None`, and for mismatched `cap_fees`.
pub fn get_amount_without_fees(
    amount_with_fees: TokenAmount,
    balance_in: TokenAmount,
    balance_out: TokenAmount,
    schedule_in: &ScheduleTerms<'_>,
    schedule_out: &ScheduleTerms<'_>,
    receivable: TokenAmount,
) -> Result<TokenAmount, UndefinedFee> {
    run(&Mediation::new(
        Direction::Forward,
        amount_with_fees,
        balance_in,
        balance_out,
        schedule_in,
        schedule_out,
        receivable,
    ))
}

/// The points of the backward fee function as Python prints them (`str(Fraction)`), after
/// capping: `(x_list, y_list)`. For diagnostics and the vector tests.
///
/// # Errors
/// [`UndefinedFee`] where `_mediation_fee_func` raises `UndefinedMediationFee`.
pub fn backward_fee_function_points(
    amount_without_fees: TokenAmount,
    balance_in: TokenAmount,
    balance_out: TokenAmount,
    schedule_in: &ScheduleTerms<'_>,
    schedule_out: &ScheduleTerms<'_>,
    receivable: TokenAmount,
) -> Result<(Vec<String>, Vec<String>), UndefinedFee> {
    let mediation = Mediation::new(
        Direction::Backward,
        amount_without_fees,
        balance_in,
        balance_out,
        schedule_in,
        schedule_out,
        receivable,
    );
    match mediation::fee_function::<Big>(&mediation) {
        Ok(points) => Ok((
            points.xs.iter().map(Exact::to_fraction_string).collect(),
            points.ys.iter().map(Exact::to_fraction_string).collect(),
        )),
        Err(Failure::Undefined(reason)) => Err(reason),
        Err(Failure::Overflow) => Err(UndefinedFee::TooLarge),
    }
}

/// Runs only the arbitrary-precision instantiation (no fast path); the property tests compare it
/// with [`get_amount_with_fees`].
#[doc(hidden)]
pub fn get_amount_with_fees_general(
    amount_without_fees: TokenAmount,
    balance_in: TokenAmount,
    balance_out: TokenAmount,
    schedule_in: &ScheduleTerms<'_>,
    schedule_out: &ScheduleTerms<'_>,
    receivable: TokenAmount,
) -> Result<TokenAmount, UndefinedFee> {
    if schedule_in.cap_fees != schedule_out.cap_fees {
        return Err(UndefinedFee::CapFeesMismatch);
    }
    let mediation = Mediation::new(
        Direction::Backward,
        amount_without_fees,
        balance_in,
        balance_out,
        schedule_in,
        schedule_out,
        receivable,
    );
    match mediation::solve::<Big>(&mediation) {
        Ok(amount) => Ok(amount),
        Err(Failure::Undefined(reason)) => Err(reason),
        Err(Failure::Overflow) => Err(UndefinedFee::TooLarge),
    }
}

/// Evaluates an `Interpolate(xs, ys)` given as Python fraction strings at `x`; `None` outside the
/// points or for malformed input. For the vector tests of the building blocks.
#[doc(hidden)]
pub fn interpolate_fraction_strings(xs: &[&str], ys: &[&str], x: &str) -> Option<String> {
    let parse_all =
        |values: &[&str]| values.iter().map(|value| arith::parse_fraction(value)).collect::<Option<Vec<_>>>();
    let points = mediation::Points { xs: parse_all(xs)?, ys: parse_all(ys)? };
    if points.xs.is_empty() || points.xs.len() != points.ys.len() {
        return None;
    }
    let x = arith::parse_fraction(x)?;
    mediation::evaluate_point(&points, &x).map(|y| y.to_fraction_string())
}

/// `FeeScheduleState.fee(balance, amount)` with the zero penalty installed when the schedule has
/// none (what every real fee computation sees), as a Python fraction string; `None` when the
/// penalty does not cover the balances. For the vector tests of the building blocks.
#[doc(hidden)]
pub fn schedule_fee_fraction_string(
    schedule: &ScheduleTerms<'_>,
    balance: I256,
    amount: I256,
) -> Option<String> {
    mediation::schedule_fee_text(schedule, balance, amount)
}
