//! Behaviour of the registry state, one rule per test.

use alloy_primitives::U256;

use super::*;
use crate::fee_schedule::FeeSchedule;
use crate::ids::{BlockTimeout, Nonce};
use crate::messages::{CanonicalIdentifier, Message};
use crate::messages::{UnsignedCapacityUpdate, UnsignedFeeUpdate};
use crate::signature::PrivateKey;

const CHAIN: ChainId = ChainId(1337);

fn key(byte: u8) -> PrivateKey {
    // Invariant: small non-zero byte patterns are valid secp256k1 keys.
    PrivateKey::from_bytes([byte; 32]).expect("valid key")
}

fn token_network() -> Address {
    Address::from_bytes([0xaa; 20])
}

fn channel_id(id: u64) -> ChannelId {
    ChannelId(U256::from(id))
}

fn at(seconds: i64) -> NaiveTimestamp {
    // Invariant: these offsets stay well inside years 1–9999.
    NaiveTimestamp::from_unix_micros(1_700_000_000_000_000 + seconds * 1_000_000).expect("in range")
}

fn identifier(id: u64) -> CanonicalIdentifier {
    CanonicalIdentifier {
        chain_identifier: CHAIN,
        token_network_address: token_network(),
        channel_identifier: channel_id(id),
    }
}

fn capacity_update(from: u8, to: u8, id: u64, nonce: u64, updating: u64, other: u64) -> VerifiedUpdate {
    let message = UnsignedCapacityUpdate {
        canonical_identifier: identifier(id),
        updating_participant: key(from).address(),
        other_participant: key(to).address(),
        updating_nonce: Nonce(nonce),
        other_nonce: Nonce(nonce),
        updating_capacity: U256::from(updating),
        other_capacity: U256::from(other),
        reveal_timeout: BlockTimeout(U256::from(50)),
    }
    .sign(&key(from))
    .expect("distinct participants");
    VerifiedUpdate::verify(Message::CapacityUpdate(message)).expect("signed by the updater")
}

fn fee_update(from: u8, id: u64, flat: u64, timestamp: NaiveTimestamp) -> VerifiedUpdate {
    let message = UnsignedFeeUpdate {
        canonical_identifier: identifier(id),
        updating_participant: key(from).address(),
        fee_schedule: FeeSchedule { flat: U256::from(flat), ..FeeSchedule::default() },
        timestamp,
    }
    .sign(&key(from));
    VerifiedUpdate::verify(Message::FeeUpdate(message)).expect("signed by the updater")
}

/// A registry following one token network with channel 1 between keys 1 and 2, 1000 deposited
/// by each.
fn registry_with_channel() -> TokenNetworkRegistry {
    let mut registry = TokenNetworkRegistry::new(CHAIN);
    let events = [
        ChainEvent::TokenNetworkCreated {
            token_network: token_network(),
            token: Address::from_bytes([0xbb; 20]),
            settle_timeout: BlockTimeout(U256::from(500)),
        },
        ChainEvent::ChannelOpened {
            token_network: token_network(),
            channel_id: channel_id(1),
            participant1: key(1).address(),
            participant2: key(2).address(),
        },
        deposit(1, 1_000),
        deposit(2, 1_000),
    ];
    for event in &events {
        assert_eq!(registry.apply_chain_event(event, at(0)).ignored, None);
    }
    registry
}

fn deposit(participant: u8, total: u64) -> ChainEvent {
    ChainEvent::Deposit {
        token_network: token_network(),
        channel_id: channel_id(1),
        participant: key(participant).address(),
        total_deposit: U256::from(total),
    }
}

fn channel(registry: &TokenNetworkRegistry) -> &Channel {
    registry
        .token_network(&token_network())
        .and_then(|network| network.channel(&channel_id(1)))
        .expect("open")
}

fn capacity_from(registry: &TokenNetworkRegistry, participant: u8) -> U256 {
    let channel = channel(registry);
    channel.capacity(channel.side_index(&key(participant).address()).expect("participant"))
}

#[test]
fn capacities_apply_once_both_participants_reported() {
    let mut registry = registry_with_channel();
    assert_eq!(
        registry.apply_update(capacity_update(1, 2, 1, 1, 90, 110), at(1)),
        Ok(UpdateOutcome::Applied)
    );
    assert_eq!(capacity_from(&registry, 1), U256::ZERO);
    registry.apply_update(capacity_update(2, 1, 1, 1, 110, 90), at(2)).unwrap();
    assert_eq!(capacity_from(&registry, 1), U256::from(90));
    assert_eq!(capacity_from(&registry, 2), U256::from(110));
}

