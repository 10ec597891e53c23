//! What the client hands to its consumer: batches of typed events, each batch with the sync
//! token to persist together with its effects.
//!
//! Every event here has passed the identity check it needs: a [`PresenceChanged`] names an
//! address only after the user's displayname verified as that address's signature of the user
//! id (or says [`UserPresence::ServerError`] when the profile could not be read), and a
//! [`ToDeviceUpdates`] comes from a verified sender, with each line verified by
//! [`VerifiedUpdate::verify`] and matched against the sender.

use pfs_core::Address;
use pfs_core::matrix_identity::MatrixIdentityError;
use pfs_core::messages::MessageError;
use pfs_core::presence::UserPresence;
use pfs_core::token_network::{UpdateRejection, VerifiedUpdate};
use tokio::sync::oneshot;

/// One `/sync` answer's worth of events (or the events of a presence snapshot or a homeserver
/// probe), with the sync token that covers them.
///
/// Persist `sync_token` in the same transaction as the effects of `events`, then drop the batch:
/// the client makes its next `/sync` — which tells the homeserver the to-device events of this
/// batch were received, so it deletes them — only once the batch is dropped. A restart with the
/// persisted token therefore never loses a to-device event whose effects were not stored.
#[derive(Debug)]
pub struct SyncBatch {
    /// The token to pass as `initial_sync_token` after a restart.
    pub sync_token: String,
    /// The events, in the order the homeserver gave them.
    pub events: Vec<MatrixEvent>,
    /// Dropped with the batch; the client waits for that before its next `/sync`.
    pub(crate) _processed: Option<oneshot::Sender<()>>,
}

impl SyncBatch {
    /// A batch without a completion signal (for tests of consumers).
    pub fn new(sync_token: String, events: Vec<MatrixEvent>) -> Self {
        Self { sync_token, events, _processed: None }
    }
}

/// One thing the consumer has to apply.
#[derive(Debug)]
pub enum MatrixEvent {
    /// A Raiden user's presence.
    PresenceChanged(PresenceChanged),
    /// Capacity and fee updates a verified node sent to the PFS's device.
    ToDeviceUpdates(ToDeviceUpdates),
    /// A to-device event that was not looked at line by line, and why.
    ToDeviceDropped(ToDeviceDropped),
    /// A homeserver that the PFS's homeserver could not reach (after several probes): its users'
    /// presence is unknown, not what was last heard. Apply with
    /// [`pfs_core::presence::PresenceBook::mark_server_unknown`]. When it answers again, the
    /// client takes a presence snapshot, whose [`MatrixEvent::PresenceChanged`] events follow.
    HomeserverUnreachable {
        /// The server name (the part after `:` in its user ids).
        server_name: String,
    },
}

/// A Raiden user's presence, with the identity that proves the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChanged {
    /// The Matrix user id.
    pub user_id: String,
    /// The address in the user id; verified unless `presence` is
    /// [`UserPresence::ServerError`].
    pub address: Address,
    /// The user's presence; [`UserPresence::ServerError`] when the profile could not be fetched,
    /// so the identity is unverified (the reference's behaviour).
    pub presence: UserPresence,
    /// The verified displayname (the address's signature of `user_id`); `None` with
    /// [`UserPresence::ServerError`].
    pub displayname: Option<String>,
    /// The avatar URL, which holds the capabilities string, if the user has one.
    pub capabilities: Option<String>,
}

/// The lines of one to-device body from a verified sender, each read and verified.
#[derive(Debug)]
pub struct ToDeviceUpdates {
    /// The Matrix user id of the sender.
    pub sender_user_id: String,
    /// The sender's verified address.
    pub sender_address: Address,
    /// One entry per non-blank line, in order.
    pub results: Vec<Result<VerifiedUpdate, ToDeviceRejection>>,
}

/// Why a line of a to-device body is not an update to apply.
#[derive(Debug, thiserror::Error)]
pub enum ToDeviceRejection {
    /// Not a capacity or fee update (another Raiden message, bad JSON, out-of-range numbers…).
    #[error("unreadable message: {0}")]
    Unreadable(#[from] MessageError),
    /// The signature does not recover the message's updating participant.
    #[error("{0}")]
    Rejected(#[from] UpdateRejection),
    /// Signed by its updating participant, but that is not the Matrix user who sent it.
    #[error("update signed by {signer}, sent by {sender}")]
    SignerNotSender {
        /// The address that signed the update.
        signer: Address,
        /// The address of the Matrix sender.
        sender: Address,
    },
}

/// A to-device event dropped as a whole.
#[derive(Debug)]
pub struct ToDeviceDropped {
    /// The sender as the homeserver gave it.
    pub sender_user_id: String,
    /// Why.
    pub reason: DropReason,
}

/// Why a whole to-device event was dropped.
#[derive(Debug, thiserror::Error)]
pub enum DropReason {
    /// Not `m.room.message` with `msgtype` `m.text` and a string `body`.
    #[error("not an m.room.message m.text event")]
    NotTextMessage,
    /// The sender's identity could not be verified.
    #[error("sender not verified: {0}")]
    UnverifiedSender(#[from] MatrixIdentityError),
    /// The sender's profile could not be fetched, so its identity is unknown.
    #[error("sender's profile unavailable")]
    ProfileUnavailable,
    /// The body is longer than the configured maximum.
    #[error("body of {chars} characters exceeds {max}")]
    TooLarge {
        /// The body's length in characters.
        chars: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The sender used up its byte budget for the current window.
    #[error("sender is rate limited")]
    RateLimited,
}
