//! The proptest strategies of hostile answers, their events, bodies, lines and updates.

use std::collections::HashSet;

use pfs_core::U256;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;

use super::specs::{
    AnswerSpec, BodySpec, ContentSpec, FeeValues, LineSpec, NameSpec, PresenceSpec, RawJson, Reencoding,
    Separator, Signer, Tamper, ToDeviceSpec, UpdateFields, Updating,
};
use super::{CAPABILITIES, Sender};

/// 2^256 in decimal.
pub const TWO_TO_256: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639936";

fn u256() -> BoxedStrategy<U256> {
    prop_oneof![
        (1u64 << 20..u64::MAX).prop_map(U256::from),
        any::<[u8; 32]>().prop_map(|bytes| U256::from_be_bytes(bytes) | (U256::from(1) << 21)),
        Just(U256::MAX),
    ]
    .boxed()
}

/// The fields of an update.
pub fn update_fields() -> BoxedStrategy<UpdateFields> {
    (
        any::<bool>(),
        prop_oneof![Just(1u64), Just(1337), 1u64 << 20..u64::MAX],
        any::<[u8; 20]>(),
        u256(),
        any::<[u8; 20]>(),
        (1u64 << 20..u64::MAX, 1u64 << 20..u64::MAX),
        (u256(), u256()),
        u256(),
        (
            any::<bool>(),
            u256(),
            u256(),
            proptest::option::of(proptest::collection::vec((0u64..1000, 0u64..1000), 1..4)),
        )
            .prop_map(|(cap_fees, flat, proportional, steps)| FeeValues(cap_fees, flat, proportional, steps)),
        946_684_800_000_000i64..4_102_444_800_000_000,
        proptest::option::weighted(0.5, any::<usize>()),
    )
        .prop_map(
            |(
                fee,
                chain_id,
                token_network,
                channel_id,
                other,
                nonces,
                capacities,
                reveal_timeout,
                fee_values,
                timestamp_micros,
                target,
            )| {
                UpdateFields {
                    fee,
                    chain_id,
                    token_network,
                    channel_id,
                    other,
                    nonces,
                    capacities,
                    reveal_timeout,
                    fee_values,
                    timestamp_micros,
                    target,
                }
            },
        )
        .boxed()
}

/// Fields whose value is a number or a decimal string, in one message type or the other.
const NUMERIC_FIELDS: &[&str] = &[
    "chain_identifier",
    "channel_identifier",
    "updating_nonce",
    "other_nonce",
    "updating_capacity",
    "other_capacity",
    "reveal_timeout",
    "flat",
    "proportional",
];
const ADDRESS_FIELDS: &[&str] = &["token_network_address", "updating_participant", "other_participant"];
const ALL_FIELDS: &[&str] = &[
    "type",
    "chain_identifier",
    "token_network_address",
    "channel_identifier",
    "updating_participant",
    "other_participant",
    "updating_nonce",
    "other_nonce",
    "updating_capacity",
    "other_capacity",
    "reveal_timeout",
    "fee_schedule",
    "cap_fees",
    "flat",
    "proportional",
    "imbalance_penalty",
    "timestamp",
    "signature",
];

