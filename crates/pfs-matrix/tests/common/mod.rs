//! Shared pieces of the integration tests: a PFS client on a real homeserver whose batches are
//! applied to a `PresenceBook` by a consumer task (as the server's writer will), simulated nodes,
//! and waiting for conditions with a timeout.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use pfs_core::ids::{BlockTimeout, ChainId, ChannelId, Nonce};
use pfs_core::matrix_identity::{self, Capabilities};
use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate};
use pfs_core::presence::{AddressReachability, PresenceBook, UserPresence};
use pfs_core::{Address, Message, PrivateKey, U256};
use pfs_matrix::testing::{Homeserver, HomeserverOptions, free_port};
use pfs_matrix::{
    LoginMethod, MatrixClient, MatrixConfig, MatrixEvent, NODE_DEVICE_ID, NodeSession, PresenceChanged,
    ToDeviceDropped, ToDeviceUpdates, apply_presence,
};
use tokio::sync::Notify;

/// The PFS's key in every test.
pub fn pfs_key() -> PrivateKey {
    PrivateKey::from_bytes([0x11; 32]).unwrap()
}

/// A node key from a number (distinct numbers give distinct keys).
pub fn node_key(number: u32) -> PrivateKey {
    let mut bytes = [0x22; 32];
    bytes[28..].copy_from_slice(&number.to_be_bytes());
    PrivateKey::from_bytes(bytes).unwrap()
}

/// A homeserver whose presence router routes to the PFS user on the homeserver named
/// `pfs_server_name`, with Raiden's auth module and open registration.
pub fn options_routing_to(pfs_server_name: &str, federation_port: Option<u16>) -> HomeserverOptions {
    HomeserverOptions {
        federation_port,
        ..HomeserverOptions::routing_to(vec![matrix_identity::user_id(&pfs_key().address(), pfs_server_name)])
    }
}

/// The PFS's homeserver "A": router to the PFS user, auth module, open registration.
pub async fn start_pfs_homeserver() -> Homeserver {
    let port = free_port();
    Homeserver::launch(&options_routing_to(&format!("127.0.0.1:{port}"), Some(port))).await.unwrap()
}

#[allow(unused_imports)]
pub use pfs_matrix::testing::{fast_config, percentiles};

/// What the consumer task has seen.
#[derive(Default)]
pub struct Seen {
    pub book: Option<PresenceBook>,
    /// Every presence event with its arrival time.
    pub presence: Vec<(Instant, PresenceChanged)>,
    /// Every reachability change with its arrival time.
    pub reachability: Vec<(Instant, Address, AddressReachability)>,
    pub updates: Vec<ToDeviceUpdates>,
    pub dropped: Vec<ToDeviceDropped>,
    pub unreachable_servers: Vec<String>,
    pub last_token: Option<String>,
}

/// A running PFS client and the consumer applying its batches.
pub struct Pfs {
    pub client: MatrixClient,
    pub seen: Arc<Mutex<Seen>>,
    changed: Arc<Notify>,
    consumer: tokio::task::JoinHandle<()>,
}

impl Pfs {
    pub async fn start(config: MatrixConfig, initial_token: Option<String>) -> Self {
        // Logs of the client under test, filtered by RUST_LOG (e.g. `pfs_matrix=debug`).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (client, mut batches) = MatrixClient::start(pfs_key(), config, initial_token).await.unwrap();
        let seen = Arc::new(Mutex::new(Seen {
            book: Some(PresenceBook::new(SystemTime::now())),
            ..Seen::default()
        }));
        let changed = Arc::new(Notify::new());
        let consumer = {
            let (seen, changed) = (Arc::clone(&seen), Arc::clone(&changed));
            tokio::spawn(async move {
                while let Some(batch) = batches.recv().await {
                    let arrived = Instant::now();
                    let mut seen = seen.lock().unwrap();
                    for event in batch.events {
                        let book = seen.book.as_mut().unwrap();
                        let changes = apply_presence(book, &event, SystemTime::now());
                        for change in changes {
                            seen.reachability.push((arrived, change.address, change.reachability));
                        }
                        match event {
                            MatrixEvent::PresenceChanged(changed) => seen.presence.push((arrived, changed)),
                            MatrixEvent::ToDeviceUpdates(updates) => seen.updates.push(updates),
                            MatrixEvent::ToDeviceDropped(dropped) => seen.dropped.push(dropped),
                            MatrixEvent::HomeserverUnreachable { server_name } => {
                                seen.unreachable_servers.push(server_name)
                            }
                        }
                    }
                    seen.last_token = Some(batch.sync_token.clone());
                    drop(seen);
                    changed.notify_waiters();
                }
            })
        };
        Self { client, seen, changed, consumer }
    }

