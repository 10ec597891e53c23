//! The proptest generators of hostile input: JSON texts (numbers, strings, values, objects,
//! bodies) and, per endpoint, URL segments, IOUs, feedback and update messages.

use pfs_core::{Address, U256};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::Value;

use super::{NODES, TWO_TO_256, U256_MAX};
use crate::common;
use crate::common::raw::RawRequest;
use crate::common::{api_config, node, token_network};

pub(super) fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

pub(super) fn checksummed(index: u8) -> String {
    node(index).to_checksum()
}

/// Address texts, good and bad: checksummed nodes and strangers, lower and upper case, one letter
/// of the checksum flipped, no `0x`, padded, wrong lengths, not hex, anything.
pub(super) fn address_text() -> BoxedStrategy<String> {
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
pub(super) fn hostile_string() -> BoxedStrategy<String> {
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
pub(super) fn hostile_value() -> BoxedStrategy<String> {
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
pub(super) fn key_text() -> BoxedStrategy<String> {
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
pub(super) fn body_from(structured: BoxedStrategy<String>) -> BoxedStrategy<Vec<u8>> {
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
pub(super) fn content_type() -> BoxedStrategy<Option<Vec<u8>>> {
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

pub(super) fn post(target: String, content_type: Option<Vec<u8>>, body: Vec<u8>) -> RawRequest {
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
pub(super) fn token_network_segment() -> BoxedStrategy<String> {
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
pub(super) fn hostile_segment() -> BoxedStrategy<String> {
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
pub(super) fn percent_encode(bytes: &[u8]) -> String {
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

pub(super) fn paths_request_body() -> BoxedStrategy<String> {
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

pub(super) fn feedback_body(token: String, path: Value) -> BoxedStrategy<String> {
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
pub(super) fn update_item(genuine: Vec<String>) -> BoxedStrategy<String> {
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
pub(super) fn replace_member(update: &str, path: &str, value: Option<&str>) -> String {
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
