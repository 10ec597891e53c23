//! The JSON bodies of the few Matrix client-server API calls this crate makes (spec v3):
//! login, register, profile, presence, `/sync` (presence and to-device only) and `sendToDevice`.
//!
//! Only the fields the PFS reads are declared; everything else a homeserver sends is ignored, so
//! newer servers with extra fields keep working.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
fn lenient_events<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let values: Vec<Value> = Deserialize::deserialize(deserializer)?;
    Ok(values.into_iter().filter_map(|value| serde_json::from_value(value).ok()).collect())
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

/// A to-device event; `content` stays raw until its type is checked.
#[derive(Debug, Deserialize)]
pub(crate) struct ToDeviceEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub sender: String,
    #[serde(default)]
    pub content: Value,
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
