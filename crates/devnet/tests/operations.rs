//! Deployment and every chain operation of the devnet, against real anvil and the real Raiden
//! contracts 0.50.2, with the emitted events decoded from the chain's logs.

use TokenNetwork::TokenNetworkEvents;
use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolEvent;
use devnet::contracts::abi::{OneToN, ServiceRegistry, TokenNetwork, TokenNetworkRegistry, UserDeposit};
use devnet::{ChainEvent, Devnet, NodeAccount, ether};

async fn devnet_with_nodes(count: usize) -> Devnet {
    Devnet::builder().nodes(count).start().await.expect("starting a devnet")
}

/// The token network's events of the block of `block_number`.
async fn events_in(devnet: &Devnet, block_number: u64) -> Vec<ChainEvent<TokenNetworkEvents>> {
    devnet.raiden().token_network_events(block_number, block_number).await.unwrap()
}

/// The only log of the transaction must have `topic0` (checked on the raw log, as a chain
/// follower sees it).
async fn assert_single_topic(devnet: &Devnet, block_number: u64, topic0: B256) {
    let filter = alloy::rpc::types::Filter::new()
        .address(devnet.deployment().token_network)
        .from_block(block_number)
        .to_block(block_number);
    let logs = devnet.chain().logs(&filter).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].topics()[0], topic0);
}

#[tokio::test]
async fn deployment_creates_every_contract_and_a_token_network_for_the_token() {
    let devnet = devnet_with_nodes(0).await;
    let deployment = *devnet.deployment();
    let chain = devnet.chain();
    for (name, address) in [
        ("SecretRegistry", deployment.secret_registry),
        ("TokenNetworkRegistry", deployment.token_network_registry),
        ("CustomToken", deployment.token),
        ("ServiceRegistry", deployment.service_registry),
        ("UserDeposit", deployment.user_deposit),
        ("MonitoringService", deployment.monitoring_service),
        ("OneToN", deployment.one_to_n),
        ("TokenNetwork", deployment.token_network),
    ] {
        let code = alloy::providers::Provider::get_code_at(chain.provider(), address).await.unwrap();
        assert!(!code.is_empty(), "{name} has no code");
    }
    let registered = chain
        .call(
            deployment.token_network_registry,
            TokenNetworkRegistry::token_to_token_networksCall { token: deployment.token },
        )
        .await
        .unwrap();
    assert_eq!(registered, deployment.token_network);
    assert_eq!(
        chain.call(deployment.token_network, TokenNetwork::settle_timeoutCall {}).await.unwrap(),
        U256::from(deployment.settle_timeout)
    );
    assert_eq!(
        chain.call(deployment.user_deposit, UserDeposit::one_to_n_addressCall {}).await.unwrap(),
        deployment.one_to_n
    );
    assert_eq!(
        chain.call(deployment.user_deposit, UserDeposit::msc_addressCall {}).await.unwrap(),
        deployment.monitoring_service
    );
    assert_eq!(
        chain.call(deployment.one_to_n, OneToN::chain_idCall {}).await.unwrap(),
        U256::from(chain.chain_id())
    );
    assert_eq!(
        chain.call(deployment.service_registry, ServiceRegistry::tokenCall {}).await.unwrap(),
        deployment.token
    );
}

#[tokio::test]
async fn deployment_emits_token_network_created_with_the_settle_timeout() {
    let devnet = devnet_with_nodes(0).await;
    let deployment = *devnet.deployment();
    let filter = alloy::rpc::types::Filter::new()
        .address(deployment.token_network_registry)
        .from_block(deployment.deployment_block)
        .to_block(deployment.token_network_block);
    let logs = devnet.chain().logs(&filter).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].block_number, Some(deployment.token_network_block));
    let created = TokenNetworkRegistry::TokenNetworkCreated::decode_log(&logs[0].inner).unwrap();
    assert_eq!(created.topics().0, TokenNetworkRegistry::TokenNetworkCreated::SIGNATURE_HASH);
    assert_eq!(created.token_address, deployment.token);
    assert_eq!(created.token_network_address, deployment.token_network);
    assert_eq!(created.settle_timeout, U256::from(deployment.settle_timeout));
}

