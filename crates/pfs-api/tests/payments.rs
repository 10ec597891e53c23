//! Paid path requests and `GET …/payment/iou` over real HTTP on 127.0.0.1, against anvil with the
//! real Raiden contracts 0.50.2 (through the devnet): deposits are read from the real
//! UserDeposit at the blocks the real chain follower confirmed, and claims go through the real
//! OneToN. Request bodies have the light client's shape (integers as decimal strings).

mod common;

use std::time::{Duration, SystemTime};

use common::paid::{
    DAY, DEPOSIT_CONFIRMATIONS, FEE, PaidPfs, amount_of, claim_policy, light_client_json,
    light_client_timestamp, now_seconds, pfs_key, poor_key,
};
use pfs_chain::claims::{ClaimOutcome, claim_fees};
use pfs_chain::one_to_n::OneToNClient;
use pfs_core::iou::UnsignedIou;
use pfs_core::{Address, ChainId, IouRequest, PrivateKey, U256};
use serde_json::{Value, json};

#[tokio::test]
async fn a_new_session_is_accepted_and_stored() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    assert_eq!(pfs.last_iou(&sender).await, (404, json!({"last_iou": null})));
    let claimable_until = now_seconds() + 30 * DAY;
    let (status, body) = pfs.pay(&sender, pfs.iou(&sender, FEE, claimable_until)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"][0]["path"], json!([pfs.node(0).to_checksum(), pfs.node(1).to_checksum()]));
    let (status, body) = pfs.last_iou(&sender).await;
    assert_eq!(status, 200);
    let expected: Value =
        serde_json::from_str(&pfs.iou(&sender, FEE, claimable_until).sign(&sender).to_json())
            .expect("IOU JSON");
    assert_eq!(body, json!({"last_iou": expected}));
}

#[tokio::test]
async fn increments_of_the_fee_are_accepted_and_over_payment_becomes_the_base() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    for amount in [FEE, 2 * FEE, 5 * FEE, 6 * FEE] {
        let (status, body) = pfs.pay(&sender, pfs.iou(&sender, amount, claimable_until)).await;
        assert_eq!(status, 200, "amount {amount}: {body}");
        assert_eq!(amount_of(&pfs.last_iou(&sender).await.1["last_iou"]), amount);
    }
}

/// The `pfs_deposit_reads` counter of `source` (`chain` or `cache`).
async fn deposit_reads(pfs: &PaidPfs, source: &str) -> u64 {
    let metrics =
        pfs.running.client.get(pfs.running.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let prefix = format!("pfs_deposit_reads_total{{source=\"{source}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |count| count.parse().expect("a count"))
}

#[tokio::test]
async fn a_senders_deposit_is_read_from_the_node_once_per_height_until_the_chain_rolls_back() {
    let mut pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, FEE, claimable_until)).await.0, 200);
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, 2 * FEE, claimable_until)).await.0, 200);
    // Two heights, read once each; the second request's from the cache.
    assert_eq!((deposit_reads(&pfs, "chain").await, deposit_reads(&pfs, "cache").await), (2, 2));
    // A new block: two new heights.
    pfs.mine(1).await;
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, 3 * FEE, claimable_until)).await.0, 200);
    assert_eq!((deposit_reads(&pfs, "chain").await, deposit_reads(&pfs, "cache").await), (4, 2));
    // The service rolls back to the block before (as after a reorganisation): the same heights
    // are read from the node again.
    let cursor = pfs.running.service.confirmed_block();
    let back = pfs_store::ChainCursor {
        block_number: pfs_core::BlockNumber(cursor.0 - 1),
        block_hash: [9; 32].into(),
    };
    pfs.running.service.apply_chain_blocks(Vec::new(), Vec::new(), vec![back]).await.expect("rolled back");
    let forward = pfs_store::ChainCursor { block_number: cursor, block_hash: [10; 32].into() };
    pfs.running
        .service
        .apply_chain_blocks(Vec::new(), Vec::new(), vec![forward])
        .await
        .expect("forward again");
    assert_eq!(pfs.running.service.snapshot().chain_rollbacks, 1);
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, 4 * FEE, claimable_until)).await.0, 200);
    assert_eq!((deposit_reads(&pfs, "chain").await, deposit_reads(&pfs, "cache").await), (6, 2));
}

