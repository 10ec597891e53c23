//! The IOU ledger: check-and-store under concurrency, sessions, claiming.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pfs_core::iou::UnsignedIou;
use pfs_core::{Address, Iou, U256};
use pfs_store::{IouSessions, Store, StoreConfig, StoreError, StoredIou};

use crate::common::{CHAIN, TempDatabase, deployment, key};

const FEE: u64 = 3;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn iou(sender: u8, amount: U256, claimable_until: u64) -> Iou {
    UnsignedIou {
        sender: key(sender).address(),
        receiver: deployment().receiver,
        amount,
        claimable_until: U256::from(claimable_until),
        one_to_n_address: Address::from_bytes([0x55; 20]),
        chain_id: CHAIN,
    }
    .sign(&key(sender))
}

/// Why the rules below refuse an IOU.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// 2104.
    AmountTooLow { expected: U256 },
    /// 2105.
    SessionClaimed,
    /// 2106.
    OtherSessionActive,
}

/// The stored-IOU rules of `spec/REFERENCE-PFS.md` §6.3 (7 and 8), as the payments layer applies
/// them inside the transaction.
fn reference_rules(iou: &Iou) -> impl FnOnce(&IouSessions) -> Result<(), Refusal> + '_ {
    move |sessions| {
        let expected = match (&sessions.active, &sessions.claimed) {
            (Some(active), _) if active.fields().claimable_until != iou.fields().claimable_until => {
                return Err(Refusal::OtherSessionActive);
            }
            (Some(active), _) => active.fields().amount + U256::from(FEE),
            (None, Some(_)) => return Err(Refusal::SessionClaimed),
            (None, None) => U256::from(FEE),
        };
        if iou.fields().amount < expected {
            return Err(Refusal::AmountTooLow { expected });
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_of_one_sender_are_neither_lost_nor_double_counted() {
    const TASKS: usize = 8;
    const INCREMENTS: usize = 10;
    let database = TempDatabase::new().await;
    // Four stores on one file behave like four processes: only the database's lock orders them.
    let mut stores = Vec::new();
    for _ in 0..4 {
        let config =
            StoreConfig { busy_timeout: Duration::from_secs(30), ..StoreConfig::new(database.location()) };
        stores.push(Store::open(&config, &deployment()).await.unwrap());
    }
    let sender = key(1).address();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = stores[task % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            let (mut accepted, mut refused) = (0usize, 0usize);
            while accepted < INCREMENTS {
                // The client's view: the last IOU it can see, plus the fee.
                let base =
                    store.active_iou(&sender).await.unwrap().map_or(U256::ZERO, |iou| iou.fields().amount);
                let payment = iou(1, base + U256::from(FEE), 1_800_000_000);
                match store.check_and_store_iou(&payment, now(), reference_rules(&payment)).await.unwrap() {
                    Ok(()) => accepted += 1,
                    Err(Refusal::AmountTooLow { .. }) => refused += 1,
                    Err(other) => panic!("unexpected refusal {other:?}"),
                }
            }
            (accepted, refused)
        }));
    }
    let (mut accepted, mut refused) = (0, 0);
    for task in tasks {
        let (task_accepted, task_refused) = task.await.unwrap();
        accepted += task_accepted;
        refused += task_refused;
    }
    assert_eq!(accepted, TASKS * INCREMENTS);
    // Stale client views were refused (2104) rather than counted: the tasks did race.
    assert!(refused > 0);
    let stored = stores[0].active_iou(&sender).await.unwrap().unwrap();
    assert_eq!(stored.fields().amount, U256::from(FEE) * U256::from(accepted));
}

#[tokio::test]
async fn an_accepted_iou_replaces_the_session_and_a_refused_one_changes_nothing() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let first = iou(1, U256::from(FEE), 1_800_000_000);
    assert_eq!(store.check_and_store_iou(&first, now(), reference_rules(&first)).await.unwrap(), Ok(()));
    // Reusing the same IOU pays nothing: 2104.
    assert_eq!(
        store.check_and_store_iou(&first, now(), reference_rules(&first)).await.unwrap(),
        Err(Refusal::AmountTooLow { expected: U256::from(2 * FEE) })
    );
    let other_session = iou(1, U256::from(100), 1_900_000_000);
    assert_eq!(
        store.check_and_store_iou(&other_session, now(), reference_rules(&other_session)).await.unwrap(),
        Err(Refusal::OtherSessionActive)
    );
    // Over-payment becomes the new base.
    let second = iou(1, U256::from(50), 1_800_000_000);
    store.check_and_store_iou(&second, now(), reference_rules(&second)).await.unwrap().unwrap();
    assert_eq!(store.active_iou(&key(1).address()).await.unwrap(), Some(second));
    assert_eq!(store.active_iou(&key(2).address()).await.unwrap(), None);
}