#[tokio::test]
async fn funding_an_account_gives_it_ether_and_tokens() {
    let devnet = devnet_with_nodes(0).await;
    let account = NodeAccount::derive(b"funding", 0).address();
    devnet.raiden().fund_account(account, ether(3), ether(7)).await.unwrap();
    assert_eq!(devnet.chain().balance(account).await.unwrap(), ether(3));
    assert_eq!(devnet.raiden().token_balance(account).await.unwrap(), ether(7));
}

#[tokio::test]
async fn nodes_are_funded_with_ether_tokens_and_a_user_deposit_balance() {
    let devnet = devnet_with_nodes(3).await;
    let funding = devnet::NodeFunding::default();
    for node in devnet.nodes() {
        assert_eq!(devnet.chain().balance(node.address()).await.unwrap(), funding.eth);
        assert_eq!(devnet.raiden().token_balance(node.address()).await.unwrap(), funding.tokens);
        assert_eq!(devnet.raiden().user_deposit_balance(node.address()).await.unwrap(), funding.user_deposit);
    }
}

#[tokio::test]
async fn a_user_deposit_for_a_beneficiary_raises_its_balance_to_the_new_total() {
    let devnet = devnet_with_nodes(1).await;
    let payer = devnet.nodes()[0].address();
    let beneficiary = NodeAccount::derive(b"beneficiary", 0).address();
    devnet.raiden().deposit_to_user_deposit(payer, beneficiary, ether(5)).await.unwrap();
    devnet.raiden().deposit_to_user_deposit(payer, beneficiary, ether(8)).await.unwrap();
    assert_eq!(devnet.raiden().user_deposit_balance(beneficiary).await.unwrap(), ether(8));
}

#[tokio::test]
async fn a_registered_service_has_a_valid_registration_and_its_url() {
    let devnet = devnet_with_nodes(0).await;
    let pfs = NodeAccount::derive(b"pfs", 0).address();
    assert!(!devnet.raiden().has_valid_registration(pfs).await.unwrap());
    let valid_till = devnet.raiden().register_service(pfs, "http://127.0.0.1:5555").await.unwrap();
    assert!(valid_till > U256::from(devnet.chain().latest_timestamp().await.unwrap()));
    assert!(devnet.raiden().has_valid_registration(pfs).await.unwrap());
    assert_eq!(devnet.raiden().service_url(pfs).await.unwrap(), "http://127.0.0.1:5555");
}

#[tokio::test]
async fn opening_a_channel_emits_channel_opened_with_both_participants() {
    let devnet = devnet_with_nodes(2).await;
    let (first, second) = (devnet.nodes()[0].address(), devnet.nodes()[1].address());
    let opened = devnet.raiden().open_channel(first, second).await.unwrap();
    assert_eq!(opened.channel_identifier, U256::from(1));
    assert_single_topic(&devnet, opened.block_number, TokenNetwork::ChannelOpened::SIGNATURE_HASH).await;
    let events = events_in(&devnet, opened.block_number).await;
    let TokenNetworkEvents::ChannelOpened(event) = &events[0].event else { panic!("{events:?}") };
    assert_eq!(
        (event.channel_identifier, event.participant1, event.participant2),
        (U256::from(1), first, second)
    );
    assert_eq!(devnet.raiden().channel_identifier(second, first).await.unwrap(), U256::from(1));
}

#[tokio::test]
async fn opening_with_a_deposit_emits_channel_opened_then_channel_new_deposit() {
    let devnet = devnet_with_nodes(2).await;
    let (first, second) = (devnet.nodes()[0].address(), devnet.nodes()[1].address());
    let opened = devnet.raiden().open_channel_with_deposit(first, second, ether(4)).await.unwrap();
    let events = events_in(&devnet, opened.block_number).await;
    assert_eq!(events.len(), 2);
    assert!(matches!(events[0].event, TokenNetworkEvents::ChannelOpened(_)));
    let TokenNetworkEvents::ChannelNewDeposit(deposit) = &events[1].event else { panic!("{events:?}") };
    assert_eq!(
        (deposit.channel_identifier, deposit.participant, deposit.total_deposit),
        (opened.channel_identifier, first, ether(4))
    );
}

