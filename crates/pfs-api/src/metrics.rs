//! `GET /metrics`: Prometheus text format (0.0.4). Request counts and latency histograms per
//! endpoint (the matched route template, so path parameters do not explode the label set),
//! routes computed, truncated searches, updates by source (`http`, `matrix`) and outcome
//! (`accepted`, `deferred` or the reason of the refusal), requests refused by a rate limit, the
//! confirmed block, the number of online addresses, and the IOU ledger's totals
//! (also under the reference's names `economics_iou_claims_total` and
//! `economics_iou_claims_token_total`, spec/REFERENCE-PFS.md §9.3).
//!
//! With a chain follower, also its head block (`pfs_chain_head_block`), RPC errors, reorganisations, events, range shrinks,
//! undecodable logs and current `eth_getLogs` range.
//!
//! Values owned by the service (counters, IOU totals) and the follower are read when scraped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, State as Extract};
use axum::http::{HeaderValue, Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pfs_chain::FollowerMetrics;
use prometheus_client::encoding::prometheus_text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

type Labels = Vec<(&'static str, String)>;

/// The API's metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    updates: Family<Labels, Counter>,
    routes_computed: Counter,
    truncated_searches: Counter,
    confirmed_block: Gauge,
    online_addresses: Gauge,
    penalised_hops: Family<Labels, Gauge>,
    deposit_reads: Family<Labels, Counter>,
    chain: ChainMetrics,
    rate_limited: Family<Labels, Counter>,
    ious: Family<Labels, Gauge>,
    iou_amount: Family<Labels, Gauge<f64, AtomicU64>>,
    reference_iou_claims: Family<Labels, Gauge>,
    reference_iou_claims_token: Family<Labels, Gauge<f64, AtomicU64>>,
}

/// The chain follower's figures (see `pfs_chain::FollowerMetrics`).
#[derive(Debug, Default)]
struct ChainMetrics {
    head_block: Gauge,
    range_blocks: Gauge,
    rpc_errors: Counter,
    reorgs: Counter,
    events: Counter,
    range_shrinks: Counter,
    undecodable_logs: Counter,
}

impl ChainMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "pfs_chain_head_block",
            "The chain's latest block at the last poll",
            self.head_block.clone(),
        );
        registry.register(
            "pfs_chain_range_blocks",
            "The current eth_getLogs range in blocks",
            self.range_blocks.clone(),
        );
        registry.register(
            "pfs_chain_rpc_errors",
            "Failed chain RPC requests (each retry counts)",
            self.rpc_errors.clone(),
        );
        registry.register("pfs_chain_reorgs", "Chain reorganisations rolled back", self.reorgs.clone());
        registry.register("pfs_chain_events", "Chain events delivered by the follower", self.events.clone());
        registry.register(
            "pfs_chain_range_shrinks",
            "eth_getLogs ranges shrunk after a refusal or timeout",
            self.range_shrinks.clone(),
        );
        registry.register(
            "pfs_chain_undecodable_logs",
            "Logs that did not decode and were skipped",
            self.undecodable_logs.clone(),
        );
    }

    /// Copies the follower's current values.
    fn read(&self, chain: &FollowerMetrics) {
        let gauge = |gauge: &Gauge, value: &std::sync::atomic::AtomicU64| {
            gauge.set(i64::try_from(FollowerMetrics::get(value)).unwrap_or(i64::MAX));
        };
        let counter = |counter: &Counter, value: &std::sync::atomic::AtomicU64| {
            counter.inc_by(FollowerMetrics::get(value).saturating_sub(counter.get()));
        };
        gauge(&self.head_block, &chain.latest_block);
        gauge(&self.range_blocks, &chain.range_blocks);
        counter(&self.rpc_errors, &chain.rpc_errors);
        counter(&self.reorgs, &chain.reorgs);
        counter(&self.events, &chain.events);
        counter(&self.range_shrinks, &chain.range_shrinks);
        counter(&self.undecodable_logs, &chain.undecodable_logs);
    }
}

