//! `PFSCapacityUpdate`: a participant's view of what both sides of a channel can send, signed over
//! 236 packed bytes (`spec/PROTOCOL.md` §2.3).

use serde::{Deserialize, Serialize};

use super::{CAPACITY_UPDATE_TYPE, CanonicalIdentifier, MessageError, check_type};
use crate::address::{self, Address};
use crate::ids::{self, BlockTimeout, IntegerId, Nonce, TokenAmount};
use crate::integer;
use crate::packing::Packer;
use crate::signature::{PrivateKey, Signature, SignatureError};

/// Length of the packed bytes a capacity update is signed over.
pub const PACKED_LENGTH: usize = 236;

/// The content of a capacity update, before signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsignedCapacityUpdate {
    /// The channel.
    pub canonical_identifier: CanonicalIdentifier,
    /// The participant reporting (and signing).
    pub updating_participant: Address,
    /// Its channel partner.
    pub other_participant: Address,
    /// Nonce of the updating participant's latest balance proof (`uint64` in the packing).
    pub updating_nonce: Nonce,
    /// Nonce of the partner's latest balance proof.
    pub other_nonce: Nonce,
    /// What the updating participant can send to the other.
    pub updating_capacity: TokenAmount,
    /// What the other participant can send to the updating one, as the updater sees it.
    pub other_capacity: TokenAmount,
    /// The channel's reveal timeout in blocks.
    pub reveal_timeout: BlockTimeout,
}

impl UnsignedCapacityUpdate {
    /// The 236 bytes that are signed: chain id, token network, channel id, both participants,
    /// both nonces as `uint64`, both capacities and the reveal timeout as `uint256`.
    pub fn packed(&self) -> Vec<u8> {
        let identifier = &self.canonical_identifier;
        Packer::with_capacity(PACKED_LENGTH)
            .uint256(&identifier.chain_identifier.to_u256())
            .address(&identifier.token_network_address)
            .uint256(&identifier.channel_identifier.0)
            .address(&self.updating_participant)
            .address(&self.other_participant)
            .uint64(self.updating_nonce.0)
            .uint64(self.other_nonce.0)
            .uint256(&self.updating_capacity)
            .uint256(&self.other_capacity)
            .uint256(&self.reveal_timeout.0)
            .finish()
    }

    /// Signs the update with the updating participant's key.
    ///
    /// # Errors
    /// [`MessageError::SameParticipant`] if both participants are the same address.
    pub fn sign(self, key: &PrivateKey) -> Result<CapacityUpdate, MessageError> {
        self.check_participants()?;
        let signature = key.sign(&self.packed());
        Ok(CapacityUpdate { fields: self, signature })
    }

    fn check_participants(&self) -> Result<(), MessageError> {
        if self.updating_participant == self.other_participant {
            return Err(MessageError::SameParticipant(self.updating_participant));
        }
        Ok(())
    }
}

/// A signed `PFSCapacityUpdate`.
///
/// Invariant: the two participants differ. The signature is not checked on construction; compare
/// [`CapacityUpdate::signer`] with the updating participant (and the Matrix sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityUpdate {
    fields: UnsignedCapacityUpdate,
    signature: Signature,
}

impl CapacityUpdate {
    /// The signed content.
    pub fn fields(&self) -> &UnsignedCapacityUpdate {
        &self.fields
    }

    /// The signature as received.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The 236 bytes the signature covers.
    pub fn packed(&self) -> Vec<u8> {
        self.fields.packed()
    }

    /// The address whose key signed the packed bytes. The update is genuine when this equals
    /// `updating_participant`.
    ///
    /// # Errors
    /// [`SignatureError`] if the signature does not recover any address.
    pub fn signer(&self) -> Result<Address, SignatureError> {
        self.signature.recover(&self.packed())
    }

    /// Reads the JSON of Raiden's `MessageSerializer` (see the module docs of
    /// [`crate::messages`] for what is accepted).
    ///
    /// # Errors
    /// [`MessageError`] naming what is wrong; never panics.
    pub fn from_json(json: &str) -> Result<Self, MessageError> {
        check_type(json, CAPACITY_UPDATE_TYPE)?;
        Self::from_tagged_json(json)
    }

    /// [`Self::from_json`] for a line whose size and `type` tag were already checked.
    pub(super) fn from_tagged_json(json: &str) -> Result<Self, MessageError> {
        let wire: WireCapacityUpdate = serde_json::from_str(json)?;
        let fields = UnsignedCapacityUpdate {
            canonical_identifier: wire.canonical_identifier,
            updating_participant: wire.updating_participant,
            other_participant: wire.other_participant,
            updating_nonce: wire.updating_nonce,
            other_nonce: wire.other_nonce,
            updating_capacity: wire.updating_capacity,
            other_capacity: wire.other_capacity,
            reveal_timeout: wire.reveal_timeout,
        };
        fields.check_participants()?;
        Ok(Self { fields, signature: wire.signature })
    }

