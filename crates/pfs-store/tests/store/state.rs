//! Committing the registry state and loading it back.

use alloy_primitives::B256;
use pfs_core::token_network::{ChainEvent, DeferredUpdate, TokenNetwork, TokenNetworkRegistry, Undo};
use pfs_core::{Address, BlockNumber, BlockTimeout, ChannelId, Message, U256};
use pfs_store::{ChainCursor, LoadedState, StateChanges, Store, StoreConfig};
use proptest::prelude::*;

use crate::common::{
    CHAIN, CapacityUpdateFields, TempDatabase, at, capacity_update, deployment, fee_update, key,
};

fn token_network(index: u8) -> Address {
    Address::from_bytes([0xa0 + index; 20])
}

fn block(number: u64, fork: u8) -> ChainCursor {
    let mut hash = [fork; 32];
    hash[..8].copy_from_slice(&number.to_be_bytes());
    ChainCursor { block_number: BlockNumber(number), block_hash: B256::from(hash) }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// Whether two registries hold the same token networks, channels and waiting updates (in order).
fn assert_same_state(loaded: &TokenNetworkRegistry, expected: &TokenNetworkRegistry) {
    assert_eq!(loaded.chain_id(), expected.chain_id());
    let networks = |registry: &TokenNetworkRegistry| -> Vec<TokenNetwork> {
        registry.token_networks().cloned().collect()
    };
    assert_eq!(networks(loaded), networks(expected));
    let deferred = |registry: &TokenNetworkRegistry| -> Vec<(u64, DeferredUpdate)> {
        registry.deferred().sequenced().map(|(sequence, entry)| (sequence, entry.clone())).collect()
    };
    assert_eq!(deferred(loaded), deferred(expected));
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    CreateTokenNetwork(u8),
    Open {
        network: u8,
        channel: u8,
        participant1: u8,
        participant2: u8,
    },
    Deposit {
        network: u8,
        channel: u8,
        participant: u8,
        total: u64,
    },
    Withdraw {
        network: u8,
        channel: u8,
        participant: u8,
        total: u64,
    },
    Close {
        network: u8,
        channel: u8,
    },
    Capacity {
        network: u8,
        channel: u8,
        from: u8,
        to: u8,
        nonce: u64,
        capacity: u64,
    },
    Fee {
        network: u8,
        channel: u8,
        from: u8,
        flat: u64,
    },
    Expire,
    /// Undo the last `n` chain events not yet undone (a reorganisation).
    Reorg(usize),
    /// Commit the batch with the next block.
    Commit,
}

fn step() -> impl Strategy<Value = Step> {
    let network = 0..2u8;
    let channel = 0..6u8;
    let participant = 0..5u8;
    prop_oneof![
        1 => network.clone().prop_map(Step::CreateTokenNetwork),
        3 => (network.clone(), channel.clone(), participant.clone(), participant.clone()).prop_map(
            |(network, channel, participant1, participant2)| Step::Open { network, channel, participant1, participant2 }
        ),
        2 => (network.clone(), channel.clone(), participant.clone(), 0..2_000u64)
            .prop_map(|(network, channel, participant, total)| Step::Deposit { network, channel, participant, total }),
        1 => (network.clone(), channel.clone(), participant.clone(), 0..500u64)
            .prop_map(|(network, channel, participant, total)| Step::Withdraw { network, channel, participant, total }),
        1 => (network.clone(), channel.clone()).prop_map(|(network, channel)| Step::Close { network, channel }),
        4 => (network.clone(), channel.clone(), participant.clone(), participant.clone(), 0..4u64, 0..3_000u64)
            .prop_map(|(network, channel, from, to, nonce, capacity)| Step::Capacity { network, channel, from, to, nonce, capacity }),
        3 => (network, channel, participant, 0..30u64)
            .prop_map(|(network, channel, from, flat)| Step::Fee { network, channel, from, flat }),
        1 => Just(Step::Expire),
        1 => (1..4usize).prop_map(Step::Reorg),
        3 => Just(Step::Commit),
    ]
}

/// Plays `steps` on a registry, committing batches to `store`; returns the final registry and
/// the last block committed.
async fn play(store: &Store, steps: &[Step]) -> (TokenNetworkRegistry, Option<ChainCursor>) {
    let mut registry = TokenNetworkRegistry::new(CHAIN);
    let mut changes = StateChanges::new();
    let mut undos: Vec<Undo> = Vec::new();
    let mut block_number = 100;
    let mut cursor = None;
    // Time advances one minute per step; deferred updates expire after a day.
    for (index, step) in steps.iter().enumerate() {
        let now = at(index as i64 * 3_600 * 2);
        let channel_id = |channel: u8| ChannelId(U256::from(channel));
        let event = match *step {
            Step::CreateTokenNetwork(network) => Some(ChainEvent::TokenNetworkCreated {
                token_network: token_network(network),
                token: Address::from_bytes([0xee; 20]),
                settle_timeout: BlockTimeout(U256::from(500 + u64::from(network))),
            }),
            Step::Open { network, channel, participant1, participant2 } => Some(ChainEvent::ChannelOpened {
                token_network: token_network(network),
                channel_id: channel_id(channel),
                participant1: key(participant1).address(),
                participant2: key(participant2).address(),
            }),
            Step::Deposit { network, channel, participant, total } => Some(ChainEvent::Deposit {
                token_network: token_network(network),
                channel_id: channel_id(channel),
                participant: key(participant).address(),
                total_deposit: U256::from(total),
            }),
            Step::Withdraw { network, channel, participant, total } => Some(ChainEvent::Withdraw {
                token_network: token_network(network),
                channel_id: channel_id(channel),
                participant: key(participant).address(),
                total_withdraw: U256::from(total),
            }),
            Step::Close { network, channel } => Some(ChainEvent::ChannelClosed {
                token_network: token_network(network),
                channel_id: channel_id(channel),
            }),
            Step::Capacity { network, channel, from, to, nonce, capacity } => {
                if from != to {
                    let update = capacity_update(CapacityUpdateFields {
                        token_network: token_network(network),
                        channel_id: channel_id(channel),
                        from,
                        to,
                        nonce,
                        updating_capacity: capacity,
                        other_capacity: 3_000 - capacity,
                    });
                    let outcome = registry.apply_update(update.clone(), now);
                    changes.record_update(&update, &outcome);
                }
                None
            }
            Step::Fee { network, channel, from, flat } => {
                let update = fee_update(token_network(network), channel_id(channel), from, flat, now);
                let outcome = registry.apply_update(update.clone(), now);
                changes.record_update(&update, &outcome);
                None
            }
            Step::Expire => {
                changes.record_expired_deferred(registry.expire_deferred(now));
                None
            }
            Step::Reorg(count) => {
                for _ in 0..count.min(undos.len()) {
                    // Invariant: the loop runs at most `undos.len()` times.
                    let undo = undos.pop().expect("an undo");
                    changes.record_undo(&undo);
                    registry.undo(undo);
                }
                block_number -= 1;
                None
            }
            Step::Commit => {
                block_number += 2;
                let processed = block(block_number, index as u8);
                changes.record_block(processed);
                store.commit(&registry, &changes).await.expect("the batch commits");
                changes.clear();
                cursor = Some(processed);
                None
            }
        };
        if let Some(event) = event {
            let effect = registry.apply_chain_event(&event, now);
            changes.record_chain_event(&event, &effect);
            undos.push(effect.undo);
        }
    }
    store.commit(&registry, &changes).await.expect("the last batch commits");
    (registry, cursor)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_history_committed_in_batches_loads_back_identically(steps in proptest::collection::vec(step(), 1..80)) {
        runtime().block_on(async {
            let database = TempDatabase::new().await;
            let store = database.open().await;
            let (registry, cursor) = play(&store, &steps).await;
            store.close().await;
            let LoadedState { registry: loaded, cursor: loaded_cursor, .. } =
                database.open().await.load_state().await.expect("the state loads");
            assert_same_state(&loaded, &registry);
            assert_eq!(loaded_cursor, cursor);
        });
    }
}

#[tokio::test]
async fn an_empty_database_loads_an_empty_registry_without_cursor() {
    let database = TempDatabase::new().await;
    let loaded = database.open().await.load_state().await.unwrap();
    assert_eq!(loaded.registry.chain_id(), CHAIN);
    assert_eq!(loaded.registry.token_networks().len(), 0);
    assert!(loaded.registry.deferred().is_empty());
    assert_eq!(loaded.cursor, None);
    assert!(loaded.recent_blocks.is_empty());
}

/// A registry with one token network, channel 1 between keys 0 and 1 with deposits, reports and
/// fees of both sides.
fn busy_registry(changes: &mut StateChanges) -> TokenNetworkRegistry {
    let mut registry = TokenNetworkRegistry::new(CHAIN);
    let events = [
        ChainEvent::TokenNetworkCreated {
            token_network: token_network(0),
            token: Address::from_bytes([0xee; 20]),
            settle_timeout: BlockTimeout(U256::from(500)),
        },
        ChainEvent::ChannelOpened {
            token_network: token_network(0),
            channel_id: ChannelId(U256::from(1)),
            participant1: key(1).address(),
            participant2: key(0).address(),
        },
        ChainEvent::Deposit {
            token_network: token_network(0),
            channel_id: ChannelId(U256::from(1)),
            participant: key(0).address(),
            total_deposit: U256::MAX,
        },
    ];
    for event in &events {
        let effect = registry.apply_chain_event(event, at(0));
        changes.record_chain_event(event, &effect);
    }
    for update in [
        capacity_update(CapacityUpdateFields {
            token_network: token_network(0),
            channel_id: ChannelId(U256::from(1)),
            from: 0,
            to: 1,
            nonce: u64::MAX,
            updating_capacity: 700,
            other_capacity: 300,
        }),
        fee_update(token_network(0), ChannelId(U256::from(1)), 1, 9, at(5)),
    ] {
        let outcome = registry.apply_update(update.clone(), at(5));
        changes.record_update(&update, &outcome);
    }
    registry
}

#[tokio::test]
async fn extreme_values_and_fee_schedules_survive_a_round_trip() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let mut changes = StateChanges::new();
    let registry = busy_registry(&mut changes);
    store.commit(&registry, &changes).await.unwrap();
    let loaded = store.load_state().await.unwrap();
    assert_same_state(&loaded.registry, &registry);
    let channel =
        loaded.registry.token_network(&token_network(0)).unwrap().channel(&ChannelId(U256::from(1))).unwrap();
    let side = channel.side_index(&key(0).address()).unwrap();
    assert_eq!(channel.sides[side].total_deposit, U256::MAX);
    assert_eq!(channel.sides[side].capacity_report.unwrap().updating_nonce.0, u64::MAX);
    assert!(channel.sides[1 - side].fee_schedule.imbalance_penalty.is_some());
    assert_eq!(channel.sides[1 - side].fee_timestamp, at(5));
}

