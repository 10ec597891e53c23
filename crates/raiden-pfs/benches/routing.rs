//! Routing benchmarks on generated networks of realistic shape (see `raiden_pfs::generate`):
//! graph build, publishing a batch of updates, path queries with `max_paths` 1, 5 and 25, and
//! what a feedback report costs the next query when the penalties are at their bound.
//! Per-request medians and p99 over many distinct requests come from `raiden-pfs replay
//! --summary` on generated files; these measure the mean over a rotating request set.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pfs_core::routing::{
    ChannelDescription, ChannelGraph, ChannelUpdate, FeedbackPenalties, MAX_PENALISED_HOPS, OnlineSet,
    PathFinder, SearchLimits, Unlimited,
};
use pfs_core::{Address, NaiveTimestamp, U256};
use raiden_pfs::generate::{NetworkShape, generate_network, generate_requests};

fn bench_size(criterion: &mut Criterion, label: &str, nodes: usize, channels: usize) {
    let snapshot = generate_network(&NetworkShape::new(nodes, channels), 1);
    let descriptions: Vec<ChannelDescription> = snapshot.channels.iter().cloned().map(Into::into).collect();
    let network = ChannelGraph::build(snapshot.token_network_address, &descriptions).unwrap();
    let online = OnlineSet::from_addresses(&network, &snapshot.online);

    let mut group = criterion.benchmark_group(label);
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group.bench_function("build graph", |bencher| {
        bencher.iter_with_large_drop(|| {
            ChannelGraph::build(snapshot.token_network_address, black_box(&descriptions)).unwrap()
        })
    });
    let updates: Vec<ChannelUpdate> = descriptions
        .iter()
        .step_by(descriptions.len() / 100)
        .map(|channel| ChannelUpdate {
            channel_id: channel.channel_id,
            participant: channel.participant1,
            capacity: Some(U256::from(12345)),
            fee_schedule: None,
        })
        .collect();
    group.bench_function("publish 100 capacity updates", |bencher| {
        bencher.iter_with_large_drop(|| network.with_updates(black_box(&updates)).unwrap())
    });
    for max_paths in [1, 5, 25] {
        let requests: Vec<_> = generate_requests(&snapshot, 200, max_paths, 3)
            .iter()
            .map(|record| record.to_path_request().unwrap())
            .collect();
        let mut finder = PathFinder::new();
        let mut next = 0;
        group.bench_function(format!("find_paths max_paths {max_paths}"), |bencher| {
            bencher.iter(|| {
                let request = &requests[next % requests.len()];
                next += 1;
                // The service's default limits, with the clock supplied here as the binary does.
                let limits = SearchLimits::default();
                let deadline = Instant::now() + limits.time_budget;
                let budget = move || Instant::now() >= deadline;
                finder.find_paths(&network, &online, request, &limits, &budget)
            })
        });
    }
    group.finish();
}

fn routing(criterion: &mut Criterion) {
    bench_size(criterion, "1k nodes 4k channels", 1000, 4000);
    bench_size(criterion, "15k nodes 52k channels", 15_000, 52_000);
}

/// A report on a returned route when [`MAX_PENALISED_HOPS`] hops of the 15k-node network carry a
/// penalty: the edge penalties the next query reads, worked out afresh or updated in place (and
/// updated in a copy, as when a query still reads the old ones).
fn feedback(criterion: &mut Criterion) {
    let snapshot = generate_network(&NetworkShape::new(15_000, 52_000), 1);
    let descriptions: Vec<ChannelDescription> = snapshot.channels.iter().cloned().map(Into::into).collect();
    let network = ChannelGraph::build(snapshot.token_network_address, &descriptions).unwrap();
    let online = OnlineSet::from_addresses(&network, &snapshot.online);
    let now = NaiveTimestamp::from_unix_micros(1_800_000_000_000_000).unwrap();
    let mut penalties = FeedbackPenalties::new();
    for channel in &descriptions {
        for hop in
            [[channel.participant1, channel.participant2], [channel.participant2, channel.participant1]]
        {
            penalties.record(&hop, false, now);
        }
    }
    assert_eq!(penalties.len(), MAX_PENALISED_HOPS);
    let route: Vec<Address> = generate_requests(&snapshot, 50, 1, 3)
        .iter()
        .filter_map(|record| {
            let request = record.to_path_request().ok()?;
            let routes = PathFinder::new()
                .find_paths(&network, &online, &request, &SearchLimits::default(), &Unlimited)
                .ok()?;
            routes.paths.into_iter().map(|path| path.nodes).find(|nodes| nodes.len() >= 4)
        })
        .next()
        .expect("a generated request has a route of three hops or more");

    let mut group = criterion.benchmark_group("15k nodes 52k channels");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group.bench_function("feedback report, edge penalties worked out afresh", |bencher| {
        bencher.iter_with_large_drop(|| {
            penalties.record(black_box(&route), false, now);
            penalties.edge_penalties(&network, now)
        })
    });
    let mut edges = penalties.edge_penalties(&network, now);
    group.bench_function("feedback report, edge penalties updated", |bencher| {
        bencher.iter(|| {
            penalties.record(black_box(&route), false, now);
            penalties.update_route(&mut edges, &network, &route, now);
        })
    });
    group.bench_function("feedback report, edge penalties updated in a copy", |bencher| {
        bencher.iter_with_large_drop(|| {
            penalties.record(black_box(&route), false, now);
            let mut copy = edges.clone();
            penalties.update_route(&mut copy, &network, &route, now);
            copy
        })
    });
    group.finish();
}

criterion_group!(benches, routing, feedback);
criterion_main!(benches);
