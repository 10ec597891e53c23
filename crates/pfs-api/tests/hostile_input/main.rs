//! Malformed and hostile input at every endpoint, over real loopback HTTP, against the
//! project's standard: bad input gets a clear 4xx error and changes nothing; no panic, no 500, no
//! lost data.
//!
//! Each test starts one service and sends it proptest-generated requests written byte for byte
//! ([`common::raw`]): most tests a free service on a temporary SQLite database (a line
//! 0 – 1 – 2 – 3 with both sides' capacities reported, fee schedules on the mediators, everyone
//! online, the `_debug` endpoints on), the IOU test a paid one on a devnet
//! ([`common::paid::PaidPfs`]). For every answer:
//!
//! * the status is below 500;
//! * a 4xx body is JSON in one of the API's error shapes ([`error_shape_problem`]), except for
//!   requests the HTTP server (hyper) refuses before the API sees them, which get its bare 4xx
//!   ([`Layer::Http`]);
//! * a rejected request (4xx, or an update batch whose every message was refused) leaves the
//!   service's [`Fingerprint`] as it was: the answer of a fixed path request, the online list,
//!   the channel capacities, node 0's last IOU, the IOU ledger and update counters on
//!   `/metrics`, and the feedback counts. An accepted request (2xx) becomes the new reference.
//!
//! Cases per test: [`DEFAULT_CASES`] each (480 in all), or `PROPTEST_CASES`. With
//! `HOSTILE_INPUT_TRACE` set, every exchange is printed (status, target, start of the answer):
//! a quick look at which answers the generators reach (run with `--nocapture`).

mod common;

use std::cell::{Cell, RefCell};
use std::fmt::Debug;

use common::paid::{FEE, PaidPfs};
use common::raw::{RawRequest, RawResponse, exchange};
use common::{Running, api_config, fee_update, node, report_line, timestamp_now, token_network};
use pfs_api::{
    ApiOptions, MAX_BODY_BYTES, MAX_UPDATES_BODY_BYTES, MAX_UPDATES_PER_REQUEST, RateLimit, RateLimits,
};
use pfs_core::messages::UnsignedCapacityUpdate;
use pfs_core::{
    Address, BlockTimeout, CanonicalIdentifier, ChannelId, FeeSchedule, ImbalancePenalty, IouRequest,
    Message, NaiveTimestamp, Nonce, U256,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// Cases per test unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 48;

/// The line of nodes the service knows; every channel holds [`DEPOSIT`] on each side.
const NODES: [u8; 4] = [0, 1, 2, 3];
const DEPOSIT: u64 = 1000;

/// 2^256, one more than any `uint256`.
const TWO_TO_256: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
/// 2^256 − 1.
const U256_MAX: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

// ------------------------------------------------------------------------------------------------
// The service under test and its fingerprint
// ------------------------------------------------------------------------------------------------

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
enum Layer {
    Api,
    Http,
}

/// The requests a [`Fingerprint`] is taken with.
struct Probe {
    route_url: String,
    route_body: String,
    suggest_url: String,
    last_iou_url: String,
    debug: bool,
}

/// The service: free, on the line of [`NODES`], or paid, on a devnet.
enum Server {
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
struct Fixture {
    runtime: tokio::runtime::Runtime,
    server: Server,
    probe: Probe,
    baseline: RefCell<Fingerprint>,
    /// Fee updates sent so far (each later one needs a later timestamp).
    fee_updates: Cell<i64>,
    started: NaiveTimestamp,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

impl Fixture {
    /// A free service on the line of [`NODES`], with the `_debug` endpoints.
    fn start() -> Self {
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
    fn paid() -> Self {
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

    fn running(&self) -> &Running {
        self.server.running()
    }

    /// Takes the fingerprint again, after requests made outside [`Fixture::check`].
    fn refresh(&self) {
        *self.baseline.borrow_mut() = self.runtime.block_on(fingerprint(self.running(), &self.probe));
    }

    /// Sends `request` and checks the answer against the standard (see the module docs).
    fn check(&self, request: &RawRequest) -> Result<RawResponse, TestCaseError> {
        self.check_answered_by(request, Layer::Api)
    }

    /// Sends `request`, which `layer` answers, and checks the answer: a 4xx in the API's JSON
    /// error shape, or for the HTTP layer any 4xx (hyper's own, without a body); and a refusal
    /// that changes nothing either way.
    fn check_answered_by(&self, request: &RawRequest, layer: Layer) -> Result<RawResponse, TestCaseError> {
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
    fn next_fee_timestamp(&self) -> NaiveTimestamp {
        let count = self.fee_updates.get() + 1;
        self.fee_updates.set(count);
        NaiveTimestamp::from_unix_micros(self.started.unix_micros() + count * 1000).expect("in range")
    }

    fn stop(self) {
        let Self { runtime, server, .. } = self;
        match server {
            Server::Free { running, .. } => runtime.block_on(running.stop()),
            Server::Paid(pfs) => runtime.block_on(pfs.running.stop()),
        }
    }
}

/// IOU requests of node 0 as query pairs: signed now (two timestamp styles), two hours ago,
/// tomorrow, for another receiver, and one signed by node 1.
fn iou_queries() -> Vec<Vec<(String, String)>> {
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

/// Runs `test` on cases of `strategy` (see the module docs for the count).
fn run<S>(fixture: &Fixture, strategy: S, test: impl Fn(&Fixture, S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let cases =
        std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(DEFAULT_CASES);
    let config = Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel("proptest-regressions"))),
        max_shrink_iters: 512,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(error) = runner.run(&strategy, |value| test(fixture, value)) {
        panic!("{error}");
    }
}

// ------------------------------------------------------------------------------------------------
// Generators: JSON texts
// ------------------------------------------------------------------------------------------------

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

fn checksummed(index: u8) -> String {
    node(index).to_checksum()
}

/// Address texts, good and bad: checksummed nodes and strangers, lower and upper case, one letter
/// of the checksum flipped, no `0x`, padded, wrong lengths, not hex, anything.
fn address_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(NODES.to_vec()).prop_map(checksummed),
        1 => any::<[u8; 20]>().prop_map(|bytes| Address::from_bytes(bytes).to_checksum()),
        1 => select(NODES.to_vec()).prop_map(|index| node(index).to_lower_hex()),
        1 => select(NODES.to_vec()).prop_map(|index| format!("0x{}", node(index).to_lower_hex()[2..].to_uppercase())),
        2 => (select(NODES.to_vec()), any::<Index>()).prop_map(|(index, at)| flip_one_letter(&checksummed(index), at)),
        1 => select(NODES.to_vec()).prop_map(|index| checksummed(index)[2..].to_owned()),
        1 => select(NODES.to_vec()).prop_map(|index| format!(" {} ", checksummed(index))),
        1 => "0x[0-9a-fA-F]{0,80}",
        1 => "0x[0-9a-zA-Z]{40}",
        1 => ".{0,50}",
    ]
    .boxed()
}

/// `text` with the case of one of its letters after `0x` flipped (an address with a wrong
/// checksum), or unchanged when it has none.
fn flip_one_letter(text: &str, at: Index) -> String {
    let letters: Vec<usize> =
        text.char_indices().skip(2).filter(|(_, c)| c.is_ascii_alphabetic()).map(|(i, _)| i).collect();
    if letters.is_empty() {
        return text.to_owned();
    }
    let position = letters[at.index(letters.len())];
    let mut bytes = text.as_bytes().to_vec();
    bytes[position] ^= 0x20;
    String::from_utf8(bytes).expect("ASCII")
}

/// JSON numbers that no integer field should take at face value, and some that it should.
fn hostile_number() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "0",
            "-0",
            "-1",
            "1",
            "1.5",
            "10.7",
            "-10.7",
            "1e3",
            "1E400",
            "-1e400",
            "1e-400",
            "0.0000001",
            "2.5e+10",
            "1.157920892373162e77",
            "00012",
            "1.0",
            "9007199254740993",
        ])
        .prop_map(str::to_owned),
        select(vec![TWO_TO_256, U256_MAX]).prop_map(str::to_owned),
        Just(format!("-{TWO_TO_256}")),
        any::<i64>().prop_map(|number| number.to_string()),
        any::<u64>().prop_map(|number| number.to_string()),
        (-1e300f64..1e300).prop_map(|number| format!("{number:e}")),
        (1usize..400).prop_map(|digits| "9".repeat(digits)),
    ]
    .boxed()
}

