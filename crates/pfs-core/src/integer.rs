//! Reading and writing unsigned 256-bit integers in JSON the way Raiden's peers do.
//!
//! Raiden's Python services load integers with marshmallow, which accepts a JSON number (a float
//! is truncated toward zero, `10.7 → 10`, `1e10 → 10000000000`) or a decimal string (`" 12 "`
//! included), and rejects booleans, `"1e3"` and `"0x10"`. The light client sends decimal strings,
//! and raiden.rs writes the points of an imbalance penalty as `0x` hex strings. Values routinely
//! exceed 2^64 (token amounts with 18 decimals), so JSON numbers are read from their exact text
//! through [`serde_json::value::RawValue`], never through `f64` or `u64`.
//!
//! On output the HTTP API writes exact JSON numbers and Matrix messages write decimal strings;
//! the two serde adapters [`as_number`] and [`as_decimal_string`] choose between them.

use alloy_primitives::U256;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Longest decimal text that can still be a `uint256` (2^256 − 1 has 78 digits); longer digit
/// strings are rejected before any arithmetic, so a hostile 1 MB number costs nothing.
const MAX_DECIMAL_DIGITS: usize = 78;

/// Which spellings of an integer a field accepts, beyond JSON numbers and decimal strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerSyntax {
    /// JSON numbers and decimal strings, as marshmallow's `Integer` and Raiden's
    /// `IntegerToStringField` accept them.
    NumberOrDecimal,
    /// Additionally `0x` hex strings, as raiden.rs writes imbalance-penalty points.
    NumberDecimalOrHex,
}

/// Why a JSON value is not an acceptable unsigned integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegerError {
    /// Not a JSON number or a string holding an integer (e.g. `true`, `null`, `"1e3"`, `"0x10"`
    /// where hex is not allowed, or an object).
    #[error("not a valid integer: {0}")]
    NotAnInteger(String),
    /// A negative value where only unsigned values are meaningful.
    #[error("negative integer not allowed: {0}")]
    Negative(String),
    /// A value above 2^256 − 1.
    #[error("integer exceeds 2^256 - 1")]
    TooLarge,
}

/// Longest input echoed back in an error message.
const MAX_ECHOED_CHARS: usize = 40;

fn echo(text: &str) -> String {
    let mut echoed: String = text.chars().take(MAX_ECHOED_CHARS).collect();
    if echoed.len() < text.len() {
        echoed.push('…');
    }
    echoed
}

/// Parses the JSON text of one value (a number literal, or a quoted string) as a `uint256`.
///
/// `json` must be a single complete JSON value, as [`RawValue::get`] returns it.
///
/// # Errors
/// [`IntegerError`] describing why the value is not acceptable; never panics, whatever the
/// input.
///
/// # Examples
/// ```
/// use alloy_primitives::U256;
/// use pfs_core::integer::{parse_json_integer, IntegerSyntax};
///
/// let syntax = IntegerSyntax::NumberOrDecimal;
/// assert_eq!(parse_json_integer("100000000000000000000", syntax), Ok(U256::from(10u128.pow(20))));
/// assert_eq!(parse_json_integer("\" 12 \"", syntax), Ok(U256::from(12)));
/// assert_eq!(parse_json_integer("10.7", syntax), Ok(U256::from(10)));
/// assert!(parse_json_integer("\"0x10\"", syntax).is_err());
/// assert_eq!(parse_json_integer("\"0x10\"", IntegerSyntax::NumberDecimalOrHex), Ok(U256::from(16)));
/// ```
pub fn parse_json_integer(json: &str, syntax: IntegerSyntax) -> Result<U256, IntegerError> {
    let json = json.trim();
    match json.as_bytes().first() {
        Some(b'"') => {
            let text: String =
                serde_json::from_str(json).map_err(|_| IntegerError::NotAnInteger(echo(json)))?;
            parse_integer_text(&text, syntax)
        }
        Some(b'-' | b'0'..=b'9') => parse_number_literal(json),
        _ => Err(IntegerError::NotAnInteger(echo(json))),
    }
}

/// Parses the text inside a JSON string: optional surrounding whitespace, an optional sign,
/// decimal digits (or `0x` hex digits where `syntax` allows them).
///
/// # Errors
/// [`IntegerError`] if the text is not such an integer or does not fit 256 bits.
pub fn parse_integer_text(text: &str, syntax: IntegerSyntax) -> Result<U256, IntegerError> {
    let trimmed = text.trim();
    if syntax == IntegerSyntax::NumberDecimalOrHex
        && let Some(hex) = trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X"))
    {
        return parse_hex_digits(hex, text);
    }
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let value = parse_decimal_digits(digits, text)?;
    if negative && !value.is_zero() {
        return Err(IntegerError::Negative(echo(text)));
    }
    Ok(value)
}

