//! The signed messages Raiden nodes send the PFS over Matrix, `PFSCapacityUpdate` and
//! `PFSFeeUpdate`, with their packed bytes, signatures and the JSON of Raiden's
//! `MessageSerializer`.
//!
//! A Matrix message body holds one JSON object per line with a `"type"` tag; [`Message::parse`]
//! reads one line and dispatches on the tag. Parsing is as lenient as the Python reference's
//! (integers as JSON numbers or decimal strings, addresses in any letter case, unknown keys
//! ignored) and stricter where the reference would crash later: integers are range-checked
//! (nonces fit `uint64`, amounts `uint256`, no negatives) and a capacity update naming the same
//! participant twice is refused. Writing follows the Python client byte for byte in content:
//! decimal strings, lower-case addresses, `0x` lower-case signatures.
//!
//! Each message comes as an unsigned part with public fields and a `sign` method (the client
//! side), and a signed message whose `packed` bytes and `signer` the service checks.

mod capacity_update;
mod fee_update;

pub use capacity_update::{CapacityUpdate, UnsignedCapacityUpdate};
pub use fee_update::{FeeUpdate, UnsignedFeeUpdate};

use serde::{Deserialize, Serialize};

use crate::address::{self, Address};
use crate::ids::{self, ChainId, ChannelId};
use crate::signature::SignatureError;
use crate::timestamp::TimestampError;

/// Largest message line accepted, in bytes. A fee update with the maximum of 256 penalty points of
/// 78-digit numbers stays below it; the Python client batches at most 50 000 characters.
pub const MAX_MESSAGE_BYTES: usize = 100_000;

/// The `type` tag of a capacity update.
pub const CAPACITY_UPDATE_TYPE: &str = "PFSCapacityUpdate";
/// The `type` tag of a fee update.
pub const FEE_UPDATE_TYPE: &str = "PFSFeeUpdate";

/// Message types Raiden nodes exchange that a PFS receives but does not act on (the reference logs
/// "Ignoring message" for them).
pub const IGNORED_TYPES: &[&str] = &[
    "Delivered",
    "Processed",
    "SecretRequest",
    "RevealSecret",
    "Unlock",
    "LockedTransfer",
    "RefundTransfer",
    "LockExpired",
    "WithdrawRequest",
    "WithdrawConfirmation",
    "WithdrawExpired",
    "RequestMonitoring",
];

/// The channel a message is about: chain, token network and per-network channel id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CanonicalIdentifier {
    /// The chain id (`uint256` in the packed bytes).
    #[serde(with = "ids::decimal_string")]
    pub chain_identifier: ChainId,
    /// The TokenNetwork contract.
    #[serde(with = "address::lower_hex")]
    pub token_network_address: Address,
    /// The channel id within the token network.
    #[serde(with = "ids::decimal_string")]
    pub channel_identifier: ChannelId,
}

/// Why a message line was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The line is longer than [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    /// Not a JSON object with a string `type` key.
    #[error("message has no string \"type\" key")]
    MissingType,
    /// A Raiden message type the PFS does not act on (see [`IGNORED_TYPES`]).
    #[error("ignored message type {0:?}")]
    IgnoredType(String),
    /// A `type` no Raiden client sends.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// The `type` tag is not the one of the message being read.
    #[error("expected message type {expected}, found {found:?}")]
    WrongType {
        /// The tag required.
        expected: &'static str,
        /// The tag found.
        found: String,
    },
    /// The JSON does not have the message's shape: a missing field, a malformed value, an
    /// integer out of range, …; the message names the field.
    #[error("malformed message: {0}")]
    Json(#[from] serde_json::Error),
    /// The fee update's timestamp is not a naive ISO 8601 datetime.
    #[error("invalid timestamp: {0}")]
    Timestamp(#[from] TimestampError),
    /// A capacity update whose updating and other participant are the same address (the
    /// reference crashes on these).
    #[error("updating and other participant are the same address {0}")]
    SameParticipant(Address),
}

/// A message the PFS acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A `PFSCapacityUpdate`.
    CapacityUpdate(CapacityUpdate),
    /// A `PFSFeeUpdate`.
    FeeUpdate(FeeUpdate),
}

impl Message {
    /// Reads one message line (surrounding whitespace ignored), dispatching on its `type`.
    ///
    /// # Errors
    /// [`MessageError::IgnoredType`] for other Raiden messages, [`MessageError::UnknownType`] or
    /// [`MessageError::MissingType`] for anything else without a PFS type tag, and the errors of
    /// [`CapacityUpdate::from_json`] / [`FeeUpdate::from_json`].
    pub fn parse(line: &str) -> Result<Self, MessageError> {
        let line = line.trim();
        match message_type(line)?.as_str() {
            CAPACITY_UPDATE_TYPE => CapacityUpdate::from_tagged_json(line).map(Self::CapacityUpdate),
            FEE_UPDATE_TYPE => FeeUpdate::from_tagged_json(line).map(Self::FeeUpdate),
            other if IGNORED_TYPES.contains(&other) => Err(MessageError::IgnoredType(other.to_owned())),
            other => Err(MessageError::UnknownType(other.chars().take(64).collect())),
        }
    }