/// JSON strings that are nearly numbers, addresses, booleans or timestamps, or nothing at all.
fn hostile_string() -> BoxedStrategy<String> {
    prop_oneof![
        2 => select(vec![
            "", " ", " 12 ", "12 ", "1e3", "0x10", "NaN", "nan", "Infinity", "-Infinity", "true", "null",
            "12abc", "１２", "-1", "+1", "1_000", "0b101", "yes", "on", "2022-10-01T12:00:00Z",
            "2022-13-01T12:00:00", "9999-12-31T23:59:59.999999", "0001-01-01T00:00:00",
        ])
        .prop_map(quoted),
        1 => select(vec![TWO_TO_256, U256_MAX]).prop_map(quoted),
        1 => (1usize..200).prop_map(|digits| quoted(&"9".repeat(digits))),
        // Escapes that decode to something odd: a NUL, a lone surrogate, a BOM.
        1 => select(vec![r#""\u0000""#, r#""\ud800""#, r#""\udc00\ud800""#, r#""\ufeff1""#])
            .prop_map(str::to_owned),
        2 => ".{0,40}".prop_map(|text| quoted(&text)),
        1 => address_text().prop_map(|text| quoted(&text)),
        1 => (1usize..20_000).prop_map(|length| quoted(&"x".repeat(length))),
    ]
    .boxed()
}

/// Any JSON value text of a hostile kind: scalars, small arrays and objects of them, deep nesting.
fn hostile_value() -> BoxedStrategy<String> {
    let scalar = prop_oneof![
        2 => select(vec!["null", "true", "false", "[]", "{}"]).prop_map(str::to_owned),
        3 => hostile_number(),
        3 => hostile_string(),
    ];
    let nested = scalar.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((key_text(), inner), 0..4).prop_map(|members| object(&members)),
        ]
    });
    prop_oneof![
        8 => nested,
        1 => deep_nesting(),
    ]
    .boxed()
}

/// Arrays or objects nested far beyond any parser's recursion limit.
fn deep_nesting() -> BoxedStrategy<String> {
    prop_oneof![
        (1usize..5_000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..5_000).prop_map(|depth| format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))),
        // Unbalanced: opened and never closed.
        (1usize..5_000).prop_map(|depth| "[".repeat(depth)),
    ]
    .boxed()
}

/// Keys of unknown fields: near-misses of real keys, odd characters, long ones.
fn key_text() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "colour",
            "From",
            "from ",
            "",
            "from_",
            "__proto__",
            "constructor",
            "iou",
            "type",
            "path",
            "\u{0}",
            "ключ",
            "value\u{0}",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,12}",
        (1usize..2_000).prop_map(|length| "k".repeat(length)),
    ]
    .boxed()
}

/// A JSON object written member by member (so keys may repeat), keys given unquoted.
fn object(members: &[(String, String)]) -> String {
    let members: Vec<String> =
        members.iter().map(|(key, value)| format!("{}:{value}", quoted(key))).collect();
    format!("{{{}}}", members.join(","))
}

/// A member of an object body: mostly with a good value, else absent or with a hostile one (so
/// that most bodies have one or two bad members and the others get past validation).
fn member(key: &'static str, good: BoxedStrategy<String>) -> BoxedStrategy<Option<(String, String)>> {
    prop_oneof![
        1 => Just(None),
        10 => good.prop_map(move |value| Some((key.to_owned(), value))),
        2 => hostile_value().prop_map(move |value| Some((key.to_owned(), value))),
    ]
    .boxed()
}

