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
