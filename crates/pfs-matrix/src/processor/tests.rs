//! The processor's rules on hand-made `/sync` answers; profiles are recorded as a fetch would.

use std::time::{Duration, Instant};

use pfs_core::ids::{BlockTimeout, ChainId, ChannelId, Nonce};
use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate};
use pfs_core::{PrivateKey, U256};
use serde_json::json;

use super::*;
use crate::rate_limit::DEFAULT_WINDOW;

const OWN: &str = "@0x0000000000000000000000000000000000000001:pfs.server";
const CAPABILITIES: &str = "mxc://raiden.network/cap?Receive=1&Mediate=1";

fn key(byte: u8) -> PrivateKey {
    PrivateKey::from_bytes([byte; 32]).unwrap()
}

fn user(key: &PrivateKey, server: &str) -> String {
    matrix_identity::user_id(&key.address(), server)
}

fn processor() -> Processor {
    processor_with_budget(1_000_000)
}

fn processor_with_budget(bytes: u64) -> Processor {
    Processor::new(
        OWN.to_owned(),
        ProcessorLimits { max_body_chars: 50_000, max_known_users: 1_000 },
        ByteRateLimiter::new(bytes, DEFAULT_WINDOW),
    )
}

fn profile_of(key: &PrivateKey, user_id: &str) -> Profile {
    Profile {
        displayname: Some(matrix_identity::displayname(key, user_id)),
        avatar_url: Some(CAPABILITIES.to_owned()),
    }
}

fn presence(sender: &str, state: &str) -> serde_json::Value {
    json!({"type": "m.presence", "sender": sender, "content": {"presence": state}})
}

fn sync(presence: Vec<serde_json::Value>, to_device: Vec<serde_json::Value>) -> SyncResponse {
    serde_json::from_value(json!({
        "next_batch": "s1",
        "presence": {"events": presence},
        "to_device": {"events": to_device},
    }))
    .unwrap()
}

fn text_message(sender: &str, body: &str) -> serde_json::Value {
    json!({"type": "m.room.message", "sender": sender, "content": {"msgtype": "m.text", "body": body}})
}

fn capacity_update_json(signer: &PrivateKey, updating: Address) -> String {
    UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: ChainId(1),
            token_network_address: Address::from_bytes([7; 20]),
            channel_identifier: ChannelId(U256::from(1)),
        },
        updating_participant: updating,
        other_participant: Address::from_bytes([9; 20]),
        updating_nonce: Nonce(1),
        other_nonce: Nonce(0),
        updating_capacity: U256::from(100),
        other_capacity: U256::from(0),
        reveal_timeout: BlockTimeout(U256::from(50)),
    }
    .sign(signer)
    .unwrap()
    .to_json()
}

fn presence_changes(events: Vec<MatrixEvent>) -> Vec<PresenceChanged> {
    events
        .into_iter()
        .filter_map(|event| match event {
            MatrixEvent::PresenceChanged(changed) => Some(changed),
            _ => None,
        })
        .collect()
}

fn profile_error(status: u16) -> MatrixError {
    MatrixError::Status { endpoint: "profile", status, errcode: None, message: None, retry_after: None }
}

#[test]
fn a_verified_user_s_presence_is_reported_with_displayname_and_capabilities() {
    let node = key(2);
    let user_id = user(&node, "pfs.server");
    let mut processor = processor();
    let answer = sync(vec![presence(&user_id, "online")], vec![]);
    assert_eq!(processor.profiles_to_fetch(&answer, false), vec![user_id.clone()]);
    processor.record_profile(&user_id, Ok(profile_of(&node, &user_id)));
    let changes = presence_changes(processor.process(&answer, false, Instant::now()));
    assert_eq!(
        changes,
        vec![PresenceChanged {
            user_id: user_id.clone(),
            address: node.address(),
            presence: UserPresence::Online,
            displayname: Some(matrix_identity::displayname(&node, &user_id)),
            capabilities: Some(CAPABILITIES.to_owned()),
        }]
    );
}

#[test]
fn a_cached_profile_is_not_fetched_again_while_the_user_stays_reachable() {
    let node = key(2);
    let user_id = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&user_id, Ok(profile_of(&node, &user_id)));
    processor.process(&sync(vec![presence(&user_id, "online")], vec![]), false, Instant::now());
    let unavailable = sync(vec![presence(&user_id, "unavailable")], vec![]);
    assert!(processor.profiles_to_fetch(&unavailable, false).is_empty());
    let offline = sync(vec![presence(&user_id, "offline")], vec![]);
    assert!(processor.profiles_to_fetch(&offline, false).is_empty());
    processor.process(&offline, false, Instant::now());
    let back = sync(vec![presence(&user_id, "online")], vec![]);
    assert_eq!(
        processor.profiles_to_fetch(&back, false),
        vec![user_id],
        "capabilities are re-read on return"
    );
}

