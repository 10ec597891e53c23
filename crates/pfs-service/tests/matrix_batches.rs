//! A Matrix sync batch goes through the writer like any other input: its to-device updates and
//! its sync token are committed in one transaction, so a restart resumes from a token whose
//! effects are stored.

use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate};
use pfs_core::token_network::{ChainEvent, VerifiedUpdate};
use pfs_core::{Address, BlockNumber, BlockTimeout, ChainId, ChannelId, Message, Nonce, PrivateKey, U256};
use pfs_matrix::{MatrixEvent, SyncBatch, ToDeviceUpdates};
use pfs_service::{Service, ServiceConfig};
use pfs_store::{ChainCursor, Deployment, Store, StoreConfig};

const CHAIN: ChainId = ChainId(1337);

fn deployment() -> Deployment {
    Deployment {
        chain_id: CHAIN,
        token_network_registry: Address::from_bytes([1; 20]),
        user_deposit: Address::from_bytes([2; 20]),
        receiver: Address::from_bytes([3; 20]),
    }
}

fn key(index: u8) -> PrivateKey {
    PrivateKey::from_bytes([index + 1; 32]).expect("a small constant is a valid secp256k1 key")
}

fn token_network() -> Address {
    Address::from_bytes([0xab; 20])
}

async fn open(path: &std::path::Path) -> Store {
    let location = path.to_str().expect("a UTF-8 temporary path");
    Store::open(&StoreConfig::new(location), &deployment()).await.expect("the store opens")
}

/// A token network with one channel between node 0 and node 1, 100 deposited each side.
async fn open_channel(service: &Service) {
    let channel_id = ChannelId(U256::from(1));
    let mut events = vec![
        ChainEvent::TokenNetworkCreated {
            token_network: token_network(),
            token: Address::from_bytes([0x55; 20]),
            settle_timeout: BlockTimeout(U256::from(500)),
        },
        ChainEvent::ChannelOpened {
            token_network: token_network(),
            channel_id,
            participant1: key(0).address(),
            participant2: key(1).address(),
        },
    ];
    for index in [0, 1] {
        events.push(ChainEvent::Deposit {
            token_network: token_network(),
            channel_id,
            participant: key(index).address(),
            total_deposit: U256::from(100),
        });
    }
    let cursor = ChainCursor { block_number: BlockNumber(10), block_hash: [7; 32].into() };
    service.apply_chain_batch(Vec::new(), events, cursor).await.expect("the chain batch commits");
}

fn verified_capacity_update(capacity: u64) -> VerifiedUpdate {
    let update = UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: CHAIN,
            token_network_address: token_network(),
            channel_identifier: ChannelId(U256::from(1)),
        },
        updating_participant: key(0).address(),
        other_participant: key(1).address(),
        updating_nonce: Nonce(1),
        other_nonce: Nonce(1),
        updating_capacity: U256::from(capacity),
        other_capacity: U256::from(100),
        reveal_timeout: BlockTimeout(U256::from(50)),
    };
    let message = Message::CapacityUpdate(update.sign(&key(0)).expect("signs"));
    VerifiedUpdate::verify(message).expect("a correctly signed update verifies")
}

#[tokio::test]
async fn a_sync_batch_commits_its_updates_and_its_token_together() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("pfs.db");
    let store = open(&path).await;
    let service = Service::start(store.clone(), ServiceConfig::default()).await.expect("the service starts");
    open_channel(&service).await;
    let updates = ToDeviceUpdates {
        sender_user_id: format!("@{}:localhost", key(0).address().to_lower_hex()),
        sender_address: key(0).address(),
        results: vec![Ok(verified_capacity_update(60))],
    };
    let batch = SyncBatch::new("s42_7".to_owned(), vec![MatrixEvent::ToDeviceUpdates(updates)]);
    service.apply_matrix(batch).await.expect("the batch is queued");
    service.shutdown().await;
    store.close().await;

    let store = open(&path).await;
    assert_eq!(store.sync_token().await.expect("the token reads").as_deref(), Some("s42_7"));
    let loaded = store.load_state().await.expect("the state loads");
    let channel = loaded
        .registry
        .token_network(&token_network())
        .and_then(|network| network.channel(&ChannelId(U256::from(1))))
        .expect("the channel is stored");
    let side = channel.side_index(&key(0).address()).expect("node 0 is a participant");
    let report = channel.sides[side].capacity_report.as_ref().expect("the update is stored");
    assert_eq!(report.updating_capacity, U256::from(60));
    store.close().await;
}

#[tokio::test]
async fn an_oversized_sync_token_is_not_saved_and_the_writer_keeps_running() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = open(&directory.path().join("pfs.db")).await;
    let service = Service::start(store.clone(), ServiceConfig::default()).await.expect("the service starts");
    let oversized = "s".repeat(pfs_store::MAX_SYNC_TOKEN_BYTES + 1);
    service.apply_matrix(SyncBatch::new(oversized, Vec::new())).await.expect("the batch is queued");
    service.sync().await.expect("the writer still commits");
    assert_eq!(store.sync_token().await.expect("the token reads"), None);
    service.apply_matrix(SyncBatch::new("s2".to_owned(), Vec::new())).await.expect("the batch is queued");
    service.sync().await.expect("the writer still commits");
    assert_eq!(store.sync_token().await.expect("the token reads").as_deref(), Some("s2"));
    service.shutdown().await;
    store.close().await;
}