/// The members given, plus maybe unknown fields, plus maybe a repeated key, in shuffled order.
fn object_body(members: Vec<BoxedStrategy<Option<(String, String)>>>) -> BoxedStrategy<String> {
    let unknown = prop_oneof![
        6 => Just(Vec::new()),
        1 => prop::collection::vec((key_text(), hostile_value()), 1..3),
    ];
    let repeat = prop::bool::weighted(0.15);
    (members, unknown, repeat, any::<Index>())
        .prop_map(|(members, unknown, repeat, which)| {
            let mut members: Vec<(String, String)> = members.into_iter().flatten().chain(unknown).collect();
            if repeat && !members.is_empty() {
                let mut again = members[which.index(members.len())].clone();
                again.1 = "null".to_owned();
                members.push(again);
            }
            members
        })
        .prop_shuffle()
        .prop_map(|members| object(&members))
        .boxed()
}

/// A body built from `structured` (mostly) or broken in one of the usual ways: random bytes,
/// cut short, a byte changed, a hostile value of the wrong shape.
fn body_from(structured: BoxedStrategy<String>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        12 => structured.clone().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => (structured.clone(), any::<Index>()).prop_map(|(text, at)| {
            let mut bytes = text.into_bytes();
            bytes.truncate(at.index(bytes.len() + 1));
            bytes
        }),
        1 => (structured, any::<Index>(), any::<u8>()).prop_map(|(text, at, byte)| {
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let position = at.index(bytes.len());
                bytes[position] = byte;
            }
            bytes
        }),
        1 => hostile_value().prop_map(String::into_bytes),
    ]
    .boxed()
}

/// The `Content-Type` of a POST: mostly JSON, sometimes absent or another type.
fn content_type() -> BoxedStrategy<Option<Vec<u8>>> {
    prop_oneof![
        16 => Just(Some(b"application/json".to_vec())),
        1 => Just(None),
        2 => select(vec![
            &b"text/plain"[..],
            b"application/json; charset=utf-8",
            b"APPLICATION/JSON",
            b"application/vnd.api+json",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
            b"application/jsonx",
            b"json",
            b"application/json, text/plain",
            b"application/json\xff\xfe",
            b"",
        ])
        .prop_map(|value| Some(value.to_vec())),
    ]
    .boxed()
}

fn post(target: String, content_type: Option<Vec<u8>>, body: Vec<u8>) -> RawRequest {
    let request = RawRequest::new("POST", target).body(body);
    match content_type {
        Some(value) => request.header("content-type", value),
        None => request,
    }
}

// ------------------------------------------------------------------------------------------------
// Generators: per endpoint
// ------------------------------------------------------------------------------------------------

/// A token network path segment: mostly the followed one, else a stranger, lower case, broken.
fn token_network_segment() -> BoxedStrategy<String> {
    prop_oneof![
        12 => Just(token_network().to_checksum()),
        1 => Just(token_network().to_lower_hex()),
        1 => any::<[u8; 20]>().prop_map(|bytes| Address::from_bytes(bytes).to_checksum()),
        1 => any::<Index>().prop_map(|at| flip_one_letter(&token_network().to_checksum(), at)),
        1 => hostile_segment(),
    ]
    .boxed()
}

/// A URL path segment with odd characters, percent-encoded or not, possibly broken encoding or
/// invalid UTF-8 once decoded.
fn hostile_segment() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            ".",
            "..",
            "%2e%2e",
            "%2F",
            "a%2Fb",
            "%00",
            "%ff",
            "%fe%ff",
            "%c3%28",
            "%",
            "%zz",
            "%4",
            "%%",
            "%u0041",
            "+",
            "%20",
            "~",
            "!$&'()*+,;=:@",
            "%F0%9F%98%80",
            "null",
            "undefined",
            "0x",
        ])
        .prop_map(str::to_owned),
        prop::collection::vec(any::<u8>(), 0..60).prop_map(|bytes| percent_encode(&bytes)),
        "[a-zA-Z0-9._~!$&'()*+,;=:@-]{1,60}",
        (1usize..8_000).prop_map(|length| "a".repeat(length)),
        address_text().prop_map(|text| percent_encode(text.as_bytes())),
    ]
    .boxed()
}

/// Percent-encodes every byte outside RFC 3986's unreserved set.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// An IOU object for `/paths`: the genuine IOU's members, each kept, dropped or replaced by a
/// hostile value, plus the members clients must not send (`expiration_block`) now and then.
fn iou_object() -> BoxedStrategy<String> {
    let genuine: serde_json::Map<String, Value> =
        serde_json::from_str(&genuine_iou()).expect("the IOU is an object");
    let keep = |key: &'static str| {
        let value = genuine[key].to_string();
        let near: BoxedStrategy<String> = match key {
            "signature" => prop_oneof![
                2 => Just(value),
                1 => "0x[0-9a-f]{130}".prop_map(|text| quoted(&text)),
                1 => "(0x)?[0-9a-fA-Fg-z]{0,140}".prop_map(|text| quoted(&text)),
            ]
            .boxed(),
            "sender" | "receiver" | "one_to_n_address" => {
                prop_oneof![2 => Just(value), 1 => address_text().prop_map(|text| quoted(&text))].boxed()
            }
            _ => prop_oneof![2 => Just(value), 1 => hostile_number()].boxed(),
        };
        member(key, near)
    };
    let rare = |key: &'static str, value: BoxedStrategy<String>| {
        prop_oneof![8 => Just(None), 1 => value.prop_map(move |value| Some((key.to_owned(), value)))].boxed()
    };
    let members = vec![
        keep("sender"),
        keep("receiver"),
        keep("one_to_n_address"),
        keep("amount"),
        keep("claimable_until"),
        keep("chain_id"),
        keep("signature"),
        rare("claimed", select(vec!["true", "false", "null", "\"no\""]).prop_map(str::to_owned).boxed()),
        rare("expiration_block", hostile_number()),
    ];
    object_body(members)
}

fn paths_request_body() -> BoxedStrategy<String> {
    let address = || address_text().prop_map(|text| quoted(&text)).boxed();
    let members = vec![
        member("from", address()),
        member("to", address()),
        member("value", prop_oneof![(1u64..2_000).prop_map(|n| n.to_string()), hostile_number()].boxed()),
        member("max_paths", (0u64..30).prop_map(|n| n.to_string()).boxed()),
        member("diversity_penalty", hostile_number()),
        member("fee_penalty", hostile_number()),
        member("iou", prop_oneof![1 => Just(genuine_iou()), 2 => iou_object()].boxed()),
    ];
    object_body(members)
}

