//! Hostile `/sync` answers as proptest strategies, and the rules the client's reading of them
//! must obey (feature `hostile`); shared by this crate's robustness tests and pfs-service's.
//!
//! A [`World`] holds the actors: honest nodes and the attacker (verified identities), and users
//! whose identity does not verify — an impostor using an honest node's address under another
//! user id with a displayname the attacker signed, a replayer of an honest node's displayname,
//! a user with a garbage displayname, one without a profile, users claiming honest addresses
//! whose profile cannot be fetched — plus arbitrary user ids. With [`World::with_targets`],
//! updates also aim at real channels of a service under test (signed by the attacker, by a
//! stranger, or genuinely by an honest node and resent by someone else). [`answer`] generates an [`AnswerSpec`]: presence and to-device
//! events from them with hostile contents (wrong types at every level, long strings, deep
//! nesting, lone surrogates, bodies of garbage lines and of updates that are forged, tampered,
//! signed by someone else or out of range), junk that is not an event at all, and hostile
//! top-level keys the client does not read. [`AnswerSpec::render`] writes it as raw JSON text
//! (so it can hold what a [`serde_json::Value`] cannot), remembering for every event what the
//! client must make of it; [`check_batch`] compares a batch with that, event by event and line
//! by line.
//!
//! What is expected, in short: presence only of verified users (or `server_error` for the users
//! whose profile fails); for every readable to-device event exactly one output, in order — a drop
//! with the first reason that applies (not text, unverified sender, profile unavailable, too
//! large, over budget), else one result per non-blank line, `Ok` exactly for the updates the
//! sender's own key signed and that were not tampered with.

use std::collections::{HashMap, HashSet};

use pfs_core::matrix_identity;
use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate, UnsignedFeeUpdate};
use pfs_core::presence::UserPresence;
use pfs_core::{
    Address, BlockTimeout, ChainId, ChannelId, FeeSchedule, ImbalancePenalty, Message, NaiveTimestamp, Nonce,
    PrivateKey, U256,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::SyncReader;
use crate::events::{DropReason, MatrixEvent, SyncBatch, ToDeviceRejection};

/// The server name of the PFS's homeserver in a [`World`].
pub const SERVER: &str = "pfs.server";
/// The avatar URL (capabilities) of verified actors.
pub const CAPABILITIES: &str = "mxc://raiden.network/cap?Receive=1&Mediate=1";

/// Who sends an event.
#[derive(Debug, Clone)]
pub enum Sender {
    /// An honest node (index modulo the number of honest nodes): a verified identity.
    Honest(usize),
    /// The attacker's own, verified identity; its updates are signed with its own key.
    Attacker,
    /// `@<honest node's address>:evil.server`, with a displayname the attacker signed.
    Impostor(usize),
    /// `@<honest node's address>.deadbeef:pfs.server`, replaying the honest node's displayname.
    Replayer(usize),
    /// The attacker's second key's user id, with a displayname that is not a signature.
    Garbage,
    /// A Raiden user id without a profile (404).
    Nobody,
    /// `@<honest node's address>:down.server`, whose profile cannot be fetched (502): its
    /// presence is reported as `server_error` under the address it claims.
    Failing(usize),
    /// The PFS itself.
    Own,
    /// Any string (a Raiden user id of nobody known, or not a Raiden user id at all).
    Arbitrary(String),
}

/// The actors of hostile answers.
#[derive(Debug)]
pub struct World {
    own: String,
    honest: Vec<PrivateKey>,
    attacker: PrivateKey,
    second: PrivateKey,
    garbage_displayname: String,
    nobody: String,
    targets: Vec<Target>,
    steady_honest: bool,
}

/// A channel the service knows, for updates aimed at it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The chain id.
    pub chain_id: u64,
    /// The token network.
    pub token_network: Address,
    /// The channel id.
    pub channel_id: U256,
    /// Its participants.
    pub participants: [Address; 2],
}

fn fixed_key(byte: u8) -> PrivateKey {
    // Invariant: a 32-byte string of one small non-zero byte is a valid secp256k1 key.
    PrivateKey::from_bytes([byte; 32]).expect("a constant key")
}

impl World {
    /// A world whose honest nodes have `honest` keys (at least one); the attacker's keys and the
    /// other actors are fixed. The PFS is `@0x…0001:pfs.server`.
    ///
    /// # Panics
    /// If `honest` is empty.
    pub fn new(honest: Vec<PrivateKey>) -> Self {
        assert!(!honest.is_empty(), "a world needs an honest node");
        let mut own = [0; 20];
        own[19] = 1;
        Self {
            own: matrix_identity::user_id(&Address::from_bytes(own), SERVER),
            honest,
            attacker: fixed_key(0xa1),
            second: fixed_key(0xa2),
            garbage_displayname: format!("0x{}", "zz".repeat(65)),
            nobody: matrix_identity::user_id(&Address::from_bytes([0xa3; 20]), SERVER),
            targets: Vec::new(),
            steady_honest: false,
        }
    }

    /// This world with updates aimed at `targets` (real channels of a service under test) as
    /// well as at random ones. The honest nodes become steady: their presence events say
    /// `online` and their own updates never aim at a target, so that everything a hostile answer
    /// does to the targets is the attackers' doing.
    pub fn with_targets(mut self, targets: Vec<Target>) -> Self {
        self.targets = targets;
        self.steady_honest = true;
        self
    }

    /// The PFS's user id.
    pub fn own_user_id(&self) -> &str {
        &self.own
    }

    /// The key of honest node `index` (modulo their number).
    pub fn honest_key(&self, index: usize) -> &PrivateKey {
        &self.honest[index % self.honest.len()]
    }

    /// The user id of honest node `index`.
    pub fn honest_user_id(&self, index: usize) -> String {
        matrix_identity::user_id(&self.honest_key(index).address(), SERVER)
    }

    /// The attacker's own key.
    pub fn attacker_key(&self) -> &PrivateKey {
        &self.attacker
    }

    /// The user id `sender` sends as.
    pub fn user_id(&self, sender: &Sender) -> String {
        match sender {
            Sender::Honest(index) => self.honest_user_id(*index),
            Sender::Attacker => matrix_identity::user_id(&self.attacker.address(), SERVER),
            Sender::Impostor(index) => {
                matrix_identity::user_id(&self.honest_key(*index).address(), "evil.server")
            }
            Sender::Replayer(index) => {
                format!("@{}.deadbeef:{SERVER}", self.honest_key(*index).address().to_lower_hex())
            }
            Sender::Garbage => matrix_identity::user_id(&self.second.address(), SERVER),
            Sender::Nobody => self.nobody.clone(),
            Sender::Failing(index) => {
                matrix_identity::user_id(&self.honest_key(*index).address(), "down.server")
            }
            Sender::Own => self.own.clone(),
            Sender::Arbitrary(user_id) => user_id.clone(),
        }
    }

