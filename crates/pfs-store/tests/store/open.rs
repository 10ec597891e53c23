//! Opening a database: creation, WAL, migrations, the version and deployment checks (on SQLite
//! files, which some tests inspect or alter directly).

use pfs_core::{Address, ChainId};
use pfs_store::{Deployment, Durability, Store, StoreConfig, StoreError, supported_version};

use crate::common::{FUTURE_VERSION, TempDatabase, add_future_migration, deployment};

#[tokio::test]
async fn a_new_database_is_created_with_its_directories_in_wal_mode() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("nested/dir/pfs.db");
    let store = Store::open(&StoreConfig::new(path.to_str().unwrap()), &deployment()).await.unwrap();
    assert!(path.exists());
    assert_eq!(store.deployment(), &deployment());
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&raw).await.unwrap();
    assert_eq!(journal_mode, "wal");
    let version: i64 =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations").fetch_one(&raw).await.unwrap();
    assert_eq!(version, supported_version());
}

#[tokio::test]
async fn reopening_with_the_same_deployment_succeeds_and_normal_durability_is_accepted() {
    let database = TempDatabase::sqlite();
    database.open().await.close().await;
    let config = StoreConfig { durability: Durability::Normal, ..StoreConfig::new(database.location()) };
    Store::open(&config, &deployment()).await.unwrap();
}

#[tokio::test]
async fn another_deployment_is_refused_naming_the_setting() {
    let database = TempDatabase::sqlite();
    database.open().await.close().await;
    let config = StoreConfig::new(database.location());
    let other_chain = Deployment { chain_id: ChainId(5), ..deployment() };
    let error = Store::open(&config, &other_chain).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::DeploymentMismatch { setting: "chain id", stored, configured }
        if stored == "1337" && configured == "5"),
        "{error}"
    );
    let other_receiver = Deployment { receiver: Address::from_bytes([0x44; 20]), ..deployment() };
    let error = Store::open(&config, &other_receiver).await.unwrap_err();
    assert!(matches!(error, StoreError::DeploymentMismatch { setting: "service address", .. }), "{error}");
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_with_both_versions() {
    let database = TempDatabase::sqlite();
    database.open().await.close().await;
    add_future_migration(&database).await;
    let error = Store::open(&StoreConfig::new(database.location()), &deployment()).await.unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { database: FUTURE_VERSION, supported } if supported == supported_version()),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&FUTURE_VERSION.to_string()) && message.contains(&supported_version().to_string()),
        "{message}"
    );
    let error = Store::open_read_only(&database.location()).await.unwrap_err();
    assert!(matches!(error, StoreError::SchemaVersionMismatch { .. }), "{error}");
}

#[tokio::test]
async fn read_only_opening_never_creates_a_database() {
    let database = TempDatabase::sqlite();
    let error = Store::open_read_only(&database.location()).await.unwrap_err();
    assert!(matches!(error, StoreError::Connect { .. }), "{error}");
    assert!(!database.path().exists());
}

#[tokio::test]
async fn read_only_opening_of_a_foreign_sqlite_file_reports_version_zero() {
    let database = TempDatabase::sqlite();
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", database.location())).await.unwrap();
    sqlx::query("CREATE TABLE unrelated (x INTEGER)").execute(&raw).await.unwrap();
    raw.close().await;
    let error = Store::open_read_only(&database.location()).await.unwrap_err();
    assert!(matches!(error, StoreError::SchemaVersionMismatch { database: 0, .. }), "{error}");
}