#[test]
fn capacity_update_with_lower_nonce_is_stale() {
    let mut registry = registry_with_channel();
    registry.apply_update(capacity_update(1, 2, 1, 5, 90, 110), at(1)).unwrap();
    let rejection = registry.apply_update(capacity_update(1, 2, 1, 4, 1, 1), at(2));
    assert!(matches!(rejection, Err(UpdateRejection::StaleNonce { field: "updating_nonce", .. })));
    assert_eq!(
        channel(&registry).sides[channel(&registry).side_index(&key(1).address()).unwrap()]
            .capacity_report
            .unwrap()
            .updating_capacity,
        U256::from(90)
    );
}

#[test]
fn capacity_update_with_equal_nonce_replaces_the_report() {
    let mut registry = registry_with_channel();
    registry.apply_update(capacity_update(1, 2, 1, 5, 90, 110), at(1)).unwrap();
    registry.apply_update(capacity_update(2, 1, 1, 5, 500, 500), at(1)).unwrap();
    registry.apply_update(capacity_update(1, 2, 1, 5, 80, 110), at(2)).unwrap();
    assert_eq!(capacity_from(&registry, 1), U256::from(80));
}

#[test]
fn update_from_a_non_participant_is_rejected() {
    let mut registry = registry_with_channel();
    let rejection = registry.apply_update(capacity_update(3, 2, 1, 1, 1, 1), at(1));
    assert_eq!(
        rejection,
        Err(UpdateRejection::NotParticipant { channel_id: channel_id(1), participant: key(3).address() })
    );
    let rejection = registry.apply_update(capacity_update(1, 3, 1, 1, 1, 1), at(1));
    assert_eq!(
        rejection,
        Err(UpdateRejection::OtherNotParticipant {
            channel_id: channel_id(1),
            participant: key(3).address()
        })
    );
}

#[test]
fn update_for_another_chain_or_unknown_token_network_is_rejected() {
    let mut registry = TokenNetworkRegistry::new(ChainId(1));
    assert!(matches!(
        registry.apply_update(capacity_update(1, 2, 1, 1, 1, 1), at(0)),
        Err(UpdateRejection::WrongChain { .. })
    ));
    let mut registry = TokenNetworkRegistry::new(CHAIN);
    assert_eq!(
        registry.apply_update(capacity_update(1, 2, 1, 1, 1, 1), at(0)),
        Err(UpdateRejection::UnknownTokenNetwork(token_network()))
    );
}

#[test]
fn tampered_update_fails_verification() {
    let update = capacity_update(1, 2, 1, 1, 90, 110);
    let Message::CapacityUpdate(message) = update.message() else { unreachable!() };
    let mut fields = *message.fields();
    fields.updating_capacity = U256::from(91);
    let forged = fields.sign(&key(3)).unwrap();
    assert!(matches!(
        VerifiedUpdate::verify(Message::CapacityUpdate(forged)),
        Err(UpdateRejection::InvalidSignature { recovered: Some(_), .. })
    ));
}

#[test]
fn updates_for_an_unknown_channel_wait_for_its_opening() {
    let mut registry = registry_with_channel();
    assert_eq!(
        registry.apply_update(capacity_update(1, 3, 2, 1, 70, 30), at(1)),
        Ok(UpdateOutcome::Deferred)
    );
    assert_eq!(
        registry.apply_update(capacity_update(3, 1, 2, 1, 30, 70), at(1)),
        Ok(UpdateOutcome::Deferred)
    );
    assert_eq!(registry.deferred().len(), 2);
    let effect = registry.apply_chain_event(
        &ChainEvent::ChannelOpened {
            token_network: token_network(),
            channel_id: channel_id(2),
            participant1: key(3).address(),
            participant2: key(1).address(),
        },
        at(2),
    );
    assert_eq!(effect.replayed.len(), 2);
    assert!(effect.replayed.iter().all(|(_, outcome)| *outcome == Ok(UpdateOutcome::Applied)));
    assert!(registry.deferred().is_empty());
    let network = registry.token_network(&token_network()).unwrap();
    let opened = network.channel(&channel_id(2)).unwrap();
    // Nothing is deposited on chain yet, so the reported capacities cannot be used.
    assert_eq!(opened.capacity(0), U256::ZERO);
    assert!(opened.sides.iter().all(|side| side.capacity_report.is_some()));
}

