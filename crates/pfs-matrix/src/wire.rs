//! The JSON bodies of the few Matrix client-server API calls this crate makes (spec v3):
//! login, register, profile, presence, `/sync` (presence and to-device only) and `sendToDevice`.
//!
//! Only the fields the PFS reads are declared; everything else a homeserver sends is ignored, so
//! newer servers with extra fields keep working.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// `POST /login` with `m.login.password` and a user identifier.
#[derive(Debug, Serialize)]
pub(crate) struct LoginRequest<'a> {
    #[serde(rename = "type")]
    pub login_type: &'static str,
    pub identifier: UserIdentifier<'a>,
    pub password: &'a str,
    pub device_id: &'a str,
    pub initial_device_display_name: &'a str,
}

/// `{"type": "m.id.user", "user": ...}`.
#[derive(Debug, Serialize)]
pub(crate) struct UserIdentifier<'a> {
    #[serde(rename = "type")]
    pub identifier_type: &'static str,
    pub user: &'a str,
}

/// `POST /register` with the `m.login.dummy` stage (open registration).
#[derive(Debug, Serialize)]
pub(crate) struct RegisterRequest<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub device_id: &'a str,
    pub initial_device_display_name: &'a str,
    pub auth: DummyAuth,
}

/// The `m.login.dummy` user-interactive auth stage.
#[derive(Debug, Serialize)]
pub(crate) struct DummyAuth {
    #[serde(rename = "type")]
    pub auth_type: &'static str,
}

/// The answer of `/login` and `/register`.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginResponse {
    pub user_id: String,
    pub access_token: String,
    pub device_id: String,
}

/// `GET /profile/{userId}`. Both fields are optional in Matrix.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Profile {
    #[serde(default)]
    pub displayname: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// `PUT /profile/{userId}/displayname`.
#[derive(Debug, Serialize)]
pub(crate) struct DisplaynameBody<'a> {
    pub displayname: &'a str,
}

/// `PUT /profile/{userId}/avatar_url`.
#[derive(Debug, Serialize)]
pub(crate) struct AvatarUrlBody<'a> {
    pub avatar_url: &'a str,
}

/// `PUT /presence/{userId}/status`.
#[derive(Debug, Serialize)]
pub(crate) struct PresenceBody<'a> {
    pub presence: &'a str,
}

/// The standard Matrix error body; `retry_after_ms` comes with `M_LIMIT_EXCEEDED`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub errcode: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
}

/// The part of a `/sync` answer the PFS uses.
#[derive(Debug, Deserialize)]
pub(crate) struct SyncResponse {
    pub next_batch: String,
    #[serde(default)]
    pub presence: EventList<PresenceEvent>,
    #[serde(default)]
    pub to_device: EventList<ToDeviceEvent>,
}

/// `{"events": [...]}`; events that do not have the expected shape are skipped (see
/// [`lenient_events`]).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: serde::de::DeserializeOwned"))]
pub(crate) struct EventList<T> {
    #[serde(default = "Vec::new", deserialize_with = "lenient_events")]
    pub events: Vec<T>,
}

impl<T> Default for EventList<T> {
    fn default() -> Self {
        Self { events: Vec::new() }
    }
}

/// Reads a list of events, dropping those that do not deserialize, so that one malformed event
/// from a remote server cannot stop the sync loop.
///
/// Each event is first taken as raw JSON text, which serde_json skips without a nesting limit
/// and without checking `\u` escapes, and only then read on its own. Reading the list as
/// [`Value`]s instead would let one event nested deeper than serde_json's recursion limit (128),
/// or holding a lone surrogate escape (`"\ud800"`), fail the whole answer: the client would
/// retry the same `/sync` forever, since the homeserver keeps its to-device events until a later
/// `since` acknowledges them (any user can send such an event: Synapse relays a to-device
/// content nested 300 deep).
fn lenient_events<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw: Vec<Box<RawValue>> = Deserialize::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .filter_map(|event| match serde_json::from_str(event.get()) {
            Ok(event) => Some(event),
            Err(error) => {
                tracing::debug!(%error, "malformed /sync event skipped");
                None
            }
        })
        .collect())
}

/// An `m.presence` event.
#[derive(Debug, Deserialize)]
pub(crate) struct PresenceEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub sender: String,
    pub content: PresenceContent,
}

/// The content of an `m.presence` event; `displayname` and `avatar_url` are sent by some servers.
#[derive(Debug, Deserialize)]
pub(crate) struct PresenceContent {
    pub presence: String,
    #[serde(default)]
    pub displayname: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// A to-device event; `content` stays raw JSON text until its type is checked
/// ([`ToDeviceEvent::message_content`]), so that whatever a sender puts in it cannot make the event,
/// let alone the answer, unreadable.
#[derive(Debug, Deserialize)]
pub(crate) struct ToDeviceEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub sender: String,
    #[serde(default)]
    pub content: Option<Box<RawValue>>,
}

/// The content of an `m.room.message`: only the two fields read.
#[derive(Debug, Deserialize)]
pub(crate) struct MessageContent {
    pub msgtype: String,
    pub body: String,
}

impl ToDeviceEvent {
    /// The content's `msgtype` and `body`, if both are strings. Anything else (a missing or
    /// non-string field, a content that is not an object, a body holding a lone surrogate)
    /// gives `None`; other keys are skipped unread, however deep they nest.
    pub fn message_content(&self) -> Option<MessageContent> {
        serde_json::from_str(self.content.as_ref()?.get()).ok()
    }
}