#[test]
fn a_displayname_signed_by_another_key_is_ignored() {
    let node = key(2);
    let user_id = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&user_id, Ok(profile_of(&key(3), &user_id)));
    let events = processor.process(&sync(vec![presence(&user_id, "online")], vec![]), false, Instant::now());
    assert!(events.is_empty());
}

#[test]
fn a_displayname_in_the_event_is_re_verified_when_it_changes() {
    let node = key(2);
    let user_id = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&user_id, Ok(profile_of(&node, &user_id)));
    let forged = json!({"type": "m.presence", "sender": user_id, "content": {
        "presence": "online", "displayname": matrix_identity::displayname(&key(3), &user_id)}});
    assert!(processor.process(&sync(vec![forged], vec![]), false, Instant::now()).is_empty());
}

#[test]
fn an_unfetchable_profile_gives_server_error_and_is_fetched_again_next_time() {
    let node = key(2);
    let user_id = user(&node, "other.server");
    let mut processor = processor();
    processor.record_profile(&user_id, Err(profile_error(502)));
    let answer = sync(vec![presence(&user_id, "online")], vec![]);
    let changes = presence_changes(processor.process(&answer, false, Instant::now()));
    assert_eq!(changes[0].presence, UserPresence::ServerError);
    assert_eq!(changes[0].displayname, None);
    assert_eq!(processor.profiles_to_fetch(&answer, false), vec![user_id]);
}

#[test]
fn non_raiden_users_the_pfs_itself_and_unknown_states_are_ignored() {
    let node = key(2);
    let user_id = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&user_id, Ok(profile_of(&node, &user_id)));
    let answer = sync(
        vec![presence("@alice:pfs.server", "online"), presence(OWN, "online"), presence(&user_id, "busy")],
        vec![],
    );
    assert!(processor.profiles_to_fetch(&answer, false).is_empty());
    assert!(processor.process(&answer, false, Instant::now()).is_empty());
}

#[test]
fn remote_servers_are_remembered_with_a_verified_user() {
    let node = key(2);
    let remote = user(&node, "other.server");
    let local = user(&key(3), "pfs.server");
    let mut processor = processor();
    processor.record_profile(&remote, Ok(profile_of(&node, &remote)));
    processor.record_profile(&local, Ok(profile_of(&key(3), &local)));
    processor.process(
        &sync(vec![presence(&remote, "online"), presence(&local, "online")], vec![]),
        false,
        Instant::now(),
    );
    assert_eq!(processor.remote_servers(), vec![("other.server".to_owned(), remote)]);
}

#[test]
fn to_device_update_from_its_signer_is_verified() {
    let node = key(2);
    let sender = user(&node, "pfs.server");
    let mut processor = processor();
    let body =
        format!("{}\n\n  \n{}", capacity_update_json(&node, node.address()), r#"{"type": "Processed"}"#);
    let answer = sync(vec![], vec![text_message(&sender, &body)]);
    assert_eq!(processor.profiles_to_fetch(&answer, false), vec![sender.clone()]);
    processor.record_profile(&sender, Ok(profile_of(&node, &sender)));
    let [MatrixEvent::ToDeviceUpdates(updates)] = &processor.process(&answer, false, Instant::now())[..]
    else {
        panic!("expected one ToDeviceUpdates");
    };
    assert_eq!(updates.sender_address, node.address());
    assert_eq!(updates.results.len(), 2, "blank lines are skipped");
    assert_eq!(updates.results[0].as_ref().unwrap().updating_participant(), node.address());
    assert!(matches!(updates.results[1], Err(ToDeviceRejection::Unreadable(_))));
}

#[test]
fn to_device_update_signed_by_another_participant_is_rejected() {
    let node = key(2);
    let other = key(4);
    let sender = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&sender, Ok(profile_of(&node, &sender)));
    let forged_signature = capacity_update_json(&other, node.address());
    let someone_else_s = capacity_update_json(&other, other.address());
    let answer = sync(vec![], vec![text_message(&sender, &format!("{forged_signature}\n{someone_else_s}"))]);
    let [MatrixEvent::ToDeviceUpdates(updates)] = &processor.process(&answer, false, Instant::now())[..]
    else {
        panic!("expected one ToDeviceUpdates");
    };
    assert!(matches!(updates.results[0], Err(ToDeviceRejection::Rejected(_))));
    assert!(matches!(
        updates.results[1],
        Err(ToDeviceRejection::SignerNotSender { signer, sender }) if signer == other.address() && sender == node.address()
    ));
}

