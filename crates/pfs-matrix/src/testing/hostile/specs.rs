//! The specs of a hostile answer: what each event, body and line is to be, before it is
//! rendered; and how an update's fields are signed.

use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate, UnsignedFeeUpdate};
use pfs_core::{
    Address, BlockTimeout, ChainId, ChannelId, FeeSchedule, ImbalancePenalty, Message, NaiveTimestamp, Nonce,
    PrivateKey, U256,
};
use serde_json::Value;

use super::{Sender, Target};

/// The fields of a capacity or fee update, before it is signed by whoever sends it.
#[derive(Debug, Clone)]
pub struct UpdateFields {
    pub(super) fee: bool,
    pub(super) chain_id: u64,
    pub(super) token_network: [u8; 20],
    pub(super) channel_id: U256,
    pub(super) other: [u8; 20],
    pub(super) nonces: (u64, u64),
    pub(super) capacities: (U256, U256),
    pub(super) reveal_timeout: U256,
    pub(super) fee_values: FeeValues,
    pub(super) timestamp_micros: i64,
    /// Aim at the world's target with this index (modulo their number), if it has any.
    pub(super) target: Option<usize>,
}

/// A fee schedule's values: `cap_fees`, `flat`, `proportional`, and the steps between penalty
/// points (balance increments and fees), if there is a penalty.
#[derive(Debug, Clone)]
pub struct FeeValues(pub(super) bool, pub(super) U256, pub(super) U256, pub(super) Option<Vec<(u64, u64)>>);

impl UpdateFields {
    /// The update signed by `key`, for `updating`, aimed at `target` if given: its channel,
    /// and for a capacity update its participant other than `updating` as the partner.
    pub(super) fn signed(&self, key: &PrivateKey, updating: Address, target: Option<&Target>) -> Message {
        let mut canonical_identifier = CanonicalIdentifier {
            chain_identifier: ChainId(self.chain_id),
            token_network_address: Address::from_bytes(self.token_network),
            channel_identifier: ChannelId(self.channel_id),
        };
        let mut partner = Address::from_bytes(self.other);
        if let Some(target) = target {
            canonical_identifier = CanonicalIdentifier {
                chain_identifier: ChainId(target.chain_id),
                token_network_address: target.token_network,
                channel_identifier: ChannelId(target.channel_id),
            };
            partner = if target.participants[0] == updating {
                target.participants[1]
            } else {
                target.participants[0]
            };
        }
        if self.fee {
            let FeeValues(cap_fees, flat, proportional, points) = &self.fee_values;
            let imbalance_penalty = points.as_ref().and_then(|points| {
                let mut balance = 0u128;
                let points = points
                    .iter()
                    .map(|(step, fee)| {
                        balance += u128::from(*step) + 1;
                        (U256::from(balance), U256::from(*fee))
                    })
                    .collect();
                ImbalancePenalty::new(points).ok()
            });
            let timestamp =
                NaiveTimestamp::from_unix_micros(self.timestamp_micros).unwrap_or(NaiveTimestamp::EPOCH_2000);
            Message::FeeUpdate(
                UnsignedFeeUpdate {
                    canonical_identifier,
                    updating_participant: updating,
                    fee_schedule: FeeSchedule {
                        cap_fees: *cap_fees,
                        flat: *flat,
                        proportional: *proportional,
                        imbalance_penalty,
                    },
                    timestamp,
                }
                .sign(key),
            )
        } else {
            let mut other = partner;
            if other == updating {
                let mut bytes = self.other;
                bytes[0] ^= 0xff;
                other = Address::from_bytes(bytes);
            }
            let update = UnsignedCapacityUpdate {
                canonical_identifier,
                updating_participant: updating,
                other_participant: other,
                updating_nonce: Nonce(self.nonces.0),
                other_nonce: Nonce(self.nonces.1),
                updating_capacity: self.capacities.0,
                other_capacity: self.capacities.1,
                reveal_timeout: BlockTimeout(self.reveal_timeout),
            };
            // Invariant: the participants differ (made so above).
            Message::CapacityUpdate(update.sign(key).expect("distinct participants"))
        }
    }
}

/// A way of writing a valid update that must still be read as the same update.
#[derive(Debug, Clone)]
pub enum Reencoding {
    /// Addresses in upper-case hex (any case is accepted, as by the reference).
    UpperCaseAddresses,
    /// Nonces as JSON numbers instead of decimal strings.
    NumberNonces,
    /// Unknown keys added (ignored).
    ExtraKeys,
    /// Spaces and tabs around the line (trimmed).
    Padded,
}

