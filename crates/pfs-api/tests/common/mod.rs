//! A real service on a temporary SQLite database, served on 127.0.0.1 (port 0), and helpers to
//! build state the way the chain follower and Matrix client will feed it.

#![allow(dead_code)]

pub mod paid;
pub mod pfs;
pub mod raw;

use std::net::SocketAddr;
use std::path::Path;

use pfs_api::{ApiConfig, ApiOptions};
use pfs_core::messages::{UnsignedCapacityUpdate, UnsignedFeeUpdate};
use pfs_core::presence::UserPresence;
use pfs_core::token_network::ChainEvent;
use pfs_core::{
    Address, BlockNumber, BlockTimeout, CanonicalIdentifier, ChainId, ChannelId, FeeSchedule, Message,
    NaiveTimestamp, Nonce, PrivateKey, U256,
};
use pfs_matrix::{MatrixEvent, PresenceChanged, SyncBatch};
use pfs_service::{Service, ServiceConfig};
use pfs_store::{ChainCursor, Deployment, Store, StoreConfig};

pub const CHAIN_ID: ChainId = ChainId(1337);

pub fn token_network() -> Address {
    Address::from_bytes([0xab; 20])
}

pub fn deployment() -> Deployment {
    Deployment {
        chain_id: CHAIN_ID,
        token_network_registry: Address::from_bytes([1; 20]),
        user_deposit: Address::from_bytes([2; 20]),
        receiver: Address::from_bytes([3; 20]),
    }
}

pub fn api_config() -> ApiConfig {
    ApiConfig {
        token_network_registry: Address::from_bytes([1; 20]),
        user_deposit: Address::from_bytes([2; 20]),
        service_token: Address::from_bytes([5; 20]),
        payment_address: Address::from_bytes([3; 20]),
        service_fee: U256::ZERO,
        operator: "Test Operator".to_owned(),
        message: "Test PFS".to_owned(),
        matrix_server: None,
        matrix_user_id: None,
    }
}

/// The nodes' keys: node i has key [i + 1; 32].
pub fn key(index: u8) -> PrivateKey {
    PrivateKey::from_bytes([index + 1; 32]).expect("a small constant is a valid secp256k1 key")
}

pub fn node(index: u8) -> Address {
    key(index).address()
}

/// A running service and its HTTP address.
pub struct Running {
    pub service: Service,
    pub address: SocketAddr,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

/// A service on the SQLite file `database`.
pub async fn start_service(database: &Path) -> Service {
    let store = Store::open(&StoreConfig::new(database.to_str().expect("utf-8 path")), &deployment())
        .await
        .expect("store opens");
    Service::start(store, ServiceConfig::default()).await.expect("service starts")
}

impl Running {
    pub async fn start(database: &Path, config: ApiConfig) -> Self {
        Self::serve(start_service(database).await, config, ApiOptions::default()).await
    }

    /// Serves `service` on 127.0.0.1 with the peer address known (so per-IP limits apply).
    pub async fn serve(service: Service, config: ApiConfig, options: ApiOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("bound address");
        let app = pfs_api::router_with(service.clone(), config, options);
        let server = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .expect("server runs");
        });
        Self { service, address, client: reqwest::Client::new(), server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.post_text(path, body).await;
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    pub async fn post_text(&self, path: &str, body: &str) -> (u16, String) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body read"))
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    pub async fn stop(self) {
        self.server.abort();
        self.service.shutdown().await;
        self.service.store().close().await;
    }

    /// A token network with channels along `line` (node i – node i+1), each side depositing
    /// `deposit`, confirmed at block 10.
    pub async fn open_line(&self, nodes: &[u8], deposit: u64) {
        open_line_of(&self.service, nodes, deposit).await;
    }

    /// Marks nodes online through the writer's Matrix path (display name `0xsignature<i>`).
    pub async fn set_online(&self, nodes: &[u8]) {
        self.set_labelled_online(nodes.iter().map(|index| (*index, node(*index)))).await;
    }

    /// Marks addresses online; the i-th gets the display name `0xsignature<i>`.
    pub async fn set_addresses_online(&self, addresses: &[Address]) {
        self.set_labelled_online((0u8..).zip(addresses.iter().copied())).await;
    }

    async fn set_labelled_online(&self, nodes: impl Iterator<Item = (u8, Address)>) {
        let events = nodes
            .map(|(label, address)| {
                MatrixEvent::PresenceChanged(PresenceChanged {
                    user_id: format!("@{}:localhost", address.to_lower_hex()),
                    address,
                    presence: UserPresence::Online,
                    displayname: Some(format!("0xsignature{label}")),
                    capabilities: Some("mxc://raiden.network/cap?Receive=1&Mediate=1".to_owned()),
                })
            })
            .collect();
        self.service.apply_matrix(SyncBatch::new("s1".to_owned(), events)).await.expect("batch queued");
        self.service.sync().await.expect("writer synced");
    }
}

/// A signed capacity update of `from` in channel `channel` towards `to`, as Matrix JSON.
pub fn capacity_update(channel: u64, from: u8, to: u8, nonce: u64, capacity: u64, other: u64) -> String {
    capacity_update_on(token_network(), CHAIN_ID, channel, from, to, nonce, capacity, other)
}

#[allow(clippy::too_many_arguments)]
pub fn capacity_update_on(
    token_network: Address,
    chain: ChainId,
    channel: u64,
    from: u8,
    to: u8,
    nonce: u64,
    capacity: u64,
    other: u64,
) -> String {
    let update = UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: chain,
            token_network_address: token_network,
            channel_identifier: ChannelId(U256::from(channel)),
        },
        updating_participant: node(from),
        other_participant: node(to),
        updating_nonce: Nonce(nonce),
        other_nonce: Nonce(nonce),
        updating_capacity: U256::from(capacity),
        other_capacity: U256::from(other),
        reveal_timeout: BlockTimeout(U256::from(50)),
    };
    Message::CapacityUpdate(update.sign(&key(from)).expect("signs")).to_json()
}

