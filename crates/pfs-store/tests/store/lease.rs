//! The service lease: one service per database, on either backend, released by its holder's
//! end; other writers (such as `claim-fees`) are not kept out.

use std::time::{Duration, Instant};

use pfs_store::{Store, StoreConfig, StoreError};

use crate::common::{TempDatabase, add_future_migration, deployment};

/// Short enough for a test, long enough to see the waiting.
const WAIT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_second_service_is_refused_after_waiting_while_the_first_holds_the_lease() {
    let database = TempDatabase::new().await;
    let config = StoreConfig::new(database.location());
    let (first, _lease) = Store::open_for_service(&config, &deployment(), WAIT).await.expect("the first");
    let started = Instant::now();
    let error = Store::open_for_service(&config, &deployment(), WAIT).await.expect_err("a second is refused");
    assert!(started.elapsed() >= WAIT, "refused after {:?}", started.elapsed());
    assert!(
        matches!(&error, StoreError::ServiceLeaseHeld { location } if location == first.location()),
        "{error}"
    );
    assert!(error.to_string().contains("run one service per database"), "{error}");
}

#[tokio::test]
async fn a_second_service_is_refused_before_it_migrates_anything() {
    let database = TempDatabase::sqlite();
    let config = StoreConfig::new(database.location());
    let (_first, _lease) = Store::open_for_service(&config, &deployment(), WAIT).await.expect("the first");
    // A migration of a newer version: a second service that looked at the schema before taking
    // the lease would stop at that (SchemaTooNew); it stops at the lease instead.
    add_future_migration(&database).await;
    let error = Store::open_for_service(&config, &deployment(), WAIT).await.expect_err("a second is refused");
    assert!(matches!(error, StoreError::ServiceLeaseHeld { .. }), "{error}");
}

#[tokio::test]
async fn a_released_lease_can_be_taken_again() {
    let database = TempDatabase::new().await;
    let first = database.open().await;
    let second = database.open().await;
    first.take_service_lease(WAIT).await.expect("the first lease").release().await;
    second.take_service_lease(Duration::ZERO).await.expect("the lease at once after its release");
}

#[tokio::test]
async fn a_dropped_lease_is_released() {
    let database = TempDatabase::new().await;
    let first = database.open().await;
    let second = database.open().await;
    drop(first.take_service_lease(WAIT).await.expect("the first lease"));
    // On PostgreSQL the server notices the closed session asynchronously: the wait covers it.
    second.take_service_lease(Duration::from_secs(5)).await.expect("the lease after its holder went away");
}

#[tokio::test]
async fn a_lease_waits_for_a_holder_that_lets_go_in_time() {
    let database = TempDatabase::new().await;
    let first = database.open().await;
    let second = database.open().await;
    let lease = first.take_service_lease(WAIT).await.expect("the first lease");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        lease.release().await;
    });
    second.take_service_lease(Duration::from_secs(5)).await.expect("taken once the first let go");
    release.await.expect("released");
}

#[tokio::test]
async fn the_lease_does_not_keep_other_writers_out() {
    let database = TempDatabase::new().await;
    let service = database.open().await;
    let _lease = service.take_service_lease(WAIT).await.expect("the lease");
    let tool = database.open().await;
    tool.save_sync_token("s72594_4483_1934").await.expect("another writer commits");
    assert_eq!(service.sync_token().await.expect("read").as_deref(), Some("s72594_4483_1934"));
}
