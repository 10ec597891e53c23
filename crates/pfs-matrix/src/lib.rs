//! The Pathfinding Service's single Matrix client, and a node-side client to simulate Raiden
//! nodes.
//!
//! [`MatrixClient`] logs in on one homeserver with Raiden's scheme (user = lower-case address,
//! password = EIP-191 signature of the server name, device `PATH_FINDING`; plain registration on
//! homeservers without Raiden's auth module), publishes the PFS's identity, and long-polls `/sync`
//! for presence and to-device events. It yields typed, verified events in [`SyncBatch`]es:
//! * [`MatrixEvent::PresenceChanged`] for Raiden users whose displayname verified as their
//!   address's signature of the user id (profiles fetched and cached);
//! * [`MatrixEvent::ToDeviceUpdates`]: each line of a node's to-device body read with
//!   [`pfs_core::Message::parse`], verified with [`pfs_core::token_network::VerifiedUpdate::verify`]
//!   — the same path as `POST /api/v1/updates` — and required to be signed by the sender;
//! * [`MatrixEvent::HomeserverUnreachable`] for a node homeserver that stays unreachable.
//!
//! # Design: the client owns no PFS state
//!
//! The PFS has one writer of its state, which persists what it applies. So the client only
//! translates: events go out on a channel, each batch carrying the `/sync` token to persist in
//! the same transaction as the batch's effects, and the client's next `/sync` — which lets the
//! homeserver delete the delivered to-device events — waits until the batch is dropped. A
//! restart with the persisted token loses nothing and applies nothing twice. Presence is applied
//! with [`apply_presence`] into a [`pfs_core::presence::PresenceBook`] by that writer. What the
//! client does keep is transport state: sessions, profile and verification caches, the rate
//! limiter, and one sample user per remote homeserver to probe it through.
//!
//! Presence from other homeservers reaches this one client through the presence router
//! (`contrib/presence-router`, spec/FEDERATED-PRESENCE.md); after an outage the client probes
//! each known homeserver with one federated profile lookup, which also ends that server's
//! backoff towards the PFS's homeserver.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::SystemTime;
//! use pfs_core::{PrivateKey, presence::PresenceBook};
//! use pfs_matrix::{HomeserverAddress, MatrixClient, MatrixConfig, apply_presence};
//!
//! let key = PrivateKey::parse_hex("0x0101010101010101010101010101010101010101010101010101010101010101")?;
//! let homeserver = HomeserverAddress::new("https://transport.example.org", None)?;
//! let (client, mut batches) = MatrixClient::start(key, MatrixConfig::new(homeserver), None).await?;
//! println!("matrix_user_id = {}", client.matrix_user_id());
//! let mut book = PresenceBook::new(SystemTime::now());
//! while let Some(batch) = batches.recv().await {
//!     for event in &batch.events {
//!         apply_presence(&mut book, event, SystemTime::now());
//!     }
//!     // persist batch.sync_token with the effects, then drop the batch
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod backoff;
mod book;
mod client;
mod events;
mod http;
mod login;
mod node;
mod processor;
pub mod rate_limit;
#[cfg(feature = "testing")]
pub mod testing;
mod wire;

pub use backoff::Backoff;
pub use book::apply_presence;
pub use client::{MatrixClient, MatrixConfig, StartError};
pub use events::{
    DropReason, MatrixEvent, PresenceChanged, SyncBatch, ToDeviceDropped, ToDeviceRejection, ToDeviceUpdates,
};
pub use http::{MatrixError, SYNC_LATENCY_ALLOWANCE};
pub use login::{
    HomeserverAddress, HomeserverAddressError, LoginError, LoginMethod, NODE_DEVICE_ID, PFS_DEVICE_ID,
};
pub use node::{NodeError, NodeSession};
pub use processor::read_update;
