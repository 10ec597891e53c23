//! The exact rational numbers the fee model computes with, behind one small trait.
//!
//! The mediation-fee algorithm is written once, generically over [`Exact`], and instantiated
//! twice: with [`Small`] (`i128` fractions whose every operation is overflow-checked) for speed,
//! and with [`Big`] (arbitrary precision, never overflows) as the fallback. Both are exact
//! rationals, so wherever the small instantiation finishes without reporting an overflow it has
//! computed the very same value as the big one; on overflow the caller reruns the big one. This is
//! how the fast path "provably gives the same result as the general algorithm".

use alloy_primitives::ruint::Uint;
use alloy_primitives::{I256, Signed as FixedSigned, U256, U512};
use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_rational::{BigRational, Ratio};
use num_traits::{CheckedAdd, CheckedDiv, CheckedMul, CheckedSub, Signed, Zero};

use super::UndefinedFee;

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
    /// The integer `value`.
    fn from_u512(value: U512) -> Result<Self, Overflow>;
    /// `proportional / 10^6 · amount` (a proportional fee on an amount).
    fn per_million_of(proportional: U256, amount: U512) -> Result<Self, Overflow> {
        Self::per_million(proportional)?.mul(&Self::from_u512(amount)?)
    }
    /// The line through `(x0, y0)` and `(x1, y1)` at `position` (`x0 < x1`):
    /// `y0 + (y1 − y0)·(position − x0)/(x1 − x0)`, as `Interpolate` computes it.
    fn interpolate(x0: U512, y0: U512, x1: U512, y1: U512, position: U512) -> Result<Self, Overflow> {
        let (x0, y0, x1, y1, position) = (
            Self::from_u512(x0)?,
            Self::from_u512(y0)?,
            Self::from_u512(x1)?,
            Self::from_u512(y1)?,
            Self::from_u512(position)?,
        );
        let slope = y1.sub(&y0)?.div(&x1.sub(&x0)?)?.ok_or(Overflow)?;
        y0.add(&slope.mul(&position.sub(&x0)?)?)
    }
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

/// Python's `round(Fraction)` on a ratio with positive denominator: the nearest integer, halves
/// to the even neighbour; `None` on overflow of the integer type.
fn round_ratio_half_even<T>(ratio: &Ratio<T>) -> Option<T>
where
    T: Clone + Integer + num_traits::CheckedMul + num_traits::CheckedAdd + From<u8>,
{
    let (quotient, remainder) = ratio.numer().div_mod_floor(ratio.denom());
    let twice = remainder.checked_mul(&T::from(2))?;
    match twice.cmp(ratio.denom()) {
        std::cmp::Ordering::Less => Some(quotient),
        std::cmp::Ordering::Greater => quotient.checked_add(&T::from(1)),
        std::cmp::Ordering::Equal if quotient.is_odd() => quotient.checked_add(&T::from(1)),
        std::cmp::Ordering::Equal => Some(quotient),
    }
}

fn python_fraction_text<T: std::fmt::Display + PartialEq + num_traits::One>(ratio: &Ratio<T>) -> String {
    if ratio.denom().is_one() {
        ratio.numer().to_string()
    } else {
        format!("{}/{}", ratio.numer(), ratio.denom())
    }
}

impl Exact for Small {
    fn from_u512(value: U512) -> Result<Self, Overflow> {
        let integer: u128 = value.try_into().map_err(|_| Overflow)?;
        let integer = i128::try_from(integer).map_err(|_| Overflow)?;
        Ok(Ratio::from_integer(integer))
    }

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
        I256::try_from(round_ratio_half_even(self)?).ok()
    }

    fn to_fraction_string(&self) -> String {
        python_fraction_text(self)
    }
}

fn big_from_u256(value: U256) -> BigInt {
    BigInt::from_bytes_be(Sign::Plus, &value.to_be_bytes::<32>())
}

