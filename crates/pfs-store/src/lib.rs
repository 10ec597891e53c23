//! Durable state of raiden-pfs (placeholder docs, rewritten below).
#![deny(missing_docs)]

mod codec;
mod error;
mod state;
mod store;

pub use error::{CorruptReason, StoreError};
pub use state::{ChainCursor, LoadedState, StateChanges, load_token_network};
pub use store::{Backend, Deployment, Durability, MIGRATOR, Store, StoreConfig, supported_version};