#[tokio::test]
async fn a_total_deposit_emits_channel_new_deposit_and_moves_the_participants_tokens() {
    let devnet = devnet_with_nodes(2).await;
    let (first, second) = (devnet.nodes()[0].address(), devnet.nodes()[1].address());
    let channel = devnet.raiden().open_channel(first, second).await.unwrap().channel_identifier;
    let before = devnet.raiden().token_balance(second).await.unwrap();
    let receipt = devnet.raiden().set_total_deposit(channel, second, ether(6), first).await.unwrap();
    let block = receipt.block_number.unwrap();
    assert_single_topic(&devnet, block, TokenNetwork::ChannelNewDeposit::SIGNATURE_HASH).await;
    let events = events_in(&devnet, block).await;
    let TokenNetworkEvents::ChannelNewDeposit(deposit) = &events[0].event else { panic!("{events:?}") };
    assert_eq!(
        (deposit.channel_identifier, deposit.participant, deposit.total_deposit),
        (channel, second, ether(6))
    );
    assert_eq!(devnet.raiden().token_balance(second).await.unwrap(), before - ether(6));
    assert_eq!(devnet.raiden().participant_info(channel, second, first).await.unwrap().deposit, ether(6));
}

#[tokio::test]
async fn a_cooperative_withdraw_signed_by_both_emits_channel_withdraw() {
    let devnet = devnet_with_nodes(2).await;
    let (first, second) = (&devnet.nodes()[0], &devnet.nodes()[1]);
    let opened = devnet
        .raiden()
        .open_channel_with_deposit(first.address(), second.address(), ether(10))
        .await
        .unwrap();
    let receipt = devnet.raiden().withdraw(opened.channel_identifier, first, second, ether(3)).await.unwrap();
    let block = receipt.block_number.unwrap();
    let events = events_in(&devnet, block).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].transaction_hash, receipt.transaction_hash);
    let TokenNetworkEvents::ChannelWithdraw(withdraw) = &events[0].event else { panic!("{events:?}") };
    assert_eq!(
        (withdraw.channel_identifier, withdraw.participant, withdraw.total_withdraw),
        (opened.channel_identifier, first.address(), ether(3))
    );
    let info = devnet
        .raiden()
        .participant_info(opened.channel_identifier, first.address(), second.address())
        .await
        .unwrap();
    assert_eq!((info.deposit, info.withdrawn), (ether(10), ether(3)));
}

#[tokio::test]
async fn a_withdraw_signed_by_a_stranger_is_refused() {
    let devnet = devnet_with_nodes(3).await;
    let (first, second, stranger) = (&devnet.nodes()[0], &devnet.nodes()[1], &devnet.nodes()[2]);
    let opened = devnet
        .raiden()
        .open_channel_with_deposit(first.address(), second.address(), ether(10))
        .await
        .unwrap();
    let error =
        devnet.raiden().withdraw(opened.channel_identifier, first, stranger, ether(3)).await.unwrap_err();
    assert!(error.to_string().contains("TN/withdraw"), "{error}");
}

#[tokio::test]
async fn closing_without_a_balance_proof_emits_channel_closed_with_nonce_zero() {
    let devnet = devnet_with_nodes(2).await;
    let (closer, partner) = (&devnet.nodes()[0], devnet.nodes()[1].address());
    let opened = devnet.raiden().open_channel(closer.address(), partner).await.unwrap();
    let receipt = devnet.raiden().close_channel(opened.channel_identifier, closer, partner).await.unwrap();
    let block = receipt.block_number.unwrap();
    assert_single_topic(&devnet, block, TokenNetwork::ChannelClosed::SIGNATURE_HASH).await;
    let events = events_in(&devnet, block).await;
    let TokenNetworkEvents::ChannelClosed(closed) = &events[0].event else { panic!("{events:?}") };
    assert_eq!(
        (closed.channel_identifier, closed.closing_participant, closed.nonce, closed.balance_hash),
        (opened.channel_identifier, closer.address(), U256::ZERO, B256::ZERO)
    );
    assert!(
        devnet
            .raiden()
            .participant_info(opened.channel_identifier, closer.address(), partner)
            .await
            .unwrap()
            .is_the_closer
    );
}