impl Exact for Big {
    fn from_u512(value: U512) -> Result<Self, Overflow> {
        Ok(Ratio::from_integer(BigInt::from_bytes_be(Sign::Plus, &value.to_be_bytes::<64>())))
    }

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
        let rounded = round_ratio_half_even(self)?;
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

/// The segment from `(x0, y0)` to `(x1, y1)` at `position` (`x0 <= position <= x1`, `x0 < x1`)
/// as `(numerator, width)`: `(y0·(x1 − x0) ± |y1 − y0|·(position − x0)) / (x1 − x0)`, never
/// negative; `None` if a product overflows.
pub(crate) fn interpolation(x0: U512, y0: U512, x1: U512, y1: U512, position: U512) -> Option<(U512, U512)> {
    let width = x1 - x0;
    let offset = position - x0;
    let base = y0.checked_mul(width)?;
    let numerator = if y1 >= y0 {
        base.checked_add((y1 - y0).checked_mul(offset)?)?
    } else {
        base - (y0 - y1).checked_mul(offset)?
    };
    Some((numerator, width))
}

/// The solution `top / bottom` of an intersection as the reference leaves it: not positive is
/// [`UndefinedFee::NotPositive`], else rounded half to even, and past 255 bits
/// [`UndefinedFee::TooLarge`]. `None` if negating or doubling overflows (the caller's numbers
/// are then too wide for its type). `bottom` must not be zero.
pub(crate) fn rounded_solution<const BITS: usize, const LIMBS: usize>(
    top: FixedSigned<BITS, LIMBS>,
    bottom: FixedSigned<BITS, LIMBS>,
) -> Option<Result<U256, UndefinedFee>> {
    let (top, bottom) =
        if bottom.is_negative() { (top.checked_neg()?, bottom.checked_neg()?) } else { (top, bottom) };
    if top <= FixedSigned::ZERO {
        return Some(Err(UndefinedFee::NotPositive));
    }
    let (top, bottom) = (top.into_raw(), bottom.into_raw());
    let (quotient, remainder) = top.div_rem(bottom);
    let twice = remainder.checked_mul(Uint::from(2u8))?;
    let one = Uint::from(1u8);
    let rounded = match twice.cmp(&bottom) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + one,
        std::cmp::Ordering::Equal => quotient + (quotient & one),
    };
    if rounded.bit_len() > 255 {
        return Some(Err(UndefinedFee::TooLarge));
    }
    Some(Ok(U256::from_limbs_slice(&rounded.as_limbs()[..4])))
}

/// Sign-magnitude fractions over 512-bit integers, kept reduced (ruint's Lehmer gcd, no
/// allocation): the middle instantiation, for token amounts around 10^18 where products of two
/// amounts and a parts-per-million denominator overflow `i128`.
#[derive(Debug, Clone)]
pub(crate) struct Wide {
    negative: bool,
    /// Magnitude of the numerator; zero is never negative.
    numerator: U512,
    /// Always positive.
    denominator: U512,
}

impl Wide {
    /// Builds a fraction, reducing it only once it grows past 192 bits (a gcd costs more than
    /// the arithmetic on small numbers; values are the same either way).
    fn new(negative: bool, numerator: U512, denominator: U512) -> Self {
        if numerator.bit_len() <= 192 && denominator.bit_len() <= 192 {
            return Self { negative: negative && !numerator.is_zero(), numerator, denominator };
        }
        let divisor = numerator.gcd(denominator);
        let (numerator, denominator) = if divisor > U512::from(1u8) {
            (numerator / divisor, denominator / divisor)
        } else {
            (numerator, denominator)
        };
        Self { negative: negative && !numerator.is_zero(), numerator, denominator }
    }

    fn integer(negative: bool, magnitude: U512) -> Self {
        Self {
            negative: negative && !magnitude.is_zero(),
            numerator: magnitude,
            denominator: U512::from(1u8),
        }
    }

    /// `self + other` with `other`'s sign flipped when `subtract`.
    fn combine(&self, other: &Self, subtract: bool) -> Result<Self, Overflow> {
        let other_negative = other.negative != subtract && !other.numerator.is_zero();
        let left = self.numerator.checked_mul(other.denominator).ok_or(Overflow)?;
        let right = other.numerator.checked_mul(self.denominator).ok_or(Overflow)?;
        let denominator = self.denominator.checked_mul(other.denominator).ok_or(Overflow)?;
        let (negative, numerator) = if self.negative == other_negative {
            (self.negative, left.checked_add(right).ok_or(Overflow)?)
        } else if left >= right {
            (self.negative, left - right)
        } else {
            (other_negative, right - left)
        };
        Ok(Self::new(negative, numerator, denominator))
    }
}

impl PartialEq for Wide {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Wide {}

impl PartialOrd for Wide {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Wide {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self.negative, other.negative) {
            (false, true) => return Ordering::Greater,
            (true, false) => return Ordering::Less,
            _ => {}
        }
        // Same sign: compare magnitudes, by cross-multiplying (in 1024 bits only when 512 do not
        // suffice, so it never overflows).
        let magnitude = if self.denominator == other.denominator {
            self.numerator.cmp(&other.numerator)
        } else if let (Some(left), Some(right)) =
            (self.numerator.checked_mul(other.denominator), other.numerator.checked_mul(self.denominator))
        {
            left.cmp(&right)
        } else {
            let left = alloy_primitives::ruint::Uint::<1024, 16>::from(self.numerator)
                * alloy_primitives::ruint::Uint::<1024, 16>::from(other.denominator);
            let right = alloy_primitives::ruint::Uint::<1024, 16>::from(other.numerator)
                * alloy_primitives::ruint::Uint::<1024, 16>::from(self.denominator);
            left.cmp(&right)
        };
        if self.negative { magnitude.reverse() } else { magnitude }
    }
}