/// A well-formed IOU of node 0 to the service, signed, with integers as decimal strings (the
/// light client's form).
fn genuine_iou() -> String {
    let iou = pfs_core::iou::UnsignedIou {
        sender: node(0),
        receiver: api_config().payment_address,
        amount: U256::from(100),
        claimable_until: U256::from(4_000_000_000u64),
        one_to_n_address: Address::from_bytes([9; 20]),
        chain_id: common::CHAIN_ID,
    }
    .sign(&common::key(0));
    common::paid::light_client_json(&iou).to_string()
}

fn feedback_body(token: String, path: Value) -> BoxedStrategy<String> {
    let tokens = {
        let dashed = uuid_dashed(&token);
        vec![
            quoted(&token),
            quoted(&dashed),
            quoted(&format!("{{{dashed}}}")),
            quoted(&format!("urn:uuid:{dashed}")),
            quoted(&token.to_uppercase()),
            quoted(&"0".repeat(32)),
        ]
    };
    let reversed = Value::Array(path.as_array().expect("a path").iter().rev().cloned().collect());
    let paths = vec![path.to_string(), reversed.to_string(), "[]".to_owned()];
    let address_list = prop::collection::vec(address_text().prop_map(|text| quoted(&text)), 0..5)
        .prop_map(|items| format!("[{}]", items.join(",")));
    let too_long =
        (250usize..300).prop_map(|length| format!("[{}]", vec![quoted(&checksummed(0)); length].join(",")));
    let members = vec![
        member(
            "token",
            prop_oneof![3 => select(tokens), 1 => "[0-9a-f-]{0,40}".prop_map(|text| quoted(&text))].boxed(),
        ),
        member(
            "success",
            select(vec!["true", "false", "1", "0", "\"yes\"", "\"off\"", "\"True\"", "2", "\"maybe\""])
                .prop_map(str::to_owned)
                .boxed(),
        ),
        member("path", prop_oneof![3 => select(paths), 2 => address_list, 1 => too_long].boxed()),
    ];
    object_body(members)
}

