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

#[path = "../common/mod.rs"]
mod common;
mod fixture;
mod generators;

use std::fmt::Debug;

use common::paid::{FEE, PaidPfs};
use common::raw::RawRequest;
use common::{fee_update, node, token_network};
use pfs_api::{ApiOptions, MAX_BODY_BYTES, MAX_UPDATES_BODY_BYTES, MAX_UPDATES_PER_REQUEST};
use pfs_core::messages::UnsignedCapacityUpdate;
use pfs_core::{
    Address, BlockTimeout, CanonicalIdentifier, ChannelId, FeeSchedule, ImbalancePenalty, Message, Nonce,
    U256,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::json;

use fixture::{Fixture, Layer, Server, iou_queries};
use generators::{
    address_text, body_from, checksummed, content_type, feedback_body, hostile_segment, hostile_string,
    hostile_value, key_text, paths_request_body, percent_encode, post, quoted, replace_member,
    token_network_segment, update_item,
};

/// Cases per test unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 48;

/// The line of nodes the service knows; every channel holds [`DEPOSIT`] on each side.
const NODES: [u8; 4] = [0, 1, 2, 3];
const DEPOSIT: u64 = 1000;

/// 2^256, one more than any `uint256`.
const TWO_TO_256: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
/// 2^256 − 1.
const U256_MAX: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

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