/// A fee update of `from` for channel `channel` of [`token_network`] with `schedule`, signed at
/// `timestamp`, as Matrix JSON.
pub fn fee_update(channel: u64, from: u8, schedule: FeeSchedule, timestamp: NaiveTimestamp) -> String {
    let update = UnsignedFeeUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: CHAIN_ID,
            token_network_address: token_network(),
            channel_identifier: ChannelId(U256::from(channel)),
        },
        updating_participant: node(from),
        fee_schedule: schedule,
        timestamp,
    };
    Message::FeeUpdate(update.sign(&key(from))).to_json()
}

/// The current time as a fee update's or IOU request's naive UTC timestamp.
pub fn timestamp_now() -> NaiveTimestamp {
    let micros =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_micros();
    NaiveTimestamp::from_unix_micros(i64::try_from(micros).expect("in range")).expect("a year of this era")
}

/// Both sides of every channel of the line report their full deposits.
pub async fn report_line(running: &Running, nodes: &[u8], deposit: u64) {
    for (index, pair) in nodes.windows(2).enumerate() {
        let channel = index as u64 + 1;
        for (from, to) in [(pair[0], pair[1]), (pair[1], pair[0])] {
            let (status, body) = running
                .post_json("/api/v1/updates", &capacity_update(channel, from, to, 1, deposit, deposit))
                .await;
            assert_eq!((status, body), (200, serde_json::json!({"status": "accepted"})));
        }
    }
}

pub fn paths_body(from: u8, to: u8, value: u64) -> String {
    serde_json::json!({"from": node(from).to_checksum(), "to": node(to).to_checksum(), "value": value})
        .to_string()
}

pub fn paths_url() -> String {
    format!("/api/v1/{}/paths", token_network().to_checksum())
}

/// The events that open channel `channel_id` between `first` and `second` in the token network
/// of [`open_line_of`], each side depositing `deposit`.
fn channel_opened(channel_id: u64, [first, second]: [u8; 2], deposit: u64) -> Vec<ChainEvent> {
    let (token_network, channel_id) = (token_network(), ChannelId(U256::from(channel_id)));
    let opened = ChainEvent::ChannelOpened {
        token_network,
        channel_id,
        participant1: node(first),
        participant2: node(second),
    };
    let deposit = |participant: u8| ChainEvent::Deposit {
        token_network,
        channel_id,
        participant: node(participant),
        total_deposit: U256::from(deposit),
    };
    vec![opened, deposit(first), deposit(second)]
}

/// One more channel `channel_id` between `first` and `second` in the token network of
/// [`open_line_of`], each side depositing `deposit`, confirmed at `block` (after 10).
pub async fn open_channel_of(service: &Service, channel_id: u64, pair: [u8; 2], deposit: u64, block: u64) {
    let cursor = ChainCursor { block_number: BlockNumber(block), block_hash: [8; 32].into() };
    let events = channel_opened(channel_id, pair, deposit);
    service.apply_chain_batch(Vec::new(), events, cursor).await.expect("chain batch committed");
}

/// A token network with channels along `nodes` (node i – node i+1, channel ids from 1), each
/// side depositing `deposit`, confirmed at block 10: through the writer's chain-event path.
pub async fn open_line_of(service: &Service, nodes: &[u8], deposit: u64) {
    let token_network = token_network();
    let mut events = vec![ChainEvent::TokenNetworkCreated {
        token_network,
        token: Address::from_bytes([0x55; 20]),
        settle_timeout: BlockTimeout(U256::from(500)),
    }];
    for (channel_id, pair) in (1..).zip(nodes.windows(2)) {
        events.extend(channel_opened(channel_id, [pair[0], pair[1]], deposit));
    }
    let cursor = ChainCursor { block_number: BlockNumber(10), block_hash: [7; 32].into() };
    service.apply_chain_batch(Vec::new(), events, cursor).await.expect("chain batch committed");
}
