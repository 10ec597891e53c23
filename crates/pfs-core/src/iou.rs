//! How clients pay the PFS: the IOU (a signed, cumulative promise claimable from the OneToN
//! contract) and the signed request for the last IOU (`spec/PROTOCOL.md` §4, `REFERENCE-PFS.md` §6).
//!
//! The IOU is signed over 188 packed bytes, laid out identically in contracts 0.40 and 0.50; only
//! the last field's meaning and JSON name differ (`expiration_block` then, `claimable_until` in
//! unix seconds now). Like the reference PFS v2 this module speaks 0.50: an IOU JSON carrying
//! `expiration_block` is refused with its own error, [`IouError::ExpirationBlock`], so the API
//! can tell a 0.40-era client precisely what is wrong.

use alloy_primitives::{U256, keccak256};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::address::{self, Address, AddressError};
use crate::form_urlencoded;
use crate::ids::{ChainId, IntegerId, TokenAmount};
use crate::integer::{self, IntegerError, IntegerSyntax};
use crate::packing::Packer;
use crate::signature::{PrivateKey, Signature, SignatureError};
use crate::timestamp::{NaiveTimestamp, TimestampError};

/// Length of the packed bytes an IOU is signed over.
pub const PACKED_LENGTH: usize = 188;

/// `MessageTypeId.IOU` of the Raiden contracts, packed as the third field.
const IOU_MESSAGE_TYPE_ID: u64 = 5;

/// The content of an IOU, before signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnsignedIou {
    /// The client paying (and signing).
    pub sender: Address,
    /// The PFS's payment address.
    pub receiver: Address,
    /// The cumulative amount owed in this session.
    pub amount: TokenAmount,
    /// Unix time (seconds) until which the IOU can be claimed; fixed for a session.
    pub claimable_until: U256,
    /// The OneToN contract the IOU is claimable from.
    pub one_to_n_address: Address,
    /// The chain the OneToN contract lives on.
    pub chain_id: ChainId,
}

impl UnsignedIou {
    /// The 188 signed bytes: OneToN address, chain id, the IOU message type id 5, sender,
    /// receiver, amount and `claimable_until`, exactly what `OneToN.claim` hashes.
    pub fn packed(&self) -> Vec<u8> {
        Packer::with_capacity(PACKED_LENGTH)
            .address(&self.one_to_n_address)
            .uint256(&self.chain_id.to_u256())
            .uint256(&U256::from(IOU_MESSAGE_TYPE_ID))
            .address(&self.sender)
            .address(&self.receiver)
            .uint256(&self.amount)
            .uint256(&self.claimable_until)
            .finish()
    }

    /// The OneToN session key: `keccak256(receiver ‖ sender ‖ uint256(claimable_until))`.
    pub fn session_id(&self) -> [u8; 32] {
        let packed = Packer::with_capacity(72)
            .address(&self.receiver)
            .address(&self.sender)
            .uint256(&self.claimable_until)
            .finish();
        keccak256(packed).0
    }

    /// Signs the IOU with the sender's key.
    pub fn sign(self, key: &PrivateKey) -> Iou {
        let signature = key.sign(&self.packed());
        Iou { fields: self, signature }
    }
}

/// A signed IOU.
///
/// The signature is not checked on construction; compare [`Iou::signer`] with the sender.
/// Serde reads and writes the PFS's JSON (see [`Iou::from_json`] and [`Iou::to_json`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "WireIouIn", into = "WireIouOut")]
pub struct Iou {
    fields: UnsignedIou,
    signature: Signature,
}

/// Why an IOU JSON is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum IouError {
    /// The IOU names its expiry `expiration_block`, as clients for contracts 0.40 (Raiden 3.0.1,
    /// raiden.rs) send it; this PFS serves contracts 0.50 and needs `claimable_until`.
    #[error(
        "IOU field `expiration_block` is from contracts 0.40; this PFS expects `claimable_until` (unix seconds, contracts 0.50)"
    )]
    ExpirationBlock,
    /// `claimable_until` is missing.
    #[error("IOU field `claimable_until` is missing")]
    MissingClaimableUntil,
    /// `claimable_until` is not an unsigned integer.
    #[error("IOU field `claimable_until`: {0}")]
    ClaimableUntil(IntegerError),
    /// Any other malformation: an unknown key, a missing field, a lower-case address, a bad
    /// signature or integer; the message names the field.
    #[error("malformed IOU: {0}")]
    Json(#[from] serde_json::Error),
}

