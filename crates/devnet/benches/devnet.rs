//! How fast the devnet comes up: anvil's start, the contract deployment, funding 100 nodes, and
//! bulk channel setup (1,000 channels opened with deposits on both sides).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use devnet::{
    Anvil, Chain, ChannelPlan, CompiledContracts, DeployConfig, Devnet, Devtools, NodeAccount, NodeFunding,
    Topology, deploy,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn anvil_start(criterion: &mut Criterion) {
    let devtools = Devtools::from_env();
    devtools.install().expect("installing the tools");
    let binary = devtools.anvil_path().expect("anvil for this platform");
    let dir = std::env::temp_dir().join(format!("devnet-bench-anvil-{}", std::process::id()));
    criterion.bench_function("anvil_start_until_listening", |bench| {
        bench.iter(|| {
            let anvil = Anvil::start(&binary, &dir).expect("anvil starts");
            let port = anvil.port();
            drop(anvil);
            let _ = std::fs::remove_file(dir.join("state.json"));
            port
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

fn deployment(criterion: &mut Criterion) {
    let runtime = runtime();
    let devtools = Devtools::from_env();
    devtools.install().expect("installing the tools");
    let contracts = CompiledContracts::load(&devtools.contracts_json_path()).expect("contracts.json");
    let binary = devtools.anvil_path().expect("anvil for this platform");
    let dir = std::env::temp_dir().join(format!("devnet-bench-deploy-{}", std::process::id()));
    let mut group = criterion.benchmark_group("deploy");
    group.sample_size(20);
    group.bench_function("all_contracts_and_token_network_on_a_fresh_chain", |bench| {
        bench.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let _ = std::fs::remove_file(dir.join("state.json"));
                let anvil = Anvil::start(&binary, &dir).expect("anvil starts");
                let chain = runtime.block_on(Chain::connect(&anvil.endpoint())).expect("connecting");
                let started = Instant::now();
                runtime.block_on(deploy(&chain, &contracts, &DeployConfig::default())).expect("deploying");
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn funding(criterion: &mut Criterion) {
    let runtime = runtime();
    let devnet = runtime.block_on(Devnet::builder().start()).expect("a devnet");
    let round = AtomicU64::new(0);
    let mut group = criterion.benchmark_group("fund_nodes");
    group.sample_size(10);
    group.bench_function("100_nodes_eth_tokens_approvals_user_deposit", |bench| {
        bench.iter(|| {
            let seed = format!("bench funding {}", round.fetch_add(1, Ordering::Relaxed));
            let nodes: Vec<_> =
                NodeAccount::derive_many(seed.as_bytes(), 100).iter().map(NodeAccount::address).collect();
            runtime.block_on(devnet.raiden().fund_accounts(&nodes, &NodeFunding::default())).expect("funding")
        })
    });
    group.finish();
}

fn bulk_channels(criterion: &mut Criterion) {
    let runtime = runtime();
    let plans = plans(b"bench bulk", 1000);
    let mut group = criterion.benchmark_group("bulk_channels");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("open_and_deposit_1000_on_a_fresh_chain", |bench| {
        bench.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let devnet = runtime.block_on(Devnet::builder().start()).expect("a devnet");
                let started = Instant::now();
                let opened =
                    runtime.block_on(devnet.raiden().open_channels_bulk(&plans)).expect("bulk setup");
                total += started.elapsed();
                assert_eq!(opened.len(), 1000);
            }
            total
        })
    });
    group.finish();
}

/// `count` channels in the default topology among fresh accounts of `seed`.
fn plans(seed: &[u8], count: usize) -> Vec<ChannelPlan> {
    let accounts: Vec<_> =
        NodeAccount::derive_many(seed, count / 2 + 2).iter().map(NodeAccount::address).collect();
    let mut plans = Topology::default().channel_plans(&accounts);
    plans.truncate(count);
    plans
}

criterion_group!(benches, anvil_start, deployment, funding, bulk_channels);
criterion_main!(benches);
