//! The server-level harness: a devnet (anvil with the real Raiden contracts), and the service as
//! `raiden-pfs serve` runs it — store, writer, the chain follower task and the HTTP API on
//! 127.0.0.1 — in process, so that a test can restart it on the same database. Presence goes
//! through the writer's Matrix path (the Matrix client's output), since these tests are about the
//! chain and the database, not about Synapse.

#![allow(dead_code)]

/// A free loopback port (bound and released: another process could take it in between, which
/// is rare enough for tests on one machine).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("bound address").port()
}

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use devnet::{Devnet, NodeAccount};
use pfs_api::ApiConfig;
use pfs_chain::{ChainFollower, FollowerConfig, FollowerMetrics, UndoLog};
use pfs_core::messages::UnsignedCapacityUpdate;
use pfs_core::presence::UserPresence;
use pfs_core::{
    Address, BlockNumber, BlockTimeout, CanonicalIdentifier, ChainId, ChannelId, Message, Nonce, PrivateKey,
    U256,
};
use pfs_matrix::{MatrixEvent, PresenceChanged, SyncBatch};
use pfs_service::{Service, ServiceConfig};
use pfs_store::{Deployment, Store, StoreConfig};
use raiden_pfs::follow::{FollowError, follow};

/// How long a test waits for the service to reach a state.
pub const WAIT: Duration = Duration::from_secs(60);
/// The service's own key.
pub const SERVICE_KEY: [u8; 32] = [0x42; 32];

pub async fn devnet(nodes: usize) -> Devnet {
    Devnet::builder().nodes(nodes).start().await.expect("the devnet starts (anvil and contracts installed)")
}

pub fn service_key() -> PrivateKey {
    PrivateKey::from_bytes(SERVICE_KEY).expect("a valid key")
}

pub fn deployment(devnet: &Devnet) -> Deployment {
    Deployment {
        chain_id: ChainId(devnet.chain().chain_id()),
        token_network_registry: devnet.deployment().token_network_registry.into(),
        user_deposit: devnet.deployment().user_deposit.into(),
        receiver: service_key().address(),
    }
}

pub fn token_network(devnet: &Devnet) -> Address {
    devnet.deployment().token_network.into()
}

/// A node's key as the core's type.
pub fn key_of(node: &NodeAccount) -> PrivateKey {
    PrivateKey::from_bytes(node.secret_key().0).expect("devnet keys are valid")
}

pub fn address_of(node: &NodeAccount) -> Address {
    node.address().into()
}

/// A running service (in process) and its HTTP address.
pub struct Pfs {
    pub service: Service,
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub chain_metrics: Arc<FollowerMetrics>,
    server: tokio::task::JoinHandle<()>,
    follower: tokio::task::JoinHandle<Result<(), FollowError>>,
}