#[tokio::test]
async fn a_deferred_fee_update_keeps_its_timestamp_exactly_as_sent() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let mut changes = StateChanges::new();
    let mut registry = busy_registry(&mut changes);
    // Signed over `…T22:13:20` but sent as `…T22:13:20.000000`, as the light client sometimes does.
    let signed = fee_update(token_network(0), ChannelId(U256::from(2)), 1, 4, at(0));
    let json = signed.message().to_json();
    let as_sent = json.replace(&at(0).to_isoformat(), &format!("{}.000000", at(0).to_isoformat()));
    assert_ne!(json, as_sent);
    let update = pfs_core::token_network::VerifiedUpdate::verify(Message::parse(&as_sent).unwrap()).unwrap();
    let outcome = registry.apply_update(update.clone(), at(6));
    changes.record_update(&update, &outcome);
    store.commit(&registry, &changes).await.unwrap();
    let loaded = store.load_state().await.unwrap();
    let waiting = loaded.registry.deferred().iter().next().expect("the update waits").clone();
    assert_eq!(waiting, DeferredUpdate { update, received_at: at(6) });
    let Message::FeeUpdate(message) = waiting.update.message() else { panic!("a fee update") };
    assert_eq!(message.timestamp_as_sent(), format!("{}.000000", at(0).to_isoformat()));
}

