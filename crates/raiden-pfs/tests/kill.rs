//! Crash safety of `raiden-pfs serve` as a process: while a load generator posts signed capacity
//! updates, the process is killed with SIGKILL at seeded random moments and restarted on the same
//! database; every update answered "accepted" must be in the state afterwards.
//!
//! The database is a SQLite file, or a fresh PostgreSQL database when
//! `PFS_STORE_TEST_POSTGRES_URL` names a server (see `pfs_store::testing`; `scripts/test` runs
//! this test both ways).

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{address_of, capacity_update, free_port, key_of, token_network};
use devnet::{Devnet, Topology};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pfs_core::{Address, ChannelId, PrivateKey, U256};

const ROUNDS: u64 = 4;
const WORKERS: usize = 4;
const SEED: u64 = 0x5eed_0fc4_a5a5;

/// SplitMix64: a seeded, dependency-free random sequence.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^ (value >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// One channel side that sends updates: its key, its partner and its channel.
#[derive(Clone)]
struct Sender {
    key: PrivateKey,
    partner: Address,
    channel: U256,
}

/// The capacity an update with `nonce` announces, so the stored capacity tells the nonce apart.
fn capacity_for(nonce: u64) -> U256 {
    U256::from(1_000 + nonce * 3)
}

fn spawn_serve(devnet: &Devnet, db: &str, port: u16) -> Child {
    let deployment = devnet.deployment();
    Command::new(env!("CARGO_BIN_EXE_raiden-pfs"))
        .arg("serve")
        .env("PFS_ETH_RPC", devnet.eth_rpc())
        .env("PFS_TOKEN_NETWORK_REGISTRY_ADDRESS", deployment.token_network_registry.to_string())
        .env("PFS_USER_DEPOSIT_ADDRESS", deployment.user_deposit.to_string())
        .env("PFS_ONE_TO_N_ADDRESS", deployment.one_to_n.to_string())
        .env("PFS_START_BLOCK", deployment.deployment_block.to_string())
        .env("PFS_CONFIRMATIONS", "0")
        .env("PFS_POLL_INTERVAL_MS", "100")
        .env("PFS_PRIVATE_KEY", format!("0x{}", "42".repeat(32)))
        .env("PFS_DB", db)
        .env("PFS_HOST", "127.0.0.1")
        .env("PFS_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("raiden-pfs starts")
}

/// Waits until `/api/v1/info` reports `block` as confirmed.
async fn wait_confirmed(client: &reqwest::Client, port: u16, block: u64) {
    let url = format!("http://127.0.0.1:{port}/api/v1/info");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(&url).send().await
            && let Ok(info) = response.json::<serde_json::Value>().await
            && info["network_info"]["confirmed_block"]["number"]
                .as_u64()
                .is_some_and(|number| number >= block)
        {
            return;
        }
        assert!(Instant::now() < deadline, "serve did not confirm block {block} within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts updates of `senders` (in turn, nonces increasing per sender) until the server stops
/// answering; records the highest accepted nonce per sender index.
async fn generate_load(
    client: reqwest::Client,
    port: u16,
    chain_id: u64,
    network: Address,
    senders: Vec<(usize, Sender)>,
    nonces: Arc<Mutex<Vec<u64>>>,
    accepted: Arc<Mutex<BTreeMap<usize, u64>>>,
) {
    let url = format!("http://127.0.0.1:{port}/api/v1/updates");
    loop {
        for (index, sender) in &senders {
            let nonce = {
                let mut nonces = nonces.lock().expect("not poisoned");
                nonces[*index] += 1;
                nonces[*index]
            };
            let body = capacity_update(
                chain_id,
                network,
                sender.channel,
                &sender.key,
                sender.partner,
                nonce,
                capacity_for(nonce),
                U256::ZERO,
            );
            let answer = client.post(&url).header("content-type", "application/json").body(body).send().await;
            let Ok(response) = answer else { return };
            let Ok(json) = response.json::<serde_json::Value>().await else { return };
            if json == serde_json::json!({"status": "accepted"}) {
                accepted.lock().expect("not poisoned").insert(*index, nonce);
            }
        }
    }
}

#[tokio::test]
async fn every_acknowledged_update_survives_sigkill() {
    let devnet =
        Devnet::builder().nodes(12).channels(Topology::default()).start().await.expect("the devnet starts");
    let network = token_network(&devnet);
    let chain_id = devnet.chain().chain_id();
    let database = pfs_store::testing::TestDatabase::new().await;
    let db = database.location();
    let node_of = |address: alloy::primitives::Address| {
        devnet.nodes().iter().find(|node| node.address() == address).expect("a devnet node")
    };
    let senders: Vec<Sender> = devnet
        .channels()
        .iter()
        .flat_map(|channel| {
            let [one, two] = [node_of(channel.participant1), node_of(channel.participant2)];
            [(one, two), (two, one)].map(|(from, to)| Sender {
                key: key_of(from),
                partner: address_of(to),
                channel: channel.channel_identifier,
            })
        })
        .collect();
    let head = devnet.chain().block_number().await.expect("block number");
    let client = reqwest::Client::new();
    let nonces = Arc::new(Mutex::new(vec![0_u64; senders.len()]));
    let accepted: Arc<Mutex<BTreeMap<usize, u64>>> = Arc::default();
    let mut random = SplitMix64(SEED);
    let mut total_accepted = 0;
    for round in 0..=ROUNDS {
        let port = free_port();
        let mut child = spawn_serve(&devnet, &db, port);
        wait_confirmed(&client, port, head).await;
        // The state after the previous round's kill holds every acknowledged update.
        let stored = pfs_store::load_token_network(&db, &network)
            .await
            .expect("the database reads")
            .expect("the token network is followed");
        let acknowledged = accepted.lock().expect("not poisoned").clone();
        for (index, nonce) in &acknowledged {
            let sender = &senders[*index];
            let channel = stored.channel(&ChannelId(sender.channel)).expect("the channel is stored");
            let side = channel.side_index(&sender.key.address()).expect("a participant");
            let report = channel.sides[side].capacity_report.as_ref().expect("a report is stored");
            assert!(
                report.updating_nonce.0 >= *nonce,
                "round {round}: update {nonce} of sender {index} lost"
            );
            assert_eq!(report.updating_capacity, capacity_for(report.updating_nonce.0));
        }
        total_accepted = acknowledged.len();
        if round == ROUNDS {
            let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
            kill(pid, Signal::SIGTERM).expect("signal sent");
            assert!(child.wait().expect("exits").success());
            break;
        }
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let mine: Vec<(usize, Sender)> = senders
                    .iter()
                    .cloned()
                    .enumerate()
                    .filter(|(index, _)| index % WORKERS == worker)
                    .collect();
                tokio::spawn(generate_load(
                    client.clone(),
                    port,
                    chain_id,
                    network,
                    mine,
                    Arc::clone(&nonces),
                    Arc::clone(&accepted),
                ))
            })
            .collect();
        let kill_after = Duration::from_millis(300 + random.below(1_200));
        let accepted_before = accepted.lock().expect("not poisoned").values().sum::<u64>();
        tokio::time::sleep(kill_after).await;
        child.kill().expect("SIGKILL sent");
        child.wait().expect("the killed process is reaped");
        for worker in workers {
            worker.await.expect("the load generator ends when the server is gone");
        }
        let accepted_after = accepted.lock().expect("not poisoned").values().sum::<u64>();
        eprintln!(
            "round {round}: SIGKILL after {kill_after:?}; highest accepted nonces grew by {}",
            accepted_after - accepted_before
        );
    }
    assert!(total_accepted > senders.len() / 2, "the load generator got updates accepted ({total_accepted})");
}