impl Exact for Wide {
    fn from_u512(value: U512) -> Result<Self, Overflow> {
        Ok(Self::integer(false, value))
    }

    fn per_million_of(proportional: U256, amount: U512) -> Result<Self, Overflow> {
        let numerator = U512::from(proportional).checked_mul(amount).ok_or(Overflow)?;
        Ok(Self::new(false, numerator, U512::from(1_000_000u64)))
    }

    fn interpolate(x0: U512, y0: U512, x1: U512, y1: U512, position: U512) -> Result<Self, Overflow> {
        let (numerator, width) = interpolation(x0, y0, x1, y1, position).ok_or(Overflow)?;
        Ok(Self::new(false, numerator, width))
    }

    fn from_u256(value: U256) -> Result<Self, Overflow> {
        Ok(Self::integer(false, U512::from(value)))
    }

    fn from_i256(value: I256) -> Result<Self, Overflow> {
        Ok(Self::integer(value.is_negative(), U512::from(value.unsigned_abs())))
    }

    fn per_million(numerator: U256) -> Result<Self, Overflow> {
        Ok(Self::new(false, U512::from(numerator), U512::from(1_000_000u64)))
    }

    fn zero() -> Self {
        Self::integer(false, U512::ZERO)
    }

    fn add(&self, other: &Self) -> Result<Self, Overflow> {
        self.combine(other, false)
    }

    fn sub(&self, other: &Self) -> Result<Self, Overflow> {
        self.combine(other, true)
    }

    fn mul(&self, other: &Self) -> Result<Self, Overflow> {
        let negative = self.negative != other.negative;
        if let (Some(numerator), Some(denominator)) =
            (self.numerator.checked_mul(other.numerator), self.denominator.checked_mul(other.denominator))
        {
            return Ok(Self::new(negative, numerator, denominator));
        }
        // Cross-reduce so the products stay small.
        let first = self.numerator.gcd(other.denominator).max(U512::from(1u8));
        let second = other.numerator.gcd(self.denominator).max(U512::from(1u8));
        let numerator = (self.numerator / first).checked_mul(other.numerator / second).ok_or(Overflow)?;
        let denominator =
            (self.denominator / second).checked_mul(other.denominator / first).ok_or(Overflow)?;
        Ok(Self::new(negative, numerator, denominator))
    }

    fn div(&self, other: &Self) -> Result<Option<Self>, Overflow> {
        if other.numerator.is_zero() {
            return Ok(None);
        }
        let reciprocal =
            Self { negative: other.negative, numerator: other.denominator, denominator: other.numerator };
        self.mul(&reciprocal).map(Some)
    }

    fn abs(&self) -> Result<Self, Overflow> {
        Ok(Self { negative: false, ..self.clone() })
    }

    fn is_negative(&self) -> bool {
        self.negative
    }

    fn is_positive(&self) -> bool {
        !self.negative && !self.numerator.is_zero()
    }

    fn round_half_even(&self) -> Option<I256> {
        let (quotient, remainder) = self.numerator.div_rem(self.denominator);
        let twice = remainder.checked_mul(U512::from(2u8))?;
        // Round the magnitude half to even; the parity of the result is symmetric in the sign.
        let magnitude = match twice.cmp(&self.denominator) {
            std::cmp::Ordering::Less => quotient,
            std::cmp::Ordering::Greater => quotient + U512::from(1u8),
            std::cmp::Ordering::Equal => quotient + (quotient & U512::from(1u8)),
        };
        if magnitude.bit_len() > 255 {
            return None;
        }
        let magnitude = I256::from_raw(U256::from(magnitude));
        Some(if self.negative { -magnitude } else { magnitude })
    }

    fn to_fraction_string(&self) -> String {
        let reduced = {
            let divisor = self.numerator.gcd(self.denominator).max(U512::from(1u8));
            Self {
                negative: self.negative,
                numerator: self.numerator / divisor,
                denominator: self.denominator / divisor,
            }
        };
        let sign = if reduced.negative { "-" } else { "" };
        let (numerator, denominator) = (reduced.numerator, reduced.denominator);
        if denominator == U512::from(1u8) {
            return format!("{sign}{numerator}");
        }
        format!("{sign}{numerator}/{denominator}")
    }
}
