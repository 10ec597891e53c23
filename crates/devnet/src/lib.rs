//! The local real stack of raiden-pfs, used by the demo and by every integration test: anvil
//! with the Raiden contracts 0.50.2 deployed from their published `contracts.json`, funded node
//! accounts with deterministic keys, and channels in a realistic topology.
//!
//! ```
//! use devnet::{Devnet, Topology};
//! use devnet::contracts::abi::TokenNetwork::TokenNetworkEvents;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Installs the tools on first use, starts anvil on a free port, deploys, funds 10 nodes and
//! // opens their channels; dropping `devnet` stops anvil again.
//! let devnet = Devnet::builder().nodes(10).channels(Topology::default()).start().await?;
//! let first = devnet.channels()[0];
//! let events = devnet.raiden().token_network_events(first.block_number, first.block_number).await?;
//! assert!(events.iter().any(|event| matches!(event.event, TokenNetworkEvents::ChannelOpened(_))));
//! # Ok::<(), devnet::DevnetError>(())
//! # }).unwrap();
//! ```
//!
//! # Design: the real chain, fast enough for every test
//!
//! Tests that cross the chain boundary run against the real thing: the anvil binary from npm
//! and the compiled contracts from the raiden-contracts wheel, both installed on first use into
//! `.devtools/` ([`tools`]), never stubbed. What keeps that affordable is that each test gets a
//! chain of its own in well under a second: anvil binds a kernel-chosen port (so tests run in
//! parallel without racing for ports), the whole deployment is nine transactions, and
//! channel setup and node funding go out as bulk sends ([`bulk`]). Contract calls go through hand-written `sol!` interfaces that are checked against the shipped ABI
//! ([`contracts`]), and transactions use anvil's impersonation so every call keeps the
//! `msg.sender` the contracts expect, while the signatures the contracts verify (withdraw,
//! close) are made with the participants' real keys ([`messages`]).
//!
//! The same code runs `devnet up` (the binary) and the tests: [`Devnet`] is the builder-made
//! value both use; dropping it stops every process it started.
#![deny(missing_docs)]

pub mod accounts;
pub mod anvil;
pub mod bulk;
pub mod chain;
pub mod contracts;
pub mod deploy;
pub mod devnet;
pub mod manifest;
pub mod matrix;
pub mod messages;
pub mod nodes;
pub mod pfs;
mod process;
pub mod raiden;
pub mod tools;
pub mod topology;

pub use accounts::NodeAccount;
pub use anvil::{Anvil, AnvilError};
pub use bulk::PlannedTransaction;
pub use chain::{Chain, ChainError};
pub use contracts::{CompiledContracts, ContractsError};
pub use deploy::{DeployConfig, DeployError, Deployment, deploy, deploy_token_network};
pub use devnet::{Devnet, DevnetBuilder, DevnetError, StartTimes};
pub use manifest::{ChildProcess, Manifest, ManifestError, PidFile};
pub use pfs::{PfsOptions, PfsProcess};
pub use raiden::{
    ChainEvent, ChannelIdentifier, ChannelPlan, NodeFunding, OpenedChannel, ParticipantInfo, Raiden, ether,
};
pub use tools::{Devtools, InstallError, InstallReport};
pub use topology::Topology;
