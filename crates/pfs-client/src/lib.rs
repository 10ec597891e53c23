//! A typed client of the raiden-pfs HTTP API, and the node-side helpers that sign what a Raiden
//! node sends a Pathfinding Service.
//!
//! * [`PfsClient`]: `info`, `paths` (free, or paid with an IOU exactly as the light client pays,
//!   see [`Payer`]), `last_iou`, `feedback`, `metadata`, `online_addresses`, and `post_updates`
//!   for `POST /api/v1/updates` (one message or a batch of at most
//!   [`MAX_UPDATES_PER_REQUEST`], with one typed result per message).
//! * [`ChannelState`] and [`fee_update`]: a node's `PFSCapacityUpdate` and `PFSFeeUpdate`, built
//!   from its key and its view of a channel with `pfs_core::messages`' own types, so the bytes
//!   signed here are the bytes the service verifies.
//!
//! ```no_run
//! use pfs_client::{PfsClient, PathsRequest};
//! # async fn example(token_network: pfs_core::Address, from: pfs_core::Address, to: pfs_core::Address)
//! #     -> Result<(), pfs_client::ClientError> {
//! let pfs = PfsClient::new("http://127.0.0.1:6000")?;
//! let info = pfs.info().await?;
//! let answer = pfs.paths(token_network, &PathsRequest::new(from, to, pfs_core::U256::from(100))).await?;
//! for route in &answer.result {
//!     println!("{:?} costs {}", route.path, route.estimated_fee);
//! }
//! # let _ = info; Ok(()) }
//! ```
//!
//! # Design: errors keep the PFS's own words
//!
//! Every error answer of the PFS is `{"errors", "error_code", "error_details"}`; the client turns
//! it into [`ClientError::Pfs`] carrying that [`PfsError`] and the HTTP status, and never into a
//! string, because callers act on the code (the light client keeps its IOU on 2201 and drops it on
//! any other error). Answers that are not the documented JSON are
//! [`ClientError::UnexpectedAnswer`] with the status and the start of the body, so a proxy's HTML
//! page is told apart from a PFS error.
#![deny(missing_docs)]

mod client;
mod error;
mod iou;
mod types;
mod updates;

pub use client::{MAX_UPDATES_PER_REQUEST, PfsClient, REQUEST_TIMEOUT};
pub use error::{ClientError, PfsError, codes};
pub use iou::{DEFAULT_IOU_TIMEOUT, Payer, light_client_timestamp};
pub use types::{
    AddressMetadata, ConfirmedBlock, NetworkInfo, PathsAnswer, PathsRequest, PfsInfo, Route, UpdateOutcome,
};
pub use updates::{ChannelState, ParticipantState, fee_update};
