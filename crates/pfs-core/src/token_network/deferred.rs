//! Updates that arrived before their channel was known, kept until the channel opens.
//!
//! A node sends its first updates right after opening a channel, while the PFS still waits for
//! the opening block to be confirmed. The reference keeps such updates forever; here they are
//! bounded per sender, superseded by newer updates of the same kind for the same channel, and
//! expire after [`DEFERRED_UPDATE_LIFETIME_MICROS`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::update::VerifiedUpdate;
use crate::address::Address;
use crate::ids::ChannelId;
use crate::messages::Message;
use crate::timestamp::NaiveTimestamp;

/// Most deferred updates kept per sender; the oldest is dropped beyond it.
pub const MAX_DEFERRED_PER_SENDER: usize = 64;

/// How long a deferred update is kept (24 h): long enough for a cold chain sync to reach the
/// channel's opening block.
pub const DEFERRED_UPDATE_LIFETIME_MICROS: i64 = 24 * 3600 * 1_000_000;

/// The channel a deferred update waits for.
pub type ChannelKey = (Address, ChannelId);

/// One waiting update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredUpdate {
    /// The update.
    pub update: VerifiedUpdate,
    /// When it arrived.
    pub received_at: NaiveTimestamp,
}

/// Why a saved deferred update cannot be put back (see [`DeferredUpdates::restore`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeferredRestoreError {
    /// Another update is already restored under this sequence number.
    #[error("deferred update sequence {0} is used twice")]
    DuplicateSequence(u64),
    /// The sender already has a waiting update of the same kind for the channel.
    #[error("{sender} has two waiting updates of the same kind for channel {channel_id}")]
    DuplicateUpdate {
        /// The updating participant.
        sender: Address,
        /// The channel.
        channel_id: ChannelId,
    },
    /// The sender already has [`MAX_DEFERRED_PER_SENDER`] waiting updates.
    #[error("{0} has more than {MAX_DEFERRED_PER_SENDER} waiting updates")]
    TooManyForSender(Address),
}

/// What became of an update offered to [`DeferredUpdates::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// Stored (possibly replacing an older update of the same kind for the channel).
    Stored,
    /// An update of the same kind, at least as new, is already waiting: nothing changed.
    Superseded,
}

/// The waiting updates, indexed by arrival order, by channel and by sender.
///
/// Invariant: the three indexes always describe the same set of entries.
#[derive(Debug, Clone, Default)]
pub struct DeferredUpdates {
    next_sequence: u64,
    entries: BTreeMap<u64, DeferredUpdate>,
    by_channel: HashMap<ChannelKey, BTreeSet<u64>>,
    by_sender: HashMap<Address, BTreeSet<u64>>,
}

impl DeferredUpdates {
    /// Keeps `update` until its channel opens.
    pub fn insert(&mut self, update: VerifiedUpdate, received_at: NaiveTimestamp) -> Deferral {
        let identifier = update.canonical_identifier();
        let key = (identifier.token_network_address, identifier.channel_identifier);
        let sender = update.updating_participant();
        let same_kind = self.by_channel.get(&key).into_iter().flatten().copied().find(|sequence| {
            let waiting = &self.entries[sequence].update;
            waiting.updating_participant() == sender && waiting.kind() == update.kind()
        });
        if let Some(sequence) = same_kind {
            if !is_newer(&update, &self.entries[&sequence].update) {
                return Deferral::Superseded;
            }
            self.remove(sequence);
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.entries.insert(sequence, DeferredUpdate { update, received_at });
        self.by_channel.entry(key).or_default().insert(sequence);
        let senders_entries = self.by_sender.entry(sender).or_default();
        senders_entries.insert(sequence);
        if senders_entries.len() > MAX_DEFERRED_PER_SENDER {
            // Invariant: the set has more than one element here.
            let oldest = *senders_entries.first().expect("non-empty");
            self.remove(oldest);
        }
        Deferral::Stored
    }

    /// Removes and returns, in arrival order, every update waiting for `channel`.
    pub fn take_channel(&mut self, channel: &ChannelKey) -> Vec<DeferredUpdate> {
        let sequences = self.by_channel.remove(channel).unwrap_or_default();
        sequences.into_iter().filter_map(|sequence| self.remove(sequence)).collect()
    }

    /// Drops every update that arrived more than [`DEFERRED_UPDATE_LIFETIME_MICROS`] before
    /// `now`; returns how many.
    pub fn expire(&mut self, now: NaiveTimestamp) -> usize {
        let limit = now.unix_micros() - DEFERRED_UPDATE_LIFETIME_MICROS;
        let expired: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.received_at.unix_micros() < limit)
            .map(|(sequence, _)| *sequence)
            .collect();
        expired.iter().filter(|sequence| self.remove(**sequence).is_some()).count()
    }

