//! Integer identifiers and counters of the Raiden protocol, each its own type so a channel id can
//! never be passed where a nonce is expected.
//!
//! Every type here is written as a JSON number by `Serialize` (the HTTP API's form) and read from a
//! number or a decimal string; [`decimal_string`] is the serde adapter for the decimal-string form
//! of Matrix messages. Token amounts are plain [`TokenAmount`]s (`U256`) with the adapters of
//! [`crate::integer`], because they take part in arithmetic everywhere.

use std::fmt;

use alloy_primitives::U256;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::integer::{IntegerError, IntegerSyntax, parse_json_integer, to_json_number};

/// An amount of tokens in the token's smallest unit (`uint256` on chain).
pub type TokenAmount = U256;

/// An integer type that travels as a `uint256`-compatible JSON integer.
pub trait IntegerId: Sized + Copy {
    /// The value widened to 256 bits.
    fn to_u256(self) -> U256;
    /// The value if it fits this type.
    ///
    /// # Errors
    /// [`IntegerError::TooLarge`] if it does not fit.
    fn try_from_u256(value: U256) -> Result<Self, IntegerError>;
}

macro_rules! integer_id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, formatter)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                to_json_number(&self.to_u256()).serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <Box<RawValue>>::deserialize(deserializer)?;
                parse_json_integer(raw.get(), IntegerSyntax::NumberOrDecimal)
                    .and_then(Self::try_from_u256)
                    .map_err(D::Error::custom)
            }
        }
    };
}

integer_id!(
    /// An EIP-155 chain id. Written as `uint256` in signed messages; every real chain id fits 64
    /// bits, and a message claiming a larger one is rejected while parsing.
    ChainId(u64)
);
integer_id!(
    /// A channel's identifier: a per-TokenNetwork counter, `uint256` on chain.
    ChannelId(U256)
);
integer_id!(
    /// A balance-proof nonce. Capacity updates pack it as `uint64`, so larger values are invalid.
    Nonce(u64)
);
integer_id!(
    /// A block number.
    BlockNumber(u64)
);
integer_id!(
    /// A duration in blocks, such as a channel's reveal timeout (`uint256` in signed messages).
    BlockTimeout(U256)
);

impl IntegerId for ChainId {
    fn to_u256(self) -> U256 {
        U256::from(self.0)
    }
    fn try_from_u256(value: U256) -> Result<Self, IntegerError> {
        u64::try_from(value).map(Self).map_err(|_| IntegerError::TooLarge)
    }
}

impl IntegerId for Nonce {
    fn to_u256(self) -> U256 {
        U256::from(self.0)
    }
    fn try_from_u256(value: U256) -> Result<Self, IntegerError> {
        u64::try_from(value).map(Self).map_err(|_| IntegerError::TooLarge)
    }
}

impl IntegerId for BlockNumber {
    fn to_u256(self) -> U256 {
        U256::from(self.0)
    }
    fn try_from_u256(value: U256) -> Result<Self, IntegerError> {
        u64::try_from(value).map(Self).map_err(|_| IntegerError::TooLarge)
    }
}

impl IntegerId for ChannelId {
    fn to_u256(self) -> U256 {
        self.0
    }
    fn try_from_u256(value: U256) -> Result<Self, IntegerError> {
        Ok(Self(value))
    }
}

impl IntegerId for BlockTimeout {
    fn to_u256(self) -> U256 {
        self.0
    }
    fn try_from_u256(value: U256) -> Result<Self, IntegerError> {
        Ok(Self(value))
    }
}

/// Serde adapter for [`IntegerId`] types in Matrix messages: written as a decimal string, read
/// from a number or a decimal string.
pub mod decimal_string {
    use super::*;

    /// Writes the decimal string.
    ///
    /// # Errors
    /// Only those of the serializer.
    pub fn serialize<T: IntegerId, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_u256().to_string())
    }

    /// Reads a number or a decimal string that fits `T`.
    ///
    /// # Errors
    /// A custom error carrying the [`IntegerError`] message.
    pub fn deserialize<'de, T: IntegerId, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
        let raw = <Box<RawValue>>::deserialize(deserializer)?;
        parse_json_integer(raw.get(), IntegerSyntax::NumberOrDecimal)
            .and_then(T::try_from_u256)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_write_numbers_and_read_strings() {
        assert_eq!(serde_json::to_string(&ChainId(1337)).unwrap(), "1337");
        assert_eq!(serde_json::from_str::<ChainId>("\"1337\"").unwrap(), ChainId(1337));
        assert_eq!(serde_json::from_str::<ChannelId>("\"7\"").unwrap(), ChannelId(U256::from(7)));
    }

    #[test]
    fn nonce_beyond_64_bits_is_rejected() {
        assert!(serde_json::from_str::<Nonce>("\"18446744073709551616\"").is_err());
        assert_eq!(serde_json::from_str::<Nonce>("\"18446744073709551615\"").unwrap(), Nonce(u64::MAX));
    }

    #[test]
    fn decimal_string_adapter_round_trips() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Message {
            #[serde(with = "decimal_string")]
            nonce: Nonce,
        }
        let json = serde_json::to_string(&Message { nonce: Nonce(5) }).unwrap();
        assert_eq!(json, r#"{"nonce":"5"}"#);
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap().nonce, Nonce(5));
    }
}