#[test]
fn to_device_from_an_unverified_sender_is_dropped_whole() {
    let node = key(2);
    let sender = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&sender, Ok(profile_of(&key(3), &sender)));
    let answer = sync(vec![], vec![text_message(&sender, &capacity_update_json(&node, node.address()))]);
    assert!(matches!(
        &processor.process(&answer, false, Instant::now())[..],
        [MatrixEvent::ToDeviceDropped(ToDeviceDropped { reason: DropReason::UnverifiedSender(_), .. })]
    ));
}

#[test]
fn only_m_text_room_messages_are_read() {
    let node = key(2);
    let sender = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&sender, Ok(profile_of(&node, &sender)));
    let notice =
        json!({"type": "m.room.message", "sender": sender, "content": {"msgtype": "m.notice", "body": "x"}});
    let other_type =
        json!({"type": "m.room_key", "sender": sender, "content": {"msgtype": "m.text", "body": "x"}});
    let number_body =
        json!({"type": "m.room.message", "sender": sender, "content": {"msgtype": "m.text", "body": 5}});
    let events =
        processor.process(&sync(vec![], vec![notice, other_type, number_body]), false, Instant::now());
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|event| matches!(
        event,
        MatrixEvent::ToDeviceDropped(ToDeviceDropped { reason: DropReason::NotTextMessage, .. })
    )));
}

#[test]
fn an_oversized_body_is_dropped() {
    let node = key(2);
    let sender = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&sender, Ok(profile_of(&node, &sender)));
    let body = "x".repeat(50_001);
    assert!(matches!(
        &processor.process(&sync(vec![], vec![text_message(&sender, &body)]), false, Instant::now())[..],
        [MatrixEvent::ToDeviceDropped(ToDeviceDropped {
            reason: DropReason::TooLarge { chars: 50_001, max: 50_000 },
            ..
        })]
    ));
}

#[test]
fn a_sender_over_its_byte_budget_is_dropped_until_the_window_ends() {
    let node = key(2);
    let sender = user(&node, "pfs.server");
    let body = capacity_update_json(&node, node.address());
    let mut processor = processor_with_budget(body.len() as u64);
    processor.record_profile(&sender, Ok(profile_of(&node, &sender)));
    let answer = sync(vec![], vec![text_message(&sender, &body), text_message(&sender, &body)]);
    let start = Instant::now();
    let events = processor.process(&answer, false, start);
    assert!(matches!(events[0], MatrixEvent::ToDeviceUpdates(_)));
    assert!(matches!(
        events[1],
        MatrixEvent::ToDeviceDropped(ToDeviceDropped { reason: DropReason::RateLimited, .. })
    ));
    let later = processor.process(
        &sync(vec![], vec![text_message(&sender, &body)]),
        false,
        start + DEFAULT_WINDOW + Duration::from_secs(1),
    );
    assert!(matches!(later[0], MatrixEvent::ToDeviceUpdates(_)));
}

#[test]
fn a_snapshot_reads_presence_only() {
    let node = key(2);
    let sender = user(&node, "pfs.server");
    let mut processor = processor();
    processor.record_profile(&sender, Ok(profile_of(&node, &sender)));
    let answer = sync(vec![presence(&sender, "online")], vec![text_message(&sender, "x")]);
    let events = processor.process(&answer, true, Instant::now());
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], MatrixEvent::PresenceChanged(_)));
}

#[test]
fn a_server_marked_unknown_makes_its_users_fetch_again_when_they_return() {
    let node = key(2);
    let user_id = user(&node, "other.server");
    let mut processor = processor();
    processor.record_profile(&user_id, Ok(profile_of(&node, &user_id)));
    let online = sync(vec![presence(&user_id, "online")], vec![]);
    processor.process(&online, false, Instant::now());
    assert!(processor.profiles_to_fetch(&online, false).is_empty());
    processor.mark_server_unknown("other.server");
    assert_eq!(processor.profiles_to_fetch(&online, false), vec![user_id]);
}

#[test]
fn known_users_are_bounded() {
    let mut processor = Processor::new(
        OWN.to_owned(),
        ProcessorLimits { max_body_chars: 10, max_known_users: 2 },
        ByteRateLimiter::new(10, DEFAULT_WINDOW),
    );
    for byte in 2..10 {
        let node = key(byte);
        let user_id = user(&node, "pfs.server");
        processor.record_profile(&user_id, Ok(profile_of(&node, &user_id)));
    }
    processor.process(&sync(vec![], vec![]), false, Instant::now());
    assert_eq!(processor.users.len(), 2, "the bound holds once an answer is processed");
}

