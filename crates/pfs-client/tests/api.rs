//! The client against a real service: pfs_service and pfs_api on a temporary SQLite database,
//! served on 127.0.0.1. Chain and Matrix input reach the service through its writer, as the
//! chain follower and the Matrix client feed it; updates arrive over HTTP from the client.

use std::net::SocketAddr;

use pfs_api::ApiConfig;
use pfs_client::{ChannelState, ClientError, PathsRequest, PfsClient, UpdateOutcome, codes, fee_update};
use pfs_core::presence::UserPresence;
use pfs_core::token_network::ChainEvent;
use pfs_core::{
    Address, BlockNumber, BlockTimeout, CanonicalIdentifier, ChainId, ChannelId, FeeSchedule, Message,
    NaiveTimestamp, PrivateKey, U256,
};
use pfs_matrix::{MatrixEvent, PresenceChanged, SyncBatch};
use pfs_service::{Service, ServiceConfig};
use pfs_store::{ChainCursor, Deployment, Store, StoreConfig};

const CHAIN_ID: ChainId = ChainId(31337);
const TOKEN_NETWORK: Address = Address::from_bytes([0xab; 20]);
const DEPOSIT: u64 = 1_000;

fn key(index: u8) -> PrivateKey {
    // Invariant: small non-zero constants are valid secp256k1 keys.
    PrivateKey::from_bytes([index + 1; 32]).expect("valid key")
}

fn node(index: u8) -> Address {
    key(index).address()
}

fn channel_identifier(channel: u64) -> CanonicalIdentifier {
    CanonicalIdentifier {
        chain_identifier: CHAIN_ID,
        token_network_address: TOKEN_NETWORK,
        channel_identifier: ChannelId(U256::from(channel)),
    }
}

/// Node `from`'s view of channel `channel` with `to`, both sides holding their deposit.
fn channel_state(channel: u64, from: u8, to: u8) -> ChannelState {
    ChannelState::funded(
        channel_identifier(channel),
        node(from),
        U256::from(DEPOSIT),
        node(to),
        U256::from(DEPOSIT),
        BlockTimeout(U256::from(50)),
    )
}

struct Pfs {
    service: Service,
    address: SocketAddr,
    client: PfsClient,
    _database: tempfile::TempDir,
}

impl Pfs {
    async fn start() -> Self {
        Self::start_with_fee(U256::ZERO).await
    }

