//! The follower against anvil with the real Raiden contracts (through the devnet), with the
//! consumer side applying and committing every batch to a real SQLite store.

mod common;

use alloy::primitives::U256;
use common::{Writer, config, devnet};
use devnet::raiden::NodeFunding;
use pfs_core::Address;

fn tokens(amount: u64) -> U256 {
    U256::from(amount) * U256::from(10).pow(U256::from(18))
}

#[tokio::test]
async fn discovers_token_networks_and_their_events_from_the_creation_range() {
    let devnet = devnet(4).await;
    let [a, b, c, d] = [0, 1, 2, 3].map(|index| devnet.nodes()[index].address());
    let first = devnet.raiden().open_channel(a, b).await.expect("open");
    // A token network created at runtime, with a channel right away: the follower sees both in
    // the same range.
    let second_network = devnet.add_token_network("Second", "TT2").await.expect("new token network");
    let funding = NodeFunding { user_deposit: U256::ZERO, ..NodeFunding::default() };
    second_network.fund_accounts(&[c, d], &funding).await.expect("fund");
    let second = second_network.open_channel(c, d).await.expect("open in the new network");
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;
    writer.sync(&devnet, 0).await;

    let first_network: Address = devnet.deployment().token_network.into();
    let second_address: Address = second_network.deployment().token_network.into();
    assert_eq!(writer.registry.token_networks().len(), 2);
    assert!(writer.channel(first_network, first.channel_identifier).is_some());
    let channel =
        writer.channel(second_address, second.channel_identifier).expect("seen in the creation range");
    assert_eq!(channel.participants(), sorted(c.into(), d.into()));
    writer.assert_store_matches().await;
}

fn sorted(a: Address, b: Address) -> [Address; 2] {
    if a < b { [a, b] } else { [b, a] }
}

#[tokio::test]
async fn follows_a_channel_through_open_deposit_withdraw_close_and_settle() {
    let devnet = devnet(2).await;
    let (alice, bob) = (&devnet.nodes()[0], &devnet.nodes()[1]);
    let raiden = devnet.raiden();
    let network: Address = devnet.deployment().token_network.into();
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;

    let opened = raiden.open_channel(alice.address(), bob.address()).await.expect("open");
    let id = opened.channel_identifier;
    raiden.set_total_deposit(id, alice.address(), tokens(50), bob.address()).await.expect("deposit");
    raiden.set_total_deposit(id, bob.address(), tokens(20), alice.address()).await.expect("deposit");
    writer.sync(&devnet, 0).await;
    let channel = writer.channel(network, id).expect("open");
    let side = |channel: &pfs_core::token_network::Channel, participant: Address| {
        channel.sides.iter().find(|side| side.participant == participant).cloned().expect("a side")
    };
    assert_eq!(side(channel, alice.address().into()).total_deposit, tokens(50));
    assert_eq!(side(channel, bob.address().into()).total_deposit, tokens(20));

    raiden.withdraw(id, alice, bob, tokens(10)).await.expect("withdraw");
    writer.sync(&devnet, 0).await;
    let channel = writer.channel(network, id).expect("still open");
    assert_eq!(side(channel, alice.address().into()).total_withdraw, tokens(10));
    writer.assert_store_matches().await;

    raiden.close_channel(id, alice, bob.address()).await.expect("close");
    writer.sync(&devnet, 0).await;
    assert!(writer.channel(network, id).is_none(), "a closed channel stops routing at once");

    raiden.mine_through_settle_timeout(id).await.expect("mine");
    raiden.settle_channel(id, alice.address(), bob.address()).await.expect("settle");
    writer.sync(&devnet, 0).await;
    let kinds: Vec<&str> =
        writer.batches.iter().flat_map(|batch| &batch.events).map(|(_, event)| event_kind(event)).collect();
    assert_eq!(
        kinds,
        [
            "TokenNetworkCreated",
            "ChannelOpened",
            "Deposit",
            "Deposit",
            "Withdraw",
            "ChannelClosed",
            "ChannelSettled"
        ]
    );
    writer.assert_store_matches().await;
}

fn event_kind(event: &pfs_core::token_network::ChainEvent) -> &'static str {
    use pfs_core::token_network::ChainEvent::*;
    match event {
        TokenNetworkCreated { .. } => "TokenNetworkCreated",
        ChannelOpened { .. } => "ChannelOpened",
        Deposit { .. } => "Deposit",
        Withdraw { .. } => "Withdraw",
        ChannelClosed { .. } => "ChannelClosed",
        ChannelSettled { .. } => "ChannelSettled",
    }
}

#[tokio::test]
async fn state_appears_only_after_the_confirmations() {
    const CONFIRMATIONS: u64 = 3;
    let devnet = devnet(2).await;
    let [a, b] = [0, 1].map(|index| devnet.nodes()[index].address());
    let network: Address = devnet.deployment().token_network.into();
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, CONFIRMATIONS)).await;
    let opened = devnet.raiden().open_channel(a, b).await.expect("open");
    let block = opened.block_number;

    writer.sync_to(block - CONFIRMATIONS).await;
    assert!(writer.channel(network, opened.channel_identifier).is_none());
    devnet.chain().mine(CONFIRMATIONS - 1, 1).await.expect("mine");
    writer.sync_to(block - 1).await;
    assert!(writer.channel(network, opened.channel_identifier).is_none(), "one confirmation short");
    assert_eq!(writer.follower.cursor().expect("a cursor").block_number.0, block - 1);
    devnet.chain().mine(1, 1).await.expect("mine");
    writer.sync_to(block).await;
    assert!(writer.channel(network, opened.channel_identifier).is_some());
}