#[test]
fn a_user_whose_profile_failed_is_retried_and_reported_once_verified() {
    let node = key(2);
    let user_id = user(&node, "other.server");
    let mut processor = processor();
    processor.record_profile(&user_id, Err(profile_error(502)));
    processor.process(&sync(vec![presence(&user_id, "unavailable")], vec![]), false, Instant::now());
    assert_eq!(processor.profiles_to_retry(), vec![user_id.clone()]);
    processor.record_profile(&user_id, Err(profile_error(504)));
    assert!(processor.process_retried().is_empty(), "still failing: no event");
    processor.record_profile(&user_id, Ok(profile_of(&node, &user_id)));
    let changes = presence_changes(processor.process_retried());
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].presence, changes[0].address), (UserPresence::Unavailable, node.address()));
    assert!(processor.profiles_to_retry().is_empty());
}

#[test]
fn new_users_of_an_answer_do_not_evict_the_verified_sender_of_its_to_device_event() {
    let node = key(2);
    let sender = user(&node, "pfs.server");
    let mut processor = Processor::new(
        OWN.to_owned(),
        ProcessorLimits { max_body_chars: 50_000, max_known_users: 4 },
        ByteRateLimiter::new(1_000_000, DEFAULT_WINDOW),
    );
    let strangers: Vec<String> = (0..100u8)
        .map(|index| user(&PrivateKey::from_bytes([index.wrapping_add(100); 32]).unwrap(), "pfs.server"))
        .collect();
    let presence_events = strangers.iter().map(|stranger| presence(stranger, "online")).collect();
    let update = capacity_update_json(&node, node.address());
    let answer = sync(presence_events, vec![text_message(&sender, &update)]);
    for user_id in processor.profiles_to_fetch(&answer, false) {
        let profile =
            if user_id == sender { Ok(profile_of(&node, &sender)) } else { Err(profile_error(404)) };
        processor.record_profile(&user_id, profile);
    }
    let events = processor.process(&answer, false, Instant::now());
    let [MatrixEvent::ToDeviceUpdates(updates)] = &events[..] else {
        panic!("expected the update, got {events:?}");
    };
    assert!(updates.results[0].is_ok());
    assert!(processor.users.len() <= 4, "the bound holds again after the answer");
}

#[test]
fn users_of_overlong_ids_are_ignored_and_overlong_displaynames_and_avatar_urls_are_not_kept() {
    let node = key(2);
    let long_server = format!("{}.server", "s".repeat(300));
    let long_user = user(&node, &long_server);
    let mut processor = processor();
    processor.record_profile(&long_user, Ok(profile_of(&node, &long_user)));
    let answer = sync(
        vec![presence(&long_user, "online")],
        vec![text_message(&long_user, &capacity_update_json(&node, node.address()))],
    );
    assert!(processor.profiles_to_fetch(&answer, false).is_empty(), "an overlong id is not fetched");
    let events = processor.process(&answer, false, Instant::now());
    assert!(
        matches!(
            &events[..],
            [MatrixEvent::ToDeviceDropped(ToDeviceDropped {
                reason: DropReason::UnverifiedSender(MatrixIdentityError::InvalidUserId(_)),
                ..
            })]
        ),
        "{events:?}"
    );

    let user_id = user(&node, "pfs.server");
    let overlong = json!({"type": "m.presence", "sender": user_id, "content": {"presence": "online",
        "displayname": format!("{}{}", matrix_identity::displayname(&node, &user_id), "0".repeat(100_000)),
        "avatar_url": format!("{CAPABILITIES}{}", "x".repeat(100_000))}});
    assert!(processor.process(&sync(vec![overlong], vec![]), false, Instant::now()).is_empty());
    let record = &processor.users[&user_id];
    assert_eq!(record.displayname.as_deref(), Some(OVERLONG_DISPLAYNAME));
    assert_eq!(record.avatar_url, None);
}

#[test]
fn users_awaiting_a_profile_retry_and_probed_servers_are_bounded() {
    let mut processor = Processor::new(
        OWN.to_owned(),
        ProcessorLimits { max_body_chars: 50_000, max_known_users: 3 },
        ByteRateLimiter::new(1_000_000, DEFAULT_WINDOW),
    );
    let node = key(2);
    let mut events = Vec::new();
    for index in 0..10 {
        let failing = user(&key(index + 10), "down.server");
        processor.record_profile(&failing, Err(profile_error(502)));
        events.push(presence(&failing, "online"));
        let remote = user(&node, &format!("server{index}.example"));
        processor.record_profile(&remote, Ok(profile_of(&node, &remote)));
        events.push(presence(&remote, "online"));
    }
    processor.process(&sync(events, vec![]), false, Instant::now());
    assert!(processor.users.len() <= 3);
    assert!(processor.unverified.len() <= 3);
    assert!(processor.remote_servers.len() <= 3);
}
