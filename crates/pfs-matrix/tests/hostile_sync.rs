//! Hostile `/sync` answers read as the PFS's sync loop reads them (parse, profile fetches,
//! processor), without a homeserver: [`SyncReader`] with the profiles of a
//! [`hostile::World`]'s actors. Everything in an answer that other Matrix users control is
//! hostile here: senders, contents, bodies, displaynames, avatar URLs (see
//! `pfs_matrix::testing::hostile` for the generators and the rules checked).
//!
//! Each test states one behaviour. No reading may panic; an answer the client can read gives,
//! event by event, exactly what the rules allow; an answer it cannot read is refused whole (the
//! loop retries it), which only the homeserver, not another user, can cause; what the client
//! remembers stays within its bounds; and a flood is read in time linear in its size.
//!
//! Cases per test: the number in each `cases(…)`, or `PROPTEST_CASES`.

use std::time::{Duration, Instant};

use pfs_core::PrivateKey;
use pfs_core::matrix_identity;
use pfs_matrix::testing::hostile::{self, BudgetUsed, Limits, RenderedAnswer, World};
use pfs_matrix::testing::{Remembered, SyncReader};
use pfs_matrix::{HomeserverAddress, MatrixConfig};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::json;

fn key(byte: u8) -> PrivateKey {
    PrivateKey::from_bytes([byte; 32]).expect("a small constant is a valid key")
}

fn world() -> World {
    World::new(vec![key(2), key(3), key(4)])
}

fn config() -> MatrixConfig {
    let homeserver =
        HomeserverAddress::new("http://127.0.0.1:8008", Some("pfs.server")).expect("a valid address");
    MatrixConfig::new(homeserver)
}

fn limits(config: &MatrixConfig) -> Limits {
    Limits { max_body_chars: config.max_body_chars, rate_limit_bytes: config.rate_limit_bytes }
}

fn reader(world: &World, config: &MatrixConfig) -> SyncReader {
    let mut reader = SyncReader::new(world.own_user_id(), config);
    world.install(&mut reader);
    reader
}

/// Reads `rendered` with a fresh reader of `world` and checks, event by event, that the batch
/// is what the rules allow; an answer refused whole fails.
fn read_and_check(
    world: &World,
    config: &MatrixConfig,
    limits: &Limits,
    rendered: &RenderedAnswer,
) -> Result<(), TestCaseError> {
    let batch = reader(world, config)
        .read(&rendered.to_bytes(), Instant::now())
        .map_err(|error| TestCaseError::fail(format!("the answer was refused: {error}")))?;
    hostile::check_batch(world, limits, rendered, &batch, &mut BudgetUsed::new()).map_err(TestCaseError::fail)
}

/// A capacity update honest node 0 signed, as one line.
fn honest_line(world: &World, nonce: u64) -> String {
    use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate};
    use pfs_core::{Address, BlockTimeout, ChainId, ChannelId, Message, Nonce, U256};
    let key = world.honest_key(0);
    let update = UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: ChainId(1),
            token_network_address: Address::from_bytes([7; 20]),
            channel_identifier: ChannelId(U256::from(1)),
        },
        updating_participant: key.address(),
        other_participant: Address::from_bytes([9; 20]),
        updating_nonce: Nonce(nonce),
        other_nonce: Nonce(0),
        updating_capacity: U256::from(100),
        other_capacity: U256::ZERO,
        reveal_timeout: BlockTimeout(U256::from(50)),
    };
    Message::CapacityUpdate(update.sign(key).expect("distinct participants")).to_json()
}