    /// The key a verified user id belongs to: honest nodes' and the attacker's.
    pub fn identity(&self, user_id: &str) -> Option<&PrivateKey> {
        let attacker = std::iter::once(&self.attacker);
        self.honest
            .iter()
            .chain(attacker)
            .find(|key| matrix_identity::user_id(&key.address(), SERVER) == user_id)
    }

    /// Whether `user_id` is a failing user's.
    fn is_failing(&self, user_id: &str) -> bool {
        (0..self.honest.len()).any(|index| self.user_id(&Sender::Failing(index)) == user_id)
    }

    /// Whether `sender` has a verified identity.
    fn is_verified(&self, sender: &Sender) -> bool {
        matches!(sender, Sender::Honest(_) | Sender::Attacker)
    }

    /// The key `sender` signs updates with: its own, or the attacker's for everyone else.
    fn signing_key(&self, sender: &Sender) -> &PrivateKey {
        match sender {
            Sender::Honest(index) => self.honest_key(*index),
            _ => &self.attacker,
        }
    }

    /// The displayname published in `sender`'s profile, if it has one.
    fn profile_displayname(&self, sender: &Sender) -> Option<String> {
        let user_id = self.user_id(sender);
        match sender {
            Sender::Honest(index) => Some(matrix_identity::displayname(self.honest_key(*index), &user_id)),
            Sender::Attacker => Some(matrix_identity::displayname(&self.attacker, &user_id)),
            Sender::Impostor(_) => Some(matrix_identity::displayname(&self.attacker, &user_id)),
            Sender::Replayer(index) => {
                Some(matrix_identity::displayname(self.honest_key(*index), &self.honest_user_id(*index)))
            }
            Sender::Garbage => Some(self.garbage_displayname.clone()),
            Sender::Nobody | Sender::Failing(_) | Sender::Own | Sender::Arbitrary(_) => None,
        }
    }

