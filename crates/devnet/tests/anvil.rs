//! The anvil process and the chain's test controls: outage and restart with the chain state
//! kept, snapshots and reorgs, killing on drop, and several devnets side by side.

use alloy::primitives::U256;
use alloy::providers::Provider;
use devnet::anvil::process_running;
use devnet::contracts::abi::TokenNetwork;
use devnet::{Chain, Devnet, ether};

#[tokio::test]
async fn a_restarted_anvil_listens_on_the_same_port_with_the_same_chain() {
    let mut devnet = Devnet::builder().nodes(2).start().await.unwrap();
    let (first, second) = (devnet.nodes()[0].address(), devnet.nodes()[1].address());
    let opened = devnet.raiden().open_channel_with_deposit(first, second, ether(3)).await.unwrap();
    let head = devnet.chain().block_number().await.unwrap();
    let head_hash =
        devnet.chain().provider().get_block_by_number(head.into()).await.unwrap().unwrap().header.hash;
    let port = devnet.anvil().port();

    devnet.anvil().stop().unwrap();
    assert!(devnet.chain().block_number().await.is_err(), "the RPC answers while anvil is stopped");
    devnet.anvil().restart().unwrap();

    assert_eq!(devnet.anvil().port(), port);
    assert_eq!(devnet.chain().block_number().await.unwrap(), head);
    let hash_after =
        devnet.chain().provider().get_block_by_number(head.into()).await.unwrap().unwrap().header.hash;
    assert_eq!(hash_after, head_hash);
    let info = devnet.raiden().participant_info(opened.channel_identifier, first, second).await.unwrap();
    assert_eq!(info.deposit, ether(3));
    // The restarted chain keeps working: a new channel gets the next identifier.
    let third = devnet::NodeAccount::derive(b"after restart", 0).address();
    devnet.raiden().fund_account(third, ether(1), ether(1)).await.unwrap();
    let next = devnet.raiden().open_channel(third, first).await.unwrap();
    assert_eq!(next.channel_identifier, opened.channel_identifier + U256::from(1));
}

#[tokio::test]
async fn stopping_twice_or_restarting_a_running_anvil_is_an_error() {
    let mut devnet = Devnet::builder().start().await.unwrap();
    assert!(devnet.anvil().restart().is_err());
    devnet.anvil().stop().unwrap();
    assert!(devnet.anvil().stop().is_err());
}

#[tokio::test]
async fn reverting_to_a_snapshot_drops_the_later_blocks_and_their_channels() {
    let devnet = Devnet::builder().nodes(2).start().await.unwrap();
    let (first, second) = (devnet.nodes()[0].address(), devnet.nodes()[1].address());
    let snapshot = devnet.chain().snapshot().await.unwrap();
    let head = devnet.chain().block_number().await.unwrap();
    devnet.raiden().open_channel(first, second).await.unwrap();
    devnet.chain().revert_to(snapshot).await.unwrap();
    assert_eq!(devnet.chain().block_number().await.unwrap(), head);
    assert_eq!(devnet.raiden().channel_identifier(first, second).await.unwrap(), U256::ZERO);
    // The height of the dropped block is mined anew, without the channel.
    devnet.chain().mine(1, 0).await.unwrap();
    assert!(devnet.raiden().token_network_events(head + 1, head + 1).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reorg_replaces_the_last_blocks_and_removes_their_events() {
    let devnet = Devnet::builder().nodes(2).start().await.unwrap();
    let (first, second) = (devnet.nodes()[0].address(), devnet.nodes()[1].address());
    let opened = devnet.raiden().open_channel(first, second).await.unwrap();
    devnet.chain().mine(2, 0).await.unwrap();
    let head = devnet.chain().block_number().await.unwrap();
    let block = |number: u64| {
        let chain = devnet.chain().clone();
        async move { chain.provider().get_block_by_number(number.into()).await.unwrap().unwrap().header.hash }
    };
    let old_hash = block(opened.block_number).await;

    devnet.chain().reorg(head - opened.block_number + 1).await.unwrap();

    assert_eq!(devnet.chain().block_number().await.unwrap(), head);
    assert_ne!(block(opened.block_number).await, old_hash);
    assert!(devnet.raiden().token_network_events(opened.block_number, head).await.unwrap().is_empty());
    let counter =
        devnet.chain().call(devnet.deployment().token_network, TokenNetwork::channel_counterCall {}).await;
    assert_eq!(counter.unwrap(), U256::ZERO);
}

#[tokio::test]
async fn with_automine_off_transactions_wait_until_mined() {
    let devnet = Devnet::builder().start().await.unwrap();
    let chain = devnet.chain();
    let account = devnet::NodeAccount::derive(b"automine", 0).address();
    chain.set_automine(false).await.unwrap();
    let head = chain.block_number().await.unwrap();
    let minting = {
        let raiden = devnet.raiden().clone();
        tokio::spawn(async move { raiden.mint(account, ether(1)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(chain.block_number().await.unwrap(), head);
    assert!(!minting.is_finished());
    chain.mine(1, 0).await.unwrap();
    minting.await.unwrap().unwrap();
    assert_eq!(devnet.raiden().token_balance(account).await.unwrap(), ether(1));
    chain.set_automine(true).await.unwrap();
}

#[tokio::test]
async fn mining_with_an_interval_advances_block_time() {
    let devnet = Devnet::builder().start().await.unwrap();
    let before = devnet.chain().latest_timestamp().await.unwrap();
    devnet.chain().mine(10, 5).await.unwrap();
    assert!(devnet.chain().latest_timestamp().await.unwrap() >= before + 50);
    devnet.chain().increase_time(1000).await.unwrap();
    devnet.chain().mine(1, 0).await.unwrap();
    assert!(devnet.chain().latest_timestamp().await.unwrap() >= before + 1050);
}

#[tokio::test]
async fn dropping_a_devnet_stops_its_anvil_and_removes_its_temporary_folder() {
    let mut devnet = Devnet::builder().start().await.unwrap();
    let pid = devnet.anvil().pid().unwrap();
    let dir = devnet.dir().to_path_buf();
    let endpoint = devnet.eth_rpc().to_owned();
    assert!(process_running(pid, "anvil"));
    drop(devnet);
    assert!(!process_running(pid, "anvil"));
    assert!(!dir.exists());
    assert!(Chain::connect(&endpoint).await.is_err());
}

#[tokio::test]
async fn a_crashed_anvil_is_reported_by_its_exit_status() {
    let mut devnet = Devnet::builder().start().await.unwrap();
    assert_eq!(devnet.anvil().exit_status().unwrap(), None);
    let pid = devnet.anvil().pid().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL)
        .unwrap();
    let mut status = None;
    for _ in 0..200 {
        status = devnet.anvil().exit_status().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(status.is_some_and(|status| !status.success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_devnets_in_one_process_get_their_own_ports_and_chains() {
    let starts = (0..4).map(|_| tokio::spawn(Devnet::builder().nodes(2).start()));
    let mut devnets = Vec::new();
    for start in starts {
        devnets.push(start.await.unwrap().unwrap());
    }
    let mut ports: Vec<u16> = devnets.iter_mut().map(|devnet| devnet.anvil().port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
    // A channel on one chain does not exist on the others.
    let (first, second) = (devnets[0].nodes()[0].address(), devnets[0].nodes()[1].address());
    devnets[0].raiden().open_channel(first, second).await.unwrap();
    for devnet in &devnets[1..] {
        assert_eq!(devnet.raiden().channel_identifier(first, second).await.unwrap(), U256::ZERO);
    }
}
