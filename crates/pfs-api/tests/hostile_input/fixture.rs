//! The service under test: its fixture, the [`Fingerprint`] that must not move, the [`Probe`]
//! requests that read it, and the checks of its answers.

use std::cell::{Cell, RefCell};
use std::fmt::Debug;

use pfs_api::{ApiOptions, RateLimit, RateLimits};
use pfs_core::{Address, FeeSchedule, IouRequest, NaiveTimestamp, U256};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use super::{DEPOSIT, NODES};
use crate::common;
use crate::common::paid::{FEE, PaidPfs};
use crate::common::raw::{RawRequest, RawResponse, exchange};
use crate::common::{Running, api_config, fee_update, node, report_line, timestamp_now, token_network};

/// What must not move when a request is rejected.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    /// `POST /paths` 0 → 3 for 10, without its feedback token.
    route: (u16, Value),
    /// `GET /online_addresses`, sorted.
    online: Vec<String>,
    /// `suggest_partner`: every node's address and summed capacity, sorted.
    capacities: Vec<(String, String)>,
    /// `/metrics` lines of the IOU ledger, the accepted and deferred updates, the penalised hops,
    /// the confirmed block and the online count.
    metrics: Vec<String>,
    /// `_debug/stats` feedback counts, when the `_debug` endpoints are on (the number of
    /// returned routes grows with every fixed path request, so it is left out).
    feedback: Option<(Value, Value)>,
    /// `GET /payment/iou` of node 0.
    last_iou: (u16, Value),
}

/// Who answers a request: the API (its handlers, extractors and fallbacks), or the HTTP server
/// before it (hyper refuses what is not HTTP/1.1 it can read: a bad `Content-Length`, headers or
/// a URI over its limits, a request line with a space in the target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layer {
    Api,
    Http,
}

/// The requests a [`Fingerprint`] is taken with.
pub(super) struct Probe {
    pub(super) route_url: String,
    pub(super) route_body: String,
    suggest_url: String,
    last_iou_url: String,
    debug: bool,
}

/// The service: free, on the line of [`NODES`], or paid, on a devnet.
pub(super) enum Server {
    Free { running: Box<Running>, _directory: tempfile::TempDir },
    Paid(Box<PaidPfs>),
}

impl Server {
    fn running(&self) -> &Running {
        match self {
            Self::Free { running, .. } => running,
            Self::Paid(pfs) => &pfs.running,
        }
    }
}

/// One service per test, its runtime, and the state rejected requests must leave alone.
pub(super) struct Fixture {
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) server: Server,
    pub(super) probe: Probe,
    baseline: RefCell<Fingerprint>,
    /// Fee updates sent so far (each later one needs a later timestamp).
    fee_updates: Cell<i64>,
    pub(super) started: NaiveTimestamp,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

impl Fixture {
    /// A free service on the line of [`NODES`], with the `_debug` endpoints.
    pub(super) fn start() -> Self {
        let runtime = runtime();
        let directory = tempfile::tempdir().expect("temporary directory");
        let started = timestamp_now();
        let running = runtime.block_on(async {
            let service = common::start_service(&directory.path().join("pfs.db")).await;
            // The per-IP limit stays on (its middleware runs) but high enough that requests
            // reach the handlers; the per-signer and per-sender limits are the defaults.
            let rate_limits =
                RateLimits { per_ip: RateLimit::new(100_000, 100_000), ..RateLimits::default() };
            let options = ApiOptions { rate_limits, enable_debug: true, ..ApiOptions::default() };
            let running = Running::serve(service, api_config(), options).await;
            running.open_line(&NODES, DEPOSIT).await;
            running.set_online(&NODES).await;
            report_line(&running, &NODES, DEPOSIT).await;
            // The mediators charge: a changed fee schedule shows in the fixed route's fee.
            for (channel, from) in [(2, 1), (3, 2)] {
                let schedule = FeeSchedule {
                    cap_fees: true,
                    flat: U256::from(3),
                    proportional: U256::from(10_000),
                    imbalance_penalty: None,
                };
                let update = fee_update(channel, from, schedule, started);
                let (status, body) = running.post_json("/api/v1/updates", &update).await;
                assert_eq!((status, body), (200, json!({"status": "accepted"})));
            }
            running
        });
        let probe = Probe {
            route_url: common::paths_url(),
            route_body: common::paths_body(0, 3, 10),
            suggest_url: format!("/api/v1/{}/suggest_partner", token_network().to_checksum()),
            last_iou_url: last_iou_url(&common::key(0), api_config().payment_address, token_network()),
            debug: true,
        };
        let (status, answer) = runtime.block_on(running.post_json(&probe.route_url, &probe.route_body));
        assert_eq!(status, 200, "{answer}");
        assert!(answer["result"][0]["estimated_fee"].as_i64().is_some_and(|fee| fee > 0), "{answer}");
        Self::with(
            runtime,
            Server::Free { running: Box::new(running), _directory: directory },
            probe,
            started,
        )
    }