impl Iou {
    /// Puts an IOU back together from its content and signature, e.g. as read from a database.
    /// Like every IOU, it is valid only if [`Iou::signer`] is its sender.
    pub fn from_parts(fields: UnsignedIou, signature: Signature) -> Self {
        Self { fields, signature }
    }

    /// The signed content.
    pub fn fields(&self) -> &UnsignedIou {
        &self.fields
    }

    /// The signature as received.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The 188 bytes the signature covers.
    pub fn packed(&self) -> Vec<u8> {
        self.fields.packed()
    }

    /// The OneToN session key (see [`UnsignedIou::session_id`]).
    pub fn session_id(&self) -> [u8; 32] {
        self.fields.session_id()
    }

    /// The address whose key signed the IOU; it is valid when this equals the sender.
    ///
    /// # Errors
    /// [`SignatureError`] if the signature does not recover any address.
    pub fn signer(&self) -> Result<Address, SignatureError> {
        self.signature.recover(&self.packed())
    }

    /// Reads the IOU JSON of the PFS API: EIP-55 checksummed addresses, integers as JSON numbers
    /// or decimal strings, a `0x` signature; an optional `claimed` key is ignored and any other
    /// unknown key is an error.
    ///
    /// # Errors
    /// [`IouError::ExpirationBlock`] for 0.40-style IOUs, otherwise the other [`IouError`]s.
    pub fn from_json(json: &str) -> Result<Self, IouError> {
        let wire: WireIouIn = serde_json::from_str(json)?;
        Self::try_from(wire)
    }

    /// The JSON the reference PFS writes: integers as JSON numbers, checksummed addresses,
    /// lower-case signature.
    pub fn to_json(&self) -> String {
        // Invariant: the wire struct holds strings and exact numbers only.
        serde_json::to_string(self).expect("an IOU always serializes")
    }
}

/// The IOU JSON as it may arrive.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireIouIn {
    #[serde(with = "address::checksummed")]
    sender: Address,
    #[serde(with = "address::checksummed")]
    receiver: Address,
    #[serde(with = "integer::as_number")]
    amount: TokenAmount,
    claimable_until: Option<Box<RawValue>>,
    #[serde(with = "address::checksummed")]
    one_to_n_address: Address,
    chain_id: ChainId,
    signature: Signature,
    #[serde(rename = "claimed")]
    _claimed: Option<IgnoredAny>,
    expiration_block: Option<IgnoredAny>,
}

impl TryFrom<WireIouIn> for Iou {
    type Error = IouError;

    fn try_from(wire: WireIouIn) -> Result<Self, IouError> {
        if wire.expiration_block.is_some() {
            return Err(IouError::ExpirationBlock);
        }
        let claimable_until = wire.claimable_until.ok_or(IouError::MissingClaimableUntil)?;
        let claimable_until =
            integer::parse_json_integer(claimable_until.get(), IntegerSyntax::NumberOrDecimal)
                .map_err(IouError::ClaimableUntil)?;
        Ok(Self {
            fields: UnsignedIou {
                sender: wire.sender,
                receiver: wire.receiver,
                amount: wire.amount,
                claimable_until,
                one_to_n_address: wire.one_to_n_address,
                chain_id: wire.chain_id,
            },
            signature: wire.signature,
        })
    }
}

/// The IOU JSON as the PFS writes it.
#[derive(Serialize)]
struct WireIouOut {
    sender: Address,
    receiver: Address,
    #[serde(with = "integer::as_number")]
    amount: TokenAmount,
    #[serde(with = "integer::as_number")]
    claimable_until: U256,
    one_to_n_address: Address,
    chain_id: ChainId,
    signature: Signature,
}

impl From<Iou> for WireIouOut {
    fn from(iou: Iou) -> Self {
        let fields = iou.fields;
        Self {
            sender: fields.sender,
            receiver: fields.receiver,
            amount: fields.amount,
            claimable_until: fields.claimable_until,
            one_to_n_address: fields.one_to_n_address,
            chain_id: fields.chain_id,
            signature: iou.signature,
        }
    }
}

