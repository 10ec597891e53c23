//! `PFSFeeUpdate`: a mediator's fee schedule for one channel direction, signed over the packed
//! channel, schedule, RLP-encoded imbalance penalty and timestamp (`spec/PROTOCOL.md` §2.4).
//!
//! # Deliberate improvement: the timestamp as sent also verifies
//!
//! The reference PFS parses the timestamp and re-serialises it with Python's `isoformat()` before
//! checking the signature, so a client that signed a non-canonical spelling (the light client
//! signs `…:05.000000` once in a thousand updates, which `isoformat()` writes as `…:05`) is
//! dropped. Here the signature is valid if *either* the timestamp exactly as sent *or* its
//! `isoformat()` re-serialisation recovers the updating participant: a strict superset of what the
//! reference accepts (ARCHITECTURE.md §4).

use serde::{Deserialize, Serialize};

use super::{CanonicalIdentifier, FEE_UPDATE_TYPE, MessageError, check_type};
use crate::address::{self, Address};
use crate::fee_schedule::FeeSchedule;
use crate::ids::IntegerId;
use crate::packing::{Packer, rlp_imbalance_penalty};
use crate::signature::{PrivateKey, Signature, SignatureError};
use crate::timestamp::NaiveTimestamp;

/// The content of a fee update, before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedFeeUpdate {
    /// The channel.
    pub canonical_identifier: CanonicalIdentifier,
    /// The mediator announcing its schedule for the direction towards its partner.
    pub updating_participant: Address,
    /// The schedule.
    pub fee_schedule: FeeSchedule,
    /// When the schedule was made (naive UTC); must increase between updates.
    pub timestamp: NaiveTimestamp,
}

impl UnsignedFeeUpdate {
    /// The signed bytes with the timestamp written by `isoformat()`: chain id, token network,
    /// channel id, updating participant, `cap_fees` (one byte), `flat` and `proportional`
    /// (`uint256`), `rlp(imbalance_penalty or 0)`, and the UTF-8 timestamp.
    pub fn packed(&self) -> Vec<u8> {
        self.packed_with_timestamp(&self.timestamp.to_isoformat())
    }

    fn packed_with_timestamp(&self, timestamp: &str) -> Vec<u8> {
        let identifier = &self.canonical_identifier;
        let schedule = &self.fee_schedule;
        let penalty =
            rlp_imbalance_penalty(schedule.imbalance_penalty.as_ref().map(|penalty| penalty.points()));
        Packer::with_capacity(169 + penalty.len() + timestamp.len())
            .uint256(&identifier.chain_identifier.to_u256())
            .address(&identifier.token_network_address)
            .uint256(&identifier.channel_identifier.0)
            .address(&self.updating_participant)
            .bytes(&[u8::from(schedule.cap_fees)])
            .uint256(&schedule.flat)
            .uint256(&schedule.proportional)
            .bytes(&penalty)
            .bytes(timestamp.as_bytes())
            .finish()
    }

    /// Signs the update over its canonical (`isoformat()`) timestamp, as the Python client does.
    pub fn sign(self, key: &PrivateKey) -> FeeUpdate {
        let signature = key.sign(&self.packed());
        let timestamp_as_sent = self.timestamp.to_isoformat();
        FeeUpdate { fields: self, timestamp_as_sent, signature }
    }
}

/// A signed `PFSFeeUpdate`, with its timestamp kept exactly as it was sent.
///
/// Invariant: `timestamp_as_sent` parses to `fields.timestamp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeUpdate {
    fields: UnsignedFeeUpdate,
    timestamp_as_sent: String,
    signature: Signature,
}

impl FeeUpdate {
    /// The signed content.
    pub fn fields(&self) -> &UnsignedFeeUpdate {
        &self.fields
    }

    /// The signature as received.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The timestamp string exactly as it was received.
    pub fn timestamp_as_sent(&self) -> &str {
        &self.timestamp_as_sent
    }

    /// The bytes the sender signed if it signed the timestamp exactly as sent.
    pub fn packed_as_sent(&self) -> Vec<u8> {
        self.fields.packed_with_timestamp(&self.timestamp_as_sent)
    }

