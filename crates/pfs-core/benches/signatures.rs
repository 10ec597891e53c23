//! Signature throughput: how many signers the PFS can recover per second on one core, what
//! signing costs a client, and what reading and verifying a whole capacity update from its Matrix
//! JSON line costs (the per-message work of the service's hot path).
//!
//! Run with `cargo bench -p pfs-core --bench signatures`; recoveries per second = 1 / median of
//! `recover_eip191_236_bytes`.

use std::hint::black_box;

use alloy_primitives::U256;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pfs_core::messages::UnsignedCapacityUpdate;
use pfs_core::signature::eip191_hash;
use pfs_core::{
    Address, BlockTimeout, CanonicalIdentifier, CapacityUpdate, ChainId, ChannelId, Message, Nonce,
    PrivateKey,
};

fn capacity_update(key: &PrivateKey) -> CapacityUpdate {
    UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: ChainId(1337),
            token_network_address: Address::from_bytes([0x15; 20]),
            channel_identifier: ChannelId(U256::from(7)),
        },
        updating_participant: key.address(),
        other_participant: Address::from_bytes([0x50; 20]),
        updating_nonce: Nonce(5),
        other_nonce: Nonce(3),
        updating_capacity: U256::from(10u128.pow(18) + 123),
        other_capacity: U256::from(5 * 10u128.pow(17)),
        reveal_timeout: BlockTimeout(U256::from(50)),
    }
    .sign(key)
    .expect("distinct participants")
}

fn signatures(criterion: &mut Criterion) {
    let key = PrivateKey::from_bytes([1; 32]).expect("a valid key");
    let update = capacity_update(&key);
    let packed = update.packed();
    let signature = *update.signature();
    let json = update.to_json();

    let mut group = criterion.benchmark_group("signatures");
    group.throughput(Throughput::Elements(1));
    group.bench_function("recover_eip191_236_bytes", |bencher| {
        bencher.iter(|| black_box(&signature).recover(black_box(&packed)))
    });
    group.bench_function("sign_eip191_236_bytes", |bencher| bencher.iter(|| key.sign(black_box(&packed))));
    group.bench_function("eip191_hash_236_bytes", |bencher| bencher.iter(|| eip191_hash(black_box(&packed))));
    group.bench_function("capacity_update_parse_and_recover", |bencher| {
        bencher.iter(|| Message::parse(black_box(&json)).map(|message| message.signer()))
    });
    group.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