#[test]
fn newer_deferred_update_supersedes_the_waiting_one() {
    let mut registry = registry_with_channel();
    registry.apply_update(capacity_update(1, 3, 2, 2, 70, 30), at(1)).unwrap();
    registry.apply_update(capacity_update(1, 3, 2, 1, 10, 10), at(1)).unwrap();
    registry.apply_update(capacity_update(1, 3, 2, 3, 60, 40), at(1)).unwrap();
    assert_eq!(registry.deferred().len(), 1);
    let waiting = registry.deferred().iter().next().unwrap();
    let Message::CapacityUpdate(message) = waiting.update.message() else { unreachable!() };
    assert_eq!(message.fields().updating_nonce, Nonce(3));
}

#[test]
fn deferred_updates_are_bounded_per_sender_and_expire() {
    let mut registry = registry_with_channel();
    for id in 0..(MAX_DEFERRED_PER_SENDER as u64 + 10) {
        registry.apply_update(capacity_update(1, 3, 100 + id, 1, 1, 1), at(1)).unwrap();
    }
    assert_eq!(registry.deferred().len(), MAX_DEFERRED_PER_SENDER);
    let day = DEFERRED_UPDATE_LIFETIME_MICROS / 1_000_000;
    assert_eq!(registry.expire_deferred(at(day)), 0);
    assert_eq!(registry.expire_deferred(at(day + 2)), MAX_DEFERRED_PER_SENDER);
}

#[test]
fn fee_update_sets_the_senders_schedule() {
    let mut registry = registry_with_channel();
    registry.apply_update(fee_update(1, 1, 7, at(0)), at(0)).unwrap();
    let channel = channel(&registry);
    let side = channel.side_index(&key(1).address()).unwrap();
    assert_eq!(channel.sides[side].fee_schedule.flat, U256::from(7));
    assert_eq!(channel.sides[1 - side].fee_schedule, FeeSchedule::default());
}

#[test]
fn fee_update_must_be_strictly_newer() {
    let mut registry = registry_with_channel();
    registry.apply_update(fee_update(1, 1, 7, at(10)), at(10)).unwrap();
    assert!(matches!(
        registry.apply_update(fee_update(1, 1, 8, at(10)), at(11)),
        Err(UpdateRejection::StaleTimestamp { .. })
    ));
    assert!(matches!(
        registry.apply_update(fee_update(1, 1, 8, at(9)), at(11)),
        Err(UpdateRejection::StaleTimestamp { .. })
    ));
    assert_eq!(registry.apply_update(fee_update(1, 1, 8, at(11)), at(11)), Ok(UpdateOutcome::Applied));
}

#[test]
fn fee_update_more_than_an_hour_ahead_is_rejected() {
    let mut registry = registry_with_channel();
    assert_eq!(registry.apply_update(fee_update(1, 1, 7, at(3600)), at(0)), Ok(UpdateOutcome::Applied));
    assert!(matches!(
        registry.apply_update(fee_update(1, 1, 7, at(3602)), at(0)),
        Err(UpdateRejection::TimestampInFuture { .. })
    ));
}

#[test]
fn withdrawals_limit_capacity() {
    let mut registry = registry_with_channel();
    registry.apply_update(capacity_update(1, 2, 1, 1, 1_500, 500), at(1)).unwrap();
    registry.apply_update(capacity_update(2, 1, 1, 1, 500, 1_500), at(1)).unwrap();
    assert_eq!(capacity_from(&registry, 1), U256::from(1_500));
    registry.apply_chain_event(
        &ChainEvent::Withdraw {
            token_network: token_network(),
            channel_id: channel_id(1),
            participant: key(1).address(),
            total_withdraw: U256::from(800),
        },
        at(2),
    );
    assert_eq!(capacity_from(&registry, 1), U256::from(1_200));
}