    /// The bytes the reference PFS checks: the timestamp re-serialised by `isoformat()`.
    pub fn packed_canonical(&self) -> Vec<u8> {
        self.fields.packed()
    }

    /// The signer recovered over the timestamp as sent.
    ///
    /// # Errors
    /// [`SignatureError`] if the signature does not recover any address.
    pub fn recover_as_sent(&self) -> Result<Address, SignatureError> {
        self.signature.recover(&self.packed_as_sent())
    }

    /// The signer the reference PFS would recover (over the `isoformat()` timestamp).
    ///
    /// # Errors
    /// [`SignatureError`] if the signature does not recover any address.
    pub fn recover_canonical(&self) -> Result<Address, SignatureError> {
        self.signature.recover(&self.packed_canonical())
    }

    /// The address that signed the update: the updating participant if either the timestamp as
    /// sent or its canonical form recovers it (see the module docs), otherwise the address the
    /// reference would recover. The update is genuine when this equals `updating_participant`.
    ///
    /// Costs one recovery when the timestamp was sent canonically or the as-sent form verifies,
    /// two otherwise.
    ///
    /// # Errors
    /// [`SignatureError`] if the signature does not recover any address.
    pub fn signer(&self) -> Result<Address, SignatureError> {
        let as_sent = self.recover_as_sent();
        if as_sent.as_ref() == Ok(&self.fields.updating_participant)
            || self.timestamp_as_sent == self.fields.timestamp.to_isoformat()
        {
            return as_sent;
        }
        self.recover_canonical()
    }

    /// Reads the JSON of Raiden's `MessageSerializer`; the penalty points may also be `0x` hex
    /// (raiden.rs) and the timestamp follows marshmallow's `NaiveDateTime` grammar.
    ///
    /// # Errors
    /// [`MessageError`] naming what is wrong (a timezone in the timestamp is
    /// [`MessageError::Timestamp`]); never panics.
    pub fn from_json(json: &str) -> Result<Self, MessageError> {
        check_type(json, FEE_UPDATE_TYPE)?;
        Self::from_tagged_json(json)
    }

    /// [`Self::from_json`] for a line whose size and `type` tag were already checked.
    pub(super) fn from_tagged_json(json: &str) -> Result<Self, MessageError> {
        let wire: WireFeeUpdate = serde_json::from_str(json)?;
        let timestamp = NaiveTimestamp::parse(&wire.timestamp)?;
        Ok(Self {
            fields: UnsignedFeeUpdate {
                canonical_identifier: wire.canonical_identifier,
                updating_participant: wire.updating_participant,
                fee_schedule: wire.fee_schedule,
                timestamp,
            },
            timestamp_as_sent: wire.timestamp,
            signature: wire.signature,
        })
    }

    /// The JSON the Python client sends: decimal strings, lower-case addresses. The timestamp is
    /// written as it was received, so a re-read update verifies exactly as before; for updates
    /// signed by [`UnsignedFeeUpdate::sign`] that is the `isoformat()` string Python writes.
    pub fn to_json(&self) -> String {
        let wire = WireFeeUpdate {
            message_type: FEE_UPDATE_TYPE.to_owned(),
            canonical_identifier: self.fields.canonical_identifier,
            updating_participant: self.fields.updating_participant,
            fee_schedule: self.fields.fee_schedule.clone(),
            timestamp: self.timestamp_as_sent.clone(),
            signature: self.signature,
        };
        // Invariant: the wire struct holds only strings, booleans and lists of them.
        serde_json::to_string(&wire).expect("a fee update always serializes")
    }
}

/// The JSON shape, field for field.
#[derive(Serialize, Deserialize)]
struct WireFeeUpdate {
    #[serde(rename = "type")]
    message_type: String,
    canonical_identifier: CanonicalIdentifier,
    #[serde(with = "address::lower_hex")]
    updating_participant: Address,
    fee_schedule: FeeSchedule,
    timestamp: String,
    signature: Signature,
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    use super::*;
    use crate::fee_schedule::ImbalancePenalty;
    use crate::ids::{ChainId, ChannelId};
    use crate::timestamp::TimestampError;