#[tokio::test]
async fn a_tampered_deferred_update_is_reported_as_corrupt() {
    let database = TempDatabase::sqlite();
    let store = database.open().await;
    let mut changes = StateChanges::new();
    let mut registry = busy_registry(&mut changes);
    let update = fee_update(token_network(0), ChannelId(U256::from(2)), 1, 4, at(0));
    let outcome = registry.apply_update(update.clone(), at(6));
    changes.record_update(&update, &outcome);
    store.commit(&registry, &changes).await.unwrap();
    store.close().await;
    let json = update.message().to_json().replace("\"flat\":\"4\"", "\"flat\":\"5\"");
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.location())).await.unwrap();
    sqlx::query("UPDATE deferred_update SET message = $1").bind(json).execute(&raw).await.unwrap();
    raw.close().await;
    let error = database.open().await.load_state().await.unwrap_err();
    assert!(
        matches!(
            error,
            pfs_store::StoreError::Corrupt {
                table: "deferred_update",
                reason: pfs_store::CorruptReason::Verification(_),
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn only_the_configured_number_of_recent_blocks_is_kept() {
    let database = TempDatabase::new().await;
    let config = StoreConfig { recent_blocks: 3, ..StoreConfig::new(database.location()) };
    let store = Store::open(&config, &deployment()).await.unwrap();
    let registry = TokenNetworkRegistry::new(CHAIN);
    for number in 1..=10 {
        let mut changes = StateChanges::new();
        changes.record_block(block(number, 0));
        store.commit(&registry, &changes).await.unwrap();
    }
    let loaded = store.load_state().await.unwrap();
    assert_eq!(loaded.recent_blocks, vec![block(8, 0), block(9, 0), block(10, 0)]);
    assert_eq!(store.chain_cursor().await.unwrap(), Some(block(10, 0)));
}

#[tokio::test]
async fn a_rewound_chain_replaces_the_blocks_of_the_abandoned_branch() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let registry = TokenNetworkRegistry::new(CHAIN);
    let mut changes = StateChanges::new();
    for number in 1..=5 {
        changes.record_block(block(number, 0));
    }
    store.commit(&registry, &changes).await.unwrap();
    // Blocks 4 and 5 were reorganised away: back to 3, then the new branch's 4.
    let mut changes = StateChanges::new();
    changes.record_block(block(3, 0));
    changes.record_block(block(4, 1));
    store.commit(&registry, &changes).await.unwrap();
    let loaded = store.load_state().await.unwrap();
    assert_eq!(loaded.recent_blocks, vec![block(1, 0), block(2, 0), block(3, 0), block(4, 1)]);
    assert_eq!(loaded.cursor, Some(block(4, 1)));
}

#[tokio::test]
async fn one_token_network_loads_read_only_for_export() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let mut changes = StateChanges::new();
    let mut registry = busy_registry(&mut changes);
    let other = ChainEvent::TokenNetworkCreated {
        token_network: token_network(1),
        token: Address::from_bytes([0xef; 20]),
        settle_timeout: BlockTimeout(U256::from(600)),
    };
    let effect = registry.apply_chain_event(&other, at(1));
    changes.record_chain_event(&other, &effect);
    store.commit(&registry, &changes).await.unwrap();
    let exported = pfs_store::load_token_network(&database.location(), &token_network(0)).await.unwrap();
    assert_eq!(exported.as_ref(), registry.token_network(&token_network(0)));
    let missing = pfs_store::load_token_network(&database.location(), &token_network(7)).await.unwrap();
    assert_eq!(missing, None);
    // The service keeps writing while the export reads.
    store.commit(&registry, &changes).await.unwrap();
}

#[tokio::test]
async fn a_deferred_update_that_evicts_the_senders_oldest_for_another_channel_removes_its_row() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let mut changes = StateChanges::new();
    let mut registry = busy_registry(&mut changes);
    store.commit(&registry, &changes).await.unwrap();
    for channel in 0..(pfs_core::token_network::MAX_DEFERRED_PER_SENDER as u64 + 5) {
        let update = fee_update(token_network(0), ChannelId(U256::from(100 + channel)), 1, 4, at(0));
        let outcome = registry.apply_update(update.clone(), at(1));
        let mut changes = StateChanges::new();
        changes.record_update(&update, &outcome);
        store.commit(&registry, &changes).await.unwrap();
    }
    assert_eq!(registry.deferred().len(), pfs_core::token_network::MAX_DEFERRED_PER_SENDER);
    let loaded = store.load_state().await.expect("the bounded set loads");
    assert_same_state(&loaded.registry, &registry);
}

