//! Sync throughput from a cold start: a token network with `PFS_CHAIN_CHANNELS` (default 10,000)
//! channels opened and deposited on anvil, then followed from the deployment block. Only the sync
//! is timed, not the setup. Ignored by default (the setup takes seconds); run with
//! `cargo test -p pfs-chain --release --test throughput -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use alloy::primitives::U256;
use common::{Writer, config, devnet};
use devnet::{ChannelPlan, NodeAccount};

#[tokio::test]
#[ignore = "a figure, not a check: sets up 10,000 channels on anvil"]
async fn sync_throughput_from_a_cold_start() {
    let channels: usize =
        std::env::var("PFS_CHAIN_CHANNELS").ok().and_then(|value| value.parse().ok()).unwrap_or(10_000);
    let devnet = devnet(0).await;
    let participants: Vec<_> =
        NodeAccount::derive_many(b"pfs-chain throughput", 200).iter().map(NodeAccount::address).collect();
    let plans: Vec<ChannelPlan> = (0..participants.len())
        .flat_map(|first| (first + 1..participants.len()).map(move |second| (first, second)))
        .take(channels)
        .map(|(first, second)| ChannelPlan {
            participant1: participants[first],
            participant2: participants[second],
            deposit1: U256::from(1_000 + first),
            deposit2: U256::from(2_000 + second),
        })
        .collect();
    assert_eq!(plans.len(), channels, "enough participant pairs");
    devnet.raiden().open_channels_bulk(&plans).await.expect("bulk open");
    let head = devnet.chain().block_number().await.expect("block number");

    // The follower alone: every confirmed event decoded and delivered.
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;
    let started = Instant::now();
    let mut events = 0;
    while writer.follower.cursor().is_none_or(|cursor| cursor.block_number.0 < head) {
        events += writer.follower.next_batch().await.expect("a batch").events.len();
    }
    let follow = started.elapsed();
    assert_eq!(
        events,
        1 + 3 * channels,
        "TokenNetworkCreated, then ChannelOpened and two deposits per channel"
    );

    // The whole chain side of the writer: follow, apply, commit to SQLite.
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;
    let started = Instant::now();
    writer.sync_to(head).await;
    let full = started.elapsed();
    assert_eq!(writer.channel_count(), channels);

    let rate = |elapsed: std::time::Duration| events as f64 / elapsed.as_secs_f64();
    println!(
        "{channels} channels, {events} events over {head} blocks: follow {follow:.2?} ({:.0} events/s); \
         follow + apply + commit {full:.2?} ({:.0} events/s, {} batches)",
        rate(follow),
        rate(full),
        writer.batches.len()
    );
}
