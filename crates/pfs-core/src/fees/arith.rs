//! The exact rational numbers the fee model computes with, behind one small trait.
//!
//! The mediation-fee algorithm is written once, generically over [`Exact`], and instantiated
//! twice: with [`Small`] (`i128` fractions whose every operation is overflow-checked) for speed,
//! and with [`Big`] (arbitrary precision, never overflows) as the fallback. Both are exact
//! rationals, so wherever the small instantiation finishes without reporting an overflow it has
//! computed the very same value as the big one; on overflow the caller reruns the big one. This is
//! how the fast path "provably gives the same result as the general algorithm".

use alloy_primitives::{I256, U256};
use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_rational::{BigRational, Ratio};
use num_traits::{CheckedAdd, CheckedDiv, CheckedMul, CheckedSub, Signed, Zero};

/// An operation left the range of the number type (only [`Small`] reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// An exact rational number type. Every operation returns `Err(Overflow)` instead of wrapping or
/// panicking when the result does not fit.
pub(crate) trait Exact: Clone + Ord + Sized {
    /// The integer `value`.
    fn from_u256(value: U256) -> Result<Self, Overflow>;
    /// The signed integer `value`.
    fn from_i256(value: I256) -> Result<Self, Overflow>;
    /// The fraction `numerator / 10^6` (a proportional fee in parts per million).
    fn per_million(numerator: U256) -> Result<Self, Overflow>;
    /// Zero.
    fn zero() -> Self;
    /// `self + other`.
    fn add(&self, other: &Self) -> Result<Self, Overflow>;
    /// `self - other`.
    fn sub(&self, other: &Self) -> Result<Self, Overflow>;
    /// `self · other`.
    fn mul(&self, other: &Self) -> Result<Self, Overflow>;
    /// `self / other`; `None` when `other` is zero (Python's `ZeroDivisionError`).
    fn div(&self, other: &Self) -> Result<Option<Self>, Overflow>;
    /// `|self|`.
    fn abs(&self) -> Result<Self, Overflow>;
    /// Whether the value is below zero.
    fn is_negative(&self) -> bool;
    /// Whether the value is above zero.
    fn is_positive(&self) -> bool;
    /// Python's `round(Fraction)`: the nearest integer, halves to even; `None` beyond 256 bits.
    fn round_half_even(&self) -> Option<I256>;
    /// Numerator and denominator as decimal text (`"n"` or `"n/d"`, Python's `str(Fraction)`).
    fn to_fraction_string(&self) -> String;
}

/// `i128` fractions with checked arithmetic: the fast instantiation.
pub(crate) type Small = Ratio<i128>;

/// Arbitrary-precision fractions: the general instantiation.
pub(crate) type Big = BigRational;

fn python_fraction_text<T: std::fmt::Display + PartialEq + num_traits::One>(ratio: &Ratio<T>) -> String {
    if ratio.denom().is_one() {
        ratio.numer().to_string()
    } else {
        format!("{}/{}", ratio.numer(), ratio.denom())
    }
}

impl Exact for Small {
    fn from_u256(value: U256) -> Result<Self, Overflow> {
        let integer: u128 = value.try_into().map_err(|_| Overflow)?;
        let integer = i128::try_from(integer).map_err(|_| Overflow)?;
        Ok(Ratio::from_integer(integer))
    }

    fn from_i256(value: I256) -> Result<Self, Overflow> {
        let integer: i128 = value.try_into().map_err(|_| Overflow)?;
        Ok(Ratio::from_integer(integer))
    }

    fn per_million(numerator: U256) -> Result<Self, Overflow> {
        let integer: u128 = numerator.try_into().map_err(|_| Overflow)?;
        let integer = i128::try_from(integer).map_err(|_| Overflow)?;
        Ok(Ratio::new(integer, 1_000_000))
    }

    fn zero() -> Self {
        <Ratio<_> as Zero>::zero()
    }

    fn add(&self, other: &Self) -> Result<Self, Overflow> {
        self.checked_add(other).ok_or(Overflow)
    }

    fn sub(&self, other: &Self) -> Result<Self, Overflow> {
        self.checked_sub(other).ok_or(Overflow)
    }

    fn mul(&self, other: &Self) -> Result<Self, Overflow> {
        self.checked_mul(other).ok_or(Overflow)
    }