#[test]
fn closing_removes_the_channel_at_once() {
    let mut registry = registry_with_channel();
    let close = ChainEvent::ChannelClosed { token_network: token_network(), channel_id: channel_id(1) };
    assert!(matches!(registry.apply_chain_event(&close, at(1)).undo, Undo::RestoreChannel { .. }));
    assert!(registry.token_network(&token_network()).unwrap().channel(&channel_id(1)).is_none());
    let settle = ChainEvent::ChannelSettled { token_network: token_network(), channel_id: channel_id(1) };
    assert_eq!(
        registry.apply_chain_event(&settle, at(2)).ignored,
        Some(IgnoredEvent::UnknownChannel(channel_id(1)))
    );
}

#[test]
fn repeated_channel_opened_keeps_the_reports() {
    let mut registry = registry_with_channel();
    registry.apply_update(capacity_update(1, 2, 1, 1, 90, 110), at(1)).unwrap();
    let reopen = ChainEvent::ChannelOpened {
        token_network: token_network(),
        channel_id: channel_id(1),
        participant1: key(2).address(),
        participant2: key(1).address(),
    };
    assert_eq!(
        registry.apply_chain_event(&reopen, at(2)).ignored,
        Some(IgnoredEvent::ChannelKnown(channel_id(1)))
    );
    assert!(channel(&registry).sides.iter().any(|side| side.capacity_report.is_some()));
}

#[test]
fn events_for_unknown_token_networks_are_ignored() {
    let mut registry = TokenNetworkRegistry::new(CHAIN);
    let effect = registry.apply_chain_event(&deposit(1, 5), at(0));
    assert_eq!(effect.ignored, Some(IgnoredEvent::UnknownTokenNetwork(token_network())));
    assert_eq!(effect.undo, Undo::Nothing);
}

#[test]
fn undoing_events_in_reverse_restores_the_previous_state() {
    let mut registry = registry_with_channel();
    registry.apply_update(capacity_update(1, 2, 1, 1, 90, 110), at(1)).unwrap();
    registry.apply_update(capacity_update(2, 1, 1, 1, 110, 90), at(1)).unwrap();
    let before = registry.token_network(&token_network()).unwrap().clone();
    let events = [
        deposit(1, 2_000),
        ChainEvent::ChannelOpened {
            token_network: token_network(),
            channel_id: channel_id(2),
            participant1: key(1).address(),
            participant2: key(3).address(),
        },
        ChainEvent::ChannelClosed { token_network: token_network(), channel_id: channel_id(1) },
    ];
    let undos: Vec<Undo> = events.iter().map(|event| registry.apply_chain_event(event, at(2)).undo).collect();
    for undo in undos.into_iter().rev() {
        registry.undo(undo);
    }
    assert_eq!(registry.token_network(&token_network()).unwrap(), &before);
}

#[test]
fn restoring_saved_token_networks_and_channels_rebuilds_the_same_state() {
    let mut original = registry_with_channel();
    original.apply_update(capacity_update(1, 2, 1, 1, 90, 110), at(1)).unwrap();
    original.apply_update(fee_update(2, 1, 7, at(1)), at(1)).unwrap();
    let saved = original.token_network(&token_network()).unwrap();
    let mut restored_network = TokenNetwork::new(saved.address, saved.token, saved.settle_timeout);
    for channel in saved.channels() {
        restored_network.restore_channel(channel.clone()).unwrap();
    }
    let mut restored = TokenNetworkRegistry::new(CHAIN);
    restored.restore_token_network(restored_network).unwrap();
    assert_eq!(restored.token_network(&token_network()), Some(saved));
    assert_eq!(
        restored
            .token_network(&token_network())
            .unwrap()
            .channel_between(&key(2).address(), &key(1).address()),
        saved.channel(&channel_id(1))
    );
}

#[test]
fn restoring_a_channel_that_breaks_an_invariant_is_refused() {
    let registry = registry_with_channel();
    let mut network = registry.token_network(&token_network()).unwrap().clone();
    let open = network.channel(&channel_id(1)).unwrap().clone();
    assert_eq!(network.restore_channel(open.clone()), Err(RestoreError::DuplicateChannel(channel_id(1))));
    let same_pair = Channel { id: channel_id(9), ..open.clone() };
    assert_eq!(
        network.restore_channel(same_pair),
        Err(RestoreError::DuplicatePair { channel_id: channel_id(9), existing: channel_id(1) })
    );
    let mut unordered = Channel { id: channel_id(10), ..open };
    unordered.sides.swap(0, 1);
    assert_eq!(network.restore_channel(unordered), Err(RestoreError::ParticipantsNotOrdered(channel_id(10))));
    let mut twice = TokenNetworkRegistry::new(CHAIN);
    twice.restore_token_network(network.clone()).unwrap();
    assert_eq!(
        twice.restore_token_network(network),
        Err(RestoreError::DuplicateTokenNetwork(token_network()))
    );
}