/// Latency buckets from 0.1 ms doubling to about 3 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let updates = Family::<Labels, Counter>::default();
        let routes_computed = Counter::default();
        let truncated_searches = Counter::default();
        let confirmed_block = Gauge::default();
        let online_addresses = Gauge::default();
        let penalised_hops = Family::<Labels, Gauge>::default();
        let deposit_reads = Family::<Labels, Counter>::default();
        let rate_limited = Family::<Labels, Counter>::default();
        let ious = Family::<Labels, Gauge>::default();
        let iou_amount = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let reference_iou_claims = Family::<Labels, Gauge>::default();
        let reference_iou_claims_token = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "pfs_http_requests",
            "HTTP requests by endpoint, method and status",
            requests.clone(),
        );
        registry.register(
            "pfs_http_request_duration_seconds",
            "HTTP request latency by endpoint",
            latency.clone(),
        );
        registry.register(
            "pfs_updates",
            "Capacity and fee updates by source (http, matrix) and outcome (accepted, deferred or the reason of the refusal)",
            updates.clone(),
        );
        registry.register("pfs_routes_computed", "Paths returned by path queries", routes_computed.clone());
        registry.register(
            "pfs_truncated_searches",
            "Path searches cut short by their limits",
            truncated_searches.clone(),
        );
        registry.register(
            "pfs_confirmed_block",
            "Last block whose events are applied",
            confirmed_block.clone(),
        );
        registry.register("pfs_online_addresses", "Addresses currently reachable", online_addresses.clone());
        registry.register(
            "pfs_deposit_reads",
            "UserDeposit balances of paid requests by source (chain: read from the node, cache: kept from an earlier read at the same height)",
            deposit_reads.clone(),
        );
        registry.register(
            "pfs_routing_penalised_hops",
            "Hops weighed more because routes over them were reported as failed, by token network",
            penalised_hops.clone(),
        );
        let chain = ChainMetrics::default();
        chain.register(&mut registry);
        registry.register(
            "pfs_rate_limited",
            "Requests or updates refused by a rate limit, by limit (ip, update_signer, iou_sender)",
            rate_limited.clone(),
        );
        registry.register(
            "pfs_ious",
            "IOU sessions in the ledger by state (claimed, unclaimed)",
            ious.clone(),
        );
        registry.register(
            "pfs_iou_amount",
            "Sum of IOU amounts in the ledger by state (claimed, unclaimed), in token units",
            iou_amount.clone(),
        );
        registry.register(
            "economics_iou_claims_total",
            "Number of claimed IOUs (the reference's metric)",
            reference_iou_claims.clone(),
        );
        registry.register(
            "economics_iou_claims_token_total",
            "Sum of claimed IOU amounts (the reference's metric)",
            reference_iou_claims_token.clone(),
        );
        Self {
            chain,
            registry,
            requests,
            latency,
            updates,
            routes_computed,
            truncated_searches,
            confirmed_block,
            online_addresses,
            penalised_hops,
            deposit_reads,
            rate_limited,
            ious,
            iou_amount,
            reference_iou_claims,
            reference_iou_claims_token,
        }
    }

    /// Counts a request (or update) refused by the limit named `limit`.
    pub(crate) fn count_rate_limited(&self, limit: &'static str) {
        self.rate_limited.get_or_create(&vec![("limit", limit.to_owned())]).inc();
    }
}

/// Records count and latency of every routed request.
pub(crate) async fn track(
    Extract(state): Extract<Arc<AppState>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    let status = response.status().as_u16().to_string();
    metrics
        .requests
        .get_or_create(&vec![("endpoint", endpoint.clone()), ("method", method), ("status", status)])
        .inc();
    metrics.latency.get_or_create(&vec![("endpoint", endpoint)]).observe(started.elapsed().as_secs_f64());
    response
}

/// The exposition.
pub(crate) async fn metrics(Extract(state): Extract<Arc<AppState>>) -> Response {
    let metrics = &state.metrics;
    let service = &state.service;
    let counters = service.counters();
    let catch_up = |counter: &Counter, total: u64| counter.inc_by(total.saturating_sub(counter.get()));
    catch_up(&metrics.routes_computed, counters.routes_computed.load(Ordering::Relaxed));
    catch_up(&metrics.truncated_searches, counters.truncated_searches.load(Ordering::Relaxed));
    for (source, reason, total) in service.service_counters().updates() {
        let labels = vec![("source", source.label().to_owned()), ("outcome", reason.to_owned())];
        catch_up(&metrics.updates.get_or_create(&labels), total);
    }
    let gauge_value = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    metrics.confirmed_block.set(gauge_value(service.confirmed_block().0));
    match service.store().iou_totals().await {
        Ok(totals) => {
            let state = |name: &str| vec![("state", name.to_owned())];
            let amount = |value: pfs_core::U256| f64::from(value);
            metrics.ious.get_or_create(&state("claimed")).set(gauge_value(totals.claimed));
            metrics.ious.get_or_create(&state("unclaimed")).set(gauge_value(totals.unclaimed));
            metrics.iou_amount.get_or_create(&state("claimed")).set(amount(totals.claimed_amount));
            metrics.iou_amount.get_or_create(&state("unclaimed")).set(amount(totals.unclaimed_amount));
            let successful = vec![("iou_status", "successful".to_owned())];
            metrics.reference_iou_claims.get_or_create(&successful).set(gauge_value(totals.claimed));
            metrics.reference_iou_claims_token.get_or_create(&successful).set(amount(totals.claimed_amount));
        }
        Err(error) => tracing::warn!(%error, "IOU totals not read for /metrics"),
    }
    let snapshot = service.snapshot();
    let online = snapshot.presence.reachable_addresses().len();
    metrics.online_addresses.set(i64::try_from(online).unwrap_or(i64::MAX));
    let deposits = &state.payments.deposits;
    for (source, total) in [("chain", &deposits.chain_reads), ("cache", &deposits.cache_reads)] {
        catch_up(
            &metrics.deposit_reads.get_or_create(&vec![("source", source.to_owned())]),
            total.load(Ordering::Relaxed),
        );
    }
    for token_network in snapshot.networks.keys() {
        let labels = vec![("token_network", token_network.to_checksum())];
        metrics
            .penalised_hops
            .get_or_create(&labels)
            .set(gauge_value(service.penalised_hops(token_network) as u64));
    }
    if let Some(chain) = &state.options.chain {
        metrics.chain.read(chain);
    }
    let mut text = String::new();
    if encode(&mut text, &metrics.registry).is_err() {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