    /// The JSON the Python client sends: decimal strings, lower-case addresses.
    pub fn to_json(&self) -> String {
        let fields = self.fields;
        let wire = WireCapacityUpdate {
            message_type: CAPACITY_UPDATE_TYPE.to_owned(),
            canonical_identifier: fields.canonical_identifier,
            updating_participant: fields.updating_participant,
            other_participant: fields.other_participant,
            updating_nonce: fields.updating_nonce,
            other_nonce: fields.other_nonce,
            updating_capacity: fields.updating_capacity,
            other_capacity: fields.other_capacity,
            reveal_timeout: fields.reveal_timeout,
            signature: self.signature,
        };
        // Invariant: the wire struct holds only strings, so serialization cannot fail.
        serde_json::to_string(&wire).expect("a capacity update always serializes")
    }
}

/// The JSON shape, field for field.
#[derive(Serialize, Deserialize)]
struct WireCapacityUpdate {
    #[serde(rename = "type")]
    message_type: String,
    canonical_identifier: CanonicalIdentifier,
    #[serde(with = "address::lower_hex")]
    updating_participant: Address,
    #[serde(with = "address::lower_hex")]
    other_participant: Address,
    #[serde(with = "ids::decimal_string")]
    updating_nonce: Nonce,
    #[serde(with = "ids::decimal_string")]
    other_nonce: Nonce,
    #[serde(with = "integer::as_decimal_string")]
    updating_capacity: TokenAmount,
    #[serde(with = "integer::as_decimal_string")]
    other_capacity: TokenAmount,
    #[serde(with = "ids::decimal_string")]
    reveal_timeout: BlockTimeout,
    signature: Signature,
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    use super::*;
    use crate::ids::{ChainId, ChannelId};

    fn key(byte: u8) -> PrivateKey {
        PrivateKey::from_bytes([byte; 32]).unwrap()
    }

    fn unsigned() -> UnsignedCapacityUpdate {
        UnsignedCapacityUpdate {
            canonical_identifier: CanonicalIdentifier {
                chain_identifier: ChainId(1337),
                token_network_address: Address::from_bytes([0x15; 20]),
                channel_identifier: ChannelId(U256::from(7)),
            },
            updating_participant: key(1).address(),
            other_participant: key(2).address(),
            updating_nonce: Nonce(5),
            other_nonce: Nonce(3),
            updating_capacity: U256::from(1000),
            other_capacity: U256::from(500),
            reveal_timeout: BlockTimeout(U256::from(50)),
        }
    }

    fn signed_json() -> serde_json::Value {
        serde_json::from_str(&unsigned().sign(&key(1)).unwrap().to_json()).unwrap()
    }

    fn with(field: &str, value: serde_json::Value) -> String {
        let mut json = signed_json();
        json[field] = value;
        json.to_string()
    }

    #[test]
    fn signed_update_round_trips_and_recovers_the_signer() {
        let update = unsigned().sign(&key(1)).unwrap();
        assert_eq!(update.packed().len(), PACKED_LENGTH);
        let parsed = CapacityUpdate::from_json(&update.to_json()).unwrap();
        assert_eq!(parsed, update);
        assert_eq!(parsed.signer(), Ok(key(1).address()));
    }

    #[test]
    fn numbers_checksummed_addresses_and_unknown_keys_are_accepted() {
        let mut json = signed_json();
        json["updating_nonce"] = 5.into();
        json["updating_capacity"] = 1000.into();
        json["updating_participant"] = key(1).address().to_checksum().into();
        json["extra"] = "ignored".into();
        assert_eq!(CapacityUpdate::from_json(&json.to_string()).unwrap(), unsigned().sign(&key(1)).unwrap());
    }

    #[test]
    fn same_participant_twice_is_a_validation_error() {
        let json = with("other_participant", key(1).address().to_lower_hex().into());
        assert!(matches!(CapacityUpdate::from_json(&json), Err(MessageError::SameParticipant(_))));
        let mut same = unsigned();
        same.other_participant = same.updating_participant;
        assert!(matches!(same.sign(&key(1)), Err(MessageError::SameParticipant(_))));
    }

    #[test]
    fn nonce_beyond_uint64_is_rejected() {
        let json = with("updating_nonce", "18446744073709551616".into());
        assert!(matches!(CapacityUpdate::from_json(&json), Err(MessageError::Json(_))));
    }

    #[test]
    fn capacity_beyond_uint256_is_rejected() {
        let above = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert!(matches!(
            CapacityUpdate::from_json(&with("other_capacity", above.into())),
            Err(MessageError::Json(_))
        ));
    }

    #[test]
    fn negative_and_hex_integers_are_rejected() {
        for value in ["-1", "0x10"] {
            let json = with("updating_capacity", value.into());
            assert!(matches!(CapacityUpdate::from_json(&json), Err(MessageError::Json(_))), "{value}");
        }
        assert!(matches!(
            CapacityUpdate::from_json(&with("other_nonce", (-1).into())),
            Err(MessageError::Json(_))
        ));
    }

    #[test]
    fn bad_signature_hex_and_length_are_rejected() {
        for value in ["0x1234", "0xzz", "nothex"] {
            assert!(matches!(
                CapacityUpdate::from_json(&with("signature", value.into())),
                Err(MessageError::Json(_))
            ));
        }
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        let json = with("other_participant", "0x1234".into());
        assert!(matches!(CapacityUpdate::from_json(&json), Err(MessageError::Json(_))));
    }

    #[test]
    fn a_fee_update_tag_is_the_wrong_type() {
        let json = with("type", "PFSFeeUpdate".into());
        assert!(matches!(CapacityUpdate::from_json(&json), Err(MessageError::WrongType { .. })));
    }
}
