//! Python's conversions between integers and floats, bit for bit: `float(int)` and `int / int`
//! round to nearest (ties to even), `int(float)` truncates towards zero.

use alloy_primitives::{I256, U256, U512};

/// `float(value)`: the nearest `f64`, ties to even.
pub(crate) fn u256_to_f64(value: U256) -> f64 {
    f64::from(&value)
}

/// `float(value)` for a signed integer.
pub(crate) fn i256_to_f64(value: I256) -> f64 {
    let magnitude = u256_to_f64(value.unsigned_abs());
    if value.is_negative() { -magnitude } else { magnitude }
}

/// `int(value)` for a finite, non-negative float: truncation towards zero; `None` for NaN,
/// infinities, negative values and values of 2^256 or more.
pub(crate) fn f64_to_u256_truncated(value: f64) -> Option<U256> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    U256::try_from(value.trunc()).ok()
}

/// Python's true division `numerator / denominator` of two integers: the exactly rounded
/// quotient (not `float(a) / float(b)`). `denominator` must be non-zero.
pub(crate) fn divide_to_f64(numerator: U256, denominator: U256) -> f64 {
    debug_assert!(!denominator.is_zero());
    if numerator.is_zero() {
        return 0.0;
    }
    // Scale so the integer quotient has at least 66 significant bits, then fold the remainder
    // into a sticky bit far below the rounding position: rounding that integer to 53 bits is then
    // the correct rounding of the exact quotient.
    let shift = (66 + denominator.bit_len()).saturating_sub(numerator.bit_len());
    let scaled = U512::from(numerator) << shift;
    let divisor = U512::from(denominator);
    let quotient = scaled / divisor;
    let sticky = !(scaled % divisor).is_zero();
    let quotient = if sticky { quotient | U512::from(1u8) } else { quotient };
    let shift = i32::try_from(shift).unwrap_or(i32::MAX);
    // The scaling by 2^-shift is exact for every quotient of two 256-bit integers (no subnormals).
    f64::from(&quotient) * 2f64.powi(-shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_of_int_rounds_half_to_even() {
        // 2^53 + 1 lies halfway between 2^53 and 2^53 + 2: ties go to the even mantissa.
        let value = U256::from((1u64 << 53) + 1);
        assert_eq!(u256_to_f64(value), (1u64 << 53) as f64);
        let value = U256::from((1u64 << 53) + 3);
        assert_eq!(u256_to_f64(value), ((1u64 << 53) + 4) as f64);
    }

    #[test]
    fn true_division_is_exactly_rounded() {
        assert_eq!(divide_to_f64(U256::from(1), U256::from(3)), 1.0 / 3.0);
        assert_eq!(divide_to_f64(U256::from(10u64).pow(U256::from(18)), U256::from(20)), 5e16);
        // float(a)/float(b) would round twice here; Python rounds the exact quotient once.
        let numerator = U256::from((1u64 << 60) + 1);
        let expected = ((1u128 << 60) + 1) as f64 / 3.0;
        let exact = divide_to_f64(numerator, U256::from(3));
        assert!((exact - expected).abs() <= expected * f64::EPSILON);
    }

    #[test]
    fn int_of_float_truncates() {
        assert_eq!(f64_to_u256_truncated(10.99), Some(U256::from(10)));
        assert_eq!(f64_to_u256_truncated(-1.0), None);
        assert_eq!(f64_to_u256_truncated(f64::NAN), None);
    }
}
