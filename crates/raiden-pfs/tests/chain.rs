//! The chain follower inside the service, end to end: anvil with the real Raiden contracts, the
//! follower task, the writer, SQLite and real HTTP on 127.0.0.1.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Pfs, address_of, capacity_update, devnet, key_of, token_network};
use devnet::contracts::abi::TokenNetwork::TokenNetworkEvents;
use devnet::{Devnet, Topology};
use pfs_core::{Address, ChannelId, U256};

const DEPOSIT: u64 = 1_000;

/// Both sides of `channel` report `DEPOSIT` each way (nonce `nonce`).
async fn report_both_sides(
    pfs: &Pfs,
    devnet: &Devnet,
    channel: U256,
    a: usize,
    b: usize,
    nonce: u64,
) -> Vec<u16> {
    let network = token_network(devnet);
    let chain_id = devnet.chain().chain_id();
    let mut statuses = Vec::new();
    for (from, to) in [(a, b), (b, a)] {
        let update = capacity_update(
            chain_id,
            network,
            channel,
            &key_of(&devnet.nodes()[from]),
            address_of(&devnet.nodes()[to]),
            nonce,
            U256::from(DEPOSIT),
            U256::from(DEPOSIT),
        );
        statuses.push(pfs.post_update(&update).await.0);
    }
    statuses
}

/// Opens `a`–`b` with `DEPOSIT` on each side; returns the channel id and the block of the
/// second deposit.
async fn open_funded(devnet: &Devnet, a: usize, b: usize) -> (U256, u64) {
    let [first, second] = [a, b].map(|index| devnet.nodes()[index].address());
    let opened =
        devnet.raiden().open_channel_with_deposit(first, second, U256::from(DEPOSIT)).await.expect("open");
    let receipt = devnet
        .raiden()
        .set_total_deposit(opened.channel_identifier, second, U256::from(DEPOSIT), first)
        .await
        .expect("deposit");
    (opened.channel_identifier, receipt.block_number.expect("a mined receipt"))
}

/// Opens and funds nodes 0–1–2 on chain, waits for the service to confirm them, and reports
/// both channels' capacities; returns the two channel ids.
async fn open_reported_line(pfs: &Pfs, devnet: &Devnet) -> (U256, U256) {
    let (first, _) = open_funded(devnet, 0, 1).await;
    let (second, _) = open_funded(devnet, 1, 2).await;
    pfs.sync(devnet, 0).await;
    assert_eq!(report_both_sides(pfs, devnet, first, 0, 1, 1).await, [200, 200]);
    assert_eq!(report_both_sides(pfs, devnet, second, 1, 2, 1).await, [200, 200]);
    (first, second)
}

fn nodes(devnet: &Devnet, indices: &[usize]) -> Vec<Address> {
    indices.iter().map(|index| address_of(&devnet.nodes()[*index])).collect()
}

fn checksummed(addresses: &[Address]) -> Vec<String> {
    addresses.iter().map(Address::to_checksum).collect()
}

#[tokio::test]
async fn channels_opened_on_chain_route_only_after_the_confirmations() {
    // Deeper than the four blocks the two channels take to open and fund.
    const CONFIRMATIONS: u64 = 6;
    let devnet = devnet(3).await;
    let network = token_network(&devnet);
    let dir = tempfile::tempdir().expect("temporary folder");
    let pfs = Pfs::start(&devnet, &dir.path().join("pfs.db"), CONFIRMATIONS).await;
    // The token network itself must be confirmed for updates to be kept for unknown channels.
    devnet.chain().mine(CONFIRMATIONS, 1).await.expect("mine");
    pfs.sync(&devnet, CONFIRMATIONS).await;
    let line = nodes(&devnet, &[0, 1, 2]);
    pfs.set_online(&line).await;
    let (first, _) = open_funded(&devnet, 0, 1).await;
    let (second, _) = open_funded(&devnet, 1, 2).await;
    let second_opened = devnet
        .raiden()
        .token_network_events(0, devnet.chain().block_number().await.expect("block number"))
        .await
        .expect("events")
        .iter()
        .filter(|event| matches!(event.event, TokenNetworkEvents::ChannelOpened(_)))
        .map(|event| event.block_number)
        .max()
        .expect("two openings");
    // The channels are not confirmed yet: the updates wait for them.
    assert_eq!(report_both_sides(&pfs, &devnet, first, 0, 1, 1).await, [202, 202]);
    assert_eq!(report_both_sides(&pfs, &devnet, second, 1, 2, 1).await, [202, 202]);

    // One block short of the second opening's confirmation depth.
    let head = devnet.chain().block_number().await.expect("block number");
    devnet.chain().mine(second_opened + CONFIRMATIONS - 1 - head, 1).await.expect("mine");
    let head = devnet.chain().block_number().await.expect("block number");
    pfs.wait_confirmed(head - CONFIRMATIONS).await;
    assert_eq!(
        pfs.confirmed_block().await,
        second_opened - 1,
        "blocks less than {CONFIRMATIONS} deep are not applied"
    );
    assert_eq!(pfs.routes(network, line[0], line[2], 10).await, Vec::<Vec<String>>::new());

    devnet.chain().mine(1, 1).await.expect("mine");
    pfs.wait_confirmed(second_opened).await;
    assert_eq!(pfs.routes(network, line[0], line[2], 10).await, vec![checksummed(&line)]);
    let (_, metrics) = pfs.get("/metrics").await;
    let metrics = metrics.as_str().expect("text").to_owned();
    assert!(metrics.contains(&format!("pfs_chain_head_block {}", head + 1)), "{metrics}");
    assert!(metrics.contains(&format!("pfs_confirmed_block {}", head + 1 - CONFIRMATIONS)), "{metrics}");
    pfs.stop().await;
}