fn tamper() -> BoxedStrategy<Tamper> {
    let bad_number = prop_oneof![
        Just(json!("-1")),
        Just(json!(-1)),
        // A JSON float is truncated as Python's int() does (pfs-core's documented reading), so
        // 1.5 would read as a chain id of 1: 0.5 reads as 0, which no generated field holds.
        Just(json!(0.5)),
        Just(json!("1.5")),
        Just(json!(TWO_TO_256)),
        Just(json!("")),
        Just(json!("0x10")),
        Just(json!(" 12")),
        Just(json!("1e3")),
        Just(json!("9".repeat(2000))),
        Just(json!(null)),
        Just(json!([])),
        Just(json!({})),
        Just(json!(true)),
    ];
    let raw_number = prop_oneof![
        Just("1e400".to_owned()),
        Just(TWO_TO_256.to_owned()),
        Just("-0".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-115792089237316195423570985008687907853269984665640564039457584007913129639935".to_owned()),
    ];
    let bad_address = prop_oneof![
        Just(json!("0x1234")),
        Just(json!(format!("0x{}", "ab".repeat(21)))),
        Just(json!("ab".repeat(20))),
        Just(json!(format!("0x{}", "zz".repeat(20)))),
        Just(json!(format!("0x{}", "00".repeat(19)))),
        Just(json!(12345)),
        Just(json!(null)),
        "0x[0-9a-f]{40}".prop_map(|other| json!(other)),
    ];
    prop_oneof![
        (select(NUMERIC_FIELDS), bad_number).prop_map(|(field, value)| Tamper::Field(field, value)),
        (select(NUMERIC_FIELDS), raw_number).prop_map(|(field, raw)| Tamper::RawField(field, raw)),
        (select(ADDRESS_FIELDS), bad_address).prop_map(|(field, value)| Tamper::Field(field, value)),
        select(ALL_FIELDS).prop_map(Tamper::Removed),
        any::<usize>().prop_map(Tamper::SignatureBit),
        (select(NUMERIC_FIELDS), any::<usize>()).prop_map(|(field, bit)| Tamper::ValueBit(field, bit)),
        prop_oneof![
            Just(json!("0x")),
            Just(json!(format!("0x{}", "00".repeat(65)))),
            Just(json!(format!("0x{}", "ab".repeat(64)))),
            Just(json!(format!("0x{}", "ab".repeat(66)))),
            Just(json!(7)),
        ]
        .prop_map(|value| Tamper::Field("signature", value)),
        Just(Tamper::SwapType),
        prop_oneof![
            Just(json!("pfscapacityupdate")),
            Just(json!("PFSFeeUpdate ")),
            Just(json!(["PFSCapacityUpdate"])),
            Just(json!(null)),
        ]
        .prop_map(|value| Tamper::Field("type", value)),
        prop_oneof![
            Just(json!("2020-01-01T00:00:00Z")),
            Just(json!("2020-01-01T00:00:00+01:00")),
            Just(json!("yesterday")),
            Just(json!("2020-02-30T00:00:00")),
            Just(json!(1_577_836_800)),
        ]
        .prop_map(|value| Tamper::Field("timestamp", value)),
        prop_oneof![
            Just(json!([["1", "2"], ["1", "3"]])),
            Just(json!([["1"]])),
            Just(json!([["-1", "2"]])),
            Just(json!("none")),
            Just(json!((0..300).map(|index| [index.to_string(), "0".to_owned()]).collect::<Vec<_>>())),
        ]
        .prop_map(|value| Tamper::Field("imbalance_penalty", value)),
    ]
    .boxed()
}

/// Lines that are not updates: other Raiden messages, unknown or missing types, JSON of other
/// shapes, an array of messages on one line, garbage, a long line, deep nesting.
fn not_update() -> BoxedStrategy<String> {
    prop_oneof![
        select(pfs_core::messages::IGNORED_TYPES).prop_map(|kind| json!({"type": kind, "x": 1}).to_string()),
        "[A-Za-z]{0,20}".prop_map(|kind| json!({"type": kind}).to_string()),
        Just(r#"{"kind": "PFSCapacityUpdate"}"#.to_owned()),
        Just(r#"{"type": null}"#.to_owned()),
        Just("[1, 2, 3]".to_owned()),
        Just("\"PFSCapacityUpdate\"".to_owned()),
        Just("42".to_owned()),
        Just("null".to_owned()),
        "[^\r\n]{0,200}",
        any::<String>().prop_map(|text| text.replace(['\r', '\n'], " ")),
        (1usize..5000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..3000).prop_map(|depth| format!("{}1{}", r#"{"type":"#.repeat(depth), "}".repeat(depth))),
        (100usize..40_000).prop_map(|length| format!(
            r#"{{"type": "PFSCapacityUpdate", "pad": "{}"}}"#,
            "x".repeat(length)
        )),
        Just(r#"{"type": "PFSCapacityUpdate", "signature": "\ud800"}"#.to_owned()),
    ]
    .boxed()
}

/// Whose key signs: mostly the sender's own.
fn signer() -> BoxedStrategy<Signer> {
    prop_oneof![
        4 => Just(Signer::Sender),
        2 => (0usize..8).prop_map(Signer::Honest),
        1 => Just(Signer::Stranger),
    ]
    .boxed()
}

/// Who is named as updating participant: mostly the signer.
fn updating() -> BoxedStrategy<Updating> {
    prop_oneof![
        4 => Just(Updating::Signer),
        1 => Just(Updating::Sender),
        1 => (0usize..8).prop_map(Updating::Honest),
    ]
    .boxed()
}

/// How a valid update is written: mostly as Python writes it.
fn encoding() -> BoxedStrategy<Option<Reencoding>> {
    proptest::option::weighted(
        0.3,
        prop_oneof![
            Just(Reencoding::UpperCaseAddresses),
            Just(Reencoding::NumberNonces),
            Just(Reencoding::ExtraKeys),
            Just(Reencoding::Padded),
        ],
    )
    .boxed()
}

/// One line of a body.
pub fn line() -> BoxedStrategy<LineSpec> {
    prop_oneof![
        9 => (update_fields(), signer(), updating(), encoding())
            .prop_map(|(fields, signer, updating, encoding)| LineSpec::Update { fields, signer, updating, encoding }),
        6 => (update_fields(), tamper()).prop_map(|(fields, tamper)| LineSpec::Tampered(fields, tamper)),
        1 => proptest::collection::vec(update_fields(), 1..4).prop_map(LineSpec::Array),
        4 => not_update().prop_map(LineSpec::NotUpdate),
    ]
    .boxed()
}

/// A body: a few lines (sometimes one repeated), or a character repeated around the size limit.
pub fn body(max_lines: usize) -> BoxedStrategy<BodySpec> {
    let separator = prop_oneof![Just(Separator::Newline), Just(Separator::CrLf), Just(Separator::Blank)];
    prop_oneof![
        8 => (proptest::collection::vec(line(), 0..=max_lines), separator.clone())
            .prop_map(|(lines, separator)| BodySpec::Lines(lines, separator)),
        1 => (line(), 2usize..20, separator).prop_map(|(line, copies, separator)| {
            BodySpec::Lines(vec![line; copies], separator)
        }),
        1 => (prop_oneof![Just('x'), Just('é'), Just('\n'), Just('€')], prop_oneof![Just(50_000usize), Just(50_001), 49_990usize..50_010, 1usize..200_000])
            .prop_map(|(character, count)| BodySpec::Repeated(character, count)),
    ]
    .boxed()
}

/// Any JSON value as raw text: scalars, containers, deep nesting, lone surrogates, long strings.
pub fn raw_json() -> BoxedStrategy<RawJson> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("-12.5e3".to_owned()),
        Just("1e400".to_owned()),
        Just(TWO_TO_256.to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just(r#""\ud800""#.to_owned()),
        Just(r#"{"\udc00": 1}"#.to_owned()),
        any::<String>().prop_map(|text| json!(text).to_string()),
        (1usize..20_000).prop_map(|length| json!("y".repeat(length)).to_string()),
        (100usize..3000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (100usize..3000).prop_map(|depth| format!("{}0{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))),
        proptest::collection::vec(any::<i64>(), 0..100).prop_map(|items| json!(items).to_string()),
    ]
    .boxed()
}

/// Who sends: mostly the actors, sometimes any string.
pub fn sender() -> BoxedStrategy<Sender> {
    prop_oneof![
        4 => (0usize..8).prop_map(Sender::Honest),
        3 => Just(Sender::Attacker),
        2 => (0usize..8).prop_map(Sender::Impostor),
        2 => (0usize..8).prop_map(Sender::Replayer),
        1 => Just(Sender::Garbage),
        1 => Just(Sender::Nobody),
        1 => (0usize..8).prop_map(Sender::Failing),
        1 => Just(Sender::Own),
        3 => prop_oneof![
            "@0x[0-9a-f]{40}:[a-z.]{1,20}",
            "@0x[0-9A-F]{40}:pfs\\.server",
            "@0x[0-9a-f]{39}:pfs\\.server",
            "@0x[0-9a-f]{40}\\.[0-9a-f]{8}",
            "@0x[0-9a-f]{40}:",
            "@[a-z]{1,10}:pfs\\.server",
            "[^@].{0,40}",
            Just(String::new()),
            Just(format!("@0x{}:pfs.server\n", "ab".repeat(20))),
            (1usize..100_000).prop_map(|length| format!("@0x{}:{}", "cd".repeat(20), "s".repeat(length))),
            any::<String>(),
        ].prop_map(Sender::Arbitrary),
    ]
    .boxed()
}

fn event_type(default_weight: u32) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        default_weight => Just(None),
        1 => prop_oneof![
            Just("m.room.encrypted".to_owned()),
            Just("m.presence".to_owned()),
            Just("m.room.message".to_owned()),
            Just("M.ROOM.MESSAGE".to_owned()),
            ".{0,30}",
        ].prop_map(Some),
    ]
    .boxed()
}

/// A to-device event (or junk in its place) with up to `max_lines` body lines.
pub fn to_device(max_lines: usize) -> BoxedStrategy<ToDeviceSpec> {
    let msgtype = prop_oneof![
        16 => Just(r#""m.text""#.to_owned()),
        1 => Just(r#""m.notice""#.to_owned()),
        1 => raw_json(),
    ];
    let content = prop_oneof![
        12 => (msgtype, body(max_lines), proptest::option::weighted(0.1, 100usize..3000))
            .prop_map(|(msgtype, body, deep_extra)| ContentSpec::Text { msgtype, body, deep_extra }),
        1 => raw_json()
            .prop_filter("not a string", |raw| serde_json::from_str::<String>(raw).is_err())
            .prop_map(ContentSpec::BodyNotString),
        1 => proptest::collection::vec(update_fields(), 1..4).prop_map(ContentSpec::BodyArray),
        1 => Just(ContentSpec::LoneSurrogateBody),
        1 => raw_json().prop_filter("objects are contents", |raw| !raw.starts_with('{')).prop_map(ContentSpec::NotObject),
        1 => Just(ContentSpec::Absent),
    ];
    let junk = prop_oneof![
        raw_json(),
        Just(r#"{"type":"m.room.message","content":{"msgtype":"m.text","body":"x"}}"#.to_owned()),
        Just(r#"{"type":5,"sender":"@a:b","content":{}}"#.to_owned()),
        raw_json()
            .prop_map(|sender| format!(r#"{{"type":"m.room.message","sender":{sender},"content":{{}}}}"#)),
        Just(r#"{"type":"m.room.message","sender":"@0xab\udc00:x","content":{}}"#.to_owned()),
    ]
    .prop_filter("junk has no string sender", |raw| !is_plain_event(raw));
    prop_oneof![
        12 => (sender(), event_type(12), content)
            .prop_map(|(sender, event_type, content)| ToDeviceSpec::Event { sender, event_type, content }),
        1 => junk.prop_map(ToDeviceSpec::Junk),
    ]
    .boxed()
}

/// Whether `raw` is an object with string `type` and `sender` (an event the client reads).
fn is_plain_event(raw: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Plain {
        #[serde(rename = "type")]
        _event_type: String,
        #[serde(rename = "sender")]
        _sender: String,
    }
    serde_json::from_str::<Plain>(raw).is_ok()
}

/// A presence event (or junk in its place).
pub fn presence() -> BoxedStrategy<PresenceSpec> {
    let state = prop_oneof![
        6 => select(&["online", "unavailable", "offline"][..]).prop_map(str::to_owned),
        1 => prop_oneof![Just("busy".to_owned()), Just("ONLINE".to_owned()), Just("server_error".to_owned()), ".{0,20}"],
    ];
    let name = prop_oneof![
        4 => Just(NameSpec::Absent),
        3 => Just(NameSpec::Own),
        1 => (0usize..8).prop_map(NameSpec::Replayed),
        1 => prop_oneof![
            "0x[0-9a-f]{130}",
            "0x[0-9A-F]{130}",
            ".{0,200}",
            (1usize..100_000).prop_map(|length| "n".repeat(length)),
        ].prop_map(NameSpec::Garbage),
    ];
    let avatar = proptest::option::of(prop_oneof![
        Just(CAPABILITIES.to_owned()),
        ".{0,100}",
        (1usize..100_000).prop_map(|length| format!("mxc://raiden.network/cap?{}", "a".repeat(length))),
    ]);
    let junk = prop_oneof![
        raw_json(),
        Just(r#"{"type":"m.presence","sender":"@a:b"}"#.to_owned()),
        Just(r#"{"type":"m.presence","sender":"@a:b","content":{"presence":5}}"#.to_owned()),
        Just(
            r#"{"type":"m.presence","sender":"@a:b","content":{"presence":"online","displayname":7}}"#
                .to_owned()
        ),
        Just(
            r#"{"type":"m.presence","sender":"@a:b","content":{"presence":"online","avatar_url":[]}}"#
                .to_owned()
        ),
        Just(r#"{"type":"m.presence","sender":"@a:b","content":"online"}"#.to_owned()),
        Just(r#"{"type":"m.presence","sender":"@a:b","content":{"presence":"\ud800"}}"#.to_owned()),
    ];
    prop_oneof![
        10 => (sender(), event_type(10), state, name, avatar).prop_map(
            |(sender, event_type, presence, displayname, avatar_url)| PresenceSpec::Event {
                sender,
                event_type,
                presence,
                displayname,
                avatar_url,
            }
        ),
        1 => junk.prop_map(PresenceSpec::Junk),
    ]
    .boxed()
}

/// Top-level keys the client does not read, with hostile values.
pub fn extras() -> BoxedStrategy<Vec<(String, RawJson)>> {
    proptest::collection::vec(
        (
            prop_oneof![
                Just("rooms".to_owned()),
                Just("account_data".to_owned()),
                Just("device_lists".to_owned()),
                Just("device_one_time_keys_count".to_owned()),
                "[a-z_]{1,12}",
            ],
            raw_json(),
        ),
        0..3,
    )
    .prop_map(|extras| {
        let mut seen = HashSet::new();
        extras.into_iter().filter(|(key, _)| seen.insert(key.clone())).collect()
    })
    .boxed()
}

/// A whole answer with up to `max_events` presence and to-device events each, bodies of up to
/// `max_lines` lines.
pub fn answer(max_events: usize, max_lines: usize) -> BoxedStrategy<AnswerSpec> {
    (
        prop_oneof![Just("s1_2_3".to_owned()), ".{0,40}"],
        proptest::collection::vec(presence(), 0..=max_events),
        proptest::collection::vec(to_device(max_lines), 0..=max_events),
        extras(),
    )
        .prop_map(|(next_batch, presence, to_device, extras)| AnswerSpec {
            next_batch,
            presence,
            to_device,
            extras,
        })
        .boxed()
}