/// A replacement that makes a signed update unreadable or changes what was signed.
#[derive(Debug, Clone)]
pub enum Tamper {
    /// A field set to another JSON value (see [`tamper`] for the values).
    Field(&'static str, Value),
    /// A field set to raw JSON text (numbers serde cannot hold: `1e400`, 2^256 as a number).
    RawField(&'static str, String),
    /// A field removed.
    Removed(&'static str),
    /// One bit of the signature flipped.
    SignatureBit(usize),
    /// One bit of a numeric field flipped (a different, in-range value).
    ValueBit(&'static str, usize),
    /// The `type` of the other kind of update.
    SwapType,
}

/// Whose key signs an update.
#[derive(Debug, Clone)]
pub enum Signer {
    /// The sender's (the attacker's for senders without a key).
    Sender,
    /// Honest node `usize`'s: a genuine update of someone else, resent.
    Honest(usize),
    /// A key nobody in the world uses for its identity.
    Stranger,
}

/// Who an update names as its updating participant.
#[derive(Debug, Clone)]
pub enum Updating {
    /// The signer.
    Signer,
    /// The sender's identity address (the attacker's for senders without a key).
    Sender,
    /// Honest node `usize`.
    Honest(usize),
}

/// One line of a to-device body.
#[derive(Debug, Clone)]
pub enum LineSpec {
    /// A signed update, possibly written differently (same content). It must be read as valid
    /// exactly when the signer names itself as updating participant and is the (verified)
    /// sender.
    Update {
        /// Its fields.
        fields: UpdateFields,
        /// Who signs it.
        signer: Signer,
        /// Who it names as updating participant.
        updating: Updating,
        /// How it is written, if not as the Python client writes it.
        encoding: Option<Reencoding>,
    },
    /// An update the sender signed for itself, then tampered with: never valid.
    Tampered(UpdateFields, Tamper),
    /// A JSON array of updates the sender signed for itself, on one line: not a message (a line
    /// holds one), so never valid.
    Array(Vec<UpdateFields>),
    /// Anything that is not an update.
    NotUpdate(String),
}

/// How the lines of a body are joined.
#[derive(Debug, Clone)]
pub enum Separator {
    /// `\n`.
    Newline,
    /// `\r\n`.
    CrLf,
    /// Blank lines between.
    Blank,
}

/// The `body` of a text message.
#[derive(Debug, Clone)]
pub enum BodySpec {
    /// Lines joined by a separator.
    Lines(Vec<LineSpec>, Separator),
    /// One character repeated this many times (around the size limit).
    Repeated(char, usize),
}

/// A JSON value as raw text, possibly one a [`Value`] cannot hold.
pub type RawJson = String;

/// The `content` of a to-device event.
#[derive(Debug, Clone)]
pub enum ContentSpec {
    /// `{"msgtype": <msgtype>, "body": <body>}` and maybe a deep extra key.
    Text {
        /// `m.text` or something else (raw JSON).
        msgtype: RawJson,
        /// The body.
        body: BodySpec,
        /// An extra key nested this deep (skipped unread).
        deep_extra: Option<usize>,
    },
    /// `{"msgtype": "m.text", "body": <not a string>}`.
    BodyNotString(RawJson),
    /// `{"msgtype": "m.text", "body": [<update>, …]}`: the sender's valid updates as a JSON array
    /// of strings instead of lines of one string.
    BodyArray(Vec<UpdateFields>),
    /// A body string holding a lone surrogate escape.
    LoneSurrogateBody,
    /// A content that is not an object.
    NotObject(RawJson),
    /// No content key.
    Absent,
}

/// A to-device event, or junk in its place.
#[derive(Debug, Clone)]
pub enum ToDeviceSpec {
    /// An event.
    Event {
        /// Its sender.
        sender: Sender,
        /// `m.room.message` if `None`, else this type.
        event_type: Option<String>,
        /// Its content.
        content: ContentSpec,
    },
    /// Not an event with string `type` and `sender` (skipped while reading).
    Junk(RawJson),
}

/// The displayname in a presence event's content.
#[derive(Debug, Clone)]
pub enum NameSpec {
    /// None.
    Absent,
    /// The sender's own valid one (verified senders), or its profile's (others).
    Own,
    /// An honest node's displayname (replayed).
    Replayed(usize),
    /// Any string.
    Garbage(String),
}

/// A presence event, or junk in its place.
#[derive(Debug, Clone)]
pub enum PresenceSpec {
    /// An event.
    Event {
        /// Its sender.
        sender: Sender,
        /// `m.presence` if `None`, else this type.
        event_type: Option<String>,
        /// The presence string (any string).
        presence: String,
        /// The displayname in the content.
        displayname: NameSpec,
        /// The avatar URL in the content, if any.
        avatar_url: Option<String>,
    },
    /// Not a presence event the client can read (skipped).
    Junk(RawJson),
}

/// A whole hostile answer.
#[derive(Debug, Clone)]
pub struct AnswerSpec {
    /// Its `next_batch`.
    pub next_batch: String,
    /// Presence events.
    pub presence: Vec<PresenceSpec>,
    /// To-device events.
    pub to_device: Vec<ToDeviceSpec>,
    /// Top-level keys the client does not read, with hostile values.
    pub extras: Vec<(String, RawJson)>,
}
