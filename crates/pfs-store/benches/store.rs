//! Figures of the store: start-up load time of a large state, and accepted updates per second
//! with durable commits (batch sizes 1, 10, 100; SQLite `synchronous` FULL and NORMAL).
//!
//! Run with `cargo bench -p pfs-store`. Databases live in a temporary directory on the same disk
//! as the system's temp dir, so the commit figures include its real fsync cost.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pfs_core::fee_schedule::ImbalancePenalty;
use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate};
use pfs_core::token_network::{
    CapacityReport, ChainEvent, Channel, TokenNetwork, TokenNetworkRegistry, VerifiedUpdate,
};
use pfs_core::{
    Address, BlockTimeout, ChainId, ChannelId, FeeSchedule, Message, NaiveTimestamp, Nonce, PrivateKey, U256,
};
use pfs_store::{Deployment, Durability, StateChanges, Store, StoreConfig};
use tokio::runtime::Runtime;

const CHAIN: ChainId = ChainId(1337);
const CHANNELS: u64 = 50_000;
const NODES: u64 = 15_000;

fn deployment() -> Deployment {
    Deployment {
        chain_id: CHAIN,
        token_network_registry: Address::from_bytes([0x11; 20]),
        user_deposit: Address::from_bytes([0x22; 20]),
        receiver: Address::from_bytes([0x33; 20]),
    }
}

fn node(index: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[..8].copy_from_slice(&index.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    bytes[12..].copy_from_slice(&index.to_be_bytes());
    Address::from_bytes(bytes)
}

fn at(seconds: i64) -> NaiveTimestamp {
    // Invariant: a 2023 date plus small offsets lies inside years 1–9999.
    NaiveTimestamp::from_unix_micros(1_700_000_000_000_000 + seconds * 1_000_000).expect("in range")
}

/// A token network of `CHANNELS` channels between `NODES` nodes, every side funded, reported and
/// with a fee schedule (every third with an imbalance penalty), as after a long run.
fn large_network() -> TokenNetwork {
    let mut network = TokenNetwork::new(
        Address::from_bytes([0xaa; 20]),
        Address::from_bytes([0xee; 20]),
        BlockTimeout(U256::from(500)),
    );
    let penalty = ImbalancePenalty::new(
        (0..21u64).map(|x| (U256::from(x * 1_000), U256::from((10 - x as i64).unsigned_abs() * 7))).collect(),
    )
    .expect("increasing points");
    let mut state = 1u64;
    let mut created = 0;
    while created < CHANNELS {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let (a, b) = (node((state >> 33) % NODES), node((state >> 7) % NODES));
        if a == b || network.channel_between(&a, &b).is_some() {
            continue;
        }
        let mut channel = Channel::new(ChannelId(U256::from(created + 1)), a, b);
        for (index, side) in channel.sides.iter_mut().enumerate() {
            side.total_deposit = U256::from(10_000 + created);
            side.capacity_report = Some(CapacityReport {
                updating_nonce: Nonce(created + 3),
                other_nonce: Nonce(created + 2),
                updating_capacity: U256::from(9_000 + index as u64),
                other_capacity: U256::from(11_000 - index as u64),
                reveal_timeout: BlockTimeout(U256::from(50)),
            });
            side.fee_schedule = FeeSchedule {
                cap_fees: true,
                flat: U256::from(created % 100),
                proportional: U256::from(4_000),
                imbalance_penalty: created.is_multiple_of(3).then(|| penalty.clone()),
            };
            side.fee_timestamp = at(created as i64);
        }
        network.restore_channel(channel).expect("distinct pairs");
        created += 1;
    }
    network
}

fn bench_load(criterion: &mut Criterion) {
    let runtime = Runtime::new().expect("a runtime");
    let directory = tempfile::tempdir().expect("a temporary directory");
    let location = directory.path().join("large.db").to_str().expect("UTF-8").to_owned();
    let store = runtime.block_on(async {
        let store = Store::open(&StoreConfig::new(&location), &deployment()).await.expect("opens");
        let mut registry = TokenNetworkRegistry::new(CHAIN);
        let network = large_network();
        let mut changes = StateChanges::new();
        changes.touch_token_network(network.address);
        for channel in network.channels() {
            changes.touch_channel(network.address, channel.id);
        }
        registry.restore_token_network(network).expect("a new network");
        store.commit(&registry, &changes).await.expect("commits");
        store
    });
    let mut group = criterion.benchmark_group("load_state");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("50k_channels", |bencher| {
        bencher.iter(|| {
            let loaded = runtime.block_on(store.load_state()).expect("loads");
            assert_eq!(
                loaded.registry.token_networks().next().map(|network| network.channels().len()),
                Some(CHANNELS as usize)
            );
            loaded
        })
    });
    group.finish();
}

fn key(index: u64) -> PrivateKey {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&(index + 1).to_be_bytes());
    // Invariant: small non-zero scalars are valid secp256k1 keys.
    PrivateKey::from_bytes(bytes).expect("valid key")
}