#[test]
fn any_bytes_are_read_or_refused_without_a_panic_and_never_yield_unverified_events() {
    let world = world();
    let config = config();
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2000),
        // A rendered answer cut short, or with bytes changed.
        (hostile::answer(6, 4), any::<proptest::sample::Index>()).prop_map({
            let world = World::new(vec![key(2), key(3), key(4)]);
            move |(answer, cut)| {
                let bytes = answer.render(&world).to_bytes();
                bytes[..cut.index(bytes.len() + 1)].to_vec()
            }
        }),
        (
            hostile::answer(6, 4),
            proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8)
        )
            .prop_map({
                let world = World::new(vec![key(2), key(3), key(4)]);
                move |(answer, changes)| {
                    let mut bytes = answer.render(&world).to_bytes();
                    for (at, byte) in changes {
                        let index = at.index(bytes.len());
                        bytes[index] = byte;
                    }
                    bytes
                }
            }),
    ];
    hostile::runner(256, file!())
        .run(&bytes, |bytes: Vec<u8>| {
            let mut reader = reader(&world, &config);
            if let Ok(batch) = reader.read(&bytes, Instant::now()) {
                hostile::check_safety(&world, &batch).map_err(TestCaseError::fail)?;
            }
            Ok(())
        })
        .unwrap();
}

/// The top-level shape of an answer: which parts are well-formed.
#[derive(Debug, Clone)]
struct Shape {
    next_batch: Option<String>,
    presence: Option<String>,
    to_device: Option<String>,
}