/// Longest IOU-request query string accepted, in bytes (a real one is about 300).
pub const MAX_QUERY_BYTES: usize = 2048;

/// A signed request for the sender's last IOU (`GET /api/v1/<token network>/payment/iou`).
///
/// The signature covers `sender(20) ‖ receiver(20) ‖ utf8(timestamp exactly as sent)`, so the
/// timestamp's spelling is kept alongside its parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IouRequest {
    sender: Address,
    receiver: Address,
    timestamp: NaiveTimestamp,
    timestamp_as_sent: String,
    signature: Signature,
}

/// Why IOU-request parameters are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IouRequestError {
    /// The query string is longer than [`MAX_QUERY_BYTES`].
    #[error("query string of {0} bytes exceeds the limit of {MAX_QUERY_BYTES}")]
    TooLarge(usize),
    /// A percent-encoded parameter does not decode to UTF-8.
    #[error("query parameter is not valid percent-encoded UTF-8")]
    NotUtf8,
    /// A required parameter is absent.
    #[error("missing query parameter `{0}`")]
    MissingParameter(&'static str),
    /// A parameter appears twice.
    #[error("query parameter `{0}` given more than once")]
    DuplicateParameter(&'static str),
    /// `sender` or `receiver` is not an EIP-55 checksummed address.
    #[error("query parameter `{parameter}`: {source}")]
    Address {
        /// The parameter.
        parameter: &'static str,
        /// Why the address is not acceptable.
        source: AddressError,
    },
    /// `timestamp` is not a naive ISO 8601 datetime.
    #[error("query parameter `timestamp`: {0}")]
    Timestamp(#[from] TimestampError),
    /// `signature` is not 65 bytes of `0x` hex.
    #[error("query parameter `signature`: {0}")]
    Signature(#[from] SignatureError),
}

impl IouRequest {
    /// Signs a request for `sender_key`'s last IOU to `receiver` at `timestamp` (signed as
    /// written, e.g. Python's `isoformat(timespec="seconds")` or the light client's
    /// `…:SS.mmm000`).
    ///
    /// # Errors
    /// [`IouRequestError::Timestamp`] if `timestamp` is not a naive ISO 8601 datetime.
    pub fn sign(
        sender_key: &PrivateKey,
        receiver: Address,
        timestamp: &str,
    ) -> Result<Self, IouRequestError> {
        let parsed = NaiveTimestamp::parse(timestamp)?;
        let data = signed_data(&sender_key.address(), &receiver, timestamp);
        Ok(Self {
            sender: sender_key.address(),
            receiver,
            timestamp: parsed,
            timestamp_as_sent: timestamp.to_owned(),
            signature: sender_key.sign(&data),
        })
    }

    /// Reads already-decoded `(name, value)` query parameters; unknown names are ignored.
    ///
    /// # Errors
    /// [`IouRequestError`] naming the missing, repeated or malformed parameter.
    pub fn from_query_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, IouRequestError> {
        const NAMES: [&str; 4] = ["sender", "receiver", "timestamp", "signature"];
        let mut values: [Option<&str>; 4] = [None; 4];
        for (name, value) in pairs {
            if let Some(index) = NAMES.iter().position(|known| *known == name)
                && values[index].replace(value).is_some()
            {
                return Err(IouRequestError::DuplicateParameter(NAMES[index]));
            }
        }
        let [sender, receiver, timestamp, signature] = values;
        let address = |parameter: &'static str, value: Option<&str>| {
            let value = value.ok_or(IouRequestError::MissingParameter(parameter))?;
            Address::parse_checksummed(value).map_err(|source| IouRequestError::Address { parameter, source })
        };
        let sender = address("sender", sender)?;
        let receiver = address("receiver", receiver)?;
        let timestamp_as_sent = timestamp.ok_or(IouRequestError::MissingParameter("timestamp"))?;
        let signature = signature.ok_or(IouRequestError::MissingParameter("signature"))?;
        Ok(Self {
            sender,
            receiver,
            timestamp: NaiveTimestamp::parse(timestamp_as_sent)?,
            timestamp_as_sent: timestamp_as_sent.to_owned(),
            signature: Signature::parse_hex(signature)?,
        })
    }

    /// Reads a raw (percent-encoded) query string such as
    /// `sender=0x…&receiver=0x…&timestamp=2022-10-01T12%3A00%3A00&signature=0x…`.
    ///
    /// # Errors
    /// As for [`IouRequest::from_query_pairs`], plus [`IouRequestError::TooLarge`] and
    /// [`IouRequestError::NotUtf8`].
    pub fn from_query_string(query: &str) -> Result<Self, IouRequestError> {
        if query.len() > MAX_QUERY_BYTES {
            return Err(IouRequestError::TooLarge(query.len()));
        }
        let pairs = form_urlencoded::decode_pairs(query).map_err(|_| IouRequestError::NotUtf8)?;
        Self::from_query_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
    }

    /// The query string a Python client sends: `sender`, `receiver`, `timestamp`, `signature`,
    /// form-encoded.
    pub fn to_query_string(&self) -> String {
        form_urlencoded::encode_pairs([
            ("sender", self.sender.to_checksum().as_str()),
            ("receiver", self.receiver.to_checksum().as_str()),
            ("timestamp", self.timestamp_as_sent.as_str()),
            ("signature", self.signature.to_hex().as_str()),
        ])
    }

    /// The client asking.
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// The PFS payment address the request is for.
    pub fn receiver(&self) -> Address {
        self.receiver
    }

    /// When the request was made (naive UTC); the reference refuses requests older than an hour.
    pub fn timestamp(&self) -> NaiveTimestamp {
        self.timestamp
    }

    /// The timestamp exactly as sent (and signed).
    pub fn timestamp_as_sent(&self) -> &str {
        &self.timestamp_as_sent
    }

    /// The signature as received.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The signed bytes: `sender ‖ receiver ‖ utf8(timestamp as sent)`.
    pub fn signed_data(&self) -> Vec<u8> {
        signed_data(&self.sender, &self.receiver, &self.timestamp_as_sent)
    }

    /// The address whose key signed the request; it is genuine when this equals the sender.
    ///
    /// # Errors
    /// [`SignatureError`] if the signature does not recover any address.
    pub fn signer(&self) -> Result<Address, SignatureError> {
        self.signature.recover(&self.signed_data())
    }
}

fn signed_data(sender: &Address, receiver: &Address, timestamp: &str) -> Vec<u8> {
    Packer::with_capacity(40 + timestamp.len())
        .address(sender)
        .address(receiver)
        .bytes(timestamp.as_bytes())
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PrivateKey {
        PrivateKey::from_bytes([byte; 32]).unwrap()
    }

    fn iou() -> Iou {
        UnsignedIou {
            sender: key(1).address(),
            receiver: key(2).address(),
            amount: U256::from(10u128.pow(20)),
            claimable_until: U256::from(1_700_000_000u64),
            one_to_n_address: Address::from_bytes([0xac; 20]),
            chain_id: ChainId(1337),
        }
        .sign(&key(1))
    }

    fn iou_json() -> serde_json::Value {
        serde_json::from_str(&iou().to_json()).unwrap()
    }

    #[test]
    fn iou_round_trips_and_recovers_the_sender() {
        let parsed = Iou::from_json(&iou().to_json()).unwrap();
        assert_eq!(parsed, iou());
        assert_eq!(parsed.packed().len(), PACKED_LENGTH);
        assert_eq!(parsed.signer(), Ok(key(1).address()));
        assert!(iou().to_json().contains(r#""amount":100000000000000000000,"#));
    }

    #[test]
    fn integers_may_be_decimal_strings() {
        let mut json = iou_json();
        json["amount"] = "100000000000000000000".into();
        json["claimable_until"] = "1700000000".into();
        json["chain_id"] = "1337".into();
        assert_eq!(Iou::from_json(&json.to_string()).unwrap(), iou());
    }

    #[test]
    fn claimed_is_ignored_but_other_unknown_keys_are_errors() {
        let mut json = iou_json();
        json["claimed"] = false.into();
        assert_eq!(Iou::from_json(&json.to_string()).unwrap(), iou());
        json["surprise"] = 1.into();
        assert!(matches!(Iou::from_json(&json.to_string()), Err(IouError::Json(_))));
    }

    #[test]
    fn expiration_block_gets_its_own_error() {
        let mut json = iou_json();
        let expiry = json.as_object_mut().unwrap().remove("claimable_until").unwrap();
        json["expiration_block"] = expiry;
        let error = Iou::from_json(&json.to_string()).unwrap_err();
        assert!(matches!(error, IouError::ExpirationBlock));
        assert!(error.to_string().contains("expiration_block"));
    }

    #[test]
    fn missing_claimable_until_is_an_error() {
        let mut json = iou_json();
        json.as_object_mut().unwrap().remove("claimable_until");
        assert!(matches!(Iou::from_json(&json.to_string()), Err(IouError::MissingClaimableUntil)));
    }

    #[test]
    fn lower_case_addresses_are_rejected() {
        let mut json = iou_json();
        json["sender"] = key(1).address().to_lower_hex().into();
        assert!(matches!(Iou::from_json(&json.to_string()), Err(IouError::Json(_))));
    }

    #[test]
    fn negative_oversized_and_fractional_integers() {
        for (field, value) in
            [("amount", serde_json::json!(-1)), ("claimable_until", serde_json::json!("-5"))]
        {
            let mut json = iou_json();
            json[field] = value;
            assert!(Iou::from_json(&json.to_string()).is_err(), "{field}");
        }
        let mut json = iou_json();
        json["chain_id"] = "18446744073709551616".into();
        assert!(Iou::from_json(&json.to_string()).is_err());
    }

    #[test]
    fn iou_request_round_trips_through_the_query_string() {
        let request = IouRequest::sign(&key(1), key(2).address(), "2022-10-01T12:00:00.123000").unwrap();
        let query = request.to_query_string();
        assert!(query.contains("timestamp=2022-10-01T12%3A00%3A00.123000"));
        let parsed = IouRequest::from_query_string(&query).unwrap();
        assert_eq!(parsed, request);
        assert_eq!(parsed.signer(), Ok(key(1).address()));
    }

    #[test]
    fn iou_request_parameters_are_checked() {
        let request = IouRequest::sign(&key(1), key(2).address(), "2022-10-01T12:00:00").unwrap();
        let query = request.to_query_string();
        assert_eq!(
            IouRequest::from_query_string(&query.replace("sender", "x")),
            Err(IouRequestError::MissingParameter("sender"))
        );
        assert_eq!(
            IouRequest::from_query_string(&format!("{query}&timestamp=2022-10-01T12%3A00%3A00")),
            Err(IouRequestError::DuplicateParameter("timestamp"))
        );
        assert!(matches!(
            IouRequest::from_query_string(
                &query.replace(&key(1).address().to_checksum(), &key(1).address().to_lower_hex())
            ),
            Err(IouRequestError::Address { parameter: "sender", .. })
        ));
        assert!(matches!(
            IouRequest::from_query_string(&query.replace("12%3A00%3A00", "12%3A00%3A00Z")),
            Err(IouRequestError::Timestamp(TimestampError::TimezoneNotAllowed(_)))
        ));
        assert!(matches!(
            IouRequest::from_query_string(&format!("{query}00")),
            Err(IouRequestError::Signature(_))
        ));
        assert_eq!(
            IouRequest::from_query_string(&"a".repeat(MAX_QUERY_BYTES + 1)),
            Err(IouRequestError::TooLarge(MAX_QUERY_BYTES + 1))
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_iou_json_never_panics(values in proptest::collection::vec(crate::messages::tests::json_value(), 9)) {
            let keys = ["sender", "receiver", "amount", "claimable_until", "one_to_n_address", "chain_id", "signature", "claimed", "expiration_block"];
            let object: serde_json::Map<_, _> = keys.iter().map(|key| (*key).to_owned()).zip(values).collect();
            let _ = Iou::from_json(&serde_json::Value::Object(object).to_string());
        }

        #[test]
        fn arbitrary_query_strings_never_panic(query in ".{0,200}") {
            let _ = IouRequest::from_query_string(&query);
        }
    }
}