    /// Every waiting update, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &DeferredUpdate> {
        self.entries.values()
    }

    /// Every waiting update with its arrival sequence number (increasing with arrival), in
    /// arrival order. Persistence stores the numbers so that [`DeferredUpdates::restore`] can
    /// rebuild the same order.
    pub fn sequenced(&self) -> impl Iterator<Item = (u64, &DeferredUpdate)> {
        self.entries.iter().map(|(sequence, entry)| (*sequence, entry))
    }

    /// The updates waiting for `channel`, with their sequence numbers, in arrival order.
    pub fn waiting_for(&self, channel: &ChannelKey) -> impl Iterator<Item = (u64, &DeferredUpdate)> {
        self.by_channel
            .get(channel)
            .into_iter()
            .flatten()
            .map(|sequence| (*sequence, &self.entries[sequence]))
    }

    /// Puts back an update that was waiting under `sequence` (as reported by
    /// [`DeferredUpdates::sequenced`]) when the state was saved. Restored entries keep their
    /// order; updates inserted afterwards come after all of them.
    ///
    /// # Errors
    /// [`DeferredRestoreError`] if the entry breaks an invariant of the set: a sequence number
    /// used twice, a second update of the same kind from the same sender for the same channel,
    /// or more than [`MAX_DEFERRED_PER_SENDER`] updates of one sender. The set is then unchanged.
    pub fn restore(&mut self, sequence: u64, entry: DeferredUpdate) -> Result<(), DeferredRestoreError> {
        if self.entries.contains_key(&sequence) {
            return Err(DeferredRestoreError::DuplicateSequence(sequence));
        }
        let identifier = entry.update.canonical_identifier();
        let key = (identifier.token_network_address, identifier.channel_identifier);
        let sender = entry.update.updating_participant();
        let duplicate = self.by_channel.get(&key).into_iter().flatten().any(|waiting| {
            let waiting = &self.entries[waiting].update;
            waiting.updating_participant() == sender && waiting.kind() == entry.update.kind()
        });
        if duplicate {
            return Err(DeferredRestoreError::DuplicateUpdate { sender, channel_id: key.1 });
        }
        if self.by_sender.get(&sender).is_some_and(|set| set.len() >= MAX_DEFERRED_PER_SENDER) {
            return Err(DeferredRestoreError::TooManyForSender(sender));
        }
        self.next_sequence = self.next_sequence.max(sequence.saturating_add(1));
        self.entries.insert(sequence, entry);
        self.by_channel.entry(key).or_default().insert(sequence);
        self.by_sender.entry(sender).or_default().insert(sequence);
        Ok(())
    }

    /// How many updates wait.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn remove(&mut self, sequence: u64) -> Option<DeferredUpdate> {
        let entry = self.entries.remove(&sequence)?;
        let identifier = entry.update.canonical_identifier();
        let key = (identifier.token_network_address, identifier.channel_identifier);
        if let Some(set) = self.by_channel.get_mut(&key) {
            set.remove(&sequence);
            if set.is_empty() {
                self.by_channel.remove(&key);
            }
        }
        let sender = entry.update.updating_participant();
        if let Some(set) = self.by_sender.get_mut(&sender) {
            set.remove(&sequence);
            if set.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
        Some(entry)
    }
}

/// Whether `candidate` should replace `waiting` (same sender, channel and kind): a capacity
/// update with nonces not lower, or a fee update with a later timestamp.
fn is_newer(candidate: &VerifiedUpdate, waiting: &VerifiedUpdate) -> bool {
    match (candidate.message(), waiting.message()) {
        (Message::CapacityUpdate(candidate), Message::CapacityUpdate(waiting)) => {
            candidate.fields().updating_nonce >= waiting.fields().updating_nonce
                && candidate.fields().other_nonce >= waiting.fields().other_nonce
        }
        (Message::FeeUpdate(candidate), Message::FeeUpdate(waiting)) => {
            candidate.fields().timestamp > waiting.fields().timestamp
        }
        _ => true,
    }
}
