//! Reorganisations, RPC outages and restarts, against anvil with the real Raiden contracts.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy::primitives::U256;
use common::{Writer, config, devnet};
use pfs_core::Address;

#[tokio::test]
async fn a_reverted_branch_is_rolled_back_and_the_new_branch_applied() {
    let devnet = devnet(4).await;
    let [a, b, c, d] = [0, 1, 2, 3].map(|index| devnet.nodes()[index].address());
    let network: Address = devnet.deployment().token_network.into();
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;
    let kept = devnet.raiden().open_channel(a, b).await.expect("open");
    writer.sync(&devnet, 0).await;
    let fork_block = devnet.chain().block_number().await.expect("block number");

    let snapshot = devnet.chain().snapshot().await.expect("snapshot");
    let dropped = devnet.raiden().open_channel(c, d).await.expect("open");
    devnet.chain().mine(3, 1).await.expect("mine");
    writer.sync(&devnet, 0).await;
    assert!(writer.channel(network, dropped.channel_identifier).is_some());

    devnet.chain().revert_to(snapshot).await.expect("revert");
    // The new branch: another channel between the same pair, and more blocks than before.
    let replacement = devnet.raiden().open_channel(d, c).await.expect("open on the new branch");
    devnet.chain().mine(5, 1).await.expect("mine");
    let rollback = writer.step().await;
    assert_eq!(rollback.rollback_to.map(|cursor| cursor.block_number.0), Some(fork_block));
    assert_eq!(writer.channel_count(), 1, "only the channel below the fork is left");
    writer.sync(&devnet, 0).await;

    let channel = writer.channel(network, replacement.channel_identifier).expect("the new branch's channel");
    assert_eq!(channel.sides[0].participant, std::cmp::min(c, d).into());
    assert!(writer.channel(network, kept.channel_identifier).is_some(), "blocks below the fork are kept");
    assert_eq!(writer.channel_count(), 2);
    assert_eq!(writer.follower.metrics().reorgs.load(Ordering::Relaxed), 1);
    writer.assert_store_matches().await;
}

#[tokio::test]
async fn an_anvil_reorg_deeper_than_the_confirmations_removes_its_events() {
    const CONFIRMATIONS: u64 = 1;
    let devnet = devnet(2).await;
    let [a, b] = [0, 1].map(|index| devnet.nodes()[index].address());
    let network: Address = devnet.deployment().token_network.into();
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, CONFIRMATIONS)).await;
    let opened = devnet.raiden().open_channel(a, b).await.expect("open");
    devnet.chain().mine(2, 1).await.expect("mine");
    writer.sync(&devnet, CONFIRMATIONS).await;
    assert!(writer.channel(network, opened.channel_identifier).is_some());

    // Replace the channel's block and the two after it with empty blocks.
    devnet.chain().reorg(3).await.expect("anvil_reorg");
    let rollback = writer.step().await;
    // The fork point is the newest kept block still on the chain: at or below the reorg's base.
    let fork = rollback.rollback_to.expect("a rollback").block_number.0;
    assert!(fork < opened.block_number, "fork point {fork} below block {}", opened.block_number);
    assert!(writer.channel(network, opened.channel_identifier).is_none());
    writer.sync(&devnet, CONFIRMATIONS).await;
    assert!(writer.channel(network, opened.channel_identifier).is_none());
    writer.assert_store_matches().await;
}

#[tokio::test]
async fn an_rpc_outage_is_retried_until_the_node_is_back() {
    let mut devnet = devnet(2).await;
    let [a, b] = [0, 1].map(|index| devnet.nodes()[index].address());
    let network: Address = devnet.deployment().token_network.into();
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;
    writer.sync(&devnet, 0).await;
    let metrics = writer.follower.metrics();

    devnet.anvil().stop().expect("stop anvil");
    let outage = async {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        devnet.anvil().restart().expect("restart anvil");
        devnet.raiden().open_channel(a, b).await.expect("open after the outage")
    };
    let (batch, opened) = tokio::join!(writer.step(), outage);
    assert!(metrics.rpc_errors.load(Ordering::Relaxed) > 0, "the failures are counted");
    writer.sync_to(opened.block_number).await;
    assert!(batch.rollback_to.is_none());
    assert!(writer.channel(network, opened.channel_identifier).is_some());
    writer.assert_store_matches().await;
}

#[tokio::test]
async fn a_restart_resumes_from_the_committed_cursor() {
    let devnet = devnet(4).await;
    let [a, b, c, d] = [0, 1, 2, 3].map(|index| devnet.nodes()[index].address());
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;
    devnet.raiden().open_channel_with_deposit(a, b, U256::from(1_000)).await.expect("open");
    writer.sync(&devnet, 0).await;
    let cursor = writer.follower.cursor().expect("a cursor");
    let applied = writer.batches.iter().map(|batch| batch.events.len()).sum::<usize>();
    assert_eq!(applied, 3, "TokenNetworkCreated, ChannelOpened, ChannelNewDeposit");
    writer.store.close().await;
    drop(writer);

    devnet.raiden().open_channel_with_deposit(c, d, U256::from(2_000)).await.expect("open");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;
    assert_eq!(writer.follower.cursor(), Some(cursor));
    assert_eq!(writer.channel_count(), 1);
    writer.sync(&devnet, 0).await;
    let events: Vec<_> = writer.batches.iter().flat_map(|batch| &batch.events).collect();
    assert_eq!(events.len(), 2, "only the new blocks' events: ChannelOpened, ChannelNewDeposit");
    assert!(events.iter().all(|(block, _)| *block > cursor.block_number));
    assert_eq!(writer.channel_count(), 2);
    writer.assert_store_matches().await;
}