    /// A paid service on a devnet ([`PaidPfs`]: nodes 0 and 1 share a channel, the fee is
    /// [`FEE`]).
    pub(super) fn paid() -> Self {
        let runtime = runtime();
        let pfs = runtime.block_on(PaidPfs::start(FEE));
        let tn = pfs.token_network();
        let probe = Probe {
            route_url: format!("/api/v1/{}/paths", tn.to_checksum()),
            // Without an IOU: always 2101, never charged.
            route_body:
                json!({"from": pfs.node(0).to_checksum(), "to": pfs.node(1).to_checksum(), "value": 10})
                    .to_string(),
            suggest_url: format!("/api/v1/{}/suggest_partner", tn.to_checksum()),
            last_iou_url: last_iou_url(&pfs.node_key(0), pfs.api_config.payment_address, tn),
            debug: false,
        };
        Self::with(runtime, Server::Paid(Box::new(pfs)), probe, timestamp_now())
    }

    fn with(runtime: tokio::runtime::Runtime, server: Server, probe: Probe, started: NaiveTimestamp) -> Self {
        let baseline = runtime.block_on(fingerprint(server.running(), &probe));
        Self { runtime, server, probe, baseline: RefCell::new(baseline), fee_updates: Cell::new(0), started }
    }

    pub(super) fn running(&self) -> &Running {
        self.server.running()
    }

    /// Takes the fingerprint again, after requests made outside [`Fixture::check`].
    pub(super) fn refresh(&self) {
        *self.baseline.borrow_mut() = self.runtime.block_on(fingerprint(self.running(), &self.probe));
    }

    /// Sends `request` and checks the answer against the standard (see the module docs).
    pub(super) fn check(&self, request: &RawRequest) -> Result<RawResponse, TestCaseError> {
        self.check_answered_by(request, Layer::Api)
    }

    /// Sends `request`, which `layer` answers, and checks the answer: a 4xx in the API's JSON
    /// error shape, or for the HTTP layer any 4xx (hyper's own, without a body); and a refusal
    /// that changes nothing either way.
    pub(super) fn check_answered_by(
        &self,
        request: &RawRequest,
        layer: Layer,
    ) -> Result<RawResponse, TestCaseError> {
        self.runtime.block_on(async {
            let response = exchange(self.running().address, request).await;
            match layer {
                Layer::Api => check_answer(request, &response)?,
                Layer::Http => prop_assert!(
                    (400..500).contains(&response.status),
                    "{} {} for {:?}",
                    response.status,
                    response.text(),
                    request
                ),
            }
            if std::env::var_os("HOSTILE_INPUT_TRACE").is_some() {
                eprintln!(
                    "{} {} {}",
                    response.status,
                    &request.target.chars().take(300).collect::<String>(),
                    response.text().chars().take(200).collect::<String>()
                );
            }
            let after = fingerprint(self.running(), &self.probe).await;
            if was_rejected(request, &response) {
                let before = self.baseline.borrow().clone();
                prop_assert_eq!(
                    &after,
                    &before,
                    "rejected with {} {} but the state changed: {:?}",
                    response.status,
                    response.text(),
                    request
                );
            } else {
                *self.baseline.borrow_mut() = after;
            }
            Ok(response)
        })
    }

    /// A timestamp later than every fee update sent so far and not in the future.
    pub(super) fn next_fee_timestamp(&self) -> NaiveTimestamp {
        let count = self.fee_updates.get() + 1;
        self.fee_updates.set(count);
        NaiveTimestamp::from_unix_micros(self.started.unix_micros() + count * 1000).expect("in range")
    }

    pub(super) fn stop(self) {
        let Self { runtime, server, .. } = self;
        match server {
            Server::Free { running, .. } => runtime.block_on(running.stop()),
            Server::Paid(pfs) => runtime.block_on(pfs.running.stop()),
        }
    }
}

/// IOU requests of node 0 as query pairs: signed now (two timestamp styles), two hours ago,
/// tomorrow, for another receiver, and one signed by node 1.
pub(super) fn iou_queries() -> Vec<Vec<(String, String)>> {
    let now = timestamp_now();
    let at = |seconds: i64| {
        NaiveTimestamp::from_unix_micros(now.unix_micros() + seconds * 1_000_000).expect("in range")
    };
    let pfs = api_config().payment_address;
    let sign = |signer: u8, receiver: Address, timestamp: String| {
        let request = IouRequest::sign(&common::key(signer), receiver, &timestamp).expect("signs");
        vec![
            ("sender".to_owned(), node(0).to_checksum()),
            ("receiver".to_owned(), request.receiver().to_checksum()),
            ("timestamp".to_owned(), request.timestamp_as_sent().to_owned()),
            ("signature".to_owned(), request.signature().to_hex()),
        ]
    };
    let seconds = |timestamp: NaiveTimestamp| timestamp.to_isoformat()[..19].to_owned();
    vec![
        sign(0, pfs, seconds(now)),
        sign(0, pfs, common::paid::light_client_timestamp(std::time::SystemTime::now())),
        sign(0, pfs, seconds(at(-2 * 3600))),
        sign(0, pfs, seconds(at(24 * 3600))),
        sign(0, Address::from_bytes([0x42; 20]), seconds(now)),
        sign(1, pfs, seconds(now)),
    ]
}

