//! Crash safety: a writer process killed with SIGKILL at an arbitrary moment loses nothing it
//! acknowledged, and the chain-derived state always matches the cursor it was committed with.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use alloy_primitives::B256;
use pfs_core::token_network::{ChainEvent, TokenNetworkRegistry};
use pfs_core::{Address, BlockNumber, BlockTimeout, ChannelId, U256};
use pfs_store::{ChainCursor, StateChanges};

use crate::common::{CHAIN, TempDatabase, at, key};

/// Where the child writes; set only for the child process.
const CHILD_DATABASE: &str = "PFS_STORE_CRASH_CHILD_DATABASE";
const CHILD_TEST: &str = "crash::child_commits_blocks_until_killed";

fn token_network() -> Address {
    Address::from_bytes([0xaa; 20])
}

/// The child: commits block after block, each with a deposit equal to the block number, and
/// prints `ack N` only after block N's transaction committed.
#[tokio::test]
#[ignore = "the child process of a_writer_killed_at_any_moment_loses_nothing_it_acknowledged"]
async fn child_commits_blocks_until_killed() {
    let Ok(location) = std::env::var(CHILD_DATABASE) else { return };
    let store = pfs_store::Store::open(&pfs_store::StoreConfig::new(location), &crate::common::deployment())
        .await
        .expect("the store opens");
    let mut registry = store.load_state().await.expect("the state loads").registry;
    let mut changes = StateChanges::new();
    let channel_id = ChannelId(U256::from(1));
    if registry.token_network(&token_network()).is_none() {
        for event in [
            ChainEvent::TokenNetworkCreated {
                token_network: token_network(),
                token: Address::from_bytes([0xee; 20]),
                settle_timeout: BlockTimeout(U256::from(500)),
            },
            ChainEvent::ChannelOpened {
                token_network: token_network(),
                channel_id,
                participant1: key(0).address(),
                participant2: key(1).address(),
            },
        ] {
            let effect = registry.apply_chain_event(&event, at(0));
            changes.record_chain_event(&event, &effect);
        }
    }
    let start =
        store.chain_cursor().await.expect("the cursor reads").map_or(1, |cursor| cursor.block_number.0 + 1);
    for number in start.. {
        let event = ChainEvent::Deposit {
            token_network: token_network(),
            channel_id,
            participant: key(0).address(),
            total_deposit: U256::from(number),
        };
        let effect = registry.apply_chain_event(&event, at(0));
        changes.record_chain_event(&event, &effect);
        changes.record_block(ChainCursor {
            block_number: BlockNumber(number),
            block_hash: B256::repeat_byte(7),
        });
        store.commit(&registry, &changes).await.expect("the block commits");
        changes.clear();
        println!("ack {number}");
    }
}

/// Runs the child until it acknowledged at least `acknowledgements` blocks, kills it with
/// SIGKILL, and returns the last block it acknowledged.
fn run_child_and_kill(location: &str, acknowledgements: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([CHILD_TEST, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DATABASE, location)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the child starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut last = 0;
    for line in lines.by_ref() {
        if let Some(number) = line.expect("readable output").strip_prefix("ack ") {
            last = number.parse().expect("a block number");
            if last >= acknowledgements {
                break;
            }
        }
    }
    // `Child::kill` sends SIGKILL: no destructor, no flush, no orderly close runs in the child.
    child.kill().expect("the child is killed");
    // Acknowledgements printed before the kill still count.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(number) = line.strip_prefix("ack ") {
            last = number.parse().expect("a block number");
        }
    }
    child.wait().expect("the child is reaped");
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_at_any_moment_loses_nothing_it_acknowledged() {
    let database = TempDatabase::sqlite();
    let mut acknowledged = 0;
    for round in 1..=3 {
        let location = database.location();
        let target = acknowledged + 40 * round;
        acknowledged =
            tokio::task::spawn_blocking(move || run_child_and_kill(&location, target)).await.unwrap();
        let loaded = database.open().await.load_state().await.expect("the state loads after the crash");
        let cursor = loaded.cursor.expect("blocks were committed").block_number.0;
        assert!(cursor >= acknowledged, "round {round}: acknowledged {acknowledged}, recovered {cursor}");
        // The chain-derived state and the cursor were committed together.
        let registry: &TokenNetworkRegistry = &loaded.registry;
        let channel =
            registry.token_network(&token_network()).unwrap().channel(&ChannelId(U256::from(1))).unwrap();
        let side = channel.side_index(&key(0).address()).unwrap();
        assert_eq!(channel.sides[side].total_deposit, U256::from(cursor));
        assert_eq!(loaded.registry.chain_id(), CHAIN);
        acknowledged = cursor;
    }
}