#[tokio::test]
async fn replaying_the_stored_iou_or_paying_too_little_is_2104() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    let (status, body) = pfs.pay(&sender, pfs.iou(&sender, FEE - 1, claimable_until)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error_code"], json!(2104));
    assert_eq!(
        body["error_details"],
        json!({"expected_amount": FEE as u64, "actual_amount": (FEE - 1) as u64})
    );
    let first = pfs.iou(&sender, FEE, claimable_until);
    assert_eq!(pfs.pay(&sender, first).await.0, 200);
    let (status, body) = pfs.pay(&sender, first).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2104)));
    assert_eq!(body["error_details"]["expected_amount"], json!((2 * FEE) as u64));
    assert_eq!(body["errors"], json!("The provided payment is lower than service fee."));
}

#[tokio::test]
async fn another_claimable_until_during_a_session_is_2106_with_the_stored_iou() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    let stored = pfs.iou(&sender, FEE, claimable_until).sign(&sender);
    assert_eq!(pfs.paths(pfs.node(0), pfs.node(1), Some(light_client_json(&stored))).await.0, 200);
    let (status, body) = pfs.pay(&sender, pfs.iou(&sender, 2 * FEE, claimable_until + DAY)).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2106)));
    let mut expected: Value = serde_json::from_str(&stored.to_json()).expect("IOU JSON");
    expected["claimed"] = json!(false);
    assert_eq!(body["error_details"], json!({"iou": expected}));
}

#[tokio::test]
async fn a_new_session_claimable_for_less_than_a_week_is_2103() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 6 * DAY;
    let (status, body) = pfs.pay(&sender, pfs.iou(&sender, FEE, claimable_until)).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2103)));
    assert_eq!(body["error_details"]["claimable_until_received"], json!(claimable_until));
    let min_expiry = body["error_details"]["min_expiry"].as_u64().expect("an integer");
    assert!((claimable_until + DAY..=claimable_until + DAY + 60).contains(&min_expiry), "{min_expiry}");
}

#[tokio::test]
async fn wrong_receiver_chain_and_one_to_n_are_refused_in_order_with_checksummed_details() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let valid = pfs.iou(&sender, FEE, now_seconds() + 30 * DAY);
    let other = Address::from_bytes([0xab; 20]);

    let (status, body) =
        pfs.pay(&sender, UnsignedIou { receiver: other, chain_id: ChainId(1), ..valid }).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2102)));
    assert_eq!(body["error_details"], json!({"expected": pfs_key().address().to_checksum()}));

    let (status, body) =
        pfs.pay(&sender, UnsignedIou { chain_id: ChainId(1), one_to_n_address: other, ..valid }).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2005)));
    assert_eq!(body["error_details"], json!({"expected": pfs.chain_id().0}));

    let (status, body) = pfs.pay(&sender, UnsignedIou { one_to_n_address: other, ..valid }).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2108)));
    assert_eq!(
        body["error_details"],
        json!({"expected": pfs.one_to_n().to_checksum(), "got": other.to_checksum()})
    );
    assert_eq!(pfs.last_iou(&sender).await.0, 404, "nothing was stored");
}

#[tokio::test]
async fn an_iou_signed_by_another_key_is_2001() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let (status, body) = pfs.pay(&pfs.node_key(1), pfs.iou(&sender, FEE, now_seconds() + 30 * DAY)).await;
    assert_eq!(
        (status, body["error_code"].clone(), body["error_details"].clone()),
        (400, json!(2001), json!({}))
    );
}

