//! A paid PFS on a devnet (anvil with the real Raiden contracts), served on 127.0.0.1, and the
//! light client's ways of paying it; shared by the payment tests and the paid-request benchmark.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use devnet::Devnet;
use pfs_api::{ApiConfig, PaymentConfig};
use pfs_chain::claims::ClaimPolicy;
use pfs_chain::one_to_n::OneToNClient;
use pfs_chain::user_deposit::UserDepositReader;
use pfs_chain::{ChainFollower, FollowerConfig};
use pfs_core::iou::UnsignedIou;
use pfs_core::messages::UnsignedCapacityUpdate;
use pfs_core::{
    Address, BlockNumber, BlockTimeout, CanonicalIdentifier, ChainId, ChannelId, Iou, IouRequest, Message,
    Nonce, PrivateKey, U256,
};
use pfs_service::{Service, ServiceConfig};
use pfs_store::{Deployment, Store, StoreConfig};
use serde_json::{Value, json};

use super::Running;

/// The fee per request: large enough that a claim on anvil is worth its gas.
pub const FEE: u128 = 100_000_000_000_000_000;
/// The deposit is read at the confirmed block and this many blocks before it.
pub const DEPOSIT_CONFIRMATIONS: u64 = 2;
pub const DAY: u64 = 24 * 3600;

/// The service's key (its payment address receives the IOUs).
pub fn pfs_key() -> PrivateKey {
    PrivateKey::from_bytes([0x77; 32]).expect("a valid key")
}

/// A key without any UserDeposit balance.
pub fn poor_key() -> PrivateKey {
    PrivateKey::from_bytes([0x55; 32]).expect("a valid key")
}

pub fn now_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// A paid PFS on a devnet: nodes 0 and 1 share a channel (10,000 each side, both reported,
/// both online); every node has 100 tokens in UserDeposit; the PFS is registered.
pub struct PaidPfs {
    pub devnet: Devnet,
    pub running: Running,
    /// The configuration served, with the fee.
    pub api_config: ApiConfig,
    follower: ChainFollower,
    _directory: tempfile::TempDir,
}

impl PaidPfs {
    /// Starts it with `fee` per request.
    pub async fn start(fee: u128) -> Self {
        let directory = tempfile::tempdir().expect("temporary directory");
        let devnet = Devnet::builder().nodes(3).start().await.expect("devnet starts");
        let raiden = devnet.raiden();
        let [node0, node1] = [devnet.nodes()[0].address(), devnet.nodes()[1].address()];
        let deposit = U256::from(10_000);
        let opened = raiden.open_channel_with_deposit(node0, node1, deposit).await.expect("channel opens");
        raiden.set_total_deposit(opened.channel_identifier, node1, deposit, node0).await.expect("deposit");
        raiden.register_service(pfs_key().address().into(), "http://127.0.0.1").await.expect("registered");
        let contracts = *devnet.deployment();
        let deployment = Deployment {
            chain_id: ChainId(contracts.chain_id),
            token_network_registry: contracts.token_network_registry.into(),
            user_deposit: contracts.user_deposit.into(),
            receiver: pfs_key().address(),
        };
        let location = directory.path().join("pfs.db");
        let store = Store::open(&StoreConfig::new(location.to_str().expect("utf-8 path")), &deployment)
            .await
            .expect("store opens");
        let service = Service::start(store, ServiceConfig::default()).await.expect("service starts");
        let mut config =
            FollowerConfig::new(deployment.token_network_registry, BlockNumber(contracts.deployment_block));
        config.confirmations = 0;
        config.poll_interval = Duration::from_millis(5);
        let follower = ChainFollower::connect(devnet.eth_rpc(), config, Vec::new(), Vec::new())
            .expect("follower connects");
        let api_config = ApiConfig {
            token_network_registry: deployment.token_network_registry,
            user_deposit: deployment.user_deposit,
            service_token: contracts.token.into(),
            payment_address: pfs_key().address(),
            service_fee: U256::from(fee),
            operator: "Test Operator".to_owned(),
            message: "paid".to_owned(),
            matrix_server: None,
            matrix_user_id: None,
        };
        let payments = PaymentConfig {
            one_to_n: contracts.one_to_n.into(),
            deposit_confirmations: DEPOSIT_CONFIRMATIONS,
            user_deposit: UserDepositReader::connect(devnet.eth_rpc(), deployment.user_deposit)
                .expect("reader"),
        };
        // No rate limits: the concurrency tests send many paid requests of one sender at once.
        let options = pfs_api::ApiOptions {
            rate_limits: pfs_api::RateLimits::UNLIMITED,
            payments: Some(payments),
            ..pfs_api::ApiOptions::default()
        };
        let running = Running::serve(service, api_config.clone(), options).await;
        let mut pfs = Self { devnet, running, api_config, follower, _directory: directory };
        pfs.follow().await;
        pfs.running.set_addresses_online(&[node0.into(), node1.into()]).await;
        for (from, to) in [(0, 1), (1, 0)] {
            let update = pfs.capacity_update(opened.channel_identifier, from, to, 10_000);
            let (status, body) = pfs.running.post_json("/api/v1/updates", &update).await;
            assert_eq!(status, 200, "{body}");
        }
        pfs
    }

    /// Applies every block up to the chain's head, as the service's chain follower does.
    pub async fn follow(&mut self) {
        let head = self.devnet.chain().block_number().await.expect("block number");
        while self.follower.cursor().is_none_or(|cursor| cursor.block_number.0 < head) {
            let batch = self.follower.next_batch().await.expect("batch");
            assert!(batch.rollback_to.is_none(), "no reorganisation on this chain");
            let cursor = *batch.blocks.last().expect("a forward batch names its blocks");
            let events = batch.events.into_iter().map(|(_, event)| event).collect();
            self.running.service.apply_chain_batch(Vec::new(), events, cursor).await.expect("batch applied");
        }
    }