    /// The address whose key signed the message (see [`CapacityUpdate::signer`] and
    /// [`FeeUpdate::signer`]).
    ///
    /// # Errors
    /// [`SignatureError`] if the signature does not recover any address.
    pub fn signer(&self) -> Result<Address, SignatureError> {
        match self {
            Self::CapacityUpdate(update) => update.signer(),
            Self::FeeUpdate(update) => update.signer(),
        }
    }

    /// The channel the message is about.
    pub fn canonical_identifier(&self) -> &CanonicalIdentifier {
        match self {
            Self::CapacityUpdate(update) => &update.fields().canonical_identifier,
            Self::FeeUpdate(update) => &update.fields().canonical_identifier,
        }
    }

    /// The JSON the Python client would send for this message.
    pub fn to_json(&self) -> String {
        match self {
            Self::CapacityUpdate(update) => update.to_json(),
            Self::FeeUpdate(update) => update.to_json(),
        }
    }
}

/// Reads only the `type` key of a message, skipping every other value.
fn message_type(line: &str) -> Result<String, MessageError> {
    if line.len() > MAX_MESSAGE_BYTES {
        return Err(MessageError::TooLarge(line.len()));
    }
    #[derive(Deserialize)]
    struct TypeTag {
        #[serde(rename = "type")]
        message_type: Option<String>,
    }
    serde_json::from_str::<TypeTag>(line)
        .ok()
        .and_then(|tag| tag.message_type)
        .ok_or(MessageError::MissingType)
}

/// Checks the size and the `type` tag of a message about to be read as `expected`.
fn check_type(line: &str, expected: &'static str) -> Result<(), MessageError> {
    let found = message_type(line)?;
    if found == expected { Ok(()) } else { Err(MessageError::WrongType { expected, found }) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn other_raiden_messages_are_an_ignored_type() {
        assert!(matches!(
            Message::parse(r#"{"type": "LockedTransfer", "anything": 1}"#),
            Err(MessageError::IgnoredType(name)) if name == "LockedTransfer"
        ));
    }

    #[test]
    fn unknown_or_missing_type_tags_are_errors() {
        assert!(matches!(Message::parse(r#"{"type": "Bogus"}"#), Err(MessageError::UnknownType(_))));
        assert!(matches!(Message::parse(r#"{"type": 5}"#), Err(MessageError::MissingType)));
        assert!(matches!(Message::parse(r#"{"kind": "PFSFeeUpdate"}"#), Err(MessageError::MissingType)));
        assert!(matches!(Message::parse("[1, 2]"), Err(MessageError::MissingType)));
        assert!(matches!(Message::parse("not json"), Err(MessageError::MissingType)));
        assert!(matches!(Message::parse(""), Err(MessageError::MissingType)));
    }

    #[test]
    fn oversized_lines_are_refused_before_parsing() {
        let line = format!(r#"{{"type": "PFSFeeUpdate", "pad": "{}"}}"#, " ".repeat(MAX_MESSAGE_BYTES));
        assert!(matches!(Message::parse(&line), Err(MessageError::TooLarge(_))));
    }

    #[test]
    fn a_pfs_type_with_the_wrong_shape_is_a_json_error() {
        assert!(matches!(Message::parse(r#"{"type": "PFSCapacityUpdate"}"#), Err(MessageError::Json(_))));
        assert!(matches!(
            Message::parse(r#"{"type": "PFSFeeUpdate", "timestamp": 1}"#),
            Err(MessageError::Json(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = Message::parse(&text);
        }

        #[test]
        fn arbitrary_json_shaped_messages_never_panic(
            message_type in proptest::sample::select(vec![CAPACITY_UPDATE_TYPE, FEE_UPDATE_TYPE]),
            values in proptest::collection::vec(json_value(), 12),
        ) {
            let keys = [
                "canonical_identifier", "updating_participant", "other_participant", "updating_nonce",
                "other_nonce", "updating_capacity", "other_capacity", "reveal_timeout", "signature",
                "fee_schedule", "timestamp", "extra",
            ];
            let mut object = serde_json::Map::new();
            object.insert("type".into(), message_type.into());
            for (key, value) in keys.iter().zip(values) {
                object.insert((*key).into(), value);
            }
            let _ = Message::parse(&serde_json::Value::Object(object).to_string());
        }
    }

    /// Arbitrary JSON values biased towards the shapes messages contain.
    pub(crate) fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            "[0-9]{0,80}".prop_map(serde_json::Value::from),
            "-?0x[0-9a-fA-F]{0,132}".prop_map(serde_json::Value::from),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{0,13})?)?Z?"
                .prop_map(serde_json::Value::from),
            ".{0,20}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("chain_identifier".to_owned()),
                        Just("token_network_address".to_owned()),
                        Just("channel_identifier".to_owned()),
                        Just("cap_fees".to_owned()),
                        Just("flat".to_owned()),
                        Just("proportional".to_owned()),
                        Just("imbalance_penalty".to_owned()),
                        "[a-z]{1,5}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }
}