fn removal(index: u8) -> Undo {
    Undo::RemoveTokenNetwork(token_network(index))
}

/// Commits `undos` (block, undo) with the blocks `blocks`.
async fn commit_undos(store: &Store, undos: &[(u64, Undo)], blocks: &[ChainCursor]) {
    let mut changes = StateChanges::new();
    for (number, undo) in undos {
        changes.record_chain_undo(BlockNumber(*number), undo);
    }
    for cursor in blocks {
        changes.record_block(*cursor);
    }
    store.commit(&TokenNetworkRegistry::new(CHAIN), &changes).await.unwrap();
}

#[tokio::test]
async fn undo_records_are_committed_with_their_blocks_and_load_back_in_order() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    commit_undos(
        &store,
        &[(2, removal(1)), (2, removal(2)), (2, Undo::Nothing), (4, removal(3))],
        &[block(2, 0), block(5, 0)],
    )
    .await;
    commit_undos(&store, &[(7, removal(4))], &[block(7, 0)]).await;
    let loaded = store.load_state().await.unwrap();
    let expected = vec![
        (BlockNumber(2), removal(1)),
        (BlockNumber(2), removal(2)),
        (BlockNumber(4), removal(3)),
        (BlockNumber(7), removal(4)),
    ];
    assert_eq!(loaded.undo_log, expected, "every undo but Nothing, in application order");
}

