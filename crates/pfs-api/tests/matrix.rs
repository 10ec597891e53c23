//! The PFS as a whole with real Synapse homeservers (contrib/synapse, loopback): the service,
//! its Matrix client forwarding sync batches to the writer, and the HTTP API, observed only
//! through HTTP (`/online_addresses`, `/address/<a>/metadata`, `/paths`, `/metrics`). Channels
//! come through the writer's chain-event path; capacities through `POST /api/v1/updates` or
//! Matrix to-device messages.
//!
//! pfs-matrix's own tests cover the client's rules (login methods, forged displaynames, token
//! persistence, unreachable homeservers, the recovery poke); these check that the running PFS
//! turns them into reachability, metadata and routes.

mod common;

use common::pfs::{DELIVERY, Pfs, matrix_node, pfs_homeserver};
use common::{capacity_update, key, node, open_line_of, report_line};
use pfs_core::presence::UserPresence;
use pfs_matrix::testing::{Homeserver, HomeserverOptions, log_in_nodes};
use pfs_matrix::{NodeSession, PFS_DEVICE_ID};
use serde_json::{Value, json};

fn checksummed(path: &[u8]) -> Value {
    json!(path.iter().map(|index| node(*index).to_checksum()).collect::<Vec<_>>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_the_pfs_homeserver_is_reachable_online_and_unavailable_and_unreachable_offline() {
    let homeserver = pfs_homeserver().await;
    let pfs = Pfs::start(&homeserver).await;
    let subject = matrix_node(&homeserver, 0).await;
    let marker = matrix_node(&homeserver, 1).await;
    let metadata_url = format!("/api/v1/address/{}/metadata", node(0).to_checksum());

    subject.set_presence(UserPresence::Online).await.unwrap();
    pfs.wait_online(node(0), true).await;
    let (status, metadata) = pfs.running.get(&metadata_url).await;
    assert_eq!(status, 200);
    assert_eq!(metadata["user_id"], json!(subject.user_id()));
    assert_eq!(metadata["displayname"], json!(subject.displayname()));

    subject.set_presence(UserPresence::Unavailable).await.unwrap();
    // The homeserver delivers presence in order: once the marker's change is visible, the
    // subject's came before it.
    marker.set_presence(UserPresence::Online).await.unwrap();
    pfs.wait_online(node(1), true).await;
    assert!(pfs.is_online(node(0)).await, "unavailable is reachable");
    assert_eq!(pfs.running.get(&metadata_url).await.0, 200);

    subject.set_presence(UserPresence::Offline).await.unwrap();
    pfs.wait_online(node(0), false).await;
    let (status, body) = pfs.running.get(&metadata_url).await;
    assert_eq!(status, 404);
    assert_eq!(body["error_code"], json!(2203));
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_through_a_mediator_disappears_while_it_is_offline_and_returns_with_it() {
    let homeserver = pfs_homeserver().await;
    let pfs = Pfs::start(&homeserver).await;
    open_line_of(&pfs.running.service, &[0, 1, 2], 1000).await;
    report_line(&pfs.running, &[0, 1, 2], 1000).await;
    let nodes: Vec<NodeSession> =
        log_in_nodes(&homeserver.address(), (0..3).map(key).collect(), 3).await.expect("nodes log in");
    for matrix_node in &nodes {
        matrix_node.set_presence(UserPresence::Online).await.unwrap();
    }
    for index in 0..3 {
        pfs.wait_online(node(index), true).await;
    }
    let (status, body) = pfs.paths(0, 2, 10).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"][0]["path"], checksummed(&[0, 1, 2]));

    nodes[1].set_presence(UserPresence::Offline).await.unwrap();
    pfs.wait_online(node(1), false).await;
    let (status, body) = pfs.paths(0, 2, 10).await;
    assert_eq!((status, &body["error_code"]), (404, &json!(2201)), "{body}");

    nodes[1].set_presence(UserPresence::Online).await.unwrap();
    pfs.wait_online(node(1), true).await;
    let (status, body) = pfs.paths(0, 2, 10).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"][0]["path"], checksummed(&[0, 1, 2]));
    pfs.stop().await;
}

/// Issue #8's runtime join: homeserver B appears while the PFS runs; its router learns the PFS
/// user from the PFS's `/api/v1/info`; B's node is then online at the PFS and mediates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeserver_started_later_with_the_info_url_brings_its_nodes_without_a_pfs_restart() {
    let a = pfs_homeserver().await;
    let pfs = Pfs::start(&a).await;
    open_line_of(&pfs.running.service, &[0, 1, 2], 1000).await;
    let (status, info) = pfs.running.get("/api/v1/info").await;
    assert_eq!(status, 200);
    assert_eq!(info["matrix_user_id"], json!(pfs.client.matrix_user_id()));
    let ends: Vec<NodeSession> =
        log_in_nodes(&a.address(), vec![key(0), key(2)], 2).await.expect("nodes log in");
    for end in &ends {
        end.set_presence(UserPresence::Online).await.unwrap();
    }

    let options = HomeserverOptions {
        pfs_info_urls: vec![pfs.running.url("")],
        extra_arguments: ["--min-retry-interval", "2s", "--refresh-seconds", "1"].map(String::from).to_vec(),
        ..HomeserverOptions::routing_to(Vec::new())
    };
    let b = Homeserver::launch(&options).await.expect("homeserver B starts");
    let mediator = matrix_node(&b, 1).await;
    // B's router needs one refresh to learn the PFS user; presence set before that is pushed
    // with the snapshot it sends when it learns it.
    mediator.set_presence(UserPresence::Online).await.unwrap();
    report_line(&pfs.running, &[0, 1, 2], 1000).await;
    pfs.wait_online(node(1), true).await;
    pfs.wait_online(node(0), true).await;
    pfs.wait_online(node(2), true).await;
    let (status, body) = pfs.paths(0, 2, 10).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"][0]["path"], checksummed(&[0, 1, 2]));
    let metadata_url = format!("/api/v1/address/{}/metadata", node(1).to_checksum());
    let (status, metadata) = pfs.running.get(&metadata_url).await;
    assert_eq!(status, 200);
    assert_eq!(metadata["user_id"], json!(mediator.user_id()));
    assert!(mediator.user_id().ends_with(&b.server_name()));

    mediator.set_presence(UserPresence::Offline).await.unwrap();
    pfs.wait_online(node(1), false).await;
    pfs.stop().await;
}

/// After a restart, Synapse gives each user that was online a pseudo-device holding that state
/// until its sync timeout, so the node online before the restart stays online; nodes that come
/// after show every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_right_after_the_pfs_homeserver_restarts_under_the_running_pfs() {
    let mut homeserver = pfs_homeserver().await;
    let pfs = Pfs::start(&homeserver).await;
    let before = matrix_node(&homeserver, 0).await;
    before.set_presence(UserPresence::Online).await.unwrap();
    pfs.wait_online(node(0), true).await;

    homeserver.stop().await;
    pfs.wait_for("the client to notice", DELIVERY, || async { !pfs.client.is_connected() }).await;
    homeserver.start().await.expect("homeserver A starts again");
    pfs.wait_for("the client to reconnect", DELIVERY * 2, || async { pfs.client.is_connected() }).await;

    let after = matrix_node(&homeserver, 1).await;
    after.set_presence(UserPresence::Online).await.unwrap();
    pfs.wait_online(node(1), true).await;
    after.set_presence(UserPresence::Offline).await.unwrap();
    pfs.wait_online(node(1), false).await;
    assert!(pfs.is_online(node(0)).await);
    let (status, metadata) =
        pfs.running.get(&format!("/api/v1/address/{}/metadata", node(0).to_checksum())).await;
    assert_eq!(status, 200);
    assert_eq!(metadata["user_id"], json!(before.user_id()));
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_to_device_capacity_update_is_applied_and_a_forged_one_is_not() {
    let homeserver = pfs_homeserver().await;
    let pfs = Pfs::start(&homeserver).await;
    open_line_of(&pfs.running.service, &[0, 1], 1000).await;
    let nodes: Vec<NodeSession> =
        log_in_nodes(&homeserver.address(), vec![key(0), key(1)], 2).await.expect("nodes log in");
    for matrix_node in &nodes {
        matrix_node.set_presence(UserPresence::Online).await.unwrap();
    }
    pfs.wait_online(node(0), true).await;
    pfs.wait_online(node(1), true).await;
    // Node 1 reports over HTTP; node 0 has not reported, so there is no route yet.
    let (status, _) =
        pfs.running.post_json("/api/v1/updates", &capacity_update(1, 1, 0, 1, 1000, 1000)).await;
    assert_eq!(status, 200);
    assert_eq!(pfs.paths(0, 1, 200).await.0, 404);

    // Node 0 sends, over Matrix: an update of node 1 (correctly signed by node 1, so only the
    // sender check can refuse it) that would empty node 1's side, then its own report of 300.
    let forged = capacity_update(1, 1, 0, 5, 0, 0);
    let genuine = capacity_update(1, 0, 1, 1, 300, 1000);
    nodes[0]
        .send_text(pfs.client.matrix_user_id(), PFS_DEVICE_ID, &format!("{forged}\n{genuine}"))
        .await
        .expect("the to-device message is sent");
    pfs.wait_for("the genuine update", DELIVERY, || async { pfs.paths(0, 1, 200).await.0 == 200 }).await;
    assert_eq!(pfs.paths(0, 1, 500).await.0, 404, "node 0's side holds the reported 300");
    let (status, body) = pfs.paths(1, 0, 500).await;
    assert_eq!(status, 200, "node 1's side is untouched by the forged update: {body}");

    let metrics =
        pfs.running.client.get(pfs.running.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("pfs_updates_total{source=\"matrix\",outcome=\"accepted\"} 1"), "{metrics}");
    assert!(
        metrics.contains("pfs_updates_total{source=\"matrix\",outcome=\"signer_not_sender\"} 1"),
        "{metrics}"
    );
    pfs.stop().await;
}