#[tokio::test]
async fn settling_inside_the_settle_timeout_is_refused() {
    let devnet = devnet_with_nodes(2).await;
    let (closer, partner) = (&devnet.nodes()[0], devnet.nodes()[1].address());
    let opened = devnet.raiden().open_channel(closer.address(), partner).await.unwrap();
    devnet.raiden().close_channel(opened.channel_identifier, closer, partner).await.unwrap();
    let error = devnet
        .raiden()
        .settle_channel(opened.channel_identifier, closer.address(), partner)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("TN/settle: settlement timeout"), "{error}");
}

#[tokio::test]
async fn settling_after_the_settle_timeout_emits_channel_settled_and_returns_the_deposits() {
    let devnet = devnet_with_nodes(2).await;
    let (closer, partner) = (&devnet.nodes()[0], devnet.nodes()[1].address());
    let opened =
        devnet.raiden().open_channel_with_deposit(closer.address(), partner, ether(2)).await.unwrap();
    let channel = opened.channel_identifier;
    devnet.raiden().set_total_deposit(channel, partner, ether(5), closer.address()).await.unwrap();
    let closer_tokens = devnet.raiden().token_balance(closer.address()).await.unwrap();
    let partner_tokens = devnet.raiden().token_balance(partner).await.unwrap();
    let close_block =
        devnet.raiden().close_channel(channel, closer, partner).await.unwrap().block_number.unwrap();

    devnet.raiden().mine_through_settle_timeout(channel).await.unwrap();
    let mined = devnet.chain().block_number().await.unwrap() - close_block;
    assert!(mined >= devnet.deployment().settle_timeout, "mined {mined} blocks");
    let receipt = devnet.raiden().settle_channel(channel, closer.address(), partner).await.unwrap();

    let block = receipt.block_number.unwrap();
    assert_single_topic(&devnet, block, TokenNetwork::ChannelSettled::SIGNATURE_HASH).await;
    let events = events_in(&devnet, block).await;
    let TokenNetworkEvents::ChannelSettled(settled) = &events[0].event else { panic!("{events:?}") };
    assert_eq!(settled.channel_identifier, channel);
    let mut amounts = [
        (settled.participant1, settled.participant1_amount),
        (settled.participant2, settled.participant2_amount),
    ];
    amounts.sort();
    let mut expected = [(closer.address(), ether(2)), (partner, ether(5))];
    expected.sort();
    assert_eq!(amounts, expected);
    assert_eq!(devnet.raiden().token_balance(closer.address()).await.unwrap(), closer_tokens + ether(2));
    assert_eq!(devnet.raiden().token_balance(partner).await.unwrap(), partner_tokens + ether(5));
    assert_eq!(devnet.raiden().channel_identifier(closer.address(), partner).await.unwrap(), U256::ZERO);
}