    /// Mines `blocks` blocks and follows them.
    pub async fn mine(&mut self, blocks: u64) {
        self.devnet.chain().mine(blocks, 1).await.expect("mined");
        self.follow().await;
    }

    pub fn node_key(&self, index: usize) -> PrivateKey {
        PrivateKey::from_bytes(self.devnet.nodes()[index].secret_key().0).expect("devnet keys are valid")
    }

    pub fn node(&self, index: usize) -> Address {
        self.devnet.nodes()[index].address().into()
    }

    pub fn token_network(&self) -> Address {
        self.devnet.deployment().token_network.into()
    }

    pub fn one_to_n(&self) -> Address {
        self.devnet.deployment().one_to_n.into()
    }

    pub fn chain_id(&self) -> ChainId {
        ChainId(self.devnet.deployment().chain_id)
    }

    pub fn capacity_update(&self, channel: U256, from: usize, to: usize, capacity: u64) -> String {
        let update = UnsignedCapacityUpdate {
            canonical_identifier: CanonicalIdentifier {
                chain_identifier: self.chain_id(),
                token_network_address: self.token_network(),
                channel_identifier: ChannelId(channel),
            },
            updating_participant: self.node(from),
            other_participant: self.node(to),
            updating_nonce: Nonce(1),
            other_nonce: Nonce(1),
            updating_capacity: U256::from(capacity),
            other_capacity: U256::from(capacity),
            reveal_timeout: BlockTimeout(U256::from(50)),
        };
        Message::CapacityUpdate(update.sign(&self.node_key(from)).expect("signs")).to_json()
    }

    /// An IOU of `sender` to this PFS, as the light client makes it.
    pub fn iou(&self, sender: &PrivateKey, amount: u128, claimable_until: u64) -> UnsignedIou {
        UnsignedIou {
            sender: sender.address(),
            receiver: pfs_key().address(),
            amount: U256::from(amount),
            claimable_until: U256::from(claimable_until),
            one_to_n_address: self.one_to_n(),
            chain_id: self.chain_id(),
        }
    }

    /// `POST /paths` from `from` to `to` for 10 tokens with `iou` signed by `signer`, in the
    /// light client's shape.
    pub async fn paths(&self, from: Address, to: Address, iou: Option<Value>) -> (u16, Value) {
        let mut body =
            json!({"from": from.to_checksum(), "to": to.to_checksum(), "value": "10", "max_paths": 3});
        if let Some(iou) = iou {
            body["iou"] = iou;
        }
        let url = format!("/api/v1/{}/paths", self.token_network().to_checksum());
        self.running.post_json(&url, &body.to_string()).await
    }

    /// Pays from node 0 to node 1 with `iou` signed by `signer`.
    pub async fn pay(&self, signer: &PrivateKey, iou: UnsignedIou) -> (u16, Value) {
        self.paths(self.node(0), self.node(1), Some(light_client_json(&iou.sign(signer)))).await
    }

    /// `GET /payment/iou` for `sender`, signed now in the light client's timestamp format.
    pub async fn last_iou(&self, sender: &PrivateKey) -> (u16, Value) {
        let request =
            IouRequest::sign(sender, pfs_key().address(), &light_client_timestamp(SystemTime::now()))
                .expect("signs");
        self.get_iou_query(&request.to_query_string()).await
    }

    pub async fn get_iou_query(&self, query: &str) -> (u16, Value) {
        let url = format!("/api/v1/{}/payment/iou?{query}", self.token_network().to_checksum());
        self.running.get(&url).await
    }

    pub fn claimer(&self) -> OneToNClient {
        OneToNClient::connect(
            self.devnet.eth_rpc(),
            self.one_to_n(),
            &PrivateKey::from_bytes([0x77; 32]).expect("a valid key"),
        )
        .expect("client")
        .with_receipt_wait(Duration::from_secs(30), Duration::from_millis(5))
    }
}

/// Claims everything within 40 days, at a token price that makes the gas cost about 10^14
/// tokens (far below the fee, far above a drained deposit's remainder).
pub fn claim_policy() -> ClaimPolicy {
    ClaimPolicy { expire_within: Duration::from_secs(40 * DAY), eth_per_token: 1.0 }
}

/// The IOU JSON the light client sends: integers as decimal strings.
pub fn light_client_json(iou: &Iou) -> Value {
    let fields = iou.fields();
    json!({
        "sender": fields.sender.to_checksum(),
        "receiver": fields.receiver.to_checksum(),
        "chain_id": fields.chain_id.0.to_string(),
        "amount": fields.amount.to_string(),
        "one_to_n_address": fields.one_to_n_address.to_checksum(),
        "claimable_until": fields.claimable_until.to_string(),
        "signature": iou.signature().to_hex(),
    })
}

/// `new Date().toISOString().substring(0, 23) + "000"`.
pub fn light_client_timestamp(time: SystemTime) -> String {
    let micros = time.duration_since(UNIX_EPOCH).expect("after 1970").as_micros() as i64;
    let timestamp = pfs_core::NaiveTimestamp::from_unix_micros(micros / 1000 * 1000).expect("in range");
    let text = timestamp.to_isoformat();
    if text.len() == 19 { format!("{text}.000000") } else { text }
}

pub fn amount_of(iou: &Value) -> u128 {
    iou["amount"].as_u64().map(u128::from).or_else(|| iou["amount"].as_str()?.parse().ok()).unwrap_or_else(
        || {
            // Amounts above 2^64 arrive as exact JSON numbers.
            iou["amount"].to_string().parse().expect("an integer amount")
        },
    )
}
