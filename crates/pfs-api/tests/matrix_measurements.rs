//! Figures for the README, through the whole PFS on real Synapse homeservers: presence latency
//! from a node's `PUT /presence` to the change in `GET /api/v1/online_addresses` (polled every
//! millisecond), on the PFS's homeserver and across federation, and a burst of nodes going
//! online on a federated homeserver until all are in `/online_addresses`. pfs-matrix's
//! `tests/measurements.rs` measures the same up to its consumer; this adds the writer, the
//! snapshot publication and HTTP.
//!
//! Run with `RAIDEN_PFS_LONG_MEASUREMENTS=1 cargo test -p pfs-api --release --test
//! matrix_measurements -- --ignored --nocapture` (`LATENCY_ROUNDS`, default 30;
//! `BURST_USERS`, default 1,000).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pfs::{Pfs, pfs_homeserver, pfs_key};
use pfs_core::presence::UserPresence;
use pfs_core::{PrivateKey, matrix_identity};
use pfs_matrix::NodeSession;
use pfs_matrix::testing::{
    Homeserver, HomeserverOptions, log_in_nodes, long_measurements_enabled, print_percentiles, set_presences,
};

fn environment_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|text| text.parse().ok()).unwrap_or(default)
}

/// Node keys far from the ones `common::key` gives (those are `[i + 1; 32]`).
fn burst_key(number: u32) -> PrivateKey {
    let mut bytes = [0x33; 32];
    bytes[28..].copy_from_slice(&number.to_be_bytes());
    PrivateKey::from_bytes(bytes).expect("a valid key")
}

/// Sends `presence`, then polls `/online_addresses` every millisecond until the node's
/// membership matches; returns the time from the `PUT` to the first matching answer.
async fn change(pfs: &Pfs, node: &NodeSession, presence: UserPresence) -> Duration {
    let online = presence != UserPresence::Offline;
    let sent = Instant::now();
    node.set_presence(presence).await.expect("presence set");
    let deadline = sent + Duration::from_secs(10);
    while pfs.is_online(node.address()).await != online {
        assert!(Instant::now() < deadline, "{} {presence:?} not seen in 10 s", node.user_id());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sent.elapsed()
}

async fn cycle(pfs: &Pfs, node: &NodeSession, rounds: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(rounds * 2);
    for _ in 0..rounds {
        latencies.push(change(pfs, node, UserPresence::Online).await);
        latencies.push(change(pfs, node, UserPresence::Offline).await);
    }
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long measurement; run with RAIDEN_PFS_LONG_MEASUREMENTS=1 and --ignored"]
async fn presence_latency_through_the_pfs_and_burst_convergence() {
    if !long_measurements_enabled() {
        return;
    }
    let a = pfs_homeserver().await;
    // Polling every millisecond is far beyond the default per-IP limit.
    let options =
        pfs_api::ApiOptions { rate_limits: pfs_api::RateLimits::UNLIMITED, ..pfs_api::ApiOptions::default() };
    let pfs = Pfs::start_with(&a, options).await;
    let pfs_user = matrix_identity::user_id(&pfs_key().address(), &a.server_name());
    let b = Homeserver::launch(&HomeserverOptions::routing_to(vec![pfs_user])).await.expect("B starts");
    let rounds = environment_number("LATENCY_ROUNDS", 30);

    let mut local = log_in_nodes(&a.address(), vec![burst_key(1)], 1).await.expect("login");
    print_percentiles("through the PFS, same homeserver", &mut cycle(&pfs, &local.remove(0), rounds).await);
    let mut remote = log_in_nodes(&b.address(), vec![burst_key(2)], 1).await.expect("login");
    print_percentiles(
        "through the PFS, across federation",
        &mut cycle(&pfs, &remote.remove(0), rounds).await,
    );

    let count = environment_number("BURST_USERS", 1_000) as u32;
    let keys: Vec<PrivateKey> = (0..count).map(|number| burst_key(1_000 + number)).collect();
    let nodes: Vec<Arc<NodeSession>> =
        log_in_nodes(&b.address(), keys, 16).await.expect("logins").into_iter().map(Arc::new).collect();
    let addresses: Vec<String> = nodes.iter().map(|node| node.address().to_checksum()).collect();
    let started = Instant::now();
    set_presences(&nodes, UserPresence::Online, 16).await.expect("presence set");
    let all_sent = started.elapsed();
    let deadline = started + Duration::from_secs(180);
    loop {
        let online = pfs.online_addresses().await;
        let seen = addresses.iter().filter(|address| online.contains(address)).count();
        if seen == addresses.len() {
            break;
        }
        assert!(Instant::now() < deadline, "only {seen} of {count} online after 180 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "burst through the PFS: {count} nodes online sent in {:.2} s; all in /online_addresses {:.2} s after the first PUT",
        all_sent.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    pfs.stop().await;
}
