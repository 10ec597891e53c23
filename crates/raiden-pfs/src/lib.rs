//! The raiden-pfs service binary's building blocks that are worth testing on their own: the JSON
//! file formats of `replay` ([`snapshot`]), the seeded network generator ([`generate`]) and the
//! chain follower task of `serve` ([`follow`]).
//!
//! # Design
//!
//! The binary only translates: files and flags in, calls on `pfs-core` out. Routing itself is
//! `pfs_core::routing`, the one engine that `replay` and the HTTP API's `POST /paths` share, so
//! a replayed request answers exactly what the service would.
#![deny(missing_docs)]

pub mod follow;
pub mod generate;
pub mod snapshot;