/// `GET …/payment/iou` of `sender` to `receiver`, signed now (valid for an hour).
fn last_iou_url(sender: &pfs_core::PrivateKey, receiver: Address, token_network: Address) -> String {
    let timestamp = timestamp_now().to_isoformat()[..19].to_owned();
    let request = IouRequest::sign(sender, receiver, &timestamp).expect("signs");
    format!("/api/v1/{}/payment/iou?{}", token_network.to_checksum(), request.to_query_string())
}

async fn fingerprint(running: &Running, probe: &Probe) -> Fingerprint {
    let (status, mut route) = running.post_json(&probe.route_url, &probe.route_body).await;
    if let Some(answer) = route.as_object_mut() {
        answer.remove("feedback_token");
    }
    let (status_online, online) = running.get("/api/v1/online_addresses").await;
    assert_eq!(status_online, 200, "{online}");
    let mut online: Vec<String> = serde_json::from_value(online).expect("a list of addresses");
    online.sort();
    let (status_suggest, suggestions) = running.get(&probe.suggest_url).await;
    assert_eq!(status_suggest, 200, "{suggestions}");
    let mut capacities: Vec<(String, String)> = suggestions
        .as_array()
        .expect("a list of suggestions")
        .iter()
        .map(|suggestion| (suggestion["address"].to_string(), suggestion["capacity"].to_string()))
        .collect();
    capacities.sort();
    let text = running.client.get(running.url("/metrics")).send().await.expect("scraped");
    assert_eq!(text.status().as_u16(), 200);
    let text = text.text().await.expect("metrics text");
    let kept = |line: &&str| {
        let updates = line.starts_with("pfs_updates_total{")
            && (line.contains("outcome=\"accepted\"") || line.contains("outcome=\"deferred\""));
        updates
            || [
                "pfs_ious{",
                "pfs_iou_amount{",
                "pfs_routing_penalised_hops{",
                "pfs_confirmed_block ",
                "pfs_online_addresses ",
            ]
            .iter()
            .any(|prefix| line.starts_with(prefix))
    };
    let metrics = text.lines().filter(kept).map(str::to_owned).collect();
    let feedback = if probe.debug {
        let (status_stats, stats) = running.get("/api/v1/_debug/stats").await;
        assert_eq!(status_stats, 200, "{stats}");
        Some((stats["total_feedback_received"].clone(), stats["total_successful_routes"].clone()))
    } else {
        None
    };
    Fingerprint {
        route: (status, route),
        online,
        capacities,
        metrics,
        feedback,
        last_iou: running.get(&probe.last_iou_url).await,
    }
}

/// The status and body checks every answer must pass.
fn check_answer(request: &RawRequest, response: &RawResponse) -> Result<(), TestCaseError> {
    prop_assert!(response.status < 500, "{} {} for {:?}", response.status, response.text(), request);
    if (400..500).contains(&response.status)
        && request.method != "HEAD"
        && let Some(problem) = error_shape_problem(request, response)
    {
        return Err(TestCaseError::fail(format!(
            "{problem}: {} {:?} {} for {request:?}",
            response.status,
            response.header("content-type"),
            response.text()
        )));
    }
    Ok(())
}

/// Why a 4xx answer is not one of the API's JSON error bodies, if it is not:
/// `{"errors": str, "error_code": int, "error_details": {...}}`, or the documented others (the
/// router's 404/405 `{"message": str}`, feedback's uninformative 400 `{}`, the IOU lookup's 404
/// `{"last_iou": null}`).
fn error_shape_problem(request: &RawRequest, response: &RawResponse) -> Option<String> {
    let json_typed =
        response.header("content-type").is_some_and(|value| value.starts_with("application/json"));
    if !json_typed {
        return Some("the error is not typed application/json".to_owned());
    }
    let Some(Value::Object(body)) = response.json() else {
        return Some("the error body is not a JSON object".to_owned());
    };
    let standard = body.len() == 3
        && body.get("errors").is_some_and(Value::is_string)
        && body.get("error_code").is_some_and(Value::is_u64)
        && body.get("error_details").is_some_and(Value::is_object);
    let routing = matches!(response.status, 404 | 405)
        && body.len() == 1
        && body.get("message").is_some_and(Value::is_string);
    let feedback = response.status == 400 && body.is_empty() && request.target.contains("/feedback");
    let no_iou = response.status == 404
        && body.len() == 1
        && body.get("last_iou") == Some(&Value::Null)
        && request.target.contains("/payment/iou");
    (!(standard || routing || feedback || no_iou)).then(|| "not an error body of the API".to_owned())
}

/// Whether the service refused the request: a 4xx, or an update batch answered 200 whose every
/// message was refused.
fn was_rejected(request: &RawRequest, response: &RawResponse) -> bool {
    if (400..500).contains(&response.status) {
        return true;
    }
    let batch = request.target.starts_with("/api/v1/updates") && response.status == 200;
    batch
        && response
            .json()
            .and_then(|body| body.get("results").and_then(Value::as_array).cloned())
            .is_some_and(|results| results.iter().all(|result| result.get("error_code").is_some()))
}