#[tokio::test]
async fn zero_confirmations_process_the_latest_block() {
    let devnet = devnet(2).await;
    let [a, b] = [0, 1].map(|index| devnet.nodes()[index].address());
    let network: Address = devnet.deployment().token_network.into();
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut writer = Writer::open(&devnet, dir.path(), config(&devnet, 0)).await;
    let opened = devnet.raiden().open_channel(a, b).await.expect("open");
    writer.sync_to(opened.block_number).await;
    assert!(writer.channel(network, opened.channel_identifier).is_some());
}

#[tokio::test]
async fn small_ranges_give_the_same_state_as_one_large_range() {
    let devnet = devnet(4).await;
    let [a, b, c, d] = [0, 1, 2, 3].map(|index| devnet.nodes()[index].address());
    devnet.raiden().open_channel_with_deposit(a, b, U256::from(10)).await.expect("open");
    let second_network = devnet.add_token_network("Second", "TT2").await.expect("new token network");
    second_network.open_channel(c, d).await.expect("open in the new network");
    devnet.raiden().open_channel_with_deposit(c, a, U256::from(20)).await.expect("open");

    let large_dir = tempfile::tempdir().expect("temporary folder");
    let mut large = Writer::open(&devnet, large_dir.path(), config(&devnet, 0)).await;
    large.sync(&devnet, 0).await;
    let mut small_config = config(&devnet, 0);
    small_config.range = pfs_chain::range::RangeLimits { initial: 1, min: 1, max: 2, ..small_config.range };
    let small_dir = tempfile::tempdir().expect("temporary folder");
    let mut small = Writer::open(&devnet, small_dir.path(), small_config).await;
    small.sync(&devnet, 0).await;

    assert!(small.batches.len() > large.batches.len());
    let state = |writer: &Writer| writer.registry.token_networks().cloned().collect::<Vec<_>>();
    assert_eq!(state(&small), state(&large));
    assert_eq!(small.channel_count(), 3);
    assert_eq!(small.follower.cursor(), large.follower.cursor());
    small.assert_store_matches().await;
}

/// Whether `contract` has code at `block`, asked of the node directly.
async fn has_code(devnet: &devnet::Devnet, contract: alloy::primitives::Address, block: u64) -> bool {
    use alloy::providers::Provider;
    let provider: alloy::providers::RootProvider =
        alloy::providers::RootProvider::new_http(devnet.eth_rpc().parse().expect("a URL"));
    let code = provider
        .get_code_at(contract)
        .block_id(alloy::eips::BlockId::number(block))
        .await
        .expect("anvil keeps every block's state");
    !code.is_empty()
}

#[tokio::test]
async fn without_a_start_block_a_new_state_starts_at_the_registrys_deployment_block() {
    let devnet = devnet(2).await;
    let registry = devnet.deployment().token_network_registry;
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut start_unset = config(&devnet, 0);
    start_unset.start_block = None;
    // One block per step, so the first batch ends at the block the follower started at.
    start_unset.range = pfs_chain::range::RangeLimits { initial: 1, min: 1, max: 1, ..start_unset.range };
    let mut writer = Writer::open(&devnet, dir.path(), start_unset).await;

    let found = writer.follower.deployment_block(registry.into()).await.expect("the registry is deployed");
    assert!(has_code(&devnet, registry, found.0).await, "the registry has code at {found}");
    assert!(!has_code(&devnet, registry, found.0 - 1).await, "the registry has no code before {found}");
    let first = writer.step().await;
    assert_eq!(first.blocks.last().map(|block| block.block_number), Some(found));

    writer.sync(&devnet, 0).await;
    let network: Address = devnet.deployment().token_network.into();
    assert!(
        writer.registry.token_network(&network).is_some(),
        "the token network created after it is followed"
    );
    writer.assert_store_matches().await;
}

#[tokio::test]
async fn a_registry_address_without_code_stops_the_follower_with_its_reason() {
    let devnet = devnet(2).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut wrong = config(&devnet, 0);
    wrong.registry = Address::from_bytes([0x5a; 20]);
    wrong.start_block = None;
    let mut writer = Writer::open(&devnet, dir.path(), wrong).await;

    let found = writer.follower.deployment_block(Address::from_bytes([0x5a; 20])).await;
    assert!(matches!(found, Err(pfs_chain::DeploymentBlockError::NoCode { .. })), "{found:?}");
    let stopped = writer.follower.next_batch().await;
    assert!(
        matches!(stopped, Err(pfs_chain::FollowerError::NoRegistry { address, .. }) if address == Address::from_bytes([0x5a; 20])),
        "{stopped:?}"
    );
    assert_eq!(writer.follower.cursor(), None, "nothing was read");
}
