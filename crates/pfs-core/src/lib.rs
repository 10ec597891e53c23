//! The pure core of raiden-pfs, a Pathfinding Service for the Raiden Network.
//!
//! This crate provides everything the service decides, and nothing it does: the Raiden wire
//! formats (addresses, integers, signed messages, IOUs, Matrix identities), EIP-191 signing and
//! recovery, the mediation-fee model in exact arithmetic, and the k-path search over a token
//! network's channels.
//!
//! # Design: the core decides, the adapters only translate
//!
//! Nothing here performs I/O, spawns tasks, reads a clock or draws randomness; where a rule needs
//! the time ("a fee update may be at most one hour in the future") the caller passes it in. That
//! makes every rule of the reference PFS testable in microseconds against the vectors produced by
//! the original Python libraries, and it lets the service apply the same events in the same order
//! after a restart and get the same state. The chain follower, the Matrix client, the database and
//! the HTTP API are separate crates that turn the outside world into calls on this one.
//!
//! # Compatibility
//!
//! Parsing follows what Raiden's real peers send (the Python client, the light client and
//! raiden.rs), which is more lenient than what they write: integers arrive as JSON numbers or
//! decimal strings and must be exact beyond 2^64 ([`integer`]); addresses arrive in any case in
//! Matrix messages but must be EIP-55 checksummed in the HTTP API ([`address`]). Malformed input
//! is always an error value, never a panic.
#![deny(missing_docs)]

pub mod address;
pub mod contract_events;
pub mod fee_schedule;
pub mod fees;
mod form_urlencoded;
pub mod ids;
pub mod integer;
pub mod iou;
pub mod matrix_identity;
pub mod messages;
mod packing;
pub mod payment;
pub mod presence;
pub mod routing;
pub mod signature;
pub mod timestamp;
pub mod token_network;

pub use address::{Address, AddressError};
pub use fee_schedule::{FeeSchedule, ImbalancePenalty};
pub use ids::{BlockNumber, BlockTimeout, ChainId, ChannelId, Nonce, TokenAmount};
pub use iou::{Iou, IouRequest};
pub use messages::{CanonicalIdentifier, CapacityUpdate, FeeUpdate, Message, MessageError};
pub use signature::{PrivateKey, Signature, SignatureError};
pub use timestamp::NaiveTimestamp;

/// The 256-bit unsigned integer used for every on-chain amount and identifier.
pub use alloy_primitives::U256;