#[test]
fn an_answer_with_a_wrong_type_at_any_level_is_refused_whole_and_a_well_formed_one_is_read() {
    let world = world();
    let config = config();
    // (raw JSON, whether the client reads it; `None`: either, but without events)
    let next_batch = prop_oneof![
        Just((Some(r#""s1""#.to_owned()), Some(true))),
        Just((None, Some(false))),
        hostile::raw_json().prop_map(|raw| {
            let readable = serde_json::from_str::<String>(&raw).is_ok();
            (Some(raw), Some(readable))
        }),
    ];
    let list = prop_oneof![
        Just((None, Some(true))),
        Just((Some(r#"{}"#.to_owned()), Some(true))),
        Just((Some(r#"{"events": []}"#.to_owned()), Some(true))),
        Just((Some(r#"{"events": [5, "x", null, {}, []]}"#.to_owned()), Some(true))),
        // serde reads a struct from a sequence too: `[]` is an empty list of events.
        Just((Some("[]".to_owned()), Some(true))),
        Just((Some(r#"{"events": null}"#.to_owned()), Some(false))),
        Just((Some(r#"{"events": {}}"#.to_owned()), Some(false))),
        Just((Some(r#"{"events": "x"}"#.to_owned()), Some(false))),
        Just((Some(r#"{"events": 5}"#.to_owned()), Some(false))),
        Just((Some("null".to_owned()), Some(false))),
        Just((Some("5".to_owned()), Some(false))),
        Just((Some(r#""events""#.to_owned()), Some(false))),
        hostile::raw_json().prop_map(|raw| (Some(raw), None)),
    ];
    let shape = (next_batch, list.clone(), list);
    hostile::runner(256, file!())
        .run(&shape, |((next_batch, batch_ok), (presence, presence_ok), (to_device, to_device_ok))| {
            let shape = Shape { next_batch, presence, to_device };
            let mut parts = Vec::new();
            for (key, value) in [
                ("next_batch", &shape.next_batch),
                ("presence", &shape.presence),
                ("to_device", &shape.to_device),
            ] {
                if let Some(value) = value {
                    parts.push(format!("{}:{value}", json!(key)));
                }
            }
            let body = format!("{{{}}}", parts.join(","));
            let mut reader = reader(&world, &config);
            let read = reader.read(body.as_bytes(), Instant::now());
            let parts = [batch_ok, presence_ok, to_device_ok];
            if parts.contains(&Some(false)) {
                prop_assert!(read.is_err(), "{}", body);
            } else if parts.iter().all(Option::is_some) {
                prop_assert!(read.is_ok(), "{}", body);
            }
            if let Ok(batch) = read {
                prop_assert!(batch.events.is_empty(), "{:?}", batch.events);
            }
            Ok(())
        })
        .unwrap();
    // Not an object at all.
    for body in ["[]", "\"s1\"", "5", "null", "", "{", "{\"next_batch\": \"s1\""] {
        assert!(reader(&world, &config).read(body.as_bytes(), Instant::now()).is_err(), "{body}");
    }
}

#[test]
fn a_hostile_answer_gives_exactly_the_events_the_rules_allow_and_keeps_the_honest_update() {
    let world = world();
    let config = config();
    let limits = limits(&config);
    let strategy = (hostile::answer(12, 6), any::<proptest::sample::Index>());
    hostile::runner(192, file!())
        .run(&strategy, |(answer, position)| {
            let mut rendered = answer.render(&world);
            let line = honest_line(&world, 1);
            let index = position.index(rendered.to_device.len() + 1);
            rendered.insert_text(
                index,
                &world.honest_user_id(0),
                std::slice::from_ref(&line),
                std::slice::from_ref(&line),
            );
            read_and_check(&world, &config, &limits, &rendered)
        })
        .unwrap();
}

#[test]
fn an_answer_with_thousands_of_events_gives_exactly_what_the_rules_allow() {
    let world = world();
    let config = config();
    let limits = limits(&config);
    let strategy = (hostile::answer(6, 3), 1000usize..2000);
    hostile::runner(3, file!())
        .run(&strategy, |(answer, events)| {
            let mut rendered = answer.render(&world);
            rendered.repeat_events(events);
            read_and_check(&world, &config, &limits, &rendered)
        })
        .unwrap();
}

#[test]
fn a_sender_never_gets_more_than_its_byte_budget_read_in_a_window() {
    let world = world();
    let mut config = config();
    config.rate_limit_bytes = 6_000;
    let limits = limits(&config);
    let strategy = proptest::collection::vec(hostile::answer(8, 4), 1..4);
    hostile::runner(64, file!())
        .run(&strategy, |answers| {
            let mut reader = reader(&world, &config);
            let mut used = BudgetUsed::new();
            let start = Instant::now();
            for (index, answer) in answers.iter().enumerate() {
                // Two answers per window: the budget carries over, then starts again.
                if index % 2 == 0 {
                    used.clear();
                }
                let now = start + config.rate_limit_window * (index as u32 / 2);
                let rendered = answer.render(&world);
                let batch = reader
                    .read(&rendered.to_bytes(), now)
                    .map_err(|error| TestCaseError::fail(format!("the answer was refused: {error}")))?;
                hostile::check_batch(&world, &limits, &rendered, &batch, &mut used)
                    .map_err(TestCaseError::fail)?;
            }
            Ok(())
        })
        .unwrap();
}

/// Presence events of `count` distinct users as the kind of user `kind` says.
fn crowd(world: &World, kind: u8, count: usize, seed: usize) -> Vec<String> {
    (0..count)
        .map(|index| {
            let mut bytes = [0u8; 20];
            bytes[..8].copy_from_slice(&((seed * 1_000_003 + index) as u64).to_be_bytes());
            bytes[19] = kind;
            let address = pfs_core::Address::from_bytes(bytes);
            let user_id = match kind {
                // A verified user on a server of its own.
                0 => {
                    let user_id = matrix_identity::user_id(&world.attacker_key().address(), &format!("s{seed}-{index}.example"));
                    let displayname = matrix_identity::displayname(world.attacker_key(), &user_id);
                    return json!({"type": "m.presence", "sender": user_id, "content": {
                        "presence": "online", "displayname": displayname, "avatar_url": hostile::CAPABILITIES}})
                    .to_string();
                }
                // A user on a homeserver that does not answer (its profile fails: server_error).
                1 => matrix_identity::user_id(&address, "down.server"),
                // A user whose presence carries an overlong displayname and avatar URL.
                3 => {
                    let user_id = matrix_identity::user_id(&address, hostile::SERVER);
                    return json!({"type": "m.presence", "sender": user_id, "content": {"presence": "online",
                        "displayname": "0x".repeat(5_000), "avatar_url": "mxc://".repeat(5_000)}})
                    .to_string();
                }
                // A user id far longer than Matrix allows.
                4 => matrix_identity::user_id(&address, &"long.".repeat(2_000)),
                // A user without a profile.
                _ => matrix_identity::user_id(&address, hostile::SERVER),
            };
            json!({"type": "m.presence", "sender": user_id, "content": {"presence": "online"}}).to_string()
        })
        .collect()
}

#[test]
fn what_the_client_remembers_stays_bounded_however_many_users_an_answer_names() {
    let world = world();
    let mut config = config();
    config.max_known_users = 64;
    // Per user at most: a user id (255 bytes), a displayname and its verified copy (2 × 132), an
    // avatar URL (1,000); a retry entry (255); a probed server and its user (2 × 255).
    let max_text_bytes = config.max_known_users * (255 + 264 + 1_000 + 255 + 510);
    let strategy = proptest::collection::vec((0u8..5, 1usize..200), 1..6);
    hostile::runner(24, file!())
        .run(&strategy, |crowds| {
            let mut reader = reader(&world, &config);
            for (seed, (kind, count)) in crowds.into_iter().enumerate() {
                for event in crowd(&world, 1, count, seed) {
                    let sender: serde_json::Value = serde_json::from_str(&event).expect("JSON");
                    reader.fail_profile(sender["sender"].as_str().expect("a sender"));
                }
                let mut answer = RenderedAnswer {
                    next_batch: "s".to_owned(),
                    presence: crowd(&world, kind, count, seed)
                        .into_iter()
                        .map(|raw| (raw, hostile::PresenceMeta::Nothing))
                        .collect(),
                    to_device: Vec::new(),
                    extras: Vec::new(),
                };
                // The honest node's update is read, however many users the answer names.
                let line = honest_line(&world, seed as u64 + 1);
                answer.insert_text(
                    0,
                    &world.honest_user_id(0),
                    std::slice::from_ref(&line),
                    std::slice::from_ref(&line),
                );
                let batch = reader
                    .read(&answer.to_bytes(), Instant::now() + config.rate_limit_window * seed as u32)
                    .map_err(|error| TestCaseError::fail(error.to_string()))?;
                let updates = batch
                    .events
                    .iter()
                    .filter(|event| matches!(event, pfs_matrix::MatrixEvent::ToDeviceUpdates(_)));
                prop_assert_eq!(updates.count(), 1, "{:?}", batch.events.last());
                let Remembered { users, unverified, remote_servers, text_bytes } = reader.remembered();
                prop_assert!(users <= config.max_known_users, "{} users", users);
                prop_assert!(unverified <= config.max_known_users, "{} unverified users", unverified);
                prop_assert!(remote_servers <= config.max_known_users, "{} remote servers", remote_servers);
                prop_assert!(text_bytes <= max_text_bytes, "{} bytes of strings", text_bytes);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_flood_of_new_users_is_read_in_time_linear_in_its_size() {
    let world = world();
    let config = config();
    let read = |count: usize| {
        let answer = RenderedAnswer {
            next_batch: "s".to_owned(),
            presence: crowd(&world, 2, count, 7)
                .into_iter()
                .map(|raw| (raw, hostile::PresenceMeta::Nothing))
                .collect(),
            to_device: Vec::new(),
            extras: Vec::new(),
        };
        let bytes = answer.to_bytes();
        let mut reader = SyncReader::new(world.own_user_id(), &config);
        let started = Instant::now();
        let batch = reader.read(&bytes, Instant::now()).expect("read");
        assert!(batch.events.is_empty());
        assert_eq!(reader.profile_fetches(), count, "one fetch per new user");
        started.elapsed()
    };
    let small = read(5_000);
    let large = read(40_000);
    // Eight times the users: a linear reading takes about eight times as long; a quadratic one
    // (a list searched once per user) sixty-four times.
    assert!(
        large < small * 24 + Duration::from_millis(500),
        "5,000 users read in {small:?}, 40,000 in {large:?}"
    );
}