impl Pfs {
    /// Starts the service on the database `db`, following `devnet` from its deployment block.
    pub async fn start(devnet: &Devnet, db: &Path, confirmations: u64) -> Self {
        let store = Store::open(&StoreConfig::new(db.to_str().expect("utf-8 path")), &deployment(devnet))
            .await
            .expect("the store opens");
        let loaded = store.load_state().await.expect("the state loads");
        let mut config = FollowerConfig::new(
            devnet.deployment().token_network_registry.into(),
            BlockNumber(devnet.deployment().deployment_block),
        );
        config.confirmations = confirmations;
        config.poll_interval = Duration::from_millis(50);
        config.retry_initial = Duration::from_millis(100);
        config.retry_max = Duration::from_millis(400);
        let undo_log = UndoLog::restore(
            config.recent_blocks,
            loaded.cursor.map(|cursor| cursor.block_number),
            loaded.undo_log.clone(),
        );
        let networks: Vec<Address> =
            loaded.registry.token_networks().map(|network| network.address).collect();
        let follower =
            ChainFollower::connect(devnet.eth_rpc(), config, loaded.recent_blocks.clone(), networks)
                .expect("a valid RPC URL");
        let chain_metrics = follower.metrics();
        let service = Service::start_loaded(store, loaded, ServiceConfig::default());
        service.restore_feedback(SystemTime::now()).await.expect("the stored feedback reads");
        let follower = tokio::spawn(follow(service.clone(), follower, undo_log));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("bound address");
        let options = pfs_api::ApiOptions { chain: Some(Arc::clone(&chain_metrics)), ..Default::default() };
        let app = pfs_api::router_with(service.clone(), api_config(devnet), options);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("server runs");
        });
        Self { service, address, client: reqwest::Client::new(), chain_metrics, server, follower }
    }

    /// Stops like `serve` on SIGTERM: the server and follower end, the writer commits what is
    /// queued, the database closes.
    pub async fn stop(self) {
        self.server.abort();
        self.follower.abort();
        let _ = self.follower.await;
        self.service.shutdown().await;
        self.service.store().close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    /// `/paths` as raw text (for byte comparisons), with its status.
    pub async fn paths_text(
        &self,
        token_network: Address,
        from: Address,
        to: Address,
        value: u64,
    ) -> (u16, String) {
        let body = serde_json::json!({
            "from": from.to_checksum(), "to": to.to_checksum(), "value": value, "max_paths": 5
        });
        let response = self
            .client
            .post(self.url(&format!("/api/v1/{}/paths", token_network.to_checksum())))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body read"))
    }

    /// `/paths`, the returned paths as lists of addresses (empty on an error).
    pub async fn routes(
        &self,
        token_network: Address,
        from: Address,
        to: Address,
        value: u64,
    ) -> Vec<Vec<String>> {
        let (status, text) = self.paths_text(token_network, from, to, value).await;
        if status != 200 {
            return Vec::new();
        }
        let body: serde_json::Value = serde_json::from_str(&text).expect("JSON body");
        body["result"]
            .as_array()
            .expect("a result list")
            .iter()
            .map(|path| {
                path["path"]
                    .as_array()
                    .expect("a path")
                    .iter()
                    .map(|hop| hop.as_str().expect("an address").to_owned())
                    .collect()
            })
            .collect()
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    /// `confirmed_block.number` of `/api/v1/info`.
    pub async fn confirmed_block(&self) -> u64 {
        let (status, info) = self.get("/api/v1/info").await;
        assert_eq!(status, 200, "{info}");
        info["network_info"]["confirmed_block"]["number"].as_u64().expect("a block number")
    }

    /// Waits until `/api/v1/info` reports `block` (or later) as confirmed.
    pub async fn wait_confirmed(&self, block: u64) {
        let deadline = Instant::now() + WAIT;
        while self.confirmed_block().await < block {
            assert!(!self.follower.is_finished(), "the follower task ended");
            assert!(Instant::now() < deadline, "block {block} not confirmed within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until everything the chain has now, less `confirmations`, is confirmed.
    pub async fn sync(&self, devnet: &Devnet, confirmations: u64) -> u64 {
        let latest = devnet.chain().block_number().await.expect("eth_blockNumber");
        let block = latest.saturating_sub(confirmations);
        self.wait_confirmed(block).await;
        block
    }

    /// Marks nodes online through the writer's Matrix path.
    pub async fn set_online(&self, nodes: &[Address]) {
        let events = nodes
            .iter()
            .map(|address| {
                MatrixEvent::PresenceChanged(PresenceChanged {
                    user_id: format!("@{}:localhost", address.to_lower_hex()),
                    address: *address,
                    presence: UserPresence::Online,
                    displayname: None,
                    capabilities: Some("mxc://raiden.network/cap?Receive=1&Mediate=1".to_owned()),
                })
            })
            .collect();
        self.service.apply_matrix(SyncBatch::new("s1".to_owned(), events)).await.expect("batch queued");
        self.service.sync().await.expect("writer synced");
    }

    /// Posts a capacity update; returns the status and body.
    pub async fn post_update(&self, update: &str) -> (u16, serde_json::Value) {
        self.post_json("/api/v1/updates", update).await
    }
}

pub fn api_config(devnet: &Devnet) -> ApiConfig {
    ApiConfig {
        token_network_registry: devnet.deployment().token_network_registry.into(),
        user_deposit: devnet.deployment().user_deposit.into(),
        service_token: devnet.deployment().token.into(),
        payment_address: service_key().address(),
        service_fee: U256::ZERO,
        operator: "Test".to_owned(),
        message: String::new(),
        matrix_server: None,
        matrix_user_id: None,
    }
}

/// A signed capacity update of `from` in `channel` towards `to`, as Matrix JSON.
#[allow(clippy::too_many_arguments)]
pub fn capacity_update(
    chain_id: u64,
    token_network: Address,
    channel: U256,
    from: &PrivateKey,
    to: Address,
    nonce: u64,
    capacity: U256,
    other: U256,
) -> String {
    let update = UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: ChainId(chain_id),
            token_network_address: token_network,
            channel_identifier: ChannelId(channel),
        },
        updating_participant: from.address(),
        other_participant: to,
        updating_nonce: Nonce(nonce),
        other_nonce: Nonce(nonce),
        updating_capacity: capacity,
        other_capacity: other,
        reveal_timeout: BlockTimeout(U256::from(50)),
    };
    Message::CapacityUpdate(update.sign(from).expect("signs")).to_json()
}
