//! Figures of `raiden-pfs serve` as a process (ignored by default: they are measurements, not
//! checks; run with `cargo test -p raiden-pfs --release --test figures -- --ignored --nocapture
//! --test-threads 1`):
//!
//! * start-up from a database holding 50,000 channels until `/paths` answers;
//! * sustained accepted capacity updates per second through `POST /api/v1/updates`, every answer
//!   after its durable commit, single and batched;
//! * chain sync from a cold start of a token network with 10,000 channels on anvil.
//!
//! Each prints its runs and their median.

mod common;

use common::free_port;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use devnet::{ChannelPlan, NodeAccount};
use pfs_core::messages::UnsignedCapacityUpdate;
use pfs_core::token_network::{CapacityReport, Channel, TokenNetwork, TokenNetworkRegistry};
use pfs_core::{
    Address, BlockNumber, BlockTimeout, CanonicalIdentifier, ChainId, ChannelId, Message, Nonce, PrivateKey,
    U256,
};
use pfs_store::{ChainCursor, Deployment, StateChanges, Store, StoreConfig};
use raiden_pfs::generate::{NetworkShape, generate_network};

const CHAIN: u64 = 4_321;
const REGISTRY: Address = Address::from_bytes([0x01; 20]);
const USER_DEPOSIT: Address = Address::from_bytes([0x02; 20]);
const NETWORK: Address = Address::from_bytes([0xab; 20]);
const RUNS: usize = 3;

fn service_key() -> PrivateKey {
    PrivateKey::from_bytes([0x42; 32]).expect("a valid key")
}

/// The chain side of a `serve` process.
struct Chain {
    /// The node; `None`: an unreachable port (the follower retries while the service serves).
    eth_rpc: Option<String>,
    registry: Address,
    user_deposit: Address,
    chain_id: u64,
    start_block: u64,
}

impl Chain {
    /// The figures' fixed deployment, no node.
    fn offline() -> Self {
        Self {
            eth_rpc: None,
            registry: REGISTRY,
            user_deposit: USER_DEPOSIT,
            chain_id: CHAIN,
            start_block: 0,
        }
    }
}