#[tokio::test]
async fn missing_iou_is_2101_and_a_0_40_iou_is_2000_naming_expiration_block() {
    let pfs = PaidPfs::start(FEE).await;
    let (status, body) = pfs.paths(pfs.node(0), pfs.node(1), None).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2101)));
    let sender = pfs.node_key(0);
    let mut old = light_client_json(&pfs.iou(&sender, FEE, 20_000_000).sign(&sender));
    let expiry = old.as_object_mut().expect("object").remove("claimable_until").expect("present");
    old["expiration_block"] = expiry;
    let (status, body) = pfs.paths(pfs.node(0), pfs.node(1), Some(old)).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2000)));
    let message = body["error_details"]["iou"]["expiration_block"][0].as_str().expect("a message");
    assert!(message.contains("expiration_block") && message.contains("claimable_until"), "{message}");
}

#[tokio::test]
async fn a_malformed_iou_gets_marshmallow_style_details() {
    let pfs = PaidPfs::start(FEE).await;
    let iou =
        json!({"sender": pfs.node(0).to_lower_hex(), "amount": "x", "surprise": 1, "signature": "0x12"});
    let (status, body) = pfs.paths(pfs.node(0), pfs.node(1), Some(iou)).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2000)));
    let details = &body["error_details"]["iou"];
    assert_eq!(details["amount"], json!(["Not a valid integer."]));
    assert_eq!(details["surprise"], json!(["Unknown field."]));
    assert_eq!(details["receiver"], json!(["Missing data for required field."]));
    assert!(
        details["sender"][0].as_str().is_some_and(|message| message.starts_with("Not a checksummed address"))
    );
    assert!(details["signature"][0].as_str().is_some(), "{details}");
}

#[tokio::test]
async fn a_sender_without_deposit_is_2107_until_a_deposit_is_confirmed() {
    let mut pfs = PaidPfs::start(FEE).await;
    let poor = poor_key();
    let iou = pfs.iou(&poor, FEE, now_seconds() + 30 * DAY);
    let from = poor.address();
    let paid = light_client_json(&iou.sign(&poor));
    let (status, body) = pfs.paths(from, pfs.node(1), Some(paid.clone())).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2107)));
    let confirmed = pfs.running.service.confirmed_block().0;
    assert_eq!(
        body["error_details"],
        json!({"required_deposit": (2 * FEE) as u64, "seen_deposit": 0, "block_number": confirmed})
    );
    pfs.devnet
        .raiden()
        .deposit_to_user_deposit(pfs.devnet.nodes()[2].address(), from.into(), U256::from(2 * FEE))
        .await
        .expect("deposit");
    pfs.follow().await;
    let (status, body) = pfs.paths(from, pfs.node(1), Some(paid.clone())).await;
    assert_eq!(
        (status, body["error_code"].clone()),
        (400, json!(2107)),
        "a fresh deposit is not confirmed yet"
    );
    pfs.mine(DEPOSIT_CONFIRMATIONS).await;
    let (status, body) = pfs.paths(from, pfs.node(1), Some(paid.clone())).await;
    // The deposit now counts; the sender has no channel, so there is no route, and a request
    // without a route is not charged.
    assert_eq!((status, body["error_code"].clone()), (404, json!(2201)), "{body}");
    assert_eq!(pfs.last_iou(&poor).await.0, 404);
}

#[tokio::test]
async fn a_request_without_a_route_is_not_charged() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    let iou = pfs.iou(&sender, FEE, claimable_until).sign(&sender);
    let (status, body) = pfs.paths(pfs.node(0), pfs.node(2), Some(light_client_json(&iou))).await;
    assert_eq!((status, body["error_code"].clone()), (404, json!(2201)));
    assert_eq!(pfs.last_iou(&sender).await.0, 404);
    // The same IOU still pays for the next request.
    assert_eq!(pfs.paths(pfs.node(0), pfs.node(1), Some(light_client_json(&iou))).await.0, 200);
}

