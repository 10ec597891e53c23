//! Ethereum addresses as the Raiden services write and read them.
//!
//! Raiden uses two spellings of the same 20 bytes: the HTTP API of the PFS demands and emits
//! EIP-55 checksummed hex, while Matrix messages carry lower-case hex and accept any case. This
//! module owns both spellings, so no other module parses address text by hand.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 20-byte Ethereum account or contract address.
///
/// Ordering is the raw byte order, which is also the order of the lower-case hex strings: the
/// reference sorts channel participants and breaks routing ties by it.
///
/// `Display`, `Debug` and `Serialize` write EIP-55 checksummed hex; `Deserialize` and `FromStr`
/// accept any case (use [`Address::parse_checksummed`] or [`checksummed`] where EIP-55 is
/// required).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(alloy_primitives::Address);

/// Why a string is not an acceptable address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The text is not `0x` followed by 40 hex digits.
    #[error("not a hex address (0x followed by 40 hex digits): {0:?}")]
    Malformed(String),
    /// The text is a hex address whose letter case is not its EIP-55 checksum.
    #[error("not a checksummed address: {0}")]
    NotChecksummed(String),
}

impl Address {
    /// The all-zero address.
    pub const ZERO: Self = Self(alloy_primitives::Address::ZERO);

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 20]) -> Self {
        Self(alloy_primitives::Address::new(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        self.0.as_ref()
    }

    /// Parses `0x` + 40 hex digits in any letter case (the `0x` prefix is required).
    ///
    /// # Errors
    /// [`AddressError::Malformed`] for anything else: a missing prefix, a wrong length or a
    /// non-hex digit.
    pub fn parse_any_case(text: &str) -> Result<Self, AddressError> {
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .ok_or_else(|| AddressError::Malformed(truncated(text)))?;
        if digits.len() != 40 {
            return Err(AddressError::Malformed(truncated(text)));
        }
        let mut bytes = [0u8; 20];
        for (index, pair) in digits.as_bytes().chunks_exact(2).enumerate() {
            let high = hex_value(pair[0]).ok_or_else(|| AddressError::Malformed(truncated(text)))?;
            let low = hex_value(pair[1]).ok_or_else(|| AddressError::Malformed(truncated(text)))?;
            bytes[index] = high << 4 | low;
        }
        Ok(Self::from_bytes(bytes))
    }

    /// Parses an address that must be written in its EIP-55 checksummed form, as the reference
    /// PFS's `ChecksumAddress` field demands (a lower-case address is rejected).
    ///
    /// # Errors
    /// [`AddressError::Malformed`] if the text is not a hex address at all,
    /// [`AddressError::NotChecksummed`] if its letter case is not the checksum.
    pub fn parse_checksummed(text: &str) -> Result<Self, AddressError> {
        let address = Self::parse_any_case(text)?;
        if address.to_checksum() == text {
            Ok(address)
        } else {
            Err(AddressError::NotChecksummed(text.to_owned()))
        }
    }

    /// The EIP-55 checksummed spelling, e.g. `0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1`.
    ///
    /// The Keccak hash of the lower-case spelling goes through alloy's fixed-size process-wide
    /// cache (16 MiB once used): a `/paths` answer checksums every node of every route twice
    /// (response and stored route), always the same few thousand nodes, and the hash was 8 % of
    /// the request's CPU. A cache hit returns the hash a computation would, so results do not
    /// depend on it.
    pub fn to_checksum(&self) -> String {
        let lower = self.to_lower_hex();
        let hash = alloy_primitives::utils::keccak256_cached(&lower.as_bytes()[2..]);
        let mut checksummed = String::with_capacity(42);
        checksummed.push_str("0x");
        for (index, digit) in lower[2..].chars().enumerate() {
            // Nibble `index` of the hash: the high one of byte index / 2 for even indices.
            let nibble = if index % 2 == 0 { hash[index / 2] >> 4 } else { hash[index / 2] & 0x0f };
            checksummed.push(if nibble >= 8 { digit.to_ascii_uppercase() } else { digit });
        }
        checksummed
    }

    /// The lower-case spelling used inside Matrix messages and user ids.
    pub fn to_lower_hex(&self) -> String {
        format!("{:#x}", self.0)
    }
}

/// Longest input echoed back in an error message, so hostile input cannot blow up error bodies.
const MAX_ECHOED_CHARS: usize = 64;

fn truncated(text: &str) -> String {
    text.chars().take(MAX_ECHOED_CHARS).collect()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl From<alloy_primitives::Address> for Address {
    fn from(address: alloy_primitives::Address) -> Self {
        Self(address)
    }
}

impl From<Address> for alloy_primitives::Address {
    fn from(address: Address) -> Self {
        address.0
    }
}

impl From<[u8; 20]> for Address {
    fn from(bytes: [u8; 20]) -> Self {
        Self::from_bytes(bytes)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_any_case(text)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_checksum())
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_checksum())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_any_case(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for fields that must be EIP-55 checksummed on input (`#[serde(with = ...)]`).
pub mod checksummed {
    use super::Address;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes the checksummed spelling.
    ///
    /// # Errors
    /// Only those of the serializer.
    pub fn serialize<S: Serializer>(address: &Address, serializer: S) -> Result<S::Ok, S::Error> {
        address.serialize(serializer)
    }

    /// Reads an address that must be checksummed.
    ///
    /// # Errors
    /// A custom error naming the offending text if it is not a checksummed address.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Address::parse_checksummed(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for fields written in lower-case hex, as the Python client's Matrix messages do
/// (input in any case).
pub mod lower_hex {
    use super::Address;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the lower-case spelling.
    ///
    /// # Errors
    /// Only those of the serializer.
    pub fn serialize<S: Serializer>(address: &Address, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&address.to_lower_hex())
    }

    /// Reads an address in any letter case.
    ///
    /// # Errors
    /// A custom error if the text is not `0x` + 40 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        Address::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKSUMMED: &str = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1";

    #[test]
    fn any_case_parses_and_formats_as_eip55() {
        let address = Address::parse_any_case(&CHECKSUMMED.to_lowercase()).unwrap();
        assert_eq!(address.to_checksum(), CHECKSUMMED);
        assert_eq!(address.to_lower_hex(), CHECKSUMMED.to_lowercase());
        assert_eq!(
            Address::parse_any_case(&CHECKSUMMED.to_uppercase().replace("0X", "0x")).unwrap(),
            address
        );
    }

    #[test]
    fn checksums_match_eip55_as_alloy_computes_it_cached_or_not() {
        for seed in 0u32..2000 {
            let mut bytes = [0u8; 20];
            for (index, byte) in bytes.iter_mut().enumerate() {
                *byte = (seed.wrapping_mul(2_654_435_761).rotate_left(index as u32) >> 8) as u8;
            }
            let address = Address::from_bytes(bytes);
            let expected = alloy_primitives::Address::from(bytes).to_checksum(None);
            // The second call is answered from the cache.
            assert_eq!((address.to_checksum(), address.to_checksum()), (expected.clone(), expected));
        }
    }

    #[test]
    fn checksummed_parse_rejects_lower_case() {
        assert!(Address::parse_checksummed(CHECKSUMMED).is_ok());
        assert_eq!(
            Address::parse_checksummed(&CHECKSUMMED.to_lowercase()),
            Err(AddressError::NotChecksummed(CHECKSUMMED.to_lowercase()))
        );
    }

    #[test]
    fn malformed_addresses_are_errors() {
        for text in [
            "",
            "0x",
            "1a642f0E3c3aF545E7AcBD38b07251B3990914F1",
            "0x1a642f0E",
            "0xzz642f0E3c3aF545E7AcBD38b07251B3990914F1",
            "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F100",
        ] {
            assert!(matches!(Address::parse_any_case(text), Err(AddressError::Malformed(_))), "{text}");
        }
    }

    #[test]
    fn multibyte_text_is_an_error_not_a_panic() {
        assert!(Address::parse_any_case("0x€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€").is_err());
        assert!(Address::parse_any_case("0x1a642f0E3c3aF545E7AcBD38b07251B39909é1").is_err());
    }

    #[test]
    fn serde_round_trips_checksummed() {
        let address: Address = serde_json::from_str(&format!("\"{}\"", CHECKSUMMED.to_lowercase())).unwrap();
        assert_eq!(serde_json::to_string(&address).unwrap(), format!("\"{CHECKSUMMED}\""));
    }

    #[test]
    fn order_is_byte_order() {
        let low = Address::parse_any_case("0x0000000000000000000000000000000000000001").unwrap();
        let high = Address::parse_any_case("0xf000000000000000000000000000000000000000").unwrap();
        assert!(low < high);
    }
}