    async fn start_with_fee(service_fee: U256) -> Self {
        let database = tempfile::tempdir().expect("temporary folder");
        let path = database.path().join("pfs.db");
        let deployment = Deployment {
            chain_id: CHAIN_ID,
            token_network_registry: Address::from_bytes([1; 20]),
            user_deposit: Address::from_bytes([2; 20]),
            receiver: Address::from_bytes([3; 20]),
        };
        let store = Store::open(&StoreConfig::new(path.to_str().expect("utf-8 path")), &deployment)
            .await
            .expect("store opens");
        let service = Service::start(store, ServiceConfig::default()).await.expect("service starts");
        let config = ApiConfig {
            token_network_registry: deployment.token_network_registry,
            user_deposit: deployment.user_deposit,
            service_token: Address::from_bytes([5; 20]),
            payment_address: deployment.receiver,
            service_fee,
            operator: "pfs-client tests".to_owned(),
            message: "a test PFS".to_owned(),
            matrix_server: None,
            matrix_user_id: None,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("bound address");
        let app = pfs_api::router(service.clone(), config);
        tokio::spawn(async move { axum::serve(listener, app).await.expect("server runs") });
        let client = PfsClient::new(&format!("http://{address}")).expect("valid URL");
        Self { service, address, client, _database: database }
    }

    /// Channels along `nodes` (node i – node i+1, channel id i+1), both sides depositing.
    async fn open_line(&self, nodes: &[u8]) {
        let mut events = vec![ChainEvent::TokenNetworkCreated {
            token_network: TOKEN_NETWORK,
            token: Address::from_bytes([0x55; 20]),
            settle_timeout: BlockTimeout(U256::from(500)),
        }];
        for (index, pair) in nodes.windows(2).enumerate() {
            let channel_id = ChannelId(U256::from(index + 1));
            events.push(ChainEvent::ChannelOpened {
                token_network: TOKEN_NETWORK,
                channel_id,
                participant1: node(pair[0]),
                participant2: node(pair[1]),
            });
            for participant in pair {
                events.push(ChainEvent::Deposit {
                    token_network: TOKEN_NETWORK,
                    channel_id,
                    participant: node(*participant),
                    total_deposit: U256::from(DEPOSIT),
                });
            }
        }
        let cursor = ChainCursor { block_number: BlockNumber(10), block_hash: [7; 32].into() };
        self.service.apply_chain_batch(Vec::new(), events, cursor).await.expect("chain batch committed");
    }

    async fn set_online(&self, nodes: &[u8]) {
        let events = nodes
            .iter()
            .map(|index| {
                let address = node(*index);
                let user_id = format!("@{}:localhost", address.to_lower_hex());
                MatrixEvent::PresenceChanged(PresenceChanged {
                    displayname: Some(pfs_core::matrix_identity::displayname(&key(*index), &user_id)),
                    user_id,
                    address,
                    presence: UserPresence::Online,
                    capabilities: Some("mxc://raiden.network/cap?Receive=1&Mediate=1".to_owned()),
                })
            })
            .collect();
        self.service.apply_matrix(SyncBatch::new("s1".to_owned(), events)).await.expect("batch queued");
        self.service.sync().await.expect("writer synced");
    }

    /// Both sides of every channel of the line report their capacities over HTTP.
    async fn report_line(&self, nodes: &[u8]) {
        let mut messages = Vec::new();
        for (index, pair) in nodes.windows(2).enumerate() {
            for (from, to) in [(pair[0], pair[1]), (pair[1], pair[0])] {
                let update = channel_state(index as u64 + 1, from, to).capacity_update(&key(from)).unwrap();
                messages.push(Message::CapacityUpdate(update));
            }
        }
        for result in self.client.post_updates(&messages).await.expect("batch answered") {
            assert_eq!(result, Ok(UpdateOutcome::Accepted));
        }
    }
}

fn timestamp() -> NaiveTimestamp {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros();
    NaiveTimestamp::from_unix_micros(i64::try_from(micros).unwrap()).unwrap()
}

fn flat(amount: u64) -> FeeSchedule {
    FeeSchedule { flat: U256::from(amount), ..FeeSchedule::default() }
}

#[tokio::test]
async fn info_is_read_into_typed_fields() {
    let pfs = Pfs::start_with_fee(U256::from(7)).await;
    let info = pfs.client.info().await.unwrap();
    assert_eq!(info.price_info, U256::from(7));
    assert_eq!(info.network_info.chain_id, CHAIN_ID);
    assert_eq!(info.network_info.token_network_registry_address, Address::from_bytes([1; 20]));
    assert_eq!(info.payment_address, Address::from_bytes([3; 20]));
    assert_eq!(info.operator, "pfs-client tests");
    assert_eq!(info.matrix_server, None);
}

#[tokio::test]
async fn a_batch_of_updates_gets_one_typed_result_per_message_in_order() {
    let pfs = Pfs::start().await;
    pfs.open_line(&[0, 1]).await;
    let accepted = channel_state(1, 0, 1).capacity_update(&key(0)).unwrap();
    // Channel 2 is not open yet: the PFS keeps the update until it is.
    let deferred = channel_state(2, 1, 2).capacity_update(&key(1)).unwrap();
    let mut wrong_chain_state = channel_state(1, 1, 0);
    wrong_chain_state.canonical_identifier.chain_identifier = ChainId(1);
    let wrong_chain = wrong_chain_state.capacity_update(&key(1)).unwrap();
    let results = pfs
        .client
        .post_updates(&[
            Message::CapacityUpdate(accepted),
            Message::CapacityUpdate(deferred),
            Message::CapacityUpdate(wrong_chain),
        ])
        .await
        .unwrap();
    assert_eq!(results[0], Ok(UpdateOutcome::Accepted));
    assert_eq!(results[1], Ok(UpdateOutcome::Deferred));
    assert_eq!(results[2].as_ref().unwrap_err().error_code, 2302);
}

#[tokio::test]
async fn a_single_update_is_accepted_and_a_refused_one_carries_the_pfs_error_code() {
    let pfs = Pfs::start().await;
    pfs.open_line(&[0, 1]).await;
    let update = channel_state(1, 0, 1).capacity_update(&key(0)).unwrap();
    assert_eq!(
        pfs.client.post_update(&Message::CapacityUpdate(update.clone())).await.unwrap(),
        UpdateOutcome::Accepted
    );
    let mut other_network = channel_state(1, 0, 1);
    other_network.canonical_identifier.token_network_address = Address::from_bytes([0xcd; 20]);
    let refused = other_network.capacity_update(&key(0)).unwrap();
    let error = pfs.client.post_update(&Message::CapacityUpdate(refused)).await.unwrap_err();
    assert_eq!(error.error_code(), Some(codes::UPDATE_UNKNOWN_TOKEN_NETWORK));
    assert!(matches!(error, ClientError::Pfs { status: 400, .. }));
}

#[tokio::test]
async fn more_than_a_hundred_updates_are_refused_before_sending() {
    // Nothing listens on port 9 of loopback: the check must happen before any request.
    let client = PfsClient::new("http://127.0.0.1:9").unwrap();
    let update = Message::CapacityUpdate(channel_state(1, 0, 1).capacity_update(&key(0)).unwrap());
    let error = client.post_updates(&vec![update; 101]).await.unwrap_err();
    assert!(matches!(error, ClientError::TooManyUpdates(101)));
}

#[tokio::test]
async fn paths_returns_the_route_and_the_sum_of_the_mediators_flat_fees() {
    let pfs = Pfs::start().await;
    pfs.open_line(&[0, 1, 2, 3]).await;
    pfs.report_line(&[0, 1, 2, 3]).await;
    // Mediators 1 and 2 announce a flat fee on each of their channels; the initiator's and the
    // target's schedules never count.
    let now = timestamp();
    let announcements = [(1u8, 1u64, 3u64), (1, 2, 5), (2, 2, 11), (2, 3, 13), (0, 1, 1000), (3, 3, 1000)];
    let messages: Vec<Message> = announcements
        .iter()
        .map(|(mediator, channel, fee)| {
            Message::FeeUpdate(fee_update(&key(*mediator), channel_identifier(*channel), flat(*fee), now))
        })
        .collect();
    for result in pfs.client.post_updates(&messages).await.unwrap() {
        assert_eq!(result, Ok(UpdateOutcome::Accepted));
    }
    pfs.set_online(&[0, 1, 2, 3]).await;
    let answer =
        pfs.client.paths(TOKEN_NETWORK, &PathsRequest::new(node(0), node(3), U256::from(100))).await.unwrap();
    let route = &answer.result[0];
    assert_eq!(route.path, vec![node(0), node(1), node(2), node(3)]);
    assert_eq!(route.estimated_fee, alloy_primitives::I256::try_from(3 + 5 + 11 + 13).unwrap());
    assert_eq!(route.address_metadata.len(), 4);
    assert_eq!(answer.feedback_token.len(), 32);
}

#[tokio::test]
async fn no_route_is_a_pfs_error_2201() {
    let pfs = Pfs::start().await;
    pfs.open_line(&[0, 1]).await;
    pfs.report_line(&[0, 1]).await;
    pfs.set_online(&[0, 1, 2]).await;
    let error = pfs
        .client
        .paths(TOKEN_NETWORK, &PathsRequest::new(node(0), node(2), U256::from(10)))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some(codes::NO_ROUTE_FOUND));
    assert!(matches!(error, ClientError::Pfs { status: 404, .. }));
}