#[test]
fn restored_deferred_updates_keep_their_order_and_later_ones_follow() {
    let mut original = registry_with_channel();
    original.apply_update(capacity_update(1, 3, 2, 1, 70, 30), at(1)).unwrap();
    original.apply_update(fee_update(1, 2, 5, at(1)), at(2)).unwrap();
    original.apply_update(capacity_update(3, 1, 2, 1, 30, 70), at(3)).unwrap();
    let mut restored = registry_with_channel();
    // Restore in reverse to show the sequence numbers, not the call order, decide the order.
    let saved: Vec<(u64, DeferredUpdate)> =
        original.deferred().sequenced().map(|(sequence, entry)| (sequence, entry.clone())).collect();
    for (sequence, entry) in saved.iter().rev().cloned() {
        restored.restore_deferred(sequence, entry).unwrap();
    }
    let order = |registry: &TokenNetworkRegistry| -> Vec<DeferredUpdate> {
        registry.deferred().iter().cloned().collect()
    };
    assert_eq!(order(&restored), order(&original));
    let waiting: Vec<u64> = restored
        .deferred()
        .waiting_for(&(token_network(), channel_id(2)))
        .map(|(sequence, _)| sequence)
        .collect();
    assert_eq!(waiting, saved.iter().map(|(sequence, _)| *sequence).collect::<Vec<_>>());
    restored.apply_update(capacity_update(1, 4, 3, 1, 1, 1), at(4)).unwrap();
    let (last_sequence, last) = restored.deferred().sequenced().last().unwrap();
    assert!(last_sequence > saved.last().unwrap().0);
    assert_eq!(last.update, capacity_update(1, 4, 3, 1, 1, 1));
}

#[test]
fn restoring_a_deferred_update_that_breaks_an_invariant_is_refused() {
    let mut registry = registry_with_channel();
    let entry = DeferredUpdate { update: capacity_update(1, 3, 2, 1, 70, 30), received_at: at(1) };
    registry.restore_deferred(4, entry.clone()).unwrap();
    let other = DeferredUpdate { update: capacity_update(3, 1, 2, 1, 30, 70), received_at: at(1) };
    assert_eq!(
        registry.restore_deferred(4, other),
        Err(RestoreError::Deferred(DeferredRestoreError::DuplicateSequence(4)))
    );
    assert_eq!(
        registry.restore_deferred(5, entry),
        Err(RestoreError::Deferred(DeferredRestoreError::DuplicateUpdate {
            sender: key(1).address(),
            channel_id: channel_id(2),
        }))
    );
    for id in 0..(MAX_DEFERRED_PER_SENDER as u64 - 1) {
        let entry = DeferredUpdate { update: capacity_update(1, 3, 100 + id, 1, 1, 1), received_at: at(1) };
        registry.restore_deferred(10 + id, entry).unwrap();
    }
    let one_too_many = DeferredUpdate { update: capacity_update(1, 3, 999, 1, 1, 1), received_at: at(1) };
    assert_eq!(
        registry.restore_deferred(1_000, one_too_many),
        Err(RestoreError::Deferred(DeferredRestoreError::TooManyForSender(key(1).address())))
    );
    assert_eq!(registry.deferred().len(), MAX_DEFERRED_PER_SENDER);
}

#[test]
fn undoing_an_opening_that_replaced_a_channel_restores_the_old_channel_alone() {
    let mut registry = registry_with_channel();
    let before = registry.token_network(&token_network()).unwrap().clone();
    let reopened = ChainEvent::ChannelOpened {
        token_network: token_network(),
        channel_id: channel_id(7),
        participant1: key(2).address(),
        participant2: key(1).address(),
    };
    let effect = registry.apply_chain_event(&reopened, at(2));
    let network = registry.token_network(&token_network()).unwrap();
    assert_eq!(network.channels().map(|channel| channel.id).collect::<Vec<_>>(), vec![channel_id(7)]);
    registry.undo(effect.undo);
    assert_eq!(registry.token_network(&token_network()).unwrap(), &before);
}
