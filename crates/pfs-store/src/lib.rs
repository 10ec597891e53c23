//! Durable state of raiden-pfs (placeholder docs, rewritten below).
#![deny(missing_docs)]

mod codec;
mod error;
mod feedback;
mod iou;
mod matrix;
mod state;
mod store;

pub use error::{CorruptReason, StoreError};
pub use feedback::{
    FEEDBACK_TOKEN_LIFETIME, FeedbackOutcome, FeedbackStats, FeedbackToken, InvalidFeedbackToken,
    MAX_FEEDBACK_ROUTE_LENGTH, ReturnedRoute, RouteFeedback,
};
pub use iou::{IouSessions, StoredIou};
pub use matrix::{MAX_DISPLAYNAME_BYTES, MAX_SYNC_TOKEN_BYTES, MAX_USER_ID_BYTES, MatrixUser, TooLong};
pub use state::{ChainCursor, LoadedState, StateChanges, load_token_network};
pub use store::{Backend, Deployment, Durability, MIGRATOR, Store, StoreConfig, supported_version};
