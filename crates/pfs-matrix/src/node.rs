//! A Raiden node's side of Matrix, for simulated nodes in tests and the devnet: log in (Raiden's
//! signature scheme or a plain password), publish the identity (displayname = signature of the
//! user id, avatar URL = capabilities), set presence, and send messages to the PFS as Raiden
//! does — a to-device `m.room.message` with `msgtype` `m.text` whose body holds one JSON message
//! per line (spec/PROTOCOL.md §2.1).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pfs_core::matrix_identity::{self, Capabilities};
use pfs_core::presence::UserPresence;
use pfs_core::{Address, Message, PrivateKey};
use serde_json::json;

use crate::http::{HomeserverApi, MatrixError};
use crate::login::{self, HomeserverAddress, LoginError, LoginMethod, Session};
use crate::wire::SendToDeviceBody;

/// Timeout of each request a node makes.
const NODE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a node-side call failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Login or registration failed.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// A call to the homeserver failed.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// Matrix has no such presence to set (only online, unavailable and offline).
    #[error("presence {0} cannot be set; use online, unavailable or offline")]
    UnsettablePresence(UserPresence),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// A logged-in Raiden node.
#[derive(Debug)]
pub struct NodeSession {
    api: HomeserverApi,
    key: PrivateKey,
    session: Session,
    next_transaction: AtomicU64,
}

impl NodeSession {
    /// Logs `key`'s account in on `homeserver` as device `device_id` (Raiden nodes use
    /// [`crate::NODE_DEVICE_ID`]), registering it if needed. The identity is not published yet:
    /// call [`NodeSession::publish_identity`].
    ///
    /// # Errors
    /// [`NodeError::Login`] if the homeserver refuses or is unreachable.
    pub async fn log_in(
        homeserver: &HomeserverAddress,
        key: PrivateKey,
        method: &LoginMethod,
        device_id: &str,
    ) -> Result<Self, NodeError> {
        let api = HomeserverApi::new(homeserver.url().clone(), NODE_REQUEST_TIMEOUT)
            .map_err(NodeError::HttpClient)?;
        let session = login::log_in(&api, homeserver, &key, method, device_id).await?;
        // Transaction ids must not repeat for a device across sessions: start from the clock.
        let start = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_micros() as u64);
        Ok(Self { api, key, session, next_transaction: AtomicU64::new(start) })
    }

    /// The node's Matrix user id.
    pub fn user_id(&self) -> &str {
        &self.session.user_id
    }

    /// The node's address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Sets the displayname to the signature of the user id and the avatar URL to
    /// `capabilities`, as a Raiden node does after login.
    ///
    /// # Errors
    /// [`NodeError::Matrix`] if the homeserver refuses or fails.
    pub async fn publish_identity(&self, capabilities: &Capabilities) -> Result<(), NodeError> {
        login::publish_identity(&self.api, &self.session, &self.key, &capabilities.to_avatar_url()).await?;
        Ok(())
    }

    /// Sets any displayname (e.g. a forged one, to test that it is refused).
    ///
    /// # Errors
    /// [`NodeError::Matrix`] if the homeserver refuses or fails.
    pub async fn set_displayname(&self, displayname: &str) -> Result<(), NodeError> {
        Ok(self.api.set_displayname(&self.session.access_token, &self.session.user_id, displayname).await?)
    }

    /// Sets the avatar URL (the capabilities string).
    ///
    /// # Errors
    /// [`NodeError::Matrix`] if the homeserver refuses or fails.
    pub async fn set_avatar_url(&self, avatar_url: &str) -> Result<(), NodeError> {
        Ok(self.api.set_avatar_url(&self.session.access_token, &self.session.user_id, avatar_url).await?)
    }

    /// Sets the node's presence.
    ///
    /// # Errors
    /// [`NodeError::UnsettablePresence`] for `unknown` and `server_error`, which are the PFS's own
    /// states; [`NodeError::Matrix`] if the homeserver refuses or fails.
    pub async fn set_presence(&self, presence: UserPresence) -> Result<(), NodeError> {
        let state = match presence {
            UserPresence::Online | UserPresence::Unavailable | UserPresence::Offline => presence.to_string(),
            other => return Err(NodeError::UnsettablePresence(other)),
        };
        Ok(self.api.set_presence(&self.session.access_token, &self.session.user_id, &state).await?)
    }

    /// Sends `body` as a to-device `m.room.message` / `m.text` to `device_id` of `user_id`.
    ///
    /// # Errors
    /// [`NodeError::Matrix`] if the homeserver refuses or fails.
    pub async fn send_text(&self, user_id: &str, device_id: &str, body: &str) -> Result<(), NodeError> {
        let content = json!({"msgtype": "m.text", "body": body});
        let messages = BTreeMap::from([(user_id, BTreeMap::from([(device_id, content)]))]);
        let transaction = self.next_transaction.fetch_add(1, Ordering::Relaxed).to_string();
        let body = SendToDeviceBody { messages };
        Ok(self.api.send_to_device(&self.session.access_token, "m.room.message", &transaction, &body).await?)
    }

    /// Sends `messages` to the PFS user `pfs_user_id` (device `PATH_FINDING`) as one batch,
    /// one JSON message per line, as Raiden's `make_message_batches` joins them.
    ///
    /// # Errors
    /// [`NodeError::Matrix`] if the homeserver refuses or fails.
    pub async fn send_messages(&self, pfs_user_id: &str, messages: &[Message]) -> Result<(), NodeError> {
        let body: Vec<String> = messages.iter().map(Message::to_json).collect();
        self.send_text(pfs_user_id, crate::PFS_DEVICE_ID, &body.join("\n")).await
    }

    /// The displayname this node publishes: its signature of its user id.
    pub fn displayname(&self) -> String {
        matrix_identity::displayname(&self.key, &self.session.user_id)
    }
}
