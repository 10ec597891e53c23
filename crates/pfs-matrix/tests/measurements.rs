//! Figures for the README, on real Synapse homeservers: presence latency (a node's
//! `PUT /presence` sent → the PFS's consumer applied the event), on the PFS's own homeserver and
//! across federation, and a burst of 1,000 nodes going online on a federated homeserver.
//!
//! Run with `RAIDEN_PFS_LONG_MEASUREMENTS=1 cargo test -p pfs-matrix --release --test measurements
//! -- --ignored --nocapture`; the figures are printed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use pfs_core::presence::{AddressReachability, UserPresence};
use pfs_matrix::NodeSession;
use pfs_matrix::testing::{
    Homeserver, log_in_nodes, long_measurements_enabled, print_percentiles, set_presences,
};

const STATES: [UserPresence; 3] = [UserPresence::Online, UserPresence::Unavailable, UserPresence::Offline];

fn rounds() -> usize {
    std::env::var("LATENCY_ROUNDS").ok().and_then(|text| text.parse().ok()).unwrap_or(30)
}

fn burst_size() -> u32 {
    std::env::var("BURST_USERS").ok().and_then(|text| text.parse().ok()).unwrap_or(1_000)
}

/// Cycles `node` through online → unavailable → offline `rounds` times; returns each change's
/// latency until the PFS's consumer applied it.
async fn cycle(pfs: &Pfs, node: &NodeSession, rounds: usize) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for _ in 0..rounds {
        for state in STATES {
            let sent = set_presence(node, state).await;
            let user_id = node.user_id().to_owned();
            pfs.wait_until(&format!("{user_id} {state}"), Duration::from_secs(10), |seen| {
                seen.presence.iter().any(|(arrived, event)| {
                    *arrived >= sent && event.user_id == user_id && event.presence == state
                })
            })
            .await;
            let seen = pfs.seen.lock().unwrap();
            let arrived = seen
                .presence
                .iter()
                .find(|(arrived, event)| {
                    *arrived >= sent && event.user_id == user_id && event.presence == state
                })
                .map(|(arrived, _)| *arrived)
                .unwrap();
            latencies.push(arrived - sent);
        }
    }
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long measurement; run with RAIDEN_PFS_LONG_MEASUREMENTS=1 and --ignored"]
async fn presence_latency_and_burst() {
    if !long_measurements_enabled() {
        return;
    }
    let a = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(a.address()), None).await;
    let b = Homeserver::launch(&options_routing_to(&a.server_name(), None)).await.unwrap();

    let local = node(&a, 1).await;
    print_percentiles("latency, same homeserver", &mut cycle(&pfs, &local, rounds()).await);
    let remote = node(&b, 2).await;
    print_percentiles("latency, across federation", &mut cycle(&pfs, &remote, rounds()).await);

    // Burst: N nodes on B log in and publish their identity, then all go online at once.
    let count = burst_size();
    let logins = Instant::now();
    let keys = (0..count).map(|number| node_key(1_000 + number)).collect();
    let nodes: Vec<Arc<NodeSession>> =
        log_in_nodes(&b.address(), keys, 16).await.unwrap().into_iter().map(Arc::new).collect();
    println!("burst: {count} logins + identities in {:.1} s", logins.elapsed().as_secs_f64());
    let addresses: Vec<_> = nodes.iter().map(|node| node.address()).collect();
    let started = Instant::now();
    set_presences(&nodes, UserPresence::Online, 16).await.unwrap();
    let all_sent = started.elapsed();
    let converged = pfs
        .wait_until("all burst nodes reachable", Duration::from_secs(120), |seen| {
            let book = seen.book.as_ref().unwrap();
            addresses.iter().all(|address| book.reachability(address) == AddressReachability::Reachable)
        })
        .await;
    println!(
        "burst: {count} nodes online sent in {:.2} s; all reachable at the PFS {:.2} s after the first was sent",
        all_sent.as_secs_f64(),
        (converged - started).as_secs_f64()
    );
    pfs.stop().await;
}