    /// Publishes the actors' profiles in `reader`: verified ones with their displayname and
    /// [`CAPABILITIES`], the impostors with theirs; the failing user's fetch fails.
    pub fn install(&self, reader: &mut SyncReader) {
        let mut senders: Vec<Sender> = (0..self.honest.len()).map(Sender::Honest).collect();
        senders.push(Sender::Attacker);
        senders.extend(
            (0..self.honest.len()).flat_map(|index| [Sender::Impostor(index), Sender::Replayer(index)]),
        );
        senders.push(Sender::Garbage);
        for sender in senders {
            reader.set_profile(
                &self.user_id(&sender),
                self.profile_displayname(&sender),
                Some(CAPABILITIES.to_owned()),
            );
        }
        for index in 0..self.honest.len() {
            reader.fail_profile(&self.user_id(&Sender::Failing(index)));
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Specs
// ------------------------------------------------------------------------------------------------

/// The fields of a capacity or fee update, before it is signed by whoever sends it.
#[derive(Debug, Clone)]
pub struct UpdateFields {
    fee: bool,
    chain_id: u64,
    token_network: [u8; 20],
    channel_id: U256,
    other: [u8; 20],
    nonces: (u64, u64),
    capacities: (U256, U256),
    reveal_timeout: U256,
    fee_values: FeeValues,
    timestamp_micros: i64,
    /// Aim at the world's target with this index (modulo their number), if it has any.
    target: Option<usize>,
}

/// A fee schedule's values: `cap_fees`, `flat`, `proportional`, and the steps between penalty
/// points (balance increments and fees), if there is a penalty.
#[derive(Debug, Clone)]
pub struct FeeValues(bool, U256, U256, Option<Vec<(u64, u64)>>);

impl UpdateFields {
    /// The update signed by `key`, for `updating`, aimed at `target` if given: its channel,
    /// and for a capacity update its participant other than `updating` as the partner.
    fn signed(&self, key: &PrivateKey, updating: Address, target: Option<&Target>) -> Message {
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

// ------------------------------------------------------------------------------------------------
// Rendering
// ------------------------------------------------------------------------------------------------

/// What the client must make of one to-device event.
#[derive(Debug, Clone)]
pub enum ToDeviceMeta {
    /// Skipped while reading the answer.
    Skipped,
    /// Read as an event.
    Event {
        /// `type`.
        event_type: String,
        /// `sender`.
        sender: String,
        /// The body if the content is `m.text` with a string body.
        text: Option<String>,
        /// The (trimmed) lines that are valid updates of the sender.
        valid_lines: HashSet<String>,
    },
}

/// What the client must make of one presence event.
#[derive(Debug, Clone)]
pub enum PresenceMeta {
    /// Nothing: skipped, ignored, or from an unverified user.
    Nothing,
    /// A [`MatrixEvent::PresenceChanged`] for this user, address and presence.
    Changed(String, Address, UserPresence),
    /// A [`UserPresence::ServerError`] for this user.
    ServerError(String),
}

/// An answer as raw JSON text, with the expected outcome of each event.
#[derive(Debug, Clone)]
pub struct RenderedAnswer {
    /// `next_batch`.
    pub next_batch: String,
    /// Raw presence events and what each must give.
    pub presence: Vec<(RawJson, PresenceMeta)>,
    /// Raw to-device events and what each must give.
    pub to_device: Vec<(RawJson, ToDeviceMeta)>,
    /// Unread top-level keys.
    pub extras: Vec<(String, RawJson)>,
}

impl RenderedAnswer {
    /// The `/sync` body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let join = |events: &[(RawJson, _)]| -> String {
            events.iter().map(|(raw, _)| raw.as_str()).collect::<Vec<_>>().join(",")
        };
        let presence: Vec<_> = self.presence.iter().map(|(raw, _)| (raw.clone(), ())).collect();
        let to_device: Vec<_> = self.to_device.iter().map(|(raw, _)| (raw.clone(), ())).collect();
        let mut body = format!(
            r#"{{"next_batch":{},"presence":{{"events":[{}]}},"to_device":{{"events":[{}]}}"#,
            json!(self.next_batch),
            join(&presence),
            join(&to_device)
        );
        for (key, value) in &self.extras {
            body.push_str(&format!(",{}:{value}", json!(key)));
        }
        body.push('}');
        body.into_bytes()
    }

    /// Repeats the presence and the to-device events (each list as a whole, in order) until
    /// each list holds at least `events` (empty lists stay empty): a huge answer of the same
    /// kinds of events, duplicates included.
    pub fn repeat_events(&mut self, events: usize) {
        fn repeat<T: Clone>(list: &mut Vec<T>, events: usize) {
            if !list.is_empty() {
                let copies = events.div_ceil(list.len()).max(1);
                *list = list.iter().cloned().cycle().take(copies * list.len()).collect();
            }
        }
        repeat(&mut self.presence, events);
        repeat(&mut self.to_device, events);
    }

    /// Inserts a to-device `m.room.message` from `sender_user_id` whose body is `lines` joined by
    /// newlines, at `index` (clamped); `valid` are the lines that must be read as valid updates.
    pub fn insert_text(&mut self, index: usize, sender_user_id: &str, lines: &[String], valid: &[String]) {
        let body = lines.join("\n");
        let raw = json!({"type": "m.room.message", "sender": sender_user_id,
            "content": {"msgtype": "m.text", "body": body}})
        .to_string();
        let meta = ToDeviceMeta::Event {
            event_type: "m.room.message".to_owned(),
            sender: sender_user_id.to_owned(),
            text: Some(body),
            valid_lines: valid.iter().map(|line| line.trim().to_owned()).collect(),
        };
        let index = index.min(self.to_device.len());
        self.to_device.insert(index, (raw, meta));
    }
}

fn tampered_line(line: &str, tamper: &Tamper) -> String {
    /// The value of `field` in the first object holding it (depth first).
    fn find<'v>(value: &'v mut Value, field: &str) -> Option<&'v mut Value> {
        let object = value.as_object_mut()?;
        if object.contains_key(field) {
            return object.get_mut(field);
        }
        object.values_mut().find_map(|inner| find(inner, field))
    }
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(line) else { return line.to_owned() };
    let mut value = Value::Object(std::mem::take(&mut object));
    let before = value.clone();
    const RAW_MARK: &str = "\u{1}raw\u{1}";
    let mut raw_replacement = None;
    match tamper {
        Tamper::Field(field, replacement) => {
            if let Some(slot) = find(&mut value, field) {
                *slot = replacement.clone();
            }
        }
        Tamper::RawField(field, raw) => {
            if let Some(slot) = find(&mut value, field) {
                *slot = Value::String(RAW_MARK.to_owned());
                raw_replacement = Some(raw.clone());
            }
        }
        Tamper::Removed(field) => {
            // A `null` removed reads the same (an absent penalty is none): left alone, which
            // makes the signature the thing changed below.
            fn remove(value: &mut Value, field: &str) {
                if let Some(object) = value.as_object_mut() {
                    match object.get(field) {
                        Some(Value::Null) => {}
                        Some(_) => {
                            object.remove(field);
                        }
                        None => object.values_mut().for_each(|inner| remove(inner, field)),
                    }
                }
            }
            remove(&mut value, field);
        }
        Tamper::SignatureBit(bit) => {
            if let Some(Value::String(signature)) = find(&mut value, "signature") {
                let mut digits: Vec<u8> = signature.bytes().collect();
                // Flip one bit of one hex digit after `0x`, keeping it a hex digit.
                let position = 2 + bit % (digits.len().saturating_sub(2)).max(1);
                if let Some(digit) = digits.get_mut(position) {
                    let nibble = char::from(*digit).to_digit(16).unwrap_or(0) ^ (1 << (bit % 4));
                    *digit = char::from_digit(nibble, 16).map_or(b'0', |c| c as u8);
                }
                *signature = String::from_utf8(digits).unwrap_or_default();
            }
        }
        Tamper::SwapType => {
            if let Some(Value::String(kind)) = find(&mut value, "type") {
                *kind = if kind == "PFSFeeUpdate" { "PFSCapacityUpdate" } else { "PFSFeeUpdate" }.to_owned();
            }
        }
        Tamper::ValueBit(field, bit) => {
            if let Some(Value::String(number)) = find(&mut value, field)
                && let Ok(parsed) = number.parse::<U256>()
            {
                let flipped = parsed ^ (U256::from(1) << (bit % 60));
                *number = flipped.to_string();
            }
        }
    }
    if value == before && raw_replacement.is_none() {
        // The field is not in this kind of update: change the signature instead.
        return tampered_line(line, &Tamper::SignatureBit(0));
    }
    let text = value.to_string();
    match raw_replacement {
        Some(raw) => text.replace(&json!(RAW_MARK).to_string(), &raw),
        None => text,
    }
}

fn reencoded_line(line: &str, reencoding: &Reencoding) -> String {
    match reencoding {
        Reencoding::Padded => format!(" \t{line}\t  "),
        Reencoding::UpperCaseAddresses | Reencoding::NumberNonces | Reencoding::ExtraKeys => {
            let Ok(mut value) = serde_json::from_str::<Value>(line) else { return line.to_owned() };
            fn walk(value: &mut Value, reencoding: &Reencoding) {
                match value {
                    Value::Object(object) => {
                        for (key, inner) in object.iter_mut() {
                            match (reencoding, &*inner) {
                                (Reencoding::UpperCaseAddresses, Value::String(text))
                                    if text.len() == 42 && text.starts_with("0x") =>
                                {
                                    *inner = Value::String(format!("0x{}", text[2..].to_uppercase()));
                                }
                                (Reencoding::NumberNonces, Value::String(text))
                                    if key.ends_with("_nonce") =>
                                {
                                    if let Ok(number) = text.parse::<u64>() {
                                        *inner = json!(number);
                                    }
                                }
                                _ => walk(inner, reencoding),
                            }
                        }
                        if matches!(reencoding, Reencoding::ExtraKeys) && object.contains_key("type") {
                            object.insert("zz_unknown".to_owned(), json!({"nested": [1, "two", null]}));
                            object.insert("another".to_owned(), json!("value"));
                        }
                    }
                    Value::Array(items) => items.iter_mut().for_each(|item| walk(item, reencoding)),
                    _ => {}
                }
            }
            walk(&mut value, reencoding);
            value.to_string()
        }
    }
}

impl AnswerSpec {
    /// Writes the answer as raw JSON with the expected outcome of each event; `world` says who is
    /// who.
    pub fn render(&self, world: &World) -> RenderedAnswer {
        RenderedAnswer {
            next_batch: self.next_batch.clone(),
            presence: self.presence.iter().map(|spec| render_presence(world, spec)).collect(),
            to_device: self.to_device.iter().map(|spec| render_to_device(world, spec)).collect(),
            extras: self.extras.clone(),
        }
    }
}

fn render_presence(world: &World, spec: &PresenceSpec) -> (RawJson, PresenceMeta) {
    let PresenceSpec::Event { sender, event_type, presence, displayname, avatar_url } = spec else {
        let PresenceSpec::Junk(raw) = spec else { unreachable!("two variants") };
        return (raw.clone(), PresenceMeta::Nothing);
    };
    let user_id = world.user_id(sender);
    let verified = world.is_verified(sender);
    // A verified user's content carries only its own displayname (only its homeserver could
    // write another); the failing user's carries none (its profile is what fails).
    let displayname = match (sender, displayname) {
        (Sender::Failing(_), _) | (_, NameSpec::Absent) => None,
        (_, NameSpec::Own) => world.profile_displayname(sender),
        _ if verified => world.profile_displayname(sender),
        (_, NameSpec::Replayed(index)) => {
            Some(matrix_identity::displayname(world.honest_key(*index), &world.honest_user_id(*index)))
        }
        (_, NameSpec::Garbage(text)) => Some(text.clone()),
    };
    let avatar_url =
        if verified { avatar_url.as_ref().map(|_| CAPABILITIES.to_owned()) } else { avatar_url.clone() };
    let mut content = json!({"presence": presence});
    if let Some(displayname) = &displayname {
        content["displayname"] = json!(displayname);
    }
    if let Some(avatar_url) = &avatar_url {
        content["avatar_url"] = json!(avatar_url);
    }
    if world.steady_honest && matches!(sender, Sender::Honest(_)) {
        content["presence"] = json!("online");
    }
    let presence = content["presence"].as_str().unwrap_or_default().to_owned();
    let event_type = event_type.clone().unwrap_or_else(|| "m.presence".to_owned());
    let raw = json!({"type": event_type, "sender": user_id, "content": content}).to_string();
    let state = match presence.as_str() {
        "online" => Some(UserPresence::Online),
        "unavailable" => Some(UserPresence::Unavailable),
        "offline" => Some(UserPresence::Offline),
        _ => None,
    };
    let relevant = event_type == "m.presence"
        && user_id != world.own
        && matrix_identity::parse_user_id(&user_id).is_ok();
    let meta = match (relevant, state) {
        (true, Some(state)) if verified => {
            PresenceMeta::Changed(user_id.clone(), world.signing_key(sender).address(), state)
        }
        (true, Some(_)) if matches!(sender, Sender::Failing(_)) => PresenceMeta::ServerError(user_id),
        _ => PresenceMeta::Nothing,
    };
    (raw, meta)
}

fn render_line(world: &World, sender: &Sender, line: &LineSpec) -> (String, bool) {
    let key = world.signing_key(sender);
    let valid_sender = world.is_verified(sender);
    // Steady honest nodes never aim at the targets; everyone else may.
    let target = |fields: &UpdateFields| -> Option<&Target> {
        let aimed = !(world.steady_honest && matches!(sender, Sender::Honest(_)));
        fields
            .target
            .filter(|_| aimed && !world.targets.is_empty())
            .map(|index| &world.targets[index % world.targets.len()])
    };
    match line {
        LineSpec::Update { fields, signer, updating, encoding } => {
            let signer = match signer {
                Signer::Sender => key,
                Signer::Honest(index) => world.honest_key(*index),
                Signer::Stranger => &world.second,
            };
            let updating = match updating {
                Updating::Signer => signer.address(),
                Updating::Sender => key.address(),
                Updating::Honest(index) => world.honest_key(*index).address(),
            };
            let json = fields.signed(signer, updating, target(fields)).to_json();
            let text = match encoding {
                Some(encoding) => reencoded_line(&json, encoding),
                None => json,
            };
            let valid = valid_sender && signer.address() == updating && updating == key.address();
            (text, valid)
        }
        LineSpec::Tampered(fields, tamper) => {
            (tampered_line(&fields.signed(key, key.address(), target(fields)).to_json(), tamper), false)
        }
        LineSpec::Array(updates) => {
            let items: Vec<String> = updates
                .iter()
                .map(|fields| fields.signed(key, key.address(), target(fields)).to_json())
                .collect();
            (format!("[{}]", items.join(",")), false)
        }
        LineSpec::NotUpdate(text) => (text.clone(), false),
    }
}

fn render_body(world: &World, sender: &Sender, body: &BodySpec) -> (String, HashSet<String>) {
    match body {
        BodySpec::Repeated(character, count) => {
            (std::iter::repeat_n(*character, *count).collect(), HashSet::new())
        }
        BodySpec::Lines(lines, separator) => {
            let rendered: Vec<(String, bool)> =
                lines.iter().map(|line| render_line(world, sender, line)).collect();
            let separator = match separator {
                Separator::Newline => "\n",
                Separator::CrLf => "\r\n",
                Separator::Blank => "\n \n\n",
            };
            let body = rendered.iter().map(|(text, _)| text.as_str()).collect::<Vec<_>>().join(separator);
            let valid = rendered
                .into_iter()
                .filter(|(_, valid)| *valid)
                .map(|(text, _)| text.trim().to_owned())
                .collect();
            (body, valid)
        }
    }
}

fn render_to_device(world: &World, spec: &ToDeviceSpec) -> (RawJson, ToDeviceMeta) {
    let ToDeviceSpec::Event { sender, event_type, content } = spec else {
        let ToDeviceSpec::Junk(raw) = spec else { unreachable!("two variants") };
        return (raw.clone(), ToDeviceMeta::Skipped);
    };
    let user_id = world.user_id(sender);
    let event_type = event_type.clone().unwrap_or_else(|| "m.room.message".to_owned());
    let (content_raw, text, valid_lines) = match content {
        ContentSpec::Text { msgtype, body, deep_extra } => {
            let (body, valid) = render_body(world, sender, body);
            let extra = deep_extra.map_or(String::new(), |depth| {
                format!(r#","deep":{}{}"#, "[".repeat(depth), "]".repeat(depth))
            });
            let raw = format!(r#"{{"msgtype":{msgtype},"body":{}{extra}}}"#, json!(body));
            let is_text = serde_json::from_str::<String>(msgtype).is_ok_and(|msgtype| msgtype == "m.text");
            (raw, is_text.then_some(body), valid)
        }
        ContentSpec::BodyNotString(raw) => {
            (format!(r#"{{"msgtype":"m.text","body":{raw}}}"#), None, HashSet::new())
        }
        ContentSpec::BodyArray(updates) => {
            let key = world.signing_key(sender);
            let items: Vec<String> =
                updates.iter().map(|fields| fields.signed(key, key.address(), None).to_json()).collect();
            (format!(r#"{{"msgtype":"m.text","body":{}}}"#, json!(items)), None, HashSet::new())
        }
        ContentSpec::LoneSurrogateBody => {
            (r#"{"msgtype":"m.text","body":"a\ud800b"}"#.to_owned(), None, HashSet::new())
        }
        ContentSpec::NotObject(raw) => (raw.clone(), None, HashSet::new()),
        ContentSpec::Absent => (String::new(), None, HashSet::new()),
    };
    let content_part =
        if content_raw.is_empty() { String::new() } else { format!(r#","content":{content_raw}"#) };
    let raw = format!(r#"{{"type":{},"sender":{}{content_part}}}"#, json!(event_type), json!(user_id));
    (raw, ToDeviceMeta::Event { event_type, sender: user_id, text, valid_lines })
}

// ------------------------------------------------------------------------------------------------
// Checking
// ------------------------------------------------------------------------------------------------

/// The limits a check applies, as the client was configured.
#[derive(Debug, Clone)]
pub struct Limits {
    /// [`crate::MatrixConfig::max_body_chars`].
    pub max_body_chars: usize,
    /// [`crate::MatrixConfig::rate_limit_bytes`].
    pub rate_limit_bytes: u64,
}

/// Byte budget used per sender address in the current window, as the check simulates it.
pub type BudgetUsed = HashMap<Address, u64>;

/// The name of a drop reason, as the expectation names it.
fn drop_name(reason: &DropReason) -> &'static str {
    match reason {
        DropReason::NotTextMessage => "not_text",
        DropReason::UnverifiedSender(_) => "unverified_sender",
        DropReason::ProfileUnavailable => "profile_unavailable",
        DropReason::TooLarge { .. } => "too_large",
        DropReason::RateLimited => "rate_limited",
    }
}

/// Checks `batch`, the client's reading of `answer`, against the rules (see the module docs);
/// `used` is the byte budget spent so far in the window and is updated.
///
/// # Errors
/// A description of the first difference.
pub fn check_batch(
    world: &World,
    limits: &Limits,
    answer: &RenderedAnswer,
    batch: &SyncBatch,
    used: &mut BudgetUsed,
) -> Result<(), String> {
    if batch.sync_token != answer.next_batch {
        return Err(format!("token {:?} for next_batch {:?}", batch.sync_token, answer.next_batch));
    }
    let mut presence = Vec::new();
    let mut to_device = Vec::new();
    for event in &batch.events {
        match event {
            MatrixEvent::PresenceChanged(changed) => presence.push(changed),
            MatrixEvent::ToDeviceUpdates(_) | MatrixEvent::ToDeviceDropped(_) => to_device.push(event),
            MatrixEvent::HomeserverUnreachable { server_name } => {
                return Err(format!("a /sync answer made {server_name:?} unreachable"));
            }
        }
    }
    check_presence(answer, &presence)?;
    let readable: Vec<_> =
        answer.to_device.iter().filter(|(_, meta)| !matches!(meta, ToDeviceMeta::Skipped)).collect();
    if readable.len() != to_device.len() {
        return Err(format!("{} readable to-device events gave {} outputs", readable.len(), to_device.len()));
    }
    for (index, ((raw, meta), output)) in readable.into_iter().zip(to_device).enumerate() {
        check_to_device(world, limits, meta, output, used)
            .map_err(|problem| format!("to-device event {index} ({}): {problem}", abbreviate(raw)))?;
    }
    Ok(())
}

/// Checks what must hold of any batch, whatever answer it was read from: presence only of
/// verified users (or `server_error` without a displayname), updates only from verified senders
/// and signed by them.
///
/// # Errors
/// A description of the first violation.
pub fn check_safety(world: &World, batch: &SyncBatch) -> Result<(), String> {
    for event in &batch.events {
        match event {
            MatrixEvent::PresenceChanged(changed) if changed.presence == UserPresence::ServerError => {
                if changed.displayname.is_some() {
                    return Err(format!("server_error with a displayname: {changed:?}"));
                }
            }
            MatrixEvent::PresenceChanged(changed) => {
                let key = world.identity(&changed.user_id);
                let displayname = changed.displayname.as_deref().unwrap_or_default();
                let proven = matrix_identity::validate_displayname(&changed.user_id, displayname);
                if key.map(PrivateKey::address) != Some(changed.address) || proven != Ok(changed.address) {
                    return Err(format!("presence of an unverified user: {changed:?}"));
                }
            }
            MatrixEvent::ToDeviceUpdates(updates) => {
                let key = world.identity(&updates.sender_user_id);
                if key.map(PrivateKey::address) != Some(updates.sender_address) {
                    return Err(format!("updates from an unverified sender: {}", describe(event)));
                }
                if let Some(update) = updates
                    .results
                    .iter()
                    .flatten()
                    .find(|update| update.updating_participant() != updates.sender_address)
                {
                    return Err(format!(
                        "an update of {} accepted from {}",
                        update.updating_participant(),
                        updates.sender_address
                    ));
                }
            }
            MatrixEvent::ToDeviceDropped(_) => {}
            MatrixEvent::HomeserverUnreachable { server_name } => {
                return Err(format!("a /sync answer made {server_name:?} unreachable"));
            }
        }
    }
    Ok(())
}

fn abbreviate(text: &str) -> String {
    if text.len() <= 300 {
        text.to_owned()
    } else {
        format!("{}… ({} bytes)", &text[..text.floor_char_boundary(300)], text.len())
    }
}

fn check_presence(
    answer: &RenderedAnswer,
    outputs: &[&crate::events::PresenceChanged],
) -> Result<(), String> {
    let expected: Vec<&PresenceMeta> = answer
        .presence
        .iter()
        .map(|(_, meta)| meta)
        .filter(|meta| !matches!(meta, PresenceMeta::Nothing))
        .collect();
    if expected.len() != outputs.len() {
        return Err(format!(
            "expected {} presence changes, got {}: {outputs:?}",
            expected.len(),
            outputs.len()
        ));
    }
    for (meta, changed) in expected.into_iter().zip(outputs) {
        match meta {
            PresenceMeta::Changed(user_id, address, state) => {
                let displayname = changed.displayname.as_deref().unwrap_or_default();
                let proven = matrix_identity::validate_displayname(&changed.user_id, displayname);
                if (&changed.user_id, changed.address, changed.presence) != (user_id, *address, *state)
                    || proven != Ok(*address)
                {
                    return Err(format!("expected {user_id} {address} {state}, got {changed:?}"));
                }
            }
            PresenceMeta::ServerError(user_id) => {
                if &changed.user_id != user_id
                    || changed.presence != UserPresence::ServerError
                    || changed.displayname.is_some()
                {
                    return Err(format!("expected server_error for {user_id}, got {changed:?}"));
                }
            }
            PresenceMeta::Nothing => unreachable!("filtered out"),
        }
    }
    Ok(())
}

fn check_to_device(
    world: &World,
    limits: &Limits,
    meta: &ToDeviceMeta,
    output: &MatrixEvent,
    used: &mut BudgetUsed,
) -> Result<(), String> {
    let ToDeviceMeta::Event { event_type, sender, text, valid_lines } = meta else {
        return Err("a skipped event was read".to_owned());
    };
    let expect_drop = |expected: &str| -> Result<(), String> {
        match output {
            MatrixEvent::ToDeviceDropped(dropped)
                if drop_name(&dropped.reason) == expected && &dropped.sender_user_id == sender =>
            {
                Ok(())
            }
            other => Err(format!("expected a drop ({expected}), got {}", describe(other))),
        }
    };
    let Some(body) = text.as_ref().filter(|_| event_type == "m.room.message") else {
        return expect_drop("not_text");
    };
    let Some(key) = world.identity(sender) else {
        let failing = world.is_failing(sender);
        return expect_drop(if failing { "profile_unavailable" } else { "unverified_sender" });
    };
    if body.chars().count() > limits.max_body_chars {
        return expect_drop("too_large");
    }
    let spent = used.entry(key.address()).or_insert(0);
    match spent.checked_add(body.len() as u64) {
        Some(total) if total <= limits.rate_limit_bytes => *spent = total,
        _ => return expect_drop("rate_limited"),
    }
    let MatrixEvent::ToDeviceUpdates(updates) = output else {
        return Err(format!("expected updates, got {}", describe(output)));
    };
    if &updates.sender_user_id != sender || updates.sender_address != key.address() {
        return Err(format!("updates attributed to {} {}", updates.sender_user_id, updates.sender_address));
    }
    let lines: Vec<&str> = body.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    if lines.len() != updates.results.len() {
        return Err(format!("{} lines gave {} results", lines.len(), updates.results.len()));
    }
    for (line, result) in lines.iter().zip(&updates.results) {
        let valid = valid_lines.contains(*line);
        match result {
            Ok(update) if valid && update.updating_participant() == key.address() => {}
            Err(rejection) if !valid => {
                if let ToDeviceRejection::SignerNotSender { signer, sender } = rejection
                    && (signer == sender || *sender != key.address())
                {
                    return Err(format!("inconsistent rejection {rejection:?}"));
                }
            }
            Ok(update) => {
                return Err(format!(
                    "line accepted as an update of {}: {}",
                    update.updating_participant(),
                    abbreviate(line)
                ));
            }
            Err(rejection) => return Err(format!("valid line refused ({rejection}): {}", abbreviate(line))),
        }
    }
    Ok(())
}

fn describe(event: &MatrixEvent) -> String {
    match event {
        MatrixEvent::ToDeviceDropped(dropped) => {
            format!("drop {} from {}", dropped.reason, abbreviate(&dropped.sender_user_id))
        }
        MatrixEvent::ToDeviceUpdates(updates) => {
            format!("{} results from {}", updates.results.len(), updates.sender_user_id)
        }
        other => format!("{other:?}"),
    }
}

// ------------------------------------------------------------------------------------------------
// Strategies
// ------------------------------------------------------------------------------------------------

/// 2^256 in decimal.
pub const TWO_TO_256: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639936";

fn u256() -> BoxedStrategy<U256> {
    prop_oneof![
        (1u64 << 20..u64::MAX).prop_map(U256::from),
        any::<[u8; 32]>().prop_map(|bytes| U256::from_be_bytes(bytes) | (U256::from(1) << 21)),
        Just(U256::MAX),
    ]
    .boxed()
}

/// The fields of an update.
pub fn update_fields() -> BoxedStrategy<UpdateFields> {
    (
        any::<bool>(),
        prop_oneof![Just(1u64), Just(1337), 1u64 << 20..u64::MAX],
        any::<[u8; 20]>(),
        u256(),
        any::<[u8; 20]>(),
        (1u64 << 20..u64::MAX, 1u64 << 20..u64::MAX),
        (u256(), u256()),
        u256(),
        (
            any::<bool>(),
            u256(),
            u256(),
            proptest::option::of(proptest::collection::vec((0u64..1000, 0u64..1000), 1..4)),
        )
            .prop_map(|(cap_fees, flat, proportional, steps)| FeeValues(cap_fees, flat, proportional, steps)),
        946_684_800_000_000i64..4_102_444_800_000_000,
        proptest::option::weighted(0.5, any::<usize>()),
    )
        .prop_map(
            |(
                fee,
                chain_id,
                token_network,
                channel_id,
                other,
                nonces,
                capacities,
                reveal_timeout,
                fee_values,
                timestamp_micros,
                target,
            )| {
                UpdateFields {
                    fee,
                    chain_id,
                    token_network,
                    channel_id,
                    other,
                    nonces,
                    capacities,
                    reveal_timeout,
                    fee_values,
                    timestamp_micros,
                    target,
                }
            },
        )
        .boxed()
}

/// Fields whose value is a number or a decimal string, in one message type or the other.
const NUMERIC_FIELDS: &[&str] = &[
    "chain_identifier",
    "channel_identifier",
    "updating_nonce",
    "other_nonce",
    "updating_capacity",
    "other_capacity",
    "reveal_timeout",
    "flat",
    "proportional",
];
const ADDRESS_FIELDS: &[&str] = &["token_network_address", "updating_participant", "other_participant"];
const ALL_FIELDS: &[&str] = &[
    "type",
    "chain_identifier",
    "token_network_address",
    "channel_identifier",
    "updating_participant",
    "other_participant",
    "updating_nonce",
    "other_nonce",
    "updating_capacity",
    "other_capacity",
    "reveal_timeout",
    "fee_schedule",
    "cap_fees",
    "flat",
    "proportional",
    "imbalance_penalty",
    "timestamp",
    "signature",
];

fn tamper() -> BoxedStrategy<Tamper> {
    let bad_number = prop_oneof![
        Just(json!("-1")),
        Just(json!(-1)),
        // A JSON float is truncated as Python's int() does (pfs-core's documented reading), so
        // 1.5 would read as a chain id of 1: 0.5 reads as 0, which no generated field holds.
        Just(json!(0.5)),
        Just(json!("1.5")),
        Just(json!(TWO_TO_256)),
        Just(json!("")),
        Just(json!("0x10")),
        Just(json!(" 12")),
        Just(json!("1e3")),
        Just(json!("9".repeat(2000))),
        Just(json!(null)),
        Just(json!([])),
        Just(json!({})),
        Just(json!(true)),
    ];
    let raw_number = prop_oneof![
        Just("1e400".to_owned()),
        Just(TWO_TO_256.to_owned()),
        Just("-0".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-115792089237316195423570985008687907853269984665640564039457584007913129639935".to_owned()),
    ];
    let bad_address = prop_oneof![
        Just(json!("0x1234")),
        Just(json!(format!("0x{}", "ab".repeat(21)))),
        Just(json!("ab".repeat(20))),
        Just(json!(format!("0x{}", "zz".repeat(20)))),
        Just(json!(format!("0x{}", "00".repeat(19)))),
        Just(json!(12345)),
        Just(json!(null)),
        "0x[0-9a-f]{40}".prop_map(|other| json!(other)),
    ];
    prop_oneof![
        (select(NUMERIC_FIELDS), bad_number).prop_map(|(field, value)| Tamper::Field(field, value)),
        (select(NUMERIC_FIELDS), raw_number).prop_map(|(field, raw)| Tamper::RawField(field, raw)),
        (select(ADDRESS_FIELDS), bad_address).prop_map(|(field, value)| Tamper::Field(field, value)),
        select(ALL_FIELDS).prop_map(Tamper::Removed),
        any::<usize>().prop_map(Tamper::SignatureBit),
        (select(NUMERIC_FIELDS), any::<usize>()).prop_map(|(field, bit)| Tamper::ValueBit(field, bit)),
        prop_oneof![
            Just(json!("0x")),
            Just(json!(format!("0x{}", "00".repeat(65)))),
            Just(json!(format!("0x{}", "ab".repeat(64)))),
            Just(json!(format!("0x{}", "ab".repeat(66)))),
            Just(json!(7)),
        ]
        .prop_map(|value| Tamper::Field("signature", value)),
        Just(Tamper::SwapType),
        prop_oneof![
            Just(json!("pfscapacityupdate")),
            Just(json!("PFSFeeUpdate ")),
            Just(json!(["PFSCapacityUpdate"])),
            Just(json!(null)),
        ]
        .prop_map(|value| Tamper::Field("type", value)),
        prop_oneof![
            Just(json!("2020-01-01T00:00:00Z")),
            Just(json!("2020-01-01T00:00:00+01:00")),
            Just(json!("yesterday")),
            Just(json!("2020-02-30T00:00:00")),
            Just(json!(1_577_836_800)),
        ]
        .prop_map(|value| Tamper::Field("timestamp", value)),
        prop_oneof![
            Just(json!([["1", "2"], ["1", "3"]])),
            Just(json!([["1"]])),
            Just(json!([["-1", "2"]])),
            Just(json!("none")),
            Just(json!((0..300).map(|index| [index.to_string(), "0".to_owned()]).collect::<Vec<_>>())),
        ]
        .prop_map(|value| Tamper::Field("imbalance_penalty", value)),
    ]
    .boxed()
}

/// Lines that are not updates: other Raiden messages, unknown or missing types, JSON of other
/// shapes, an array of messages on one line, garbage, a long line, deep nesting.
fn not_update() -> BoxedStrategy<String> {
    prop_oneof![
        select(pfs_core::messages::IGNORED_TYPES).prop_map(|kind| json!({"type": kind, "x": 1}).to_string()),
        "[A-Za-z]{0,20}".prop_map(|kind| json!({"type": kind}).to_string()),
        Just(r#"{"kind": "PFSCapacityUpdate"}"#.to_owned()),
        Just(r#"{"type": null}"#.to_owned()),
        Just("[1, 2, 3]".to_owned()),
        Just("\"PFSCapacityUpdate\"".to_owned()),
        Just("42".to_owned()),
        Just("null".to_owned()),
        "[^\r\n]{0,200}",
        any::<String>().prop_map(|text| text.replace(['\r', '\n'], " ")),
        (1usize..5000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..3000).prop_map(|depth| format!("{}1{}", r#"{"type":"#.repeat(depth), "}".repeat(depth))),
        (100usize..40_000).prop_map(|length| format!(
            r#"{{"type": "PFSCapacityUpdate", "pad": "{}"}}"#,
            "x".repeat(length)
        )),
        Just(r#"{"type": "PFSCapacityUpdate", "signature": "\ud800"}"#.to_owned()),
    ]
    .boxed()
}

/// Whose key signs: mostly the sender's own.
fn signer() -> BoxedStrategy<Signer> {
    prop_oneof![
        4 => Just(Signer::Sender),
        2 => (0usize..8).prop_map(Signer::Honest),
        1 => Just(Signer::Stranger),
    ]
    .boxed()
}

/// Who is named as updating participant: mostly the signer.
fn updating() -> BoxedStrategy<Updating> {
    prop_oneof![
        4 => Just(Updating::Signer),
        1 => Just(Updating::Sender),
        1 => (0usize..8).prop_map(Updating::Honest),
    ]
    .boxed()
}

/// How a valid update is written: mostly as Python writes it.
fn encoding() -> BoxedStrategy<Option<Reencoding>> {
    proptest::option::weighted(
        0.3,
        prop_oneof![
            Just(Reencoding::UpperCaseAddresses),
            Just(Reencoding::NumberNonces),
            Just(Reencoding::ExtraKeys),
            Just(Reencoding::Padded),
        ],
    )
    .boxed()
}

/// One line of a body.
pub fn line() -> BoxedStrategy<LineSpec> {
    prop_oneof![
        9 => (update_fields(), signer(), updating(), encoding())
            .prop_map(|(fields, signer, updating, encoding)| LineSpec::Update { fields, signer, updating, encoding }),
        6 => (update_fields(), tamper()).prop_map(|(fields, tamper)| LineSpec::Tampered(fields, tamper)),
        1 => proptest::collection::vec(update_fields(), 1..4).prop_map(LineSpec::Array),
        4 => not_update().prop_map(LineSpec::NotUpdate),
    ]
    .boxed()
}

/// A body: a few lines (sometimes one repeated), or a character repeated around the size limit.
pub fn body(max_lines: usize) -> BoxedStrategy<BodySpec> {
    let separator = prop_oneof![Just(Separator::Newline), Just(Separator::CrLf), Just(Separator::Blank)];
    prop_oneof![
        8 => (proptest::collection::vec(line(), 0..=max_lines), separator.clone())
            .prop_map(|(lines, separator)| BodySpec::Lines(lines, separator)),
        1 => (line(), 2usize..20, separator).prop_map(|(line, copies, separator)| {
            BodySpec::Lines(vec![line; copies], separator)
        }),
        1 => (prop_oneof![Just('x'), Just('é'), Just('\n'), Just('€')], prop_oneof![Just(50_000usize), Just(50_001), 49_990usize..50_010, 1usize..200_000])
            .prop_map(|(character, count)| BodySpec::Repeated(character, count)),
    ]
    .boxed()
}

/// Any JSON value as raw text: scalars, containers, deep nesting, lone surrogates, long strings.
pub fn raw_json() -> BoxedStrategy<RawJson> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("-12.5e3".to_owned()),
        Just("1e400".to_owned()),
        Just(TWO_TO_256.to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just(r#""\ud800""#.to_owned()),
        Just(r#"{"\udc00": 1}"#.to_owned()),
        any::<String>().prop_map(|text| json!(text).to_string()),
        (1usize..20_000).prop_map(|length| json!("y".repeat(length)).to_string()),
        (100usize..3000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (100usize..3000).prop_map(|depth| format!("{}0{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))),
        proptest::collection::vec(any::<i64>(), 0..100).prop_map(|items| json!(items).to_string()),
    ]
    .boxed()
}

/// Who sends: mostly the actors, sometimes any string.
pub fn sender() -> BoxedStrategy<Sender> {
    prop_oneof![
        4 => (0usize..8).prop_map(Sender::Honest),
        3 => Just(Sender::Attacker),
        2 => (0usize..8).prop_map(Sender::Impostor),
        2 => (0usize..8).prop_map(Sender::Replayer),
        1 => Just(Sender::Garbage),
        1 => Just(Sender::Nobody),
        1 => (0usize..8).prop_map(Sender::Failing),
        1 => Just(Sender::Own),
        3 => prop_oneof![
            "@0x[0-9a-f]{40}:[a-z.]{1,20}",
            "@0x[0-9A-F]{40}:pfs\\.server",
            "@0x[0-9a-f]{39}:pfs\\.server",
            "@0x[0-9a-f]{40}\\.[0-9a-f]{8}",
            "@0x[0-9a-f]{40}:",
            "@[a-z]{1,10}:pfs\\.server",
            "[^@].{0,40}",
            Just(String::new()),
            Just(format!("@0x{}:pfs.server\n", "ab".repeat(20))),
            (1usize..100_000).prop_map(|length| format!("@0x{}:{}", "cd".repeat(20), "s".repeat(length))),
            any::<String>(),
        ].prop_map(Sender::Arbitrary),
    ]
    .boxed()
}

fn event_type(default_weight: u32) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        default_weight => Just(None),
        1 => prop_oneof![
            Just("m.room.encrypted".to_owned()),
            Just("m.presence".to_owned()),
            Just("m.room.message".to_owned()),
            Just("M.ROOM.MESSAGE".to_owned()),
            ".{0,30}",
        ].prop_map(Some),
    ]
    .boxed()
}

/// A to-device event (or junk in its place) with up to `max_lines` body lines.
pub fn to_device(max_lines: usize) -> BoxedStrategy<ToDeviceSpec> {
    let msgtype = prop_oneof![
        16 => Just(r#""m.text""#.to_owned()),
        1 => Just(r#""m.notice""#.to_owned()),
        1 => raw_json(),
    ];
    let content = prop_oneof![
        12 => (msgtype, body(max_lines), proptest::option::weighted(0.1, 100usize..3000))
            .prop_map(|(msgtype, body, deep_extra)| ContentSpec::Text { msgtype, body, deep_extra }),
        1 => raw_json()
            .prop_filter("not a string", |raw| serde_json::from_str::<String>(raw).is_err())
            .prop_map(ContentSpec::BodyNotString),
        1 => proptest::collection::vec(update_fields(), 1..4).prop_map(ContentSpec::BodyArray),
        1 => Just(ContentSpec::LoneSurrogateBody),
        1 => raw_json().prop_filter("objects are contents", |raw| !raw.starts_with('{')).prop_map(ContentSpec::NotObject),
        1 => Just(ContentSpec::Absent),
    ];
    let junk = prop_oneof![
        raw_json(),
        Just(r#"{"type":"m.room.message","content":{"msgtype":"m.text","body":"x"}}"#.to_owned()),
        Just(r#"{"type":5,"sender":"@a:b","content":{}}"#.to_owned()),
        raw_json()
            .prop_map(|sender| format!(r#"{{"type":"m.room.message","sender":{sender},"content":{{}}}}"#)),
        Just(r#"{"type":"m.room.message","sender":"@0xab\udc00:x","content":{}}"#.to_owned()),
    ]
    .prop_filter("junk has no string sender", |raw| !is_plain_event(raw));
    prop_oneof![
        12 => (sender(), event_type(12), content)
            .prop_map(|(sender, event_type, content)| ToDeviceSpec::Event { sender, event_type, content }),
        1 => junk.prop_map(ToDeviceSpec::Junk),
    ]
    .boxed()
}

/// Whether `raw` is an object with string `type` and `sender` (an event the client reads).
fn is_plain_event(raw: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Plain {
        #[serde(rename = "type")]
        _event_type: String,
        #[serde(rename = "sender")]
        _sender: String,
    }
    serde_json::from_str::<Plain>(raw).is_ok()
}

/// A presence event (or junk in its place).
pub fn presence() -> BoxedStrategy<PresenceSpec> {
    let state = prop_oneof![
        6 => select(&["online", "unavailable", "offline"][..]).prop_map(str::to_owned),
        1 => prop_oneof![Just("busy".to_owned()), Just("ONLINE".to_owned()), Just("server_error".to_owned()), ".{0,20}"],
    ];
    let name = prop_oneof![
        4 => Just(NameSpec::Absent),
        3 => Just(NameSpec::Own),
        1 => (0usize..8).prop_map(NameSpec::Replayed),
        1 => prop_oneof![
            "0x[0-9a-f]{130}",
            "0x[0-9A-F]{130}",
            ".{0,200}",
            (1usize..100_000).prop_map(|length| "n".repeat(length)),
        ].prop_map(NameSpec::Garbage),
    ];
    let avatar = proptest::option::of(prop_oneof![
        Just(CAPABILITIES.to_owned()),
        ".{0,100}",
        (1usize..100_000).prop_map(|length| format!("mxc://raiden.network/cap?{}", "a".repeat(length))),
    ]);
    let junk = prop_oneof![
        raw_json(),
        Just(r#"{"type":"m.presence","sender":"@a:b"}"#.to_owned()),
        Just(r#"{"type":"m.presence","sender":"@a:b","content":{"presence":5}}"#.to_owned()),
        Just(
            r#"{"type":"m.presence","sender":"@a:b","content":{"presence":"online","displayname":7}}"#
                .to_owned()
        ),
        Just(
            r#"{"type":"m.presence","sender":"@a:b","content":{"presence":"online","avatar_url":[]}}"#
                .to_owned()
        ),
        Just(r#"{"type":"m.presence","sender":"@a:b","content":"online"}"#.to_owned()),
        Just(r#"{"type":"m.presence","sender":"@a:b","content":{"presence":"\ud800"}}"#.to_owned()),
    ];
    prop_oneof![
        10 => (sender(), event_type(10), state, name, avatar).prop_map(
            |(sender, event_type, presence, displayname, avatar_url)| PresenceSpec::Event {
                sender,
                event_type,
                presence,
                displayname,
                avatar_url,
            }
        ),
        1 => junk.prop_map(PresenceSpec::Junk),
    ]
    .boxed()
}

/// Top-level keys the client does not read, with hostile values.
pub fn extras() -> BoxedStrategy<Vec<(String, RawJson)>> {
    proptest::collection::vec(
        (
            prop_oneof![
                Just("rooms".to_owned()),
                Just("account_data".to_owned()),
                Just("device_lists".to_owned()),
                Just("device_one_time_keys_count".to_owned()),
                "[a-z_]{1,12}",
            ],
            raw_json(),
        ),
        0..3,
    )
    .prop_map(|extras| {
        let mut seen = HashSet::new();
        extras.into_iter().filter(|(key, _)| seen.insert(key.clone())).collect()
    })
    .boxed()
}

/// A whole answer with up to `max_events` presence and to-device events each, bodies of up to
/// `max_lines` lines.
pub fn answer(max_events: usize, max_lines: usize) -> BoxedStrategy<AnswerSpec> {
    (
        prop_oneof![Just("s1_2_3".to_owned()), ".{0,40}"],
        proptest::collection::vec(presence(), 0..=max_events),
        proptest::collection::vec(to_device(max_lines), 0..=max_events),
        extras(),
    )
        .prop_map(|(next_batch, presence, to_device, extras)| AnswerSpec {
            next_batch,
            presence,
            to_device,
            extras,
        })
        .boxed()
}
