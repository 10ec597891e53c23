//! Loopback HTTP latency of the two hot endpoints on a small network (a line of 10 nodes):
//! `POST /paths` over 9 hops and `POST /updates` with 100 signed capacity updates per request
//! (one group commit each). Run with `cargo bench -p pfs-api --bench http`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Running, api_config, capacity_update, paths_body, paths_url, report_line};
use criterion::{Criterion, criterion_group, criterion_main};

fn http(criterion: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let directory = tempfile::tempdir().expect("temporary directory");
    let nodes: Vec<u8> = (0..10).collect();
    let running = runtime.block_on(async {
        let running = Running::start(&directory.path().join("pfs.db"), api_config()).await;
        running.open_line(&nodes, 1_000_000).await;
        running.set_online(&nodes).await;
        report_line(&running, &nodes, 1_000_000).await;
        running
    });
    let body = paths_body(0, 9, 10);
    let url = paths_url();
    criterion.bench_function("paths_line_10_nodes", |bench| {
        bench.iter(|| {
            let (status, _) = runtime.block_on(running.post_json(&url, &body));
            assert_eq!(status, 200);
        });
    });
    let updates: Vec<String> = (0..100)
        .map(|index| {
            capacity_update(1 + index % 9, (index % 9) as u8, (index % 9 + 1) as u8, 1, 1_000_000, 1_000_000)
        })
        .collect();
    let batch = format!("[{}]", updates.join(","));
    criterion.bench_function("updates_batch_of_100", |bench| {
        bench.iter(|| {
            let (status, _) = runtime.block_on(running.post_json("/api/v1/updates", &batch));
            assert_eq!(status, 200);
        });
    });
    runtime.block_on(running.stop());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(5));
    targets = http
}
criterion_main!(benches);