#[tokio::test]
async fn a_closed_channel_stops_routing_once_the_close_is_confirmed() {
    let devnet = devnet(3).await;
    let network = token_network(&devnet);
    let dir = tempfile::tempdir().expect("temporary folder");
    let pfs = Pfs::start(&devnet, &dir.path().join("pfs.db"), 0).await;
    let line = nodes(&devnet, &[0, 1, 2]);
    pfs.set_online(&line).await;
    let (_, second) = open_reported_line(&pfs, &devnet).await;
    assert_eq!(pfs.routes(network, line[0], line[2], 10).await, vec![checksummed(&line)]);

    devnet
        .raiden()
        .close_channel(second, &devnet.nodes()[2], devnet.nodes()[1].address())
        .await
        .expect("close");
    pfs.sync(&devnet, 0).await;
    assert_eq!(pfs.routes(network, line[0], line[2], 10).await, Vec::<Vec<String>>::new());
    assert_eq!(pfs.routes(network, line[0], line[1], 10).await, vec![checksummed(&line[..2])]);
    pfs.stop().await;
}

#[tokio::test]
async fn a_restart_resumes_from_the_cursor_without_losing_or_repeating_events() {
    let devnet = devnet(4).await;
    let network = token_network(&devnet);
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = dir.path().join("pfs.db");
    let pfs = Pfs::start(&devnet, &db, 0).await;
    let (first, _) = open_funded(&devnet, 0, 1).await;
    let stopped_at = pfs.sync(&devnet, 0).await;
    assert_eq!(report_both_sides(&pfs, &devnet, first, 0, 1, 1).await, [200, 200]);
    pfs.stop().await;

    // While the service is down: a new channel, and more deposit in the old one.
    let (second, _) = open_funded(&devnet, 2, 3).await;
    devnet
        .raiden()
        .set_total_deposit(
            first,
            devnet.nodes()[0].address(),
            U256::from(3 * DEPOSIT),
            devnet.nodes()[1].address(),
        )
        .await
        .expect("deposit");
    let head = devnet.chain().block_number().await.expect("block number");
    let missed = devnet.raiden().token_network_events(stopped_at + 1, head).await.expect("events");

    let pfs = Pfs::start(&devnet, &db, 0).await;
    pfs.wait_confirmed(head).await;
    assert_eq!(
        pfs.chain_metrics.events.load(Ordering::Relaxed),
        missed.len() as u64,
        "only the events after the cursor are read again"
    );
    let stored = pfs.service.store().load_token_network(&network).await.expect("loads").expect("followed");
    let old = stored.channel(&ChannelId(first)).expect("the old channel");
    let deposits: Vec<U256> = old.sides.iter().map(|side| side.total_deposit).collect();
    let mut expected = vec![U256::from(3 * DEPOSIT), U256::from(DEPOSIT)];
    if address_of(&devnet.nodes()[0]) > address_of(&devnet.nodes()[1]) {
        expected.reverse();
    }
    assert_eq!(deposits, expected, "the missed deposit applied once");
    assert!(old.sides.iter().all(|side| side.capacity_report.is_some()), "the acknowledged updates are kept");
    assert!(stored.channel(&ChannelId(second)).is_some(), "the channel opened while down is followed");
    pfs.stop().await;
}

/// Replaces the `feedback_token` value, which is random per answer, so answers compare as bytes.
fn without_feedback_token(text: &str) -> String {
    match text.find("\"feedback_token\":\"") {
        Some(start) => {
            let value = start + "\"feedback_token\":\"".len();
            let end = value + text[value..].find('"').expect("a closed string");
            format!("{}{}", &text[..value], &text[end..])
        }
        None => text.to_owned(),
    }
}