    fn div(&self, other: &Self) -> Result<Option<Self>, Overflow> {
        if other.is_zero() {
            return Ok(None);
        }
        // `checked_div` also returns `None` for a zero divisor, excluded above, so `None` here
        // means overflow.
        self.checked_div(other).map(Some).ok_or(Overflow)
    }

    fn abs(&self) -> Result<Self, Overflow> {
        if Signed::is_negative(self) {
            let numerator = self.numer().checked_neg().ok_or(Overflow)?;
            Ok(Ratio::new_raw(numerator, *self.denom()))
        } else {
            Ok(*self)
        }
    }

    fn is_negative(&self) -> bool {
        Signed::is_negative(self)
    }

    fn is_positive(&self) -> bool {
        Signed::is_positive(self)
    }

    fn round_half_even(&self) -> Option<I256> {
        // Ratio keeps the denominator positive.
        let (quotient, remainder) = self.numer().div_mod_floor(self.denom());
        let twice = remainder.checked_mul(2)?;
        let rounded = match twice.cmp(self.denom()) {
            std::cmp::Ordering::Less => quotient,
            std::cmp::Ordering::Greater => quotient.checked_add(1)?,
            std::cmp::Ordering::Equal => quotient.checked_add(quotient.rem_euclid(2))?,
        };
        Some(I256::try_from(rounded).ok()?)
    }

    fn to_fraction_string(&self) -> String {
        python_fraction_text(self)
    }
}

fn big_from_u256(value: U256) -> BigInt {
    BigInt::from_bytes_be(Sign::Plus, &value.to_be_bytes::<32>())
}

impl Exact for Big {
    fn from_u256(value: U256) -> Result<Self, Overflow> {
        Ok(Ratio::from_integer(big_from_u256(value)))
    }

    fn from_i256(value: I256) -> Result<Self, Overflow> {
        let magnitude = big_from_u256(value.unsigned_abs());
        Ok(Ratio::from_integer(if value.is_negative() { -magnitude } else { magnitude }))
    }

    fn per_million(numerator: U256) -> Result<Self, Overflow> {
        Ok(Ratio::new(big_from_u256(numerator), BigInt::from(1_000_000)))
    }

    fn zero() -> Self {
        <Ratio<_> as Zero>::zero()
    }

    fn add(&self, other: &Self) -> Result<Self, Overflow> {
        Ok(self + other)
    }

    fn sub(&self, other: &Self) -> Result<Self, Overflow> {
        Ok(self - other)
    }

    fn mul(&self, other: &Self) -> Result<Self, Overflow> {
        Ok(self * other)
    }

    fn div(&self, other: &Self) -> Result<Option<Self>, Overflow> {
        if other.is_zero() { Ok(None) } else { Ok(Some(self / other)) }
    }

    fn abs(&self) -> Result<Self, Overflow> {
        Ok(Signed::abs(self))
    }

    fn is_negative(&self) -> bool {
        Signed::is_negative(self)
    }

    fn is_positive(&self) -> bool {
        Signed::is_positive(self)
    }

    fn round_half_even(&self) -> Option<I256> {
        let (quotient, remainder) = self.numer().div_mod_floor(self.denom());
        let twice: BigInt = remainder * 2;
        let rounded = match twice.cmp(self.denom()) {
            std::cmp::Ordering::Less => quotient,
            std::cmp::Ordering::Greater => quotient + 1,
            std::cmp::Ordering::Equal => {
                let odd = quotient.is_odd();
                if odd { quotient + 1 } else { quotient }
            }
        };
        let (sign, bytes) = rounded.to_bytes_be();
        if bytes.len() > 32 {
            return None;
        }
        let magnitude = U256::from_be_slice(&bytes);
        let magnitude = I256::try_from(magnitude).ok()?;
        Some(if sign == Sign::Minus { -magnitude } else { magnitude })
    }

    fn to_fraction_string(&self) -> String {
        python_fraction_text(self)
    }
}

/// Parses Python's `str(Fraction)` (`"n"` or `"n/d"`) into a big rational; for tests and tools.
pub(crate) fn parse_fraction(text: &str) -> Option<Big> {
    let (numerator, denominator) = match text.split_once('/') {
        Some((numerator, denominator)) => (numerator, denominator),
        None => (text, "1"),
    };
    let numerator: BigInt = numerator.trim().parse().ok()?;
    let denominator: BigInt = denominator.trim().parse().ok()?;
    if denominator.is_zero() {
        return None;
    }
    Some(Ratio::new(numerator, denominator))
}
