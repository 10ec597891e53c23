//! A Matrix sync batch goes through the writer like any other input: its to-device updates and
//! its sync token are committed in one transaction, so a restart resumes from a token whose
//! effects are stored.

mod common;

use common::{capacity_update, key, node, open_channels, open_store as open, token_network};
use pfs_core::token_network::VerifiedUpdate;
use pfs_core::{ChannelId, U256};
use pfs_matrix::{MatrixEvent, SyncBatch, ToDeviceUpdates};
use pfs_service::{Service, ServiceConfig};

/// A token network with one channel between node 0 and node 1, 100 deposited each side.
async fn open_channel(service: &Service) {
    open_channels(service, &[(ChannelId(U256::from(1)), [node(0), node(1)])], 100).await;
}

fn verified_capacity_update(capacity: u64) -> VerifiedUpdate {
    VerifiedUpdate::verify(capacity_update(1, capacity, 100)).expect("a correctly signed update verifies")
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