#[tokio::test]
async fn a_rollback_deletes_the_undo_records_of_the_abandoned_blocks() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    commit_undos(&store, &[(2, removal(1)), (4, removal(2)), (5, removal(3))], &[block(5, 0)]).await;
    // Back to block 3 (the undos of 4 and 5 were applied), then the new branch's block 4.
    commit_undos(&store, &[], &[block(3, 0)]).await;
    commit_undos(&store, &[(4, removal(4))], &[block(4, 1)]).await;
    let loaded = store.load_state().await.unwrap();
    assert_eq!(loaded.undo_log, vec![(BlockNumber(2), removal(1)), (BlockNumber(4), removal(4))]);
}

#[tokio::test]
async fn a_rollback_and_a_new_branch_in_one_commit_keep_only_the_new_branchs_undos() {
    let database = TempDatabase::new().await;
    let store = database.open().await;
    let mut changes = StateChanges::new();
    changes.record_chain_undo(BlockNumber(4), &removal(1));
    changes.record_block(block(4, 0));
    changes.record_block(block(3, 0));
    changes.record_chain_undo(BlockNumber(4), &removal(2));
    changes.record_block(block(4, 1));
    store.commit(&TokenNetworkRegistry::new(CHAIN), &changes).await.unwrap();
    let loaded = store.load_state().await.unwrap();
    assert_eq!(loaded.undo_log, vec![(BlockNumber(4), removal(2))]);
}

#[tokio::test]
async fn undo_records_older_than_the_recent_blocks_are_pruned() {
    let database = TempDatabase::new().await;
    let config = StoreConfig { recent_blocks: 3, ..StoreConfig::new(database.location()) };
    let store = Store::open(&config, &deployment()).await.unwrap();
    for number in 1..=10_u8 {
        commit_undos(&store, &[(u64::from(number), removal(number))], &[block(u64::from(number), 0)]).await;
    }
    let loaded = store.load_state().await.unwrap();
    let blocks: Vec<u64> = loaded.undo_log.iter().map(|(block, _)| block.0).collect();
    assert_eq!(blocks, vec![8, 9, 10], "the undos of the blocks a rollback can still reach");
}