#[tokio::test]
async fn iou_request_checks_signature_age_and_parameters() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let forged = IouRequest::sign(&pfs.node_key(1), pfs_key().address(), "2030-01-01T00:00:00")
        .expect("signs")
        .to_query_string()
        .replace(&pfs.node(1).to_checksum(), &pfs.node(0).to_checksum());
    let (status, body) = pfs.get_iou_query(&forged).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2001)));
    let old_time = SystemTime::now() - Duration::from_secs(3601);
    let old =
        IouRequest::sign(&sender, pfs_key().address(), &light_client_timestamp(old_time)).expect("signs");
    let (status, body) = pfs.get_iou_query(&old.to_query_string()).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2002)));
    let recent_time = SystemTime::now() - Duration::from_secs(3500);
    let recent =
        IouRequest::sign(&sender, pfs_key().address(), &light_client_timestamp(recent_time)).expect("signs");
    assert_eq!(pfs.get_iou_query(&recent.to_query_string()).await.0, 404);
    let (status, body) = pfs.get_iou_query(&format!("{}&extra=1", recent.to_query_string())).await;
    assert_eq!((status, body["error_details"].clone()), (400, json!({"extra": ["Unknown field."]})));
    let (status, body) = pfs.get_iou_query("sender=x").await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2000)));
}

#[tokio::test]
async fn a_claimed_session_is_2105_and_a_new_session_follows() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 3 * DAY + 30 * DAY;
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, FEE, claimable_until)).await.0, 200);
    let policy = claim_policy();
    let report = claim_fees(pfs.running.service.store(), &pfs.claimer(), &policy, SystemTime::now())
        .await
        .expect("claiming runs");
    assert_eq!(report.claimed(), 1, "{report:?}");
    assert_eq!(pfs.last_iou(&sender).await.0, 404, "a claimed session is not the last IOU");
    let (status, body) = pfs.pay(&sender, pfs.iou(&sender, 2 * FEE, claimable_until)).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2105)));
    let (status, body) = pfs.pay(&sender, pfs.iou(&sender, FEE, claimable_until + 1)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn parallel_requests_of_one_sender_never_lose_or_double_count_a_payment() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, FEE, claimable_until)).await.0, 200);
    // Amounts 2..=13 fees, each sent twice, all at once.
    let amounts: Vec<u128> = (2..=13).flat_map(|multiple| [multiple * FEE, multiple * FEE]).collect();
    let requests = amounts.iter().map(|&amount| {
        let iou = pfs.iou(&sender, amount, claimable_until);
        let pfs = &pfs;
        let sender = &sender;
        async move { (amount, pfs.pay(sender, iou).await) }
    });
    let answers = futures_util::future::join_all(requests).await;
    let mut accepted = Vec::new();
    for (amount, (status, body)) in answers {
        match status {
            200 => accepted.push(amount),
            _ => assert_eq!((status, body["error_code"].clone()), (400, json!(2104)), "{body}"),
        }
    }
    accepted.sort_unstable();
    assert!(!accepted.is_empty());
    let mut distinct = accepted.clone();
    distinct.dedup();
    assert_eq!(distinct, accepted, "one IOU amount was accepted twice");
    let stored = amount_of(&pfs.last_iou(&sender).await.1["last_iou"]);
    assert_eq!(stored, *accepted.last().expect("non-empty"), "the highest accepted amount is the stored one");
}