fn uuid_dashed(hex: &str) -> String {
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Hostile variants of correctly signed updates (`genuine`, Matrix JSON): a member replaced by a
/// hostile value or removed, an unknown member, a changed `type`, a damaged signature; or no
/// update at all.
fn update_item(genuine: Vec<String>) -> BoxedStrategy<String> {
    let fields = vec![
        "type",
        "canonical_identifier",
        "canonical_identifier.chain_identifier",
        "canonical_identifier.token_network_address",
        "canonical_identifier.channel_identifier",
        "updating_participant",
        "other_participant",
        "updating_nonce",
        "other_nonce",
        "updating_capacity",
        "other_capacity",
        "reveal_timeout",
        "fee_schedule",
        "fee_schedule.cap_fees",
        "fee_schedule.flat",
        "fee_schedule.proportional",
        "fee_schedule.imbalance_penalty",
        "timestamp",
        "signature",
    ];
    let replaced = (select(genuine.clone()), select(fields.clone()), hostile_update_value())
        .prop_map(|(update, field, value)| replace_member(&update, field, Some(&value)));
    let removed = (select(genuine.clone()), select(fields))
        .prop_map(|(update, field)| replace_member(&update, field, None));
    let extended = (select(genuine.clone()), key_text(), hostile_value()).prop_map(|(update, key, value)| {
        let members = update.strip_suffix('}').expect("an object");
        format!("{members},{}:{value}}}", quoted(&key))
    });
    let damaged = (select(genuine.clone()), any::<Index>(), "[0-9a-fx]").prop_map(|(update, at, digit)| {
        let parsed: Value = serde_json::from_str(&update).expect("JSON");
        let signature = parsed["signature"].as_str().expect("a signature").to_owned();
        let position = 2 + at.index(signature.len() - 2);
        let mut changed = signature.clone();
        changed.replace_range(position..=position, &digit);
        update.replace(&signature, &changed)
    });
    prop_oneof![
        3 => replaced,
        1 => removed,
        1 => extended,
        2 => damaged,
        1 => select(genuine),
        1 => hostile_value(),
    ]
    .boxed()
}

/// Values for update members: the generic hostile ones plus fee-schedule-like shapes.
fn hostile_update_value() -> BoxedStrategy<String> {
    let point = (hostile_number(), hostile_number()).prop_map(|(x, y)| format!("[{x},{y}]"));
    prop_oneof![
        4 => hostile_value(),
        1 => prop::collection::vec(point, 0..6).prop_map(|points| format!("[{}]", points.join(","))),
        1 => (250usize..300).prop_map(|count| {
            let points: Vec<String> = (0..count).map(|x| format!("[\"{x}\",\"1\"]")).collect();
            format!("[{}]", points.join(","))
        }),
    ]
    .boxed()
}

/// `update` with the member at `path` (dotted) replaced by `value` (raw JSON) or removed.
fn replace_member(update: &str, path: &str, value: Option<&str>) -> String {
    const MARK: &str = "\u{1}hostile\u{1}";
    let mut parsed: Value = serde_json::from_str(update).expect("JSON");
    let mut target = &mut parsed;
    let mut keys: Vec<&str> = path.split('.').collect();
    let last = keys.pop().expect("a key");
    for key in keys {
        target = &mut target[key];
    }
    let Some(object) = target.as_object_mut() else { return update.to_owned() };
    match value {
        Some(_) => {
            object.insert(last.to_owned(), Value::from(MARK));
        }
        None => {
            object.remove(last);
        }
    }
    let text = parsed.to_string();
    match value {
        Some(value) => text.replace(&quoted(MARK), value),
        None => text,
    }
}

// ------------------------------------------------------------------------------------------------
// The tests
// ------------------------------------------------------------------------------------------------

#[test]
fn hostile_path_requests_get_4xx_and_change_nothing() {
    let fixture = Fixture::start();
    let strategy = (token_network_segment(), content_type(), body_from(paths_request_body()));
    run(&fixture, strategy, |fixture, (segment, content_type, body)| {
        fixture.check(&post(format!("/api/v1/{segment}/paths"), content_type, body)).map(drop)
    });
    fixture.stop();
}

#[test]
fn hostile_feedback_gets_4xx_and_changes_nothing() {
    let fixture = Fixture::start();
    let (status, answer) = fixture
        .runtime
        .block_on(fixture.running().post_json(&fixture.probe.route_url, &fixture.probe.route_body));
    assert_eq!(status, 200, "{answer}");
    let token = answer["feedback_token"].as_str().expect("a token").to_owned();
    fixture.refresh();
    let body = body_from(feedback_body(token, answer["result"][0]["path"].clone()));
    let strategy = (token_network_segment(), content_type(), body);
    run(&fixture, strategy, |fixture, (segment, content_type, body)| {
        fixture.check(&post(format!("/api/v1/{segment}/feedback"), content_type, body)).map(drop)
    });
    fixture.stop();
}

#[test]
fn hostile_update_messages_and_batches_get_4xx_and_change_nothing() {
    let fixture = Fixture::start();
    let genuine: Vec<String> = (1..=3u64)
        .flat_map(|channel| {
            let (left, right) = (channel as u8 - 1, channel as u8);
            [
                common::capacity_update(channel, left, right, 1, DEPOSIT, DEPOSIT),
                common::capacity_update(channel, right, left, 1, DEPOSIT, DEPOSIT),
            ]
        })
        .chain([fee_update(2, 1, FeeSchedule::default(), fixture.started)])
        .collect();
    let item = update_item(genuine);
    let batch = prop_oneof![
        4 => prop::collection::vec(item.clone(), 0..8).prop_map(|items| format!("[{}]", items.join(","))),
        1 => (item.clone(), select(vec![MAX_UPDATES_PER_REQUEST, MAX_UPDATES_PER_REQUEST + 1, 1_000]))
            .prop_map(|(item, count)| format!("[{}]", vec![item; count].join(","))),
    ];
    let body = prop_oneof![3 => item, 2 => batch].boxed();
    let strategy = (content_type(), body_from(body));
    run(&fixture, strategy, |fixture, (content_type, body)| {
        fixture.check(&post("/api/v1/updates".to_owned(), content_type, body)).map(drop)
    });
    fixture.stop();
}

/// Correctly signed updates with extreme numbers (nonces, capacities, timeouts, fees, penalty
/// curves) are accepted or refused, and every request after them is still answered.
#[test]
fn signed_updates_with_extreme_values_never_break_later_requests() {
    let fixture = Fixture::start();
    let big = || {
        prop_oneof![
            Just(U256::ZERO),
            Just(U256::MAX),
            any::<u64>().prop_map(U256::from),
            any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        ]
    };
    let penalty = prop::collection::vec((big(), big()), 0..8).prop_map(|mut points| {
        points.sort();
        points.dedup_by_key(|point| point.0);
        ImbalancePenalty::new(points).ok()
    });
    let fee = (select(vec![1u64, 2, 3]), any::<bool>(), big(), big(), penalty).prop_map(
        |(channel, towards_right, flat, proportional, imbalance_penalty)| Extreme::Fee {
            channel,
            towards_right,
            schedule: FeeSchedule { cap_fees: towards_right, flat, proportional, imbalance_penalty },
        },
    );
    let capacity = (select(vec![1u64, 2, 3]), any::<bool>(), any::<u64>(), any::<u64>(), big(), big(), big())
        .prop_map(|(channel, towards_right, nonce, other_nonce, capacity, other, reveal_timeout)| {
            Extreme::Capacity {
                channel,
                towards_right,
                nonces: (nonce, other_nonce),
                capacities: (capacity, other),
                reveal_timeout,
            }
        });
    let probe = (select(NODES.to_vec()), select(NODES.to_vec()), big());
    let strategy = (prop::collection::vec(prop_oneof![fee, capacity], 1..4), probe);
    run(&fixture, strategy, |fixture, (updates, (from, to, value))| {
        let messages: Vec<String> = updates.iter().map(|update| update.sign(fixture)).collect();
        fixture.check(&RawRequest::post_json("/api/v1/updates", format!("[{}]", messages.join(","))))?;
        let body = json!({"from": checksummed(from), "to": checksummed(to), "value": value.to_string(), "max_paths": 25});
        fixture.check(&RawRequest::post_json(common::paths_url(), body.to_string()))?;
        let suggest = format!("/api/v1/{}/suggest_partner", token_network().to_checksum());
        fixture.check(&RawRequest::get(suggest))?;
        let debug = format!("/api/v1/_debug/routes/{}/{}", token_network().to_checksum(), checksummed(from));
        fixture.check(&RawRequest::get(debug)).map(drop)
    });
    fixture.stop();
}

/// A correctly signed update with extreme values.
#[derive(Debug, Clone)]
enum Extreme {
    Fee {
        channel: u64,
        towards_right: bool,
        schedule: FeeSchedule,
    },
    Capacity {
        channel: u64,
        towards_right: bool,
        nonces: (u64, u64),
        capacities: (U256, U256),
        reveal_timeout: U256,
    },
}

impl Extreme {
    /// Signed by the updating participant of channel `channel` of the line (node
    /// `channel − 1` to node `channel`, or back).
    fn sign(&self, fixture: &Fixture) -> String {
        let participants = |channel: u64, towards_right: bool| {
            let (left, right) = (channel as u8 - 1, channel as u8);
            if towards_right { (left, right) } else { (right, left) }
        };
        match self {
            Self::Fee { channel, towards_right, schedule } => {
                let (from, _) = participants(*channel, *towards_right);
                fee_update(*channel, from, schedule.clone(), fixture.next_fee_timestamp())
            }
            Self::Capacity { channel, towards_right, nonces, capacities, reveal_timeout } => {
                let (from, to) = participants(*channel, *towards_right);
                let update = UnsignedCapacityUpdate {
                    canonical_identifier: CanonicalIdentifier {
                        chain_identifier: common::CHAIN_ID,
                        token_network_address: token_network(),
                        channel_identifier: ChannelId(U256::from(*channel)),
                    },
                    updating_participant: node(from),
                    other_participant: node(to),
                    updating_nonce: Nonce(nonces.0),
                    other_nonce: Nonce(nonces.1),
                    updating_capacity: capacities.0,
                    other_capacity: capacities.1,
                    reveal_timeout: BlockTimeout(*reveal_timeout),
                };
                Message::CapacityUpdate(update.sign(&common::key(from)).expect("two participants")).to_json()
            }
        }
    }
}

#[test]
fn hostile_iou_queries_get_4xx_and_change_nothing() {
    let fixture = Fixture::start();
    let names = prop_oneof![
        4 => select(vec!["sender", "receiver", "timestamp", "signature"]).prop_map(str::to_owned),
        1 => key_text(),
    ];
    let queries = iou_queries();
    let good_values: Vec<String> = queries.iter().flatten().map(|(_, value)| value.clone()).collect();
    let values = prop_oneof![
        2 => select(good_values),
        1 => address_text(),
        1 => hostile_string().prop_map(|text| serde_json::from_str::<String>(&text).unwrap_or(text)),
        1 => "(0x)?[0-9a-fA-Fg]{0,140}",
    ]
    .boxed();
    // One of the signed requests with a few pairs replaced, removed or added.
    let pairs = (
        select(queries),
        prop::collection::vec(prop_oneof![8 => Just(None), 1 => values.clone().prop_map(Some)], 4),
        prop::collection::vec(prop::bool::weighted(0.1), 4),
        prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec((names, values), 1..3)],
        any::<bool>(),
    )
        .prop_map(|(good, replacements, dropped, extra, reversed)| {
            let mut pairs: Vec<(String, String)> = good
                .into_iter()
                .zip(replacements)
                .zip(dropped)
                .filter(|(_, drop)| !drop)
                .map(|(((name, value), replacement), _)| (name, replacement.unwrap_or(value)))
                .collect();
            pairs.extend(extra);
            if reversed {
                pairs.reverse();
            }
            pairs
        });
    let encoding = prop_oneof![
        4 => Just(Encoding::Percent),
        2 => Just(Encoding::Raw),
        1 => Just(Encoding::Broken),
    ];
    let query = prop_oneof![
        12 => (pairs, encoding).prop_map(|(pairs, encoding)| encoding.query(&pairs)),
        1 => Just(String::new()),
        1 => (2_000usize..20_000).prop_map(|length| format!("sender={}", "a".repeat(length))),
        1 => hostile_segment(),
    ];
    let strategy = (prop_oneof![6 => Just(token_network().to_checksum()), 1 => hostile_segment()], query);
    run(&fixture, strategy, |fixture, (segment, query)| {
        fixture.check(&RawRequest::get(format!("/api/v1/{segment}/payment/iou?{query}"))).map(drop)
    });
    fixture.stop();
}

