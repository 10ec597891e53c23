//! Feedback tokens and the reports on their routes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::I256;
use pfs_core::Address;
use pfs_store::{
    FEEDBACK_TOKEN_LIFETIME, FeedbackOutcome, FeedbackStats, FeedbackToken, ReturnedRoute, RouteFeedback,
};

use crate::common::TempDatabase;

fn node(byte: u8) -> Address {
    Address::from_bytes([byte; 20])
}

fn created() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn routes() -> Vec<ReturnedRoute> {
    vec![
        ReturnedRoute { path: vec![node(1), node(2), node(3)], estimated_fee: I256::try_from(-7).unwrap() },
        ReturnedRoute { path: vec![node(1), node(4), node(3)], estimated_fee: I256::try_from(12).unwrap() },
    ]
}

const TOKEN: FeedbackToken = FeedbackToken([7; 16]);

#[tokio::test]
async fn the_first_report_within_the_lifetime_is_recorded_and_later_ones_are_ignored() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let network = node(0xaa);
    store.save_returned_routes(TOKEN, &network, created(), &routes()).await.unwrap();
    let later = created() + Duration::from_secs(60);
    let path = &routes()[0].path;
    assert_eq!(
        store.record_feedback(TOKEN, &network, path, false, later).await.unwrap(),
        FeedbackOutcome::Recorded
    );
    assert_eq!(
        store.record_feedback(TOKEN, &network, path, true, later).await.unwrap(),
        FeedbackOutcome::AlreadyRecorded
    );
    assert_eq!(
        store.feedback_since(&network, created()).await.unwrap(),
        vec![RouteFeedback { path: path.clone(), successful: false, feedback_time: later }]
    );
    assert_eq!(
        store.feedback_stats(Some(&network)).await.unwrap(),
        FeedbackStats { routes: 2, successful: 0, failed: 1 }
    );
    assert_eq!(store.feedback_stats(Some(&node(0xbb))).await.unwrap(), FeedbackStats::default());
}

#[tokio::test]
async fn reports_on_unknown_routes_tokens_networks_or_after_the_lifetime_are_invalid() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let network = node(0xaa);
    store.save_returned_routes(TOKEN, &network, created(), &routes()).await.unwrap();
    let soon = created() + Duration::from_secs(1);
    let path = &routes()[1].path;
    let invalid = [
        store.record_feedback(TOKEN, &network, &[node(1), node(3)], true, soon).await.unwrap(),
        store.record_feedback(FeedbackToken([8; 16]), &network, path, true, soon).await.unwrap(),
        store.record_feedback(TOKEN, &node(0xbb), path, true, soon).await.unwrap(),
        store
            .record_feedback(TOKEN, &network, path, true, created() + FEEDBACK_TOKEN_LIFETIME)
            .await
            .unwrap(),
        store.record_feedback(TOKEN, &network, &vec![node(1); 1_000], true, soon).await.unwrap(),
    ];
    assert!(invalid.iter().all(|outcome| *outcome == FeedbackOutcome::Invalid), "{invalid:?}");
    assert_eq!(
        store.feedback_stats(None).await.unwrap(),
        FeedbackStats { routes: 2, successful: 0, failed: 0 }
    );
}

#[tokio::test]
async fn pruning_removes_only_routes_created_before_the_retention() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let network = node(0xaa);
    store.save_returned_routes(TOKEN, &network, created(), &routes()).await.unwrap();
    let newer = FeedbackToken([9; 16]);
    store
        .save_returned_routes(newer, &network, created() + Duration::from_secs(3_600), &routes()[..1])
        .await
        .unwrap();
    assert_eq!(store.prune_feedback(created() + Duration::from_secs(1)).await.unwrap(), 2);
    assert_eq!(store.feedback_stats(None).await.unwrap().routes, 1);
    let path = &routes()[0].path;
    let at = created() + Duration::from_secs(3_660);
    assert_eq!(
        store.record_feedback(newer, &network, path, true, at).await.unwrap(),
        FeedbackOutcome::Recorded
    );
}

#[tokio::test]
async fn many_answers_are_saved_in_one_call_across_statement_chunks() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let network = node(0xaa);
    // 400 answers of 2 routes and one one-node "route" each: 800 rows, more than one statement.
    let sets: Vec<pfs_store::ReturnedRouteSet> = (0..400u32)
        .map(|number| {
            let mut token = [0; 16];
            token[..4].copy_from_slice(&number.to_be_bytes());
            let mut routes = routes();
            routes.push(ReturnedRoute { path: vec![node(1)], estimated_fee: I256::ZERO });
            pfs_store::ReturnedRouteSet {
                token: FeedbackToken(token),
                token_network: network,
                created_at: created(),
                routes,
            }
        })
        .collect();
    store.save_returned_route_sets(&sets).await.unwrap();
    assert_eq!(store.feedback_stats(Some(&network)).await.unwrap().routes, 800);
    let last = sets.last().unwrap().token;
    let path = &routes()[1].path;
    let now = created() + Duration::from_secs(1);
    assert_eq!(
        store.record_feedback(last, &network, path, true, now).await.unwrap(),
        FeedbackOutcome::Recorded
    );
}