#[tokio::test]
async fn bulk_setup_opens_every_planned_channel_with_both_deposits() {
    let devnet = devnet_with_nodes(0).await;
    let accounts = NodeAccount::derive_many(b"bulk", 30);
    let mut plans = Vec::new();
    for (index, account) in accounts.iter().enumerate().skip(1) {
        for partner in accounts.iter().take(index.min(4)) {
            plans.push(devnet::ChannelPlan {
                participant1: account.address(),
                participant2: partner.address(),
                deposit1: ether(index as u64),
                deposit2: if index % 2 == 0 { ether(1) } else { U256::ZERO },
            });
        }
    }
    let first_block = devnet.chain().block_number().await.unwrap() + 1;
    let opened = devnet.raiden().open_channels_bulk(&plans).await.unwrap();
    assert_eq!(opened.len(), plans.len());
    let mut identifiers: Vec<U256> = opened.iter().map(|channel| channel.channel_identifier).collect();
    identifiers.sort();
    identifiers.dedup();
    assert_eq!(identifiers.len(), plans.len());

    let events = devnet
        .raiden()
        .token_network_events(first_block, devnet.chain().block_number().await.unwrap())
        .await
        .unwrap();
    let opened_events =
        events.iter().filter(|event| matches!(event.event, TokenNetworkEvents::ChannelOpened(_))).count();
    let deposits: Vec<(U256, Address, U256)> = events
        .iter()
        .filter_map(|event| match &event.event {
            TokenNetworkEvents::ChannelNewDeposit(deposit) => {
                Some((deposit.channel_identifier, deposit.participant, deposit.total_deposit))
            }
            _ => None,
        })
        .collect();
    assert_eq!(opened_events, plans.len());
    for (plan, channel) in plans.iter().zip(&opened) {
        assert_eq!((channel.participant1, channel.participant2), (plan.participant1, plan.participant2));
        for (participant, amount) in [(plan.participant1, plan.deposit1), (plan.participant2, plan.deposit2)]
        {
            let partner =
                if participant == plan.participant1 { plan.participant2 } else { plan.participant1 };
            let info = devnet
                .raiden()
                .participant_info(channel.channel_identifier, participant, partner)
                .await
                .unwrap();
            assert_eq!(info.deposit, amount);
            assert_eq!(
                deposits.contains(&(channel.channel_identifier, participant, amount)),
                !amount.is_zero()
            );
        }
    }
}

#[tokio::test]
async fn a_devnet_with_a_topology_opens_a_connected_graph_of_deposited_channels() {
    let devnet = Devnet::builder().nodes(12).channels(devnet::Topology::default()).start().await.unwrap();
    assert_eq!(devnet.channels().len(), 3 + 9 * 2);
    let nodes: Vec<Address> = devnet.nodes().iter().map(NodeAccount::address).collect();
    for channel in devnet.channels() {
        assert!(nodes.contains(&channel.participant1) && nodes.contains(&channel.participant2));
        let info = devnet
            .raiden()
            .participant_info(channel.channel_identifier, channel.participant1, channel.participant2)
            .await
            .unwrap();
        assert!(info.deposit >= devnet::Topology::default().min_deposit);
    }
}

#[tokio::test]
async fn bulk_setup_beyond_one_pool_chunk_opens_all_and_keeps_the_gas_price() {
    let devnet = devnet_with_nodes(0).await;
    let accounts = NodeAccount::derive_many(b"large bulk", 752);
    let addresses: Vec<Address> = accounts.iter().map(NodeAccount::address).collect();
    let mut plans = devnet::Topology::default().channel_plans(&addresses);
    plans.truncate(1500);
    let base_fee = devnet.chain().next_base_fee().await.unwrap();
    let first_block = devnet.chain().block_number().await.unwrap() + 1;
    let opened = devnet.raiden().open_channels_bulk(&plans).await.unwrap();
    assert_eq!(opened.len(), 1500);
    let last_block = devnet.chain().block_number().await.unwrap();
    let events = devnet.raiden().token_network_events(first_block, last_block).await.unwrap();
    let count = |opened: bool| {
        events
            .iter()
            .filter(|event| match event.event {
                TokenNetworkEvents::ChannelOpened(_) => opened,
                TokenNetworkEvents::ChannelNewDeposit(_) => !opened,
                _ => false,
            })
            .count()
    };
    assert_eq!(count(true), 1500);
    assert_eq!(count(false), 3000);
    assert!(last_block - first_block > 10, "the channels span many blocks");
    assert!(devnet.chain().next_base_fee().await.unwrap() <= base_fee * 2);
    // Automine is on again: an ordinary transaction is mined on arrival.
    devnet.raiden().mint(accounts[0].address(), ether(1)).await.unwrap();
}