fn parse_decimal_digits(digits: &str, original: &str) -> Result<U256, IntegerError> {
    if digits.is_empty() || !digits.bytes().all(|digit| digit.is_ascii_digit()) {
        return Err(IntegerError::NotAnInteger(echo(original)));
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > MAX_DECIMAL_DIGITS {
        return Err(IntegerError::TooLarge);
    }
    if significant.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(significant, 10).map_err(|_| IntegerError::TooLarge)
}

fn parse_hex_digits(digits: &str, original: &str) -> Result<U256, IntegerError> {
    if digits.is_empty() || !digits.bytes().all(|digit| digit.is_ascii_hexdigit()) {
        return Err(IntegerError::NotAnInteger(echo(original)));
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > 64 {
        return Err(IntegerError::TooLarge);
    }
    if significant.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(significant, 16).map_err(|_| IntegerError::TooLarge)
}

/// A JSON number literal: an integer is read exactly; a fraction or exponent makes it a float,
/// which Python would hold as an IEEE double and truncate toward zero with `int()`. Doing the
/// same reproduces Python's value bit for bit, including its rounding of huge exponents.
fn parse_number_literal(literal: &str) -> Result<U256, IntegerError> {
    let is_float = literal.bytes().any(|byte| matches!(byte, b'.' | b'e' | b'E'));
    if !is_float {
        let (negative, digits) = match literal.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, literal),
        };
        let value = parse_decimal_digits(digits, literal)?;
        if negative && !value.is_zero() {
            return Err(IntegerError::Negative(echo(literal)));
        }
        return Ok(value);
    }
    let float: f64 = literal.parse().map_err(|_| IntegerError::NotAnInteger(echo(literal)))?;
    if !float.is_finite() {
        return Err(IntegerError::TooLarge);
    }
    let truncated = float.trunc();
    if truncated < 0.0 {
        return Err(IntegerError::Negative(echo(literal)));
    }
    u256_from_integral_f64(truncated)
}

/// Converts a finite, non-negative, integral `f64` to the exact integer it denotes.
fn u256_from_integral_f64(value: f64) -> Result<U256, IntegerError> {
    // 2^64 is exactly representable; below it the cast is exact for integral values.
    if value < 18_446_744_073_709_551_616.0 {
        // Invariant: value is integral, non-negative and below 2^64, so the cast is exact.
        return Ok(U256::from(value as u64));
    }
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    // value = mantissa · 2^exponent with exponent > 0 here, since value ≥ 2^64 > 2^53.
    let shift = exponent as usize;
    if shift + 53 > 256 {
        return Err(IntegerError::TooLarge);
    }
    Ok(U256::from(mantissa) << shift)
}

/// Writes `value` as an exact JSON number, also beyond 2^64.
pub fn to_json_number(value: &U256) -> Box<RawValue> {
    // Invariant: the decimal digits of a U256 are always a valid JSON number.
    RawValue::from_string(value.to_string()).expect("decimal digits are valid JSON")
}

fn deserialize_lenient<'de, D: Deserializer<'de>>(
    deserializer: D,
    syntax: IntegerSyntax,
) -> Result<U256, D::Error> {
    let raw = <Box<RawValue>>::deserialize(deserializer)?;
    parse_json_integer(raw.get(), syntax).map_err(D::Error::custom)
}

/// Serde adapter: written as an exact JSON number; read from a number or a decimal string.
pub mod as_number {
    use super::*;

    /// Writes an exact JSON number.
    ///
    /// # Errors
    /// Only those of the serializer.
    pub fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        to_json_number(value).serialize(serializer)
    }

    /// Reads a JSON number or a decimal string (see [`parse_json_integer`]).
    ///
    /// # Errors
    /// A custom error carrying the [`IntegerError`] message.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
        deserialize_lenient(deserializer, IntegerSyntax::NumberOrDecimal)
    }
}

/// Serde adapter: written as a decimal string (Raiden's `IntegerToStringField`); read from a
/// number or a decimal string.
pub mod as_decimal_string {
    use super::*;

    /// Writes a decimal string.
    ///
    /// # Errors
    /// Only those of the serializer.
    pub fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    /// Reads a JSON number or a decimal string (see [`parse_json_integer`]).
    ///
    /// # Errors
    /// A custom error carrying the [`IntegerError`] message.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
        deserialize_lenient(deserializer, IntegerSyntax::NumberOrDecimal)
    }
}