/// A 16-node devnet topology, followed by a service on `db`, every side reported and every node
/// online; with a fixed set of requests (source, target, value).
struct ReportedTopology {
    devnet: Devnet,
    everyone: Vec<Address>,
    requests: Vec<(Address, Address, u64)>,
}

impl ReportedTopology {
    async fn start(db: &std::path::Path) -> (Self, Pfs) {
        let devnet = Devnet::builder()
            .nodes(16)
            .channels(Topology::default())
            .start()
            .await
            .expect("the devnet starts");
        let pfs = Pfs::start(&devnet, db, 0).await;
        pfs.sync(&devnet, 0).await;
        let index_of = |address: alloy::primitives::Address| {
            devnet.nodes().iter().position(|node| node.address() == address).expect("a devnet node")
        };
        for channel in devnet.channels() {
            let [a, b] = [index_of(channel.participant1), index_of(channel.participant2)];
            assert_eq!(
                report_both_sides(&pfs, &devnet, channel.channel_identifier, a, b, 1).await,
                [200, 200]
            );
        }
        let everyone = nodes(&devnet, &(0..16).collect::<Vec<_>>());
        pfs.set_online(&everyone).await;
        let requests = (0..16)
            .flat_map(|from| (0..16).filter(move |to| *to != from).map(move |to| (from, to)))
            .step_by(7)
            .map(|(from, to)| (everyone[from], everyone[to], 10 + (from * to) as u64))
            .collect();
        (Self { devnet, everyone, requests }, pfs)
    }

    /// Every request's `/paths` answer (status and body).
    async fn answers(&self, pfs: &Pfs) -> Vec<(u16, String)> {
        let network = token_network(&self.devnet);
        let mut answers = Vec::new();
        for (from, to, value) in &self.requests {
            answers.push(pfs.paths_text(network, *from, *to, *value).await);
        }
        answers
    }
}

#[tokio::test]
async fn routes_are_byte_identical_after_a_restart() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = dir.path().join("pfs.db");
    let (topology, pfs) = ReportedTopology::start(&db).await;
    let before = topology.answers(&pfs).await;
    assert!(before.iter().any(|(status, _)| *status == 200), "some requests find routes");
    pfs.stop().await;

    let pfs = Pfs::start(&topology.devnet, &db, 0).await;
    pfs.set_online(&topology.everyone).await;
    let after = topology.answers(&pfs).await;
    for (request, ((status, text), (status_after, text_after))) in
        topology.requests.iter().zip(before.iter().zip(&after))
    {
        assert_eq!(status_after, status, "{request:?}");
        assert_eq!(without_feedback_token(text_after), without_feedback_token(text), "{request:?}");
    }
    pfs.stop().await;
}

/// Runs the `raiden-pfs` binary; panics with its standard error if it fails.
fn raiden_pfs(arguments: &[&std::ffi::OsStr]) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_raiden-pfs"))
        .args(arguments)
        .output()
        .expect("raiden-pfs runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn an_export_replays_to_the_routes_of_the_live_service() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = dir.path().join("pfs.db");
    let (topology, pfs) = ReportedTopology::start(&db).await;
    let live = topology.answers(&pfs).await;
    let snapshot = dir.path().join("snapshot.json");
    let network = token_network(&topology.devnet).to_checksum();
    // Exported while the service runs: the export opens the database read-only.
    raiden_pfs(&[
        "export".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
        "--token-network".as_ref(),
        network.as_ref(),
        "--all-online".as_ref(),
        "--out".as_ref(),
        snapshot.as_os_str(),
    ]);
    let requests: Vec<serde_json::Value> = topology
        .requests
        .iter()
        .map(|(from, to, value)| {
            serde_json::json!({"from": from.to_checksum(), "to": to.to_checksum(), "value": value.to_string(),
                               "max_paths": 5, "diversity_penalty": null, "fee_penalty": null})
        })
        .collect();
    let requests_file = dir.path().join("requests.json");
    std::fs::write(&requests_file, serde_json::to_string(&requests).expect("JSON")).expect("written");
    let results_file = dir.path().join("results.json");
    raiden_pfs(&[
        "replay".as_ref(),
        "--network".as_ref(),
        snapshot.as_os_str(),
        "--requests".as_ref(),
        requests_file.as_os_str(),
        "--out".as_ref(),
        results_file.as_os_str(),
    ]);
    let replayed: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&results_file).expect("read")).expect("JSON");
    assert_eq!(replayed.len(), live.len());
    let mut routed = 0;
    for ((status, text), result) in live.iter().zip(&replayed) {
        let live_paths: Vec<(serde_json::Value, String)> = if *status == 200 {
            let body: serde_json::Value = serde_json::from_str(text).expect("JSON");
            body["result"]
                .as_array()
                .expect("paths")
                .iter()
                .map(|path| (path["path"].clone(), path["estimated_fee"].to_string()))
                .collect()
        } else {
            Vec::new()
        };
        let replayed_paths: Vec<(serde_json::Value, String)> = result["paths"]
            .as_array()
            .expect("paths")
            .iter()
            .map(|path| {
                (path["path"].clone(), path["estimated_fee"].as_str().expect("a decimal string").to_owned())
            })
            .collect();
        assert_eq!(replayed_paths, live_paths, "{text}");
        routed += usize::from(!live_paths.is_empty());
    }
    assert!(routed > 0, "some requests find routes");
    pfs.stop().await;
}