#[tokio::test]
async fn claiming_moves_deposit_to_the_service_marks_the_iou_and_never_claims_twice() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, FEE, claimable_until)).await.0, 200);
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, 3 * FEE, claimable_until)).await.0, 200);
    let raiden = pfs.devnet.raiden();
    let sender_before = raiden.user_deposit_balance(sender.address().into()).await.expect("balance");
    let service_before = raiden.user_deposit_balance(pfs_key().address().into()).await.expect("balance");
    let policy = claim_policy();
    let store = pfs.running.service.store();
    let report = claim_fees(store, &pfs.claimer(), &policy, SystemTime::now()).await.expect("claiming runs");
    assert_eq!(report.outcomes.len(), 1);
    assert!(
        matches!(report.outcomes[0].1, ClaimOutcome::Claimed { transferred, .. } if transferred == U256::from(3 * FEE)),
        "{report:?}"
    );
    let moved = U256::from(3 * FEE);
    assert_eq!(
        raiden.user_deposit_balance(sender.address().into()).await.expect("balance"),
        sender_before - moved
    );
    assert_eq!(
        raiden.user_deposit_balance(pfs_key().address().into()).await.expect("balance"),
        service_before + moved
    );
    let stored =
        store.iou(&sender.address(), &U256::from(claimable_until)).await.expect("read").expect("stored");
    assert!(stored.claimed);
    let again = claim_fees(store, &pfs.claimer(), &policy, SystemTime::now()).await.expect("claiming runs");
    assert!(again.outcomes.is_empty(), "a claimed IOU is not a candidate again: {again:?}");
}

#[tokio::test]
async fn an_iou_settled_on_chain_before_marking_is_marked_without_a_transaction() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    let iou = pfs.iou(&sender, FEE, claimable_until);
    assert_eq!(pfs.pay(&sender, iou).await.0, 200);
    // An earlier run claimed it and stopped before marking it.
    pfs.claimer().claim(&iou.sign(&sender)).await.expect("claimed directly");
    let policy = claim_policy();
    let store = pfs.running.service.store();
    let report = claim_fees(store, &pfs.claimer(), &policy, SystemTime::now()).await.expect("claiming runs");
    assert_eq!(
        report.outcomes.iter().map(|(_, outcome)| outcome.clone()).collect::<Vec<_>>(),
        [ClaimOutcome::AlreadySettled]
    );
    assert!(
        store.iou(&sender.address(), &U256::from(claimable_until)).await.expect("read").expect("row").claimed
    );
}

#[tokio::test]
async fn a_sender_whose_deposit_was_drained_is_skipped_and_kept_for_later() {
    let pfs = PaidPfs::start(FEE).await;
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    assert_eq!(pfs.pay(&sender, pfs.iou(&sender, FEE, claimable_until)).await.0, 200);
    // Another registered service claims almost all of the sender's deposit first.
    let other_service = PrivateKey::from_bytes([0x66; 32]).expect("a valid key");
    let raiden = pfs.devnet.raiden();
    raiden.register_service(other_service.address().into(), "http://127.0.0.1:1").await.expect("registered");
    let balance = raiden.user_deposit_balance(sender.address().into()).await.expect("balance");
    let drained = UnsignedIou {
        receiver: other_service.address(),
        amount: balance - U256::from(1_000),
        ..pfs.iou(&sender, 0, claimable_until)
    };
    OneToNClient::connect(
        pfs.devnet.eth_rpc(),
        pfs.one_to_n(),
        &PrivateKey::from_bytes([0x66; 32]).expect("a valid key"),
    )
    .expect("client")
    .claim(&drained.sign(&sender))
    .await
    .expect("the other service claims");
    let policy = claim_policy();
    let store = pfs.running.service.store();
    let report = claim_fees(store, &pfs.claimer(), &policy, SystemTime::now()).await.expect("claiming runs");
    assert!(
        matches!(report.outcomes[..], [(_, ClaimOutcome::NotWorthClaiming { transferable, .. })] if transferable == U256::from(1_000)),
        "{report:?}"
    );
    assert_eq!((report.claimed(), report.skipped(), report.failures()), (0, 1, 0));
    assert!(
        !store
            .iou(&sender.address(), &U256::from(claimable_until))
            .await
            .expect("read")
            .expect("row")
            .claimed
    );
}