    /// Waits until `condition` holds on what was seen; returns the time it first did.
    ///
    /// Panics with `what` if it does not within `timeout`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&Seen) -> bool,
    ) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if condition(&self.seen.lock().unwrap()) {
                return Instant::now();
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                let seen = self.seen.lock().unwrap();
                panic!(
                    "timed out after {timeout:?} waiting for {what}; presence seen: {:?}",
                    seen.presence
                        .iter()
                        .map(|(_, event)| (&event.user_id, event.presence))
                        .collect::<Vec<_>>()
                );
            }
            let _ = tokio::time::timeout(remaining.min(Duration::from_millis(250)), notified).await;
        }
    }

    /// Waits until `address` has `reachability` in the book; returns when it was applied.
    pub async fn wait_for_reachability(
        &self,
        address: Address,
        reachability: AddressReachability,
        timeout: Duration,
    ) -> Instant {
        self.wait_until(&format!("{address} {reachability:?}"), timeout, |seen| {
            seen.book.as_ref().unwrap().reachability(&address) == reachability
        })
        .await;
        let seen = self.seen.lock().unwrap();
        seen.reachability
            .iter()
            .rev()
            .find(|(_, changed, state)| *changed == address && *state == reachability)
            .map_or_else(Instant::now, |(arrived, _, _)| *arrived)
    }

    pub fn reachability(&self, address: &Address) -> AddressReachability {
        self.seen.lock().unwrap().book.as_ref().unwrap().reachability(address)
    }

    pub async fn stop(self) -> Arc<Mutex<Seen>> {
        self.client.shutdown().await;
        let _ = self.consumer.await;
        self.seen
    }
}

/// A node on `homeserver` with its identity published (Raiden's default capabilities).
pub async fn node(homeserver: &Homeserver, number: u32) -> NodeSession {
    let node = NodeSession::log_in(
        &homeserver.address(),
        node_key(number),
        &LoginMethod::RaidenSignature,
        NODE_DEVICE_ID,
    )
    .await
    .unwrap();
    node.publish_identity(&Capabilities::raiden_default()).await.unwrap();
    node
}

/// Sets `presence` and returns when the request was sent.
pub async fn set_presence(node: &NodeSession, presence: UserPresence) -> Instant {
    let sent = Instant::now();
    node.set_presence(presence).await.unwrap();
    sent
}

/// A capacity update for a channel of `updating`, signed by `signer`.
pub fn capacity_update(signer: &PrivateKey, updating: Address, nonce: u64) -> Message {
    let update = UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: ChainId(31337),
            token_network_address: Address::from_bytes([7; 20]),
            channel_identifier: ChannelId(U256::from(1)),
        },
        updating_participant: updating,
        other_participant: Address::from_bytes([9; 20]),
        updating_nonce: Nonce(nonce),
        other_nonce: Nonce(0),
        updating_capacity: U256::from(1_000),
        other_capacity: U256::from(0),
        reveal_timeout: BlockTimeout(U256::from(50)),
    };
    Message::CapacityUpdate(update.sign(signer).unwrap())
}