#[tokio::test]
async fn a_reorganisation_reaching_blocks_processed_before_a_restart_is_reverted_from_the_stored_undos() {
    let devnet = devnet(4).await;
    let network = token_network(&devnet);
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = dir.path().join("pfs.db");
    let line = nodes(&devnet, &[0, 1, 2]);
    let pfs = Pfs::start(&devnet, &db, 0).await;
    pfs.set_online(&line).await;
    let (_, second) = open_reported_line(&pfs, &devnet).await;
    let route = pfs.routes(network, line[0], line[2], 10).await;
    assert_eq!(route, vec![checksummed(&line)]);

    // A branch that closes the second channel and opens a third, processed, then the restart.
    let snapshot = devnet.chain().snapshot().await.expect("snapshot");
    devnet
        .raiden()
        .close_channel(second, &devnet.nodes()[2], devnet.nodes()[1].address())
        .await
        .expect("close");
    let dropped = devnet
        .raiden()
        .open_channel(devnet.nodes()[2].address(), devnet.nodes()[3].address())
        .await
        .expect("open");
    pfs.sync(&devnet, 0).await;
    assert_eq!(pfs.routes(network, line[0], line[2], 10).await, Vec::<Vec<String>>::new());
    pfs.stop().await;

    // The branch disappears while the service is down; the new one is longer.
    devnet.chain().revert_to(snapshot).await.expect("revert");
    devnet.chain().mine(6, 1).await.expect("mine");
    let pfs = Pfs::start(&devnet, &db, 0).await;
    pfs.set_online(&line).await;
    pfs.sync(&devnet, 0).await;
    let deadline = std::time::Instant::now() + common::WAIT;
    while pfs.chain_metrics.reorgs.load(Ordering::Relaxed) == 0 {
        assert!(std::time::Instant::now() < deadline, "no reorganisation detected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pfs.sync(&devnet, 0).await;
    let stored = pfs.service.store().load_token_network(&network).await.expect("loads").expect("followed");
    assert!(
        stored.channel(&ChannelId(dropped.channel_identifier)).is_none(),
        "the dropped opening is undone"
    );
    let restored = stored.channel(&ChannelId(second)).expect("the close is undone");
    assert!(restored.sides.iter().all(|side| side.capacity_report.is_some()), "with its capacity reports");
    assert_eq!(pfs.routes(network, line[0], line[2], 10).await, route, "the route is back");
    pfs.stop().await;
}

#[tokio::test]
async fn an_rpc_outage_is_survived_and_following_resumes_when_the_node_is_back() {
    let mut devnet = devnet(2).await;
    let network = token_network(&devnet);
    let dir = tempfile::tempdir().expect("temporary folder");
    let pfs = Pfs::start(&devnet, &dir.path().join("pfs.db"), 0).await;
    pfs.sync(&devnet, 0).await;
    devnet.anvil().stop().expect("anvil stops");
    let deadline = std::time::Instant::now() + common::WAIT;
    while pfs.chain_metrics.rpc_errors.load(Ordering::Relaxed) < 2 {
        assert!(std::time::Instant::now() < deadline, "no RPC error counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, metrics) = pfs.get("/metrics").await;
    assert!(metrics.as_str().expect("text").contains("pfs_chain_rpc_errors_total"), "{metrics}");
    let (status, _) = pfs.get("/api/v1/info").await;
    assert_eq!(status, 200, "the service answers during the outage");

    devnet.anvil().restart().expect("anvil restarts");
    let (channel, _) = open_funded(&devnet, 0, 1).await;
    pfs.sync(&devnet, 0).await;
    let stored = pfs.service.store().load_token_network(&network).await.expect("loads").expect("followed");
    assert!(stored.channel(&ChannelId(channel)).is_some(), "the channel opened after the outage is followed");
    pfs.stop().await;
}
