//! Rendering an [`AnswerSpec`] as raw JSON text, with what the client must make of each event.

use std::collections::HashSet;

use pfs_core::matrix_identity;
use pfs_core::presence::UserPresence;
use pfs_core::{Address, U256};
use serde_json::{Value, json};

use super::specs::{
    AnswerSpec, BodySpec, ContentSpec, LineSpec, NameSpec, PresenceSpec, RawJson, Reencoding, Separator,
    Signer, Tamper, ToDeviceSpec, UpdateFields, Updating,
};
use super::{CAPABILITIES, Sender, Target, World};

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