/// `PUT /sendToDevice/{eventType}/{txnId}`: `{"messages": {user: {device: content}}}`.
#[derive(Debug, Serialize)]
pub(crate) struct SendToDeviceBody<'a> {
    pub messages: std::collections::BTreeMap<&'a str, std::collections::BTreeMap<&'a str, Value>>,
}

/// The sync filter: presence (up to `presence_limit` events) and nothing from rooms or account
/// data. To-device events cannot be filtered and always come.
pub(crate) fn sync_filter(presence_limit: u32) -> String {
    serde_json::json!({
        "presence": {"limit": presence_limit},
        "account_data": {"not_types": ["*"]},
        "room": {
            "rooms": [],
            "account_data": {"not_types": ["*"]},
            "ephemeral": {"not_types": ["*"]},
            "state": {"not_types": ["*"]},
            "timeline": {"not_types": ["*"], "limit": 0},
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_response_keeps_well_formed_events_and_skips_malformed_ones() {
        let answer: SyncResponse = serde_json::from_str(
            r#"{"next_batch": "s1", "presence": {"events": [
                {"type": "m.presence", "sender": "@a:x", "content": {"presence": "online"}},
                {"type": "m.presence", "sender": 5},
                {"type": "m.presence", "sender": "@b:x", "content": {"presence": "offline", "displayname": "d"}}
            ]}, "to_device": {"events": [{"type": "m.room.message", "sender": "@c:x", "content": {"body": "b"}}]},
            "rooms": {"join": {}}}"#,
        )
        .unwrap();
        assert_eq!(answer.next_batch, "s1");
        assert_eq!(answer.presence.events.len(), 2);
        assert_eq!(answer.presence.events[1].content.displayname.as_deref(), Some("d"));
        assert_eq!(answer.to_device.events[0].sender, "@c:x");
    }

    /// A `/sync` answer with `bad` as the first to-device and presence event, each followed by a
    /// well-formed one.
    fn answer_around(bad: &str) -> String {
        format!(
            r#"{{"next_batch": "s3",
                "presence": {{"events": [{bad}, {{"type": "m.presence", "sender": "@a:x", "content": {{"presence": "online"}}}}]}},
                "to_device": {{"events": [{bad}, {{"type": "m.room.message", "sender": "@c:x", "content": {{"msgtype": "m.text", "body": "b"}}}}]}}}}"#
        )
    }

    /// Reads `answer_around(bad)` and checks that the well-formed events are there.
    fn read_around(bad: &str) -> SyncResponse {
        let answer: SyncResponse = serde_json::from_str(&answer_around(bad)).expect("the answer is read");
        assert_eq!(answer.next_batch, "s3");
        assert_eq!(answer.presence.events.last().map(|event| event.sender.as_str()), Some("@a:x"));
        let last = answer.to_device.events.last().expect("the well-formed to-device event");
        assert_eq!(last.sender, "@c:x");
        assert_eq!(last.message_content().map(|content| content.body).as_deref(), Some("b"));
        answer
    }

    #[test]
    fn a_to_device_content_nested_deeper_than_serde_json_reads_spoils_only_its_event() {
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        for content in [
            format!(r#"{{"msgtype": "m.text", "body": {deep}}}"#),
            format!(r#"{{"msgtype": "m.text", "body": "x", "extra": {deep}}}"#),
            deep.clone(),
        ] {
            let bad = format!(r#"{{"type": "m.room.message", "sender": "@b:x", "content": {content}}}"#);
            let answer = read_around(&bad);
            assert_eq!(answer.to_device.events.len(), 2, "{content}");
            let text = answer.to_device.events[0].message_content().map(|content| content.body);
            let expected = content.contains("extra").then(|| "x".to_owned());
            assert_eq!(text, expected, "unknown keys are skipped however deep");
        }
    }

    #[test]
    fn a_to_device_body_with_a_lone_surrogate_is_not_text() {
        let bad = r#"{"type": "m.room.message", "sender": "@b:x", "content": {"msgtype": "m.text", "body": "\ud800"}}"#;
        let answer = read_around(bad);
        assert_eq!(answer.to_device.events.len(), 2);
        assert!(answer.to_device.events[0].message_content().is_none());
    }

    #[test]
    fn an_event_whose_sender_is_unreadable_is_skipped_alone() {
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        for sender in [r#""\udc00""#.to_owned(), deep, "5".to_owned()] {
            let bad = format!(
                r#"{{"type": "m.presence", "sender": {sender}, "content": {{"presence": "online"}}}}"#
            );
            let answer = read_around(&bad);
            assert_eq!((answer.presence.events.len(), answer.to_device.events.len()), (1, 1), "{sender}");
        }
    }

    #[test]
    fn sync_response_without_sections_is_empty() {
        let answer: SyncResponse = serde_json::from_str(r#"{"next_batch": "s2"}"#).unwrap();
        assert!(answer.presence.events.is_empty() && answer.to_device.events.is_empty());
    }

    #[test]
    fn filter_excludes_rooms_and_keeps_presence() {
        let filter: Value = serde_json::from_str(&sync_filter(10_000)).unwrap();
        assert_eq!(filter["room"]["rooms"], serde_json::json!([]));
        assert_eq!(filter["presence"]["limit"], 10_000);
    }
}