/// `raiden-pfs serve` on `db`, listening on `port`.
fn spawn_serve(db: &Path, port: u16, chain: &Chain) -> Child {
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    Command::new(env!("CARGO_BIN_EXE_raiden-pfs"))
        .arg("serve")
        .env("PFS_ETH_RPC", chain.eth_rpc.as_deref().unwrap_or(&unreachable))
        .env("PFS_CHAIN_ID", chain.chain_id.to_string())
        .env("PFS_TOKEN_NETWORK_REGISTRY_ADDRESS", chain.registry.to_checksum())
        .env("PFS_USER_DEPOSIT_ADDRESS", chain.user_deposit.to_checksum())
        .env("PFS_START_BLOCK", chain.start_block.to_string())
        .env("PFS_CONFIRMATIONS", "0")
        .env("PFS_POLL_INTERVAL_MS", "50")
        .env("PFS_PRIVATE_KEY", format!("0x{}", "42".repeat(32)))
        .env("PFS_DB", db)
        .env("PFS_PORT", port.to_string())
        .env("PFS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("raiden-pfs starts")
}

fn stop(mut child: Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal sent");
    child.wait().expect("exits");
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Writes `channels` into a new database through pfs-store, as one commit.
async fn write_network(db: &Path, channels: Vec<Channel>) {
    let deployment = Deployment {
        chain_id: ChainId(CHAIN),
        token_network_registry: REGISTRY,
        user_deposit: USER_DEPOSIT,
        receiver: service_key().address(),
    };
    let store =
        Store::open(&StoreConfig::new(db.to_str().expect("utf-8")), &deployment).await.expect("opens");
    let mut network =
        TokenNetwork::new(NETWORK, Address::from_bytes([0xcd; 20]), BlockTimeout(U256::from(500)));
    let mut changes = StateChanges::new();
    changes.touch_token_network(NETWORK);
    for channel in channels {
        changes.touch_channel(NETWORK, channel.id);
        network.restore_channel(channel).expect("distinct pairs");
    }
    let mut registry = TokenNetworkRegistry::new(ChainId(CHAIN));
    registry.restore_token_network(network).expect("one network");
    changes.record_block(ChainCursor { block_number: BlockNumber(1), block_hash: B256::repeat_byte(1) });
    store.commit(&registry, &changes).await.expect("committed");
    store.close().await;
}

fn report(capacity: U256, other: U256) -> CapacityReport {
    CapacityReport {
        updating_nonce: Nonce(1),
        other_nonce: Nonce(1),
        updating_capacity: capacity,
        other_capacity: other,
        reveal_timeout: BlockTimeout(U256::from(50)),
    }
}

#[tokio::test]
#[ignore = "a figure: writes 50,000 channels"]
async fn start_up_with_50_000_channels_until_paths_answers() {
    let snapshot = generate_network(&NetworkShape::new(15_000, 50_000), 7);
    let channels: Vec<Channel> = snapshot
        .channels
        .iter()
        .map(|record| {
            let mut channel = Channel::new(record.channel_id, record.participant1, record.participant2);
            let swapped = channel.sides[0].participant != record.participant1;
            let (first, second) = if swapped {
                (record.capacity2, record.capacity1)
            } else {
                (record.capacity1, record.capacity2)
            };
            let (fees_first, fees_second) = if swapped {
                (record.fee_schedule2.clone(), record.fee_schedule1.clone())
            } else {
                (record.fee_schedule1.clone(), record.fee_schedule2.clone())
            };
            for (side, (capacity, other, fees)) in
                channel.sides.iter_mut().zip([(first, second, fees_first), (second, first, fees_second)])
            {
                side.total_deposit = capacity;
                side.capacity_report = Some(report(capacity, other));
                side.fee_schedule = fees;
            }
            channel
        })
        .collect();
    let count = channels.len();
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = dir.path().join("pfs.db");
    write_network(&db, channels).await;
    let client = reqwest::Client::new();
    let body = serde_json::json!({
        "from": snapshot.channels[0].participant1.to_checksum(),
        "to": snapshot.channels[1].participant2.to_checksum(),
        "value": 1
    });
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let port = free_port();
        let started = Instant::now();
        let child = spawn_serve(&db, port, &Chain::offline());
        let url = format!("http://127.0.0.1:{port}/api/v1/{}/paths", NETWORK.to_checksum());
        loop {
            if let Ok(response) = client.post(&url).json(&body).send().await {
                assert!(response.status().as_u16() < 500, "{}", response.status());
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "no answer within 120 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        runs.push(started.elapsed().as_secs_f64());
        stop(child);
    }
    println!(
        "start-up with {count} channels until /paths answers: median {:.3} s (runs {runs:.3?})",
        median(runs.clone())
    );
}

/// The keys of the update figure's nodes.
fn keys(count: usize) -> Vec<PrivateKey> {
    (0..count)
        .map(|index| {
            let mut bytes = [0x11_u8; 32];
            bytes[28..].copy_from_slice(&u32::try_from(index + 1).expect("small").to_be_bytes());
            PrivateKey::from_bytes(bytes).expect("a valid key")
        })
        .collect()
}

fn signed_update(channel: u64, from: &PrivateKey, to: Address, nonce: u64) -> String {
    let update = UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: ChainId(CHAIN),
            token_network_address: NETWORK,
            channel_identifier: ChannelId(U256::from(channel)),
        },
        updating_participant: from.address(),
        other_participant: to,
        updating_nonce: Nonce(nonce),
        other_nonce: Nonce(0),
        updating_capacity: U256::from(1_000 + nonce),
        other_capacity: U256::ZERO,
        reveal_timeout: BlockTimeout(U256::from(50)),
    };
    Message::CapacityUpdate(update.sign(from).expect("signs")).to_json()
}

/// Posts `bodies` from `connections` concurrent clients; returns accepted updates per second.
async fn accepted_per_second(port: u16, bodies: Vec<String>, per_request: usize, connections: usize) -> f64 {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (bodies, next, accepted) = (Arc::clone(&bodies), Arc::clone(&next), Arc::clone(&accepted));
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let url = format!("http://127.0.0.1:{port}/api/v1/updates");
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(body) = bodies.get(index) else { return };
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("answered");
                    let text = response.text().await.expect("body");
                    accepted.fetch_add(text.matches("\"accepted\"").count() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the client finishes");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = accepted.load(Ordering::Relaxed);
    assert_eq!(accepted as usize, bodies.len() * per_request, "every update accepted");
    accepted as f64 / elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a figure: signs and posts tens of thousands of updates"]
async fn sustained_accepted_updates_per_second_with_durable_commits() {
    const NODES: usize = 1_000;
    const CHANNELS: u64 = 2_000;
    const SINGLE: usize = 10_000;
    const BATCHES: usize = 400;
    let keys = keys(NODES);
    let pairs: Vec<(usize, usize)> = (0..CHANNELS as usize)
        .map(|index| (index % NODES, (index % NODES + 1 + index / NODES) % NODES))
        .collect();
    let channels: Vec<Channel> = pairs
        .iter()
        .enumerate()
        .map(|(index, (first, second))| {
            let mut channel = Channel::new(
                ChannelId(U256::from(index + 1)),
                keys[*first].address(),
                keys[*second].address(),
            );
            for side in &mut channel.sides {
                side.total_deposit = U256::from(1_000_000);
            }
            channel
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    assert!(channels.iter().all(|channel| seen.insert(channel.participants())), "distinct pairs");
    // Nonces grow per channel side across all runs, so every update is accepted.
    let mut nonce = 0;
    let mut updates = |count: usize| -> Vec<String> {
        nonce += 1;
        (0..count)
            .map(|index| {
                let channel = index % CHANNELS as usize;
                let (first, second) = pairs[channel];
                let (from, to) = if (index / CHANNELS as usize).is_multiple_of(2) {
                    (first, second)
                } else {
                    (second, first)
                };
                let round = (index / (2 * CHANNELS as usize)) as u64;
                signed_update(channel as u64 + 1, &keys[from], keys[to].address(), nonce * 1_000 + round)
            })
            .collect()
    };
    let mut single_rates = Vec::new();
    let mut batch_rates = Vec::new();
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("temporary folder");
        let db = dir.path().join("pfs.db");
        write_network(&db, channels.clone()).await;
        let port = free_port();
        let child = spawn_serve(&db, port, &Chain::offline());
        wait_for_info(port).await;
        let single = updates(SINGLE);
        single_rates.push(accepted_per_second(port, single, 1, 32).await);
        let batched: Vec<String> =
            updates(BATCHES * 100).chunks(100).map(|chunk| format!("[{}]", chunk.join(","))).collect();
        batch_rates.push(accepted_per_second(port, batched, 100, 4).await);
        stop(child);
    }
    println!(
        "accepted updates/s through HTTP, durable commits (synchronous=FULL), {CHANNELS} channels: \
         single (32 connections) median {:.0} (runs {single_rates:.0?}); batches of 100 (4 connections) median {:.0} (runs {batch_rates:.0?})",
        median(single_rates.clone()),
        median(batch_rates.clone())
    );
}

async fn wait_for_info(port: u16) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/info");
    let started = Instant::now();
    while client.get(&url).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "serve did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
#[ignore = "a figure: opens 10,000 channels on anvil"]
async fn chain_sync_through_serve_from_a_cold_start() {
    const CHANNELS: usize = 10_000;
    let devnet = common::devnet(0).await;
    let participants: Vec<_> =
        NodeAccount::derive_many(b"raiden-pfs sync figure", 200).iter().map(NodeAccount::address).collect();
    let plans: Vec<ChannelPlan> = (0..participants.len())
        .flat_map(|first| (first + 1..participants.len()).map(move |second| (first, second)))
        .take(CHANNELS)
        .map(|(first, second)| ChannelPlan {
            participant1: participants[first],
            participant2: participants[second],
            deposit1: U256::from(1_000 + first),
            deposit2: U256::from(2_000 + second),
        })
        .collect();
    devnet.raiden().open_channels_bulk(&plans).await.expect("bulk open");
    let head = devnet.chain().block_number().await.expect("block number");
    let deployment = devnet.deployment();
    let client = reqwest::Client::new();
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("temporary folder");
        let port = free_port();
        let started = Instant::now();
        let chain = Chain {
            eth_rpc: Some(devnet.eth_rpc().to_owned()),
            registry: deployment.token_network_registry.into(),
            user_deposit: deployment.user_deposit.into(),
            chain_id: devnet.chain().chain_id(),
            start_block: deployment.deployment_block,
        };
        let child = spawn_serve(&dir.path().join("pfs.db"), port, &chain);
        let url = format!("http://127.0.0.1:{port}/api/v1/info");
        loop {
            if let Ok(response) = client.get(&url).send().await
                && let Ok(info) = response.json::<serde_json::Value>().await
                && info["network_info"]["confirmed_block"]["number"]
                    .as_u64()
                    .is_some_and(|block| block >= head)
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "not synced within 300 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        runs.push(started.elapsed().as_secs_f64());
        stop(child);
    }
    let events = 1 + 3 * CHANNELS;
    let median = median(runs.clone());
    println!(
        "serve from a cold start to {CHANNELS} channels ({events} events, {head} blocks) confirmed in /info \
         (process start, store creation, follow, apply, commit): median {median:.3} s = {:.0} events/s (runs {runs:.3?})",
        events as f64 / median
    );
}