/// How a query string is written.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    /// Form-style percent-encoding of everything outside the unreserved set.
    Percent,
    /// Only what HTTP itself forbids is encoded (`:` and `+` stay).
    Raw,
    /// Percent-encoded, with a broken `%` escape appended to each value (not to the names).
    Broken,
}

impl Encoding {
    fn query(self, pairs: &[(String, String)]) -> String {
        let write = |text: &str| match self {
            Self::Percent => percent_encode(text.as_bytes()),
            Self::Raw => text
                .bytes()
                .map(|byte| {
                    if byte.is_ascii_graphic() && !b"#%&=\"<>\\^`{|}".contains(&byte) {
                        char::from(byte).to_string()
                    } else {
                        format!("%{byte:02X}")
                    }
                })
                .collect(),
            Self::Broken => format!("{}%g", percent_encode(text.as_bytes())),
        };
        let name = |text: &str| match self {
            Self::Broken => percent_encode(text.as_bytes()),
            _ => write(text),
        };
        pairs
            .iter()
            .map(|(key, value)| format!("{}={}", name(key), write(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[test]
fn hostile_url_segments_get_4xx_json_on_every_parameterised_route() {
    let fixture = Fixture::start();
    let tn = token_network().to_checksum();
    let templates: Vec<(&str, &str)> = vec![
        ("GET", "/api/v1/address/{a}/metadata"),
        ("GET", "/api/v1/{tn}/suggest_partner"),
        ("GET", "/api/v1/{tn}/payment/iou"),
        ("POST", "/api/v1/{tn}/paths"),
        ("POST", "/api/v1/{tn}/feedback"),
        ("GET", "/api/v1/_debug/routes/{tn}/{a}"),
        ("GET", "/api/v1/_debug/routes/{tn}/{a}/{b}"),
        ("GET", "/api/v1/_debug/ious/{a}"),
    ];
    let segment = || prop_oneof![1 => Just(None), 3 => hostile_segment().prop_map(Some)];
    let strategy = (select(templates), segment(), segment(), segment());
    run(&fixture, strategy, |fixture, ((method, template), tn_segment, a, b)| {
        let target = template
            .replace("{tn}", tn_segment.as_deref().unwrap_or(&tn))
            .replace("{a}", a.as_deref().unwrap_or(&checksummed(0)))
            .replace("{b}", b.as_deref().unwrap_or(&checksummed(1)));
        let request = if method == "POST" {
            RawRequest::post_json(target, common::paths_body(0, 3, 10))
        } else {
            RawRequest::get(target)
        };
        fixture.check(&request).map(drop)
    });
    fixture.stop();
}

#[test]
fn odd_methods_and_unknown_paths_get_4xx_json_everywhere() {
    let fixture = Fixture::start();
    let tn = token_network().to_checksum();
    let mut targets: Vec<String> =
        pfs_api::routes(&ApiOptions { enable_debug: true, ..ApiOptions::default() })
            .into_iter()
            .map(|route| {
                route
                    .path
                    .replace("{token_network}", &tn)
                    .replace("{address}", &checksummed(0))
                    .replace("{source}", &checksummed(0))
                    .replace("{target}", &checksummed(1))
            })
            .collect();
    targets.extend(
        [
            "/",
            "/api",
            "/api/",
            "/api/v1",
            "/api/v1/",
            "/api/v3/info",
            "/metrics/",
            "/metrics?x=%ff",
            "/api/v1/info/",
            "//api/v1/info",
            "/api/v1/../v1/info",
            "/api/v1/./info",
            "/API/V1/INFO",
            "/api/v1/info%00",
            "/api/v1/info?%",
            "/api/v1/info?a=1&a=2&&&=",
            "/api/v1/_debug/stats/extra",
            "/api/v1/updates/",
            "/favicon.ico",
            "/api/v1/%2e%2e/v1/info",
        ]
        .map(str::to_owned),
    );
    let methods = select(vec![
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO", "get", "M-SEARCH",
    ]);
    let body = prop_oneof![
        2 => Just(Vec::new()),
        1 => Just(common::paths_body(0, 3, 10).into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    let strategy = (methods, select(targets), content_type(), body);
    run(&fixture, strategy, |fixture, (method, target, content_type, body)| {
        let mut request = RawRequest::new(method, target).body(body);
        if let Some(value) = content_type {
            request = request.header("content-type", value);
        }
        fixture.check(&request).map(drop)
    });
    fixture.stop();
}

#[test]
fn bodies_around_the_size_limits_get_413_json_and_change_nothing() {
    let fixture = Fixture::start();
    let tn = token_network().to_checksum();
    let endpoints = vec![
        (format!("/api/v1/{tn}/paths"), MAX_BODY_BYTES),
        (format!("/api/v1/{tn}/feedback"), MAX_BODY_BYTES),
        ("/api/v1/updates".to_owned(), MAX_UPDATES_BODY_BYTES),
    ];
    // Sizes relative to the limit, and whether the body is sent chunked (no Content-Length).
    let strategy = (select(endpoints), select(vec![-1i64, 0, 1, 1_000, 1 << 20]), any::<bool>());
    let cases = |fixture: &Fixture, ((target, limit), excess, chunked): ((String, usize), i64, bool)| {
        let size = usize::try_from(limit as i64 + excess).expect("positive");
        // A JSON object whose one member is padded to `size` bytes in all.
        let padding = "x".repeat(size - r#"{"from":""}"#.len());
        let body = format!(r#"{{"from":"{padding}"}}"#).into_bytes();
        let request = if chunked {
            RawRequest::new("POST", target)
                .header("content-type", "application/json")
                .header("transfer-encoding", "chunked")
                .body(chunk(&body))
        } else {
            RawRequest::post_json(target, body)
        };
        let response = fixture.check(&request)?;
        let expected = if size > limit { 413 } else { 400 };
        prop_assert_eq!(response.status, expected, "{} bytes: {}", size, response.text());
        Ok(())
    };
    run(&fixture, strategy, cases);
    fixture.stop();
}

/// `body` in chunks of 8 KiB, as `Transfer-Encoding: chunked` sends it.
fn chunk(body: &[u8]) -> Vec<u8> {
    let mut chunked = Vec::with_capacity(body.len() + body.len() / 1000 + 16);
    for piece in body.chunks(8 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    chunked
}

/// An IOU for the paid service: a session node 0 could start, with some fields set to extreme or
/// wrong values, signed by the sender or by another key, maybe broken afterwards as JSON.
#[derive(Debug, Clone)]
struct PaidIou {
    amount: U256,
    /// Seconds from now (may be far off), or an absolute extreme value.
    claimable_until: Result<i64, U256>,
    /// Added to the right chain id.
    chain_offset: u64,
    receiver: Party,
    one_to_n_is_right: bool,
    /// The node whose address is the sender and the node whose key signs (3: a key without
    /// deposit).
    sender: usize,
    signer: usize,
    /// Integers as JSON numbers (the reference's form) instead of decimal strings.
    numbers: bool,
    /// A member replaced by a hostile value (`None`: removed) after signing.
    broken: Option<(&'static str, Option<String>)>,
}

/// Who an IOU is addressed to.
#[derive(Debug, Clone, Copy)]
enum Party {
    Service,
    Node,
    Stranger,
}

impl PaidIou {
    fn json(&self, pfs: &PaidPfs) -> String {
        let key = |index: usize| if index < 3 { pfs.node_key(index) } else { common::paid::poor_key() };
        let now = i64::try_from(common::paid::now_seconds()).expect("in range");
        let fields = pfs_core::iou::UnsignedIou {
            sender: key(self.sender).address(),
            receiver: match self.receiver {
                Party::Service => pfs.api_config.payment_address,
                Party::Node => pfs.node(1),
                Party::Stranger => Address::from_bytes([0x42; 20]),
            },
            amount: self.amount,
            claimable_until: match self.claimable_until {
                Ok(seconds) => U256::from(u64::try_from(now + seconds).unwrap_or(0)),
                Err(absolute) => absolute,
            },
            one_to_n_address: if self.one_to_n_is_right {
                pfs.one_to_n()
            } else {
                Address::from_bytes([9; 20])
            },
            chain_id: pfs_core::ChainId(pfs.chain_id().0.wrapping_add(self.chain_offset)),
        };
        let iou = fields.sign(&key(self.signer));
        let json =
            if self.numbers { iou.to_json() } else { common::paid::light_client_json(&iou).to_string() };
        match &self.broken {
            None => json,
            Some((member, value)) => replace_member(&json, member, value.as_deref()),
        }
    }
}

fn paid_iou() -> BoxedStrategy<PaidIou> {
    let fee = U256::from(FEE);
    let amount = prop_oneof![
        4 => select(vec![1u64, 2, 3, 5]).prop_map(move |times| fee * U256::from(times)),
        1 => select(vec![U256::ZERO, U256::from(1), fee - U256::from(1), U256::MAX, U256::MAX - fee + U256::from(1), U256::from(1) << 255]),
        1 => any::<u128>().prop_map(U256::from),
    ];
    let day = 24 * 3600;
    let claimable_until = prop_oneof![
        4 => Just(Ok(30 * day)),
        1 => select(vec![Ok(6 * day), Ok(0), Ok(-day), Ok(36_500 * day)]),
        1 => select(vec![Err(U256::ZERO), Err(U256::from(u64::MAX)), Err(U256::MAX)]),
    ];
    let chain_offset = prop_oneof![6 => Just(0u64), 1 => select(vec![1u64, u64::MAX])];
    let receiver = prop_oneof![6 => Just(Party::Service), 1 => Just(Party::Node), 1 => Just(Party::Stranger)];
    let parties = prop_oneof![
        6 => Just((0usize, 0usize)),
        1 => Just((1, 1)),
        1 => Just((3, 3)),
        1 => Just((0, 1)),
    ];
    let members = select(vec![
        "sender",
        "receiver",
        "amount",
        "claimable_until",
        "one_to_n_address",
        "chain_id",
        "signature",
    ]);
    let broken = prop_oneof![
        4 => Just(None),
        1 => (members, prop_oneof![3 => hostile_value().prop_map(Some), 1 => Just(None)]).prop_map(Some),
    ];
    (
        amount,
        claimable_until,
        chain_offset,
        receiver,
        prop::bool::weighted(0.8),
        parties,
        any::<bool>(),
        broken,
    )
        .prop_map(
            |(
                amount,
                claimable_until,
                chain_offset,
                receiver,
                one_to_n_is_right,
                (sender, signer),
                numbers,
                broken,
            )| {
                PaidIou {
                    amount,
                    claimable_until,
                    chain_offset,
                    receiver,
                    one_to_n_is_right,
                    sender,
                    signer,
                    numbers,
                    broken,
                }
            },
        )
        .boxed()
}

/// IOUs that are malformed, forged, for another service, chain or contract, too small, too
/// large, expiring too early or too late, or from a sender without deposit are refused, and
/// nothing is stored for them (the IOU ledger and node 0's last IOU stay as they were); the ones
/// that pay are stored.
#[test]
fn hostile_ious_of_paid_path_requests_get_4xx_and_store_nothing() {
    let fixture = Fixture::paid();
    let strategy = (paid_iou(), prop::option::weighted(0.1, (key_text(), hostile_value())));
    run(&fixture, strategy, |fixture, (iou, extra)| {
        let Server::Paid(pfs) = &fixture.server else { unreachable!("a paid fixture") };
        let mut body = json!({
            "from": pfs.node(0).to_checksum(),
            "to": pfs.node(1).to_checksum(),
            "value": "10",
            "max_paths": 3,
        })
        .to_string();
        body.pop();
        body.push_str(&format!(",\"iou\":{}", iou.json(pfs)));
        if let Some((key, value)) = extra {
            body.push_str(&format!(",{}:{value}", quoted(&key)));
        }
        body.push('}');
        fixture.check(&RawRequest::post_json(fixture.probe.route_url.clone(), body)).map(drop)
    });
    fixture.stop();
}

/// A request whose HTTP framing is broken: a body cut short, declared shorter than sent, or a
/// chunk size that is not hex (the API answers), or a `Content-Length` that is no number or given twice, headers or a URI over
/// the server's limits, a space in the target (the HTTP server answers, with a bare 4xx).
#[derive(Debug, Clone, Copy)]
enum Framing {
    ShortBodyThenClosed,
    ContentLengthTooShort,
    TruncatedChunksThenClosed,
    BadChunkSize,
    ContentLengthAndChunked,
    ContentLengthNotANumber,
    TwoContentLengths,
    HugeHeader,
    ManyHeaders,
    HugeUri,
    SpaceInTarget,
}

impl Framing {
    fn request(self, target: &str, body: &[u8]) -> (RawRequest, Layer) {
        let post = |target: &str| RawRequest::new("POST", target).header("content-type", "application/json");
        let declared = |length: &str| post(target).header("content-length", length);
        let chunked = post(target).header("transfer-encoding", "chunked");
        let half = &body[..body.len() / 2];
        match self {
            Self::ShortBodyThenClosed => {
                (declared(&(body.len() + 10).to_string()).body(body).closing(), Layer::Api)
            }
            Self::ContentLengthTooShort => (declared(&half.len().to_string()).body(body), Layer::Api),
            Self::TruncatedChunksThenClosed => {
                let mut bytes = format!("{:x}\r\n", body.len()).into_bytes();
                bytes.extend_from_slice(half);
                (chunked.body(bytes).closing(), Layer::Api)
            }
            Self::BadChunkSize => (chunked.body([b"zz\r\n", body, b"\r\n0\r\n\r\n"].concat()), Layer::Api),
            Self::ContentLengthAndChunked => {
                (chunked.header("content-length", "3").body(chunk(body)), Layer::Api)
            }
            Self::ContentLengthNotANumber => (declared("ten").body(body), Layer::Http),
            Self::TwoContentLengths => {
                let length = body.len().to_string();
                (declared(&length).header("content-length", format!("{length}0")).body(body), Layer::Http)
            }
            Self::HugeHeader => {
                (post(target).header("x-padding", "a".repeat(500_000)).body(body), Layer::Http)
            }
            Self::ManyHeaders => {
                let mut request = post(target);
                for index in 0..200 {
                    request = request.header(&format!("x-header-{index}"), "1");
                }
                (request.body(body), Layer::Http)
            }
            Self::HugeUri => (post(&format!("{target}?{}", "a".repeat(100_000))).body(body), Layer::Http),
            Self::SpaceInTarget => (post(&format!("{target} x")).body(body), Layer::Http),
        }
    }
}

#[test]
fn broken_http_framing_gets_4xx_and_changes_nothing() {
    let fixture = Fixture::start();
    let tn = token_network().to_checksum();
    let targets =
        vec![format!("/api/v1/{tn}/paths"), format!("/api/v1/{tn}/feedback"), "/api/v1/updates".to_owned()];
    let framing = select(vec![
        Framing::ShortBodyThenClosed,
        Framing::ContentLengthTooShort,
        Framing::TruncatedChunksThenClosed,
        Framing::BadChunkSize,
        Framing::ContentLengthAndChunked,
        Framing::ContentLengthNotANumber,
        Framing::TwoContentLengths,
        Framing::HugeHeader,
        Framing::ManyHeaders,
        Framing::HugeUri,
        Framing::SpaceInTarget,
    ]);
    let body = prop_oneof![
        Just(common::paths_body(0, 3, 10)),
        Just(common::capacity_update(1, 0, 1, 1, DEPOSIT, DEPOSIT)),
        paths_request_body(),
    ];
    run(&fixture, (framing, select(targets), body), |fixture, (framing, target, body)| {
        let (request, layer) = framing.request(&target, body.as_bytes());
        fixture.check_answered_by(&request, layer).map(drop)
    });
    fixture.stop();
}