    fn key(byte: u8) -> PrivateKey {
        PrivateKey::from_bytes([byte; 32]).unwrap()
    }

    fn unsigned(timestamp: &str) -> UnsignedFeeUpdate {
        UnsignedFeeUpdate {
            canonical_identifier: CanonicalIdentifier {
                chain_identifier: ChainId(1337),
                token_network_address: Address::from_bytes([0x15; 20]),
                channel_identifier: ChannelId(U256::from(7)),
            },
            updating_participant: key(1).address(),
            fee_schedule: FeeSchedule {
                cap_fees: true,
                flat: U256::from(100),
                proportional: U256::from(1996),
                imbalance_penalty: Some(
                    ImbalancePenalty::new(vec![(U256::ZERO, U256::from(10)), (U256::from(50), U256::ZERO)])
                        .unwrap(),
                ),
            },
            timestamp: NaiveTimestamp::parse(timestamp).unwrap(),
        }
    }

    fn json_with_timestamp(timestamp: &str, signed_over: &str) -> String {
        let fields = unsigned(timestamp);
        let signature = key(1).sign(&fields.packed_with_timestamp(signed_over));
        let update = FeeUpdate { fields, timestamp_as_sent: timestamp.to_owned(), signature };
        update.to_json()
    }

    #[test]
    fn signed_update_round_trips_and_recovers_the_signer() {
        let update = unsigned("2022-10-01T12:00:00.123456").sign(&key(1));
        let parsed = FeeUpdate::from_json(&update.to_json()).unwrap();
        assert_eq!(parsed, update);
        assert_eq!(parsed.signer(), Ok(key(1).address()));
    }

    #[test]
    fn a_signature_over_the_raw_non_canonical_timestamp_is_accepted() {
        let json = json_with_timestamp("2022-10-01T12:00:00.000000", "2022-10-01T12:00:00.000000");
        let update = FeeUpdate::from_json(&json).unwrap();
        assert_ne!(update.recover_canonical(), Ok(key(1).address()));
        assert_eq!(update.signer(), Ok(key(1).address()));
    }

    #[test]
    fn a_signature_over_the_canonical_form_of_a_non_canonical_timestamp_is_accepted() {
        let json = json_with_timestamp("2022-10-01 12:00:00.000000", "2022-10-01T12:00:00");
        let update = FeeUpdate::from_json(&json).unwrap();
        assert_ne!(update.recover_as_sent(), Ok(key(1).address()));
        assert_eq!(update.signer(), Ok(key(1).address()));
    }

    #[test]
    fn a_signature_over_another_timestamp_is_rejected() {
        let json = json_with_timestamp("2022-10-01T12:00:00.000000", "2022-10-01T12:00:01");
        assert_ne!(FeeUpdate::from_json(&json).unwrap().signer(), Ok(key(1).address()));
    }

    #[test]
    fn timezone_aware_timestamps_are_rejected() {
        let json = json_with_timestamp("2022-10-01T12:00:00", "x").replace("12:00:00\"", "12:00:00Z\"");
        assert!(matches!(
            FeeUpdate::from_json(&json),
            Err(MessageError::Timestamp(TimestampError::TimezoneNotAllowed(_)))
        ));
    }

    #[test]
    fn hex_penalty_points_from_raiden_rs_are_accepted() {
        let mut json: serde_json::Value =
            serde_json::from_str(&unsigned("2022-10-01T12:00:00").sign(&key(1)).to_json()).unwrap();
        json["fee_schedule"]["imbalance_penalty"] = serde_json::json!([["0x0", "0xa"], ["0x32", "0x0"]]);
        let update = FeeUpdate::from_json(&json.to_string()).unwrap();
        assert_eq!(update.signer(), Ok(key(1).address()));
    }

    #[test]
    fn negative_flat_fee_is_rejected() {
        let mut json: serde_json::Value =
            serde_json::from_str(&unsigned("2022-10-01T12:00:00").sign(&key(1)).to_json()).unwrap();
        json["fee_schedule"]["flat"] = "-1".into();
        assert!(matches!(FeeUpdate::from_json(&json.to_string()), Err(MessageError::Json(_))));
    }
}