#[tokio::test]
async fn online_addresses_and_metadata_follow_presence() {
    let pfs = Pfs::start().await;
    pfs.set_online(&[4]).await;
    assert_eq!(pfs.client.online_addresses().await.unwrap(), vec![node(4)]);
    let metadata = pfs.client.metadata(node(4)).await.unwrap();
    assert_eq!(metadata.user_id, format!("@{}:localhost", node(4).to_lower_hex()));
    let offline = pfs.client.metadata(node(5)).await.unwrap_err();
    assert_eq!(offline.error_code(), Some(codes::ADDRESS_NOT_ONLINE));
}

#[tokio::test]
async fn feedback_on_a_returned_route_is_accepted_and_on_an_unknown_token_refused() {
    let pfs = Pfs::start().await;
    pfs.open_line(&[0, 1]).await;
    pfs.report_line(&[0, 1]).await;
    pfs.set_online(&[0, 1]).await;
    let answer =
        pfs.client.paths(TOKEN_NETWORK, &PathsRequest::new(node(0), node(1), U256::from(10))).await.unwrap();
    let path = &answer.result[0].path;
    assert!(pfs.client.feedback(TOKEN_NETWORK, &answer.feedback_token, true, path).await.unwrap());
    let unknown = "0123456789abcdef0123456789abcdef";
    assert!(!pfs.client.feedback(TOKEN_NETWORK, unknown, true, path).await.unwrap());
}

#[tokio::test]
async fn last_iou_is_none_when_the_pfs_answers_404() {
    let pfs = Pfs::start().await;
    let timestamp = pfs_client::light_client_timestamp(std::time::SystemTime::now());
    let last =
        pfs.client.last_iou(TOKEN_NETWORK, &key(0), Address::from_bytes([3; 20]), &timestamp).await.unwrap();
    assert_eq!(last, None);
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let client = PfsClient::new("http://127.0.0.1:9").unwrap();
    assert!(matches!(client.info().await, Err(ClientError::Transport { .. })));
}

#[tokio::test]
async fn the_cli_prints_info_and_routes_as_json() {
    let pfs = Pfs::start().await;
    pfs.open_line(&[0, 1]).await;
    pfs.report_line(&[0, 1]).await;
    pfs.set_online(&[0, 1]).await;
    let url = format!("http://{}", pfs.address);
    let run = |arguments: Vec<String>| {
        let url = url.clone();
        async move {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pfs-client"))
                .arg("--url")
                .arg(url)
                .args(arguments)
                .output()
                .await
                .expect("pfs-client runs");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("JSON output")
        }
    };
    let info = run(vec!["info".into()]).await;
    assert_eq!(info["network_info"]["chain_id"], 31337);
    let paths = run(vec![
        "paths".into(),
        "--token-network".into(),
        TOKEN_NETWORK.to_checksum(),
        "--from".into(),
        node(0).to_checksum(),
        "--to".into(),
        node(1).to_checksum(),
        "--value".into(),
        "10".into(),
    ])
    .await;
    assert_eq!(paths["result"][0]["path"], serde_json::json!([node(0).to_checksum(), node(1).to_checksum()]));
    assert_eq!(paths["result"][0]["estimated_fee"], 0);
}