/// A registry of 100 open channels between keys 2i and 2i+1, and one signed capacity update per
/// channel (re-applying it is accepted: equal nonces replace the report).
fn update_workload() -> (TokenNetworkRegistry, Vec<VerifiedUpdate>) {
    let token_network = Address::from_bytes([0xaa; 20]);
    let mut registry = TokenNetworkRegistry::new(CHAIN);
    registry.apply_chain_event(
        &ChainEvent::TokenNetworkCreated {
            token_network,
            token: Address::from_bytes([0xee; 20]),
            settle_timeout: BlockTimeout(U256::from(500)),
        },
        at(0),
    );
    let mut updates = Vec::new();
    for index in 0..100u64 {
        let (from, to) = (key(2 * index), key(2 * index + 1));
        let channel_id = ChannelId(U256::from(index + 1));
        registry.apply_chain_event(
            &ChainEvent::ChannelOpened {
                token_network,
                channel_id,
                participant1: from.address(),
                participant2: to.address(),
            },
            at(0),
        );
        let message = UnsignedCapacityUpdate {
            canonical_identifier: CanonicalIdentifier {
                chain_identifier: CHAIN,
                token_network_address: token_network,
                channel_identifier: channel_id,
            },
            updating_participant: from.address(),
            other_participant: to.address(),
            updating_nonce: Nonce(1),
            other_nonce: Nonce(1),
            updating_capacity: U256::from(700),
            other_capacity: U256::from(300),
            reveal_timeout: BlockTimeout(U256::from(50)),
        }
        .sign(&from)
        .expect("distinct participants");
        updates
            .push(VerifiedUpdate::verify(Message::CapacityUpdate(message)).expect("signed by the updater"));
    }
    (registry, updates)
}

fn bench_updates(criterion: &mut Criterion) {
    let runtime = Runtime::new().expect("a runtime");
    let mut group = criterion.benchmark_group("accepted_updates");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    for (name, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let location = directory.path().join("updates.db").to_str().expect("UTF-8").to_owned();
        let config = StoreConfig { durability, ..StoreConfig::new(&location) };
        let store = runtime.block_on(Store::open(&config, &deployment())).expect("opens");
        let (mut registry, updates) = update_workload();
        let mut changes = StateChanges::new();
        changes.touch_token_network(Address::from_bytes([0xaa; 20]));
        runtime.block_on(store.commit(&registry, &changes)).expect("commits");
        for batch in [1usize, 10, 100] {
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(
                BenchmarkId::new(name, format!("batch_{batch}")),
                &batch,
                |bencher, &batch| {
                    bencher.iter(|| {
                        // What the writer does per batch: apply, record, commit once, then answer.
                        let mut changes = StateChanges::new();
                        for update in &updates[..batch] {
                            let outcome = registry.apply_update(update.clone(), at(1));
                            assert!(outcome.is_ok());
                            changes.record_update(update, &outcome);
                        }
                        runtime.block_on(store.commit(&registry, &changes)).expect("commits");
                    })
                },
            );
        }
        runtime.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, bench_load, bench_updates);
criterion_main!(benches);