#[tokio::test]
async fn a_reverting_transaction_in_a_bulk_setup_is_reported_with_its_reason() {
    let devnet = devnet_with_nodes(3).await;
    let nodes: Vec<Address> = devnet.nodes().iter().map(NodeAccount::address).collect();
    devnet.raiden().open_channel(nodes[0], nodes[1]).await.unwrap();
    let plan = |participant1: Address, participant2: Address| devnet::ChannelPlan {
        participant1,
        participant2,
        deposit1: ether(1),
        deposit2: U256::ZERO,
    };
    let plans = [plan(nodes[2], nodes[0]), plan(nodes[0], nodes[1]), plan(nodes[2], nodes[1])];
    let error = devnet.raiden().open_channels_bulk(&plans).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, devnet::ChainError::Reverted { .. }), "{message}");
    assert!(message.contains("TN/open: channel exists for participants"), "{message}");
    assert!(message.contains("1 of 3 transactions of the bulk send reverted"), "{message}");
}

#[tokio::test]
async fn funded_nodes_have_approved_the_contracts_that_take_their_tokens() {
    let devnet = devnet_with_nodes(2).await;
    let deployment = *devnet.deployment();
    // UserDeposit has already taken the node's deposit out of its allowance.
    let user_deposit = devnet::NodeFunding::default().user_deposit;
    for node in devnet.nodes() {
        for (spender, expected) in [
            (deployment.token_network, U256::MAX),
            (deployment.user_deposit, U256::MAX - user_deposit),
            (deployment.service_registry, U256::MAX),
        ] {
            let allowance = devnet
                .chain()
                .call(
                    deployment.token,
                    devnet::contracts::abi::CustomToken::allowanceCall {
                        _owner: node.address(),
                        _spender: spender,
                    },
                )
                .await
                .unwrap();
            assert_eq!(allowance, expected);
        }
    }
}

#[tokio::test]
async fn a_token_network_added_later_is_announced_by_the_registry_and_holds_its_own_channels() {
    let devnet = devnet_with_nodes(2).await;
    let (first, second) = (devnet.nodes()[0].address(), devnet.nodes()[1].address());
    let second_network = devnet.add_token_network("Second Token", "TK2").await.unwrap();
    let added = *second_network.deployment();
    assert_ne!(added.token_network, devnet.deployment().token_network);
    assert_eq!(added.token_network_registry, devnet.deployment().token_network_registry);

    let filter = alloy::rpc::types::Filter::new()
        .address(added.token_network_registry)
        .event_signature(TokenNetworkRegistry::TokenNetworkCreated::SIGNATURE_HASH)
        .from_block(added.token_network_block)
        .to_block(added.token_network_block);
    let logs = devnet.chain().logs(&filter).await.unwrap();
    let created = TokenNetworkRegistry::TokenNetworkCreated::decode_log(&logs[0].inner).unwrap();
    assert_eq!((created.token_address, created.token_network_address), (added.token, added.token_network));

    // UserDeposit holds the devnet's first token; the new token only funds channels.
    let funding = devnet::NodeFunding { user_deposit: U256::ZERO, ..devnet::NodeFunding::default() };
    second_network.fund_accounts(&[first, second], &funding).await.unwrap();
    let opened = second_network.open_channel_with_deposit(first, second, ether(2)).await.unwrap();
    assert_eq!(opened.channel_identifier, U256::from(1));
    assert_eq!(
        second_network.token_network_events(opened.block_number, opened.block_number).await.unwrap().len(),
        2
    );
    assert!(
        devnet
            .raiden()
            .token_network_events(opened.block_number, opened.block_number)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(devnet.raiden().channel_identifier(first, second).await.unwrap(), U256::ZERO);
}

#[tokio::test]
async fn a_planned_channel_naming_a_missing_node_is_an_error() {
    let channel = devnet::topology::PlannedChannel {
        participant1: 0,
        participant2: 5,
        deposit1: alloy::primitives::U256::from(1),
        deposit2: alloy::primitives::U256::from(1),
    };
    let error = Devnet::builder().nodes(2).planned_channels(vec![channel]).start().await.unwrap_err();
    assert!(matches!(error, devnet::DevnetError::UnknownNode(named) if named == channel), "{error}");
}
