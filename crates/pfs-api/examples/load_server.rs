//! A PFS for HTTP load tests (`scripts/http-load`): the real service and API on 127.0.0.1 with
//! a seeded random network of `--nodes` nodes (each new node opens `--channels` channels to
//! earlier nodes, picked by preferential attachment), every channel opened and funded through
//! the writer's chain-event path, both sides' capacities posted to `POST /api/v1/updates`, and
//! every node online through the writer's Matrix path. No rate limits.
//!
//! It writes the request bodies for the load generator into `--out` (`paths.txt`: one path
//! request per line between random online nodes; `update.json`: one signed capacity update;
//! `updates.json`: an array of 100), prints `listening on http://ADDRESS`, and serves for
//! `--seconds` (bounded), then stops.
//!
//! `cargo run --release -p pfs-api --example load_server -- --nodes 200 --out /tmp/load`

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use common::{Running, api_config, capacity_update, node, paths_body, start_service, token_network};
use pfs_api::{ApiOptions, RateLimits};
use pfs_core::token_network::ChainEvent;
use pfs_core::{Address, BlockNumber, BlockTimeout, ChannelId, U256};
use pfs_store::ChainCursor;

/// Most nodes: node keys are `[index + 1; 32]`, one byte per node.
const MAX_NODES: usize = 255;
const DEPOSIT: u64 = 1_000_000_000;

struct Arguments {
    nodes: usize,
    channels: usize,
    seed: u64,
    seconds: u64,
    out: PathBuf,
}

fn arguments() -> Arguments {
    let mut parsed = Arguments {
        nodes: 200,
        channels: 3,
        seed: 1,
        seconds: 120,
        out: std::env::temp_dir().join("pfs-load"),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || value.parse::<u64>().unwrap_or_else(|_| panic!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--nodes" => parsed.nodes = number() as usize,
            "--channels" => parsed.channels = number() as usize,
            "--seed" => parsed.seed = number(),
            "--seconds" => parsed.seconds = number(),
            "--out" => parsed.out = PathBuf::from(&value),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!((2..=MAX_NODES).contains(&parsed.nodes), "--nodes must be within 2..={MAX_NODES}");
    parsed
}

/// SplitMix64, seeded.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % bound as u64) as usize
    }
}

/// The channels (pairs of node indices), preferential attachment, no duplicates.
fn topology(arguments: &Arguments) -> Vec<(u8, u8)> {
    let mut random = Random(arguments.seed);
    let mut endpoints: Vec<u8> = vec![0, 1];
    let mut channels = vec![(0u8, 1u8)];
    for new in 2..arguments.nodes {
        let mut partners = Vec::new();
        for _ in 0..arguments.channels.min(new) {
            for _attempt in 0..20 {
                let partner = endpoints[random.below(endpoints.len())];
                if !partners.contains(&partner) {
                    partners.push(partner);
                    break;
                }
            }
        }
        for partner in partners {
            // Invariant: indices are below MAX_NODES, so they fit a byte.
            channels.push((partner, new as u8));
            endpoints.extend([partner, new as u8]);
        }
    }
    channels
}

fn main() {
    let arguments = arguments();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run(arguments));
}

async fn run(arguments: Arguments) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let service = start_service(&directory.path().join("pfs.db")).await;
    let options = ApiOptions { rate_limits: RateLimits::UNLIMITED, ..ApiOptions::default() };
    let running = Running::serve(service, api_config(), options).await;
    let channels = topology(&arguments);
    let mut events = vec![ChainEvent::TokenNetworkCreated {
        token_network: token_network(),
        token: Address::from_bytes([0x55; 20]),
        settle_timeout: BlockTimeout(U256::from(500)),
    }];
    for (index, (first, second)) in channels.iter().enumerate() {
        let channel_id = ChannelId(U256::from(index + 1));
        events.push(ChainEvent::ChannelOpened {
            token_network: token_network(),
            channel_id,
            participant1: node(*first),
            participant2: node(*second),
        });
        for participant in [first, second] {
            events.push(ChainEvent::Deposit {
                token_network: token_network(),
                channel_id,
                participant: node(*participant),
                total_deposit: U256::from(DEPOSIT),
            });
        }
    }
    let cursor = ChainCursor { block_number: BlockNumber(10), block_hash: [7; 32].into() };
    running.service.apply_chain_batch(Vec::new(), events, cursor).await.expect("chain batch committed");
    let updates: Vec<String> = channels
        .iter()
        .enumerate()
        .flat_map(|(index, (first, second))| {
            let channel = index as u64 + 1;
            [
                capacity_update(channel, *first, *second, 1, DEPOSIT, DEPOSIT),
                capacity_update(channel, *second, *first, 1, DEPOSIT, DEPOSIT),
            ]
        })
        .collect();
    for batch in updates.chunks(pfs_api::MAX_UPDATES_PER_REQUEST) {
        let (status, body) = running.post_json("/api/v1/updates", &format!("[{}]", batch.join(","))).await;
        assert_eq!(status, 200, "{body}");
    }
    let all: Vec<u8> = (0..arguments.nodes).map(|index| index as u8).collect();
    running.set_online(&all).await;

    std::fs::create_dir_all(&arguments.out).expect("output directory");
    let mut random = Random(arguments.seed ^ 0xabcd);
    let mut paths = std::fs::File::create(arguments.out.join("paths.txt")).expect("paths.txt");
    let mut found = 0;
    for _ in 0..1_000 {
        let from = random.below(arguments.nodes) as u8;
        let to = random.below(arguments.nodes) as u8;
        if from == to {
            continue;
        }
        let body = paths_body(from, to, 1_000);
        if running.post_json(&common::paths_url(), &body).await.0 == 200 {
            found += 1;
        }
        writeln!(paths, "{body}").expect("write paths.txt");
    }
    std::fs::write(arguments.out.join("update.json"), &updates[0]).expect("update.json");
    std::fs::write(arguments.out.join("updates.json"), format!("[{}]", updates[..100].join(",")))
        .expect("updates.json");
    std::fs::write(arguments.out.join("paths_url"), common::paths_url()).expect("paths_url");
    println!(
        "{} nodes, {} channels; {found} of the sampled path requests find routes",
        arguments.nodes,
        channels.len()
    );
    println!("listening on {}", running.url(""));
    tokio::time::sleep(Duration::from_secs(arguments.seconds)).await;
    running.stop().await;
}
