//! The overhead of payment: `POST /paths` with an IOU on a PFS that charges a fee, against the
//! same request without an IOU on the same service served free, over loopback HTTP. The paid
//! request reads the sender's ledger, reads the UserDeposit balance at two blocks from anvil
//! (real contracts, through the devnet) and stores the IOU in a write transaction. The IOUs are
//! signed before the timed part. Run with `cargo bench -p pfs-api --bench payments`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::cell::Cell;
use std::time::{Duration, Instant};

use common::Running;
use common::paid::{DAY, PaidPfs, light_client_json, now_seconds};
use criterion::{Criterion, criterion_group, criterion_main};
use pfs_core::U256;
use serde_json::json;

fn payments(criterion: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (pfs, free) = runtime.block_on(async {
        let pfs = PaidPfs::start(1).await;
        let mut free_config = pfs.api_config.clone();
        free_config.service_fee = U256::ZERO;
        let options = pfs_api::ApiOptions {
            rate_limits: pfs_api::RateLimits::UNLIMITED,
            ..pfs_api::ApiOptions::default()
        };
        let free = Running::serve(pfs.running.service.clone(), free_config, options).await;
        (pfs, free)
    });
    let url = format!("/api/v1/{}/paths", pfs.token_network().to_checksum());
    let request = json!({"from": pfs.node(0).to_checksum(), "to": pfs.node(1).to_checksum(), "value": "10", "max_paths": 3});
    let free_body = request.to_string();
    criterion.bench_function("paths_free", |bench| {
        bench.iter(|| {
            let (status, _) = runtime.block_on(free.post_json(&url, &free_body));
            assert_eq!(status, 200);
        });
    });
    let sender = pfs.node_key(0);
    let claimable_until = now_seconds() + 30 * DAY;
    let amount = Cell::new(0u128);
    let signed_bodies = |iterations: u64| -> Vec<String> {
        (0..iterations)
            .map(|_| {
                amount.set(amount.get() + 1);
                let iou = pfs.iou(&sender, amount.get(), claimable_until).sign(&sender);
                let mut body = request.clone();
                body["iou"] = light_client_json(&iou);
                body.to_string()
            })
            .collect()
    };
    criterion.bench_function("paths_paid", |bench| {
        bench.iter_custom(|iterations| {
            let bodies = signed_bodies(iterations);
            let started = Instant::now();
            for body in &bodies {
                let (status, answer) = runtime.block_on(pfs.running.post_json(&url, body));
                assert_eq!(status, 200, "{answer}");
            }
            started.elapsed()
        });
    });
    // Paired: each iteration times a free request and a paid one back to back and counts the
    // difference, so load that drifts during the run (a shared machine) affects both alike.
    criterion.bench_function("paths_paid_minus_free_paired", |bench| {
        bench.iter_custom(|iterations| {
            let bodies = signed_bodies(iterations);
            let mut difference_nanos: i128 = 0;
            for body in &bodies {
                let started = Instant::now();
                let (status, _) = runtime.block_on(free.post_json(&url, &free_body));
                assert_eq!(status, 200);
                let free_time = started.elapsed();
                let started = Instant::now();
                let (status, answer) = runtime.block_on(pfs.running.post_json(&url, body));
                assert_eq!(status, 200, "{answer}");
                difference_nanos += started.elapsed().as_nanos() as i128 - free_time.as_nanos() as i128;
            }
            Duration::from_nanos(u64::try_from(difference_nanos.max(0)).unwrap_or(u64::MAX))
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = payments
}
criterion_main!(benches);