/// Serde adapter: written as a decimal string; read from a number, a decimal string or a `0x`
/// hex string (raiden.rs's imbalance-penalty points).
pub mod as_decimal_string_or_hex {
    use super::*;

    /// Writes a decimal string.
    ///
    /// # Errors
    /// Only those of the serializer.
    pub fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    /// Reads a JSON number, a decimal string or a `0x` hex string.
    ///
    /// # Errors
    /// A custom error carrying the [`IntegerError`] message.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
        deserialize_lenient(deserializer, IntegerSyntax::NumberDecimalOrHex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<U256, IntegerError> {
        parse_json_integer(json, IntegerSyntax::NumberOrDecimal)
    }

    #[test]
    fn big_numbers_are_exact() {
        let max = U256::MAX.to_string();
        assert_eq!(parse(&max), Ok(U256::MAX));
        assert_eq!(parse(&format!("\"{max}\"")), Ok(U256::MAX));
        assert_eq!(parse("100000000000000000001"), Ok(U256::from(100_000_000_000_000_000_001u128)));
    }

    #[test]
    fn values_beyond_uint256_are_too_large() {
        let above = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert_eq!(parse(above), Err(IntegerError::TooLarge));
        assert_eq!(parse(&"9".repeat(10_000)), Err(IntegerError::TooLarge));
        assert_eq!(parse("1e300"), Err(IntegerError::TooLarge));
    }

    #[test]
    fn floats_truncate_toward_zero_like_python_int() {
        assert_eq!(parse("10.7"), Ok(U256::from(10)));
        assert_eq!(parse("1e10"), Ok(U256::from(10_000_000_000u64)));
        assert_eq!(parse("-0.5"), Ok(U256::ZERO));
        // int(1e30) in Python is the double nearest to 10^30.
        assert_eq!(parse("1e30"), Ok(U256::from_str_radix("1000000000000000019884624838656", 10).unwrap()));
    }

    #[test]
    fn negative_values_are_rejected() {
        assert!(matches!(parse("-10"), Err(IntegerError::Negative(_))));
        assert!(matches!(parse("\"-10\""), Err(IntegerError::Negative(_))));
        assert!(matches!(parse("-1.5"), Err(IntegerError::Negative(_))));
        assert_eq!(parse("-0"), Ok(U256::ZERO));
    }

    #[test]
    fn non_integers_are_rejected() {
        for json in
            ["true", "null", "{}", "[]", "\"1e3\"", "\"0x10\"", "\"\"", "\"12a\"", "\"1_000\"", "\"10.5\""]
        {
            assert!(matches!(parse(json), Err(IntegerError::NotAnInteger(_))), "{json}");
        }
    }

    #[test]
    fn decimal_strings_allow_surrounding_whitespace_and_plus() {
        assert_eq!(parse("\" 12 \""), Ok(U256::from(12)));
        assert_eq!(parse("\"+12\""), Ok(U256::from(12)));
        assert_eq!(parse("\"007\""), Ok(U256::from(7)));
    }

    #[test]
    fn hex_only_where_allowed() {
        let syntax = IntegerSyntax::NumberDecimalOrHex;
        assert_eq!(parse_json_integer("\"0xff\"", syntax), Ok(U256::from(255)));
        assert_eq!(parse_json_integer("\"0x\"", syntax), Err(IntegerError::NotAnInteger("0x".into())));
        assert_eq!(
            parse_json_integer(&format!("\"0x1{}\"", "0".repeat(64)), syntax),
            Err(IntegerError::TooLarge)
        );
    }

    #[test]
    fn adapters_write_numbers_or_strings() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Both {
            #[serde(with = "as_number")]
            number: U256,
            #[serde(with = "as_decimal_string")]
            string: U256,
        }
        let value = Both { number: U256::MAX, string: U256::from(5) };
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, format!("{{\"number\":{},\"string\":\"5\"}}", U256::MAX));
        assert_eq!(serde_json::from_str::<Both>(&json).unwrap(), value);
        assert_eq!(
            serde_json::from_str::<Both>("{\"number\":\"1\",\"string\":2}").unwrap().string,
            U256::from(2)
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,100}") {
            let _ = parse_json_integer(&text, IntegerSyntax::NumberDecimalOrHex);
            let _ = parse_integer_text(&text, IntegerSyntax::NumberDecimalOrHex);
        }

        #[test]
        fn decimal_round_trip(limbs in proptest::array::uniform4(proptest::num::u64::ANY)) {
            let value = U256::from_limbs(limbs);
            proptest::prop_assert_eq!(parse(&value.to_string()), Ok(value));
            proptest::prop_assert_eq!(parse(&format!("\"{value}\"")), Ok(value));
        }
    }
}
