//! Matrix users, the sync token and offline times.

use std::time::{Duration, UNIX_EPOCH};

use pfs_core::Address;
use pfs_store::{MAX_SYNC_TOKEN_BYTES, MatrixUser, StoreError};

use crate::common::TempDatabase;

fn user(byte: u8, server: &str) -> MatrixUser {
    let address = Address::from_bytes([byte; 20]);
    MatrixUser {
        user_id: format!("@{}:{server}", address.to_lower_hex()),
        address,
        displayname: format!("0x{}", "ab".repeat(65)),
    }
}

#[tokio::test]
async fn known_users_survive_a_restart_and_can_be_updated_or_forgotten() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    store.save_matrix_user(&user(1, "a.example")).await.unwrap();
    store.save_matrix_user(&user(2, "b.example")).await.unwrap();
    let renamed = MatrixUser { displayname: "0xcd".into(), ..user(1, "a.example") };
    store.save_matrix_user(&renamed).await.unwrap();
    assert!(store.remove_matrix_user(&user(2, "b.example").user_id).await.unwrap());
    assert!(!store.remove_matrix_user("@unknown:a.example").await.unwrap());
    store.close().await;
    assert_eq!(database.open().await.matrix_users().await.unwrap(), vec![renamed]);
}

#[tokio::test]
async fn the_sync_token_is_replaced_and_bounded() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    assert_eq!(store.sync_token().await.unwrap(), None);
    store.save_sync_token("s1_2_3").await.unwrap();
    store.save_sync_token("s4_5_6").await.unwrap();
    assert_eq!(store.sync_token().await.unwrap().as_deref(), Some("s4_5_6"));
    let error = store.save_sync_token(&"x".repeat(MAX_SYNC_TOKEN_BYTES + 1)).await.unwrap_err();
    assert!(matches!(error, StoreError::TooLong(_)), "{error}");
}

#[tokio::test]
async fn offline_times_are_kept_until_the_address_is_online_again() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let since = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
    let (first, second) = (Address::from_bytes([1; 20]), Address::from_bytes([2; 20]));
    store.set_seen_offline(&first, Some(since)).await.unwrap();
    store.set_seen_offline(&second, Some(since)).await.unwrap();
    store.set_seen_offline(&second, None).await.unwrap();
    assert_eq!(store.seen_offline().await.unwrap(), vec![(first, since)]);
}

fn created_network() -> (pfs_core::token_network::TokenNetworkRegistry, pfs_store::StateChanges) {
    use pfs_core::token_network::{ChainEvent, TokenNetworkRegistry};
    let mut registry = TokenNetworkRegistry::new(crate::common::CHAIN);
    let mut changes = pfs_store::StateChanges::new();
    let event = ChainEvent::TokenNetworkCreated {
        token_network: Address::from_bytes([0xaa; 20]),
        token: Address::from_bytes([0xee; 20]),
        settle_timeout: pfs_core::BlockTimeout(pfs_core::U256::from(500)),
    };
    let effect = registry.apply_chain_event(&event, crate::common::at(0));
    changes.record_chain_event(&event, &effect);
    (registry, changes)
}

#[tokio::test]
async fn a_recorded_sync_token_commits_with_the_state_changes() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let (registry, mut changes) = created_network();
    changes.record_sync_token("s1_first").unwrap();
    changes.record_sync_token("s2_second").unwrap();
    store.commit(&registry, &changes).await.unwrap();
    store.close().await;
    let store = database.open().await;
    assert_eq!(store.sync_token().await.unwrap().as_deref(), Some("s2_second"));
    assert_eq!(store.load_state().await.unwrap().registry.token_networks().count(), 1);
}

#[tokio::test]
async fn a_sync_token_alone_is_a_change_worth_committing() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let mut changes = pfs_store::StateChanges::new();
    changes.record_sync_token("s7").unwrap();
    assert!(!changes.is_empty());
    store
        .commit(&pfs_core::token_network::TokenNetworkRegistry::new(crate::common::CHAIN), &changes)
        .await
        .unwrap();
    assert_eq!(store.sync_token().await.unwrap().as_deref(), Some("s7"));
    changes.clear();
    assert!(changes.is_empty());
}

#[tokio::test]
async fn a_failed_commit_saves_neither_the_state_nor_the_sync_token() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    store.save_sync_token("s0_before").await.unwrap();
    let (registry, mut changes) = created_network();
    changes.record_sync_token("s1_after").unwrap();
    // The token statement runs before the blocks are written; this block then fails the
    // transaction, which must take the token (and the token network) with it.
    changes.record_block(pfs_store::ChainCursor {
        block_number: pfs_core::BlockNumber(u64::MAX),
        block_hash: [1; 32].into(),
    });
    let error = store.commit(&registry, &changes).await.unwrap_err();
    assert!(matches!(error, StoreError::BlockNumberOutOfRange(_)), "{error}");
    assert_eq!(store.sync_token().await.unwrap().as_deref(), Some("s0_before"));
    assert_eq!(store.load_state().await.unwrap().registry.token_networks().count(), 0);
}

#[test]
fn an_oversized_sync_token_is_refused_when_recorded_and_nothing_is_recorded() {
    let mut changes = pfs_store::StateChanges::new();
    let error = changes.record_sync_token(&"x".repeat(MAX_SYNC_TOKEN_BYTES + 1)).unwrap_err();
    assert_eq!(error.limit, MAX_SYNC_TOKEN_BYTES);
    assert!(changes.is_empty());
}