#[tokio::test]
async fn a_claimed_session_cannot_be_paid_again_but_a_new_session_can_start() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let sender = key(1).address();
    let paid = iou(1, U256::from(FEE), 1_800_000_000);
    store.check_and_store_iou(&paid, now(), reference_rules(&paid)).await.unwrap().unwrap();
    assert!(store.mark_iou_claimed(&sender, &U256::from(1_800_000_000), now()).await.unwrap());
    assert!(!store.mark_iou_claimed(&sender, &U256::from(1_800_000_000), now()).await.unwrap());
    assert_eq!(
        store.iou(&sender, &U256::from(1_800_000_000)).await.unwrap(),
        Some(StoredIou { iou: paid, claimed: true })
    );
    let again = iou(1, U256::from(10 * FEE), 1_800_000_000);
    assert_eq!(
        store.check_and_store_iou(&again, now(), reference_rules(&again)).await.unwrap(),
        Err(Refusal::SessionClaimed)
    );
    // Even if a decision wrongly accepts it, a claimed session is never overwritten.
    let error = store.check_and_store_iou(&again, now(), |_| Ok::<(), Refusal>(())).await.unwrap_err();
    assert!(matches!(error, StoreError::IouSessionClaimed { .. }), "{error}");
    let next = iou(1, U256::from(FEE), 1_900_000_000);
    store.check_and_store_iou(&next, now(), reference_rules(&next)).await.unwrap().unwrap();
    assert_eq!(store.active_iou(&sender).await.unwrap(), Some(next));
}

#[tokio::test]
async fn a_second_active_session_is_never_stored() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let first = iou(1, U256::from(FEE), 1_800_000_000);
    store.check_and_store_iou(&first, now(), reference_rules(&first)).await.unwrap().unwrap();
    let second = iou(1, U256::from(FEE), 1_900_000_000);
    let error = store.check_and_store_iou(&second, now(), |_| Ok::<(), Refusal>(())).await.unwrap_err();
    assert!(matches!(error, StoreError::IouSecondActiveSession { .. }), "{error}");
    assert_eq!(store.active_iou(&key(1).address()).await.unwrap(), Some(first));
}

#[tokio::test]
async fn claimable_ious_are_selected_by_window_and_amount_with_exact_256_bit_comparisons() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let huge = U256::from(1u8) << 200;
    let candidates = [
        iou(1, U256::from(99), 1_000_500),  // too small
        iou(2, U256::from(100), 1_000_500), // exactly the minimum
        iou(3, huge, 1_000_100),            // above 2^64, sorts first
        iou(4, huge, 1_000_000),            // claimable_until not after the window start
        iou(5, huge, 1_001_000),            // not before the window end
        iou(6, U256::from(256), 1_000_900), // 256 > 100 although its low byte is 0
    ];
    for candidate in &candidates {
        store.check_and_store_iou(candidate, now(), |_| Ok::<(), Refusal>(())).await.unwrap().unwrap();
    }
    let claimed = iou(7, huge, 1_000_200);
    store.check_and_store_iou(&claimed, now(), |_| Ok::<(), Refusal>(())).await.unwrap().unwrap();
    store.mark_iou_claimed(&key(7).address(), &U256::from(1_000_200), now()).await.unwrap();
    let selected =
        store.claimable_ious(&U256::from(1_000_000), &U256::from(1_001_000), &U256::from(100)).await.unwrap();
    assert_eq!(selected, vec![candidates[2], candidates[1], candidates[5]]);
}

#[tokio::test]
async fn iou_sessions_reads_what_the_locked_decision_sees() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let sender = key(1).address();
    let session = U256::from(1_800_000_000);
    assert_eq!(
        store.iou_sessions(&sender, &session).await.unwrap(),
        IouSessions { active: None, claimed: None }
    );
    let paid = iou(1, U256::from(FEE), 1_800_000_000);
    store.check_and_store_iou(&paid, now(), reference_rules(&paid)).await.unwrap().unwrap();
    assert_eq!(
        store.iou_sessions(&sender, &session).await.unwrap(),
        IouSessions { active: Some(paid), claimed: None }
    );
    store.mark_iou_claimed(&sender, &session, now()).await.unwrap();
    let next = iou(1, U256::from(FEE), 1_900_000_000);
    store.check_and_store_iou(&next, now(), reference_rules(&next)).await.unwrap().unwrap();
    assert_eq!(
        store.iou_sessions(&sender, &session).await.unwrap(),
        IouSessions { active: Some(next), claimed: Some(paid) }
    );
    // Another session's claimed IOU is not this one's.
    assert_eq!(
        store.iou_sessions(&sender, &U256::from(1_900_000_000)).await.unwrap(),
        IouSessions { active: Some(next), claimed: None }
    );
}
