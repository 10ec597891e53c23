//! The state the PFS derives from the chain and from nodes' updates: every followed token
//! network, its open channels, and what each participant reported.
//!
//! # Events in, state out
//!
//! The state changes only through two calls, both pure and deterministic:
//! [`TokenNetworkRegistry::apply_chain_event`] for confirmed contract events and
//! [`TokenNetworkRegistry::apply_update`] for signature-checked capacity and fee updates. The
//! service's single writer task calls them in order and persists what changed; replaying the same
//! calls on an empty registry rebuilds the same state.
//!
//! # Reorganisations
//!
//! Applying a chain event returns an [`Undo`] that reverts exactly that event. The chain follower
//! keeps the undos of its recent blocks and, when a block it processed disappears from the chain,
//! applies them in reverse order before processing the new branch. Updates applied to a channel
//! whose opening is undone are dropped with it; the node's next update restores them.
//!
//! # Beyond the reference
//!
//! Deposits and withdrawals are followed, and a direction's capacity is never more than the channel
//! holds on chain ([`Channel::capacity`]); capacity updates with a lower nonce than the stored one
//! are refused; a repeated `ChannelOpened` for a known channel changes nothing (the reference resets
//! the channel's capacities and fees).

mod channel;
mod deferred;
mod update;

use std::collections::{BTreeMap, HashMap};

pub use channel::{CapacityReport, Channel, ChannelSide, DEFAULT_REVEAL_TIMEOUT};
pub use deferred::{
    ChannelKey, DEFERRED_UPDATE_LIFETIME_MICROS, Deferral, DeferredRestoreError, DeferredUpdate,
    DeferredUpdates, MAX_DEFERRED_PER_SENDER,
};
pub use update::{UpdateKind, UpdateOutcome, UpdateRejection, VerifiedUpdate};

use crate::address::Address;
use crate::ids::{BlockTimeout, ChainId, ChannelId, TokenAmount};
use crate::messages::{CapacityUpdate, FeeUpdate, Message};
use crate::timestamp::NaiveTimestamp;

/// How far in the future a fee update's timestamp may lie (1 h, as in the reference).
pub const MAX_FEE_UPDATE_CLOCK_SKEW_MICROS: i64 = 3600 * 1_000_000;

/// One TokenNetwork contract: a token and the open channels in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenNetwork {
    /// The TokenNetwork contract's address.
    pub address: Address,
    /// The token it transfers.
    pub token: Address,
    /// Its settlement timeout in blocks (from `TokenNetworkCreated`; stored, not used in routing).
    pub settle_timeout: BlockTimeout,
    channels: BTreeMap<ChannelId, Channel>,
    /// Invariant: maps the sorted participant pair of every channel in `channels` to its id.
    by_participants: HashMap<[Address; 2], ChannelId>,
}

impl TokenNetwork {
    /// An empty token network.
    pub fn new(address: Address, token: Address, settle_timeout: BlockTimeout) -> Self {
        Self { address, token, settle_timeout, channels: BTreeMap::new(), by_participants: HashMap::new() }
    }

    /// The open channel with this id.
    pub fn channel(&self, id: &ChannelId) -> Option<&Channel> {
        self.channels.get(id)
    }

    /// The open channel between two addresses (in either order).
    pub fn channel_between(&self, a: &Address, b: &Address) -> Option<&Channel> {
        let pair = if a < b { [*a, *b] } else { [*b, *a] };
        self.by_participants.get(&pair).and_then(|id| self.channels.get(id))
    }

    /// Every open channel, by id.
    pub fn channels(&self) -> impl ExactSizeIterator<Item = &Channel> {
        self.channels.values()
    }

    /// Puts back a channel saved earlier (persistence rebuilding the state at start-up).
    ///
    /// # Errors
    /// [`RestoreError`] if the channel breaks an invariant: its participants are equal or not in
    /// address order, its id is already open, or another open channel joins the same pair. The
    /// token network is then unchanged.
    pub fn restore_channel(&mut self, channel: Channel) -> Result<(), RestoreError> {
        let [first, second] = channel.participants();
        if first >= second {
            return Err(RestoreError::ParticipantsNotOrdered(channel.id));
        }
        if self.channels.contains_key(&channel.id) {
            return Err(RestoreError::DuplicateChannel(channel.id));
        }
        if let Some(existing) = self.by_participants.get(&channel.participants()) {
            return Err(RestoreError::DuplicatePair { channel_id: channel.id, existing: *existing });
        }
        self.insert_channel(channel);
        Ok(())
    }

    fn insert_channel(&mut self, channel: Channel) {
        self.by_participants.insert(channel.participants(), channel.id);
        self.channels.insert(channel.id, channel);
    }

    fn remove_channel(&mut self, id: &ChannelId) -> Option<Channel> {
        let channel = self.channels.remove(id)?;
        self.by_participants.remove(&channel.participants());
        Some(channel)
    }
}

/// A confirmed, decoded contract event, as the chain follower delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// `TokenNetworkRegistry.TokenNetworkCreated`: a token network to follow.
    TokenNetworkCreated {
        /// The new TokenNetwork contract.
        token_network: Address,
        /// Its token.
        token: Address,
        /// Its settlement timeout.
        settle_timeout: BlockTimeout,
    },
    /// `TokenNetwork.ChannelOpened`.
    ChannelOpened {
        /// The emitting token network.
        token_network: Address,
        /// The new channel.
        channel_id: ChannelId,
        /// One participant.
        participant1: Address,
        /// The other participant.
        participant2: Address,
    },
    /// `TokenNetwork.ChannelNewDeposit`.
    Deposit {
        /// The emitting token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
        /// The depositing participant.
        participant: Address,
        /// Its new total deposit.
        total_deposit: TokenAmount,
    },
    /// `TokenNetwork.ChannelWithdraw`.
    Withdraw {
        /// The emitting token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
        /// The withdrawing participant.
        participant: Address,
        /// Its new total withdrawal.
        total_withdraw: TokenAmount,
    },
    /// `TokenNetwork.ChannelClosed`: the channel stops routing at once.
    ChannelClosed {
        /// The emitting token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
    },
    /// `TokenNetwork.ChannelSettled` (normally after a close; also ends a cooperatively settled
    /// channel that was never closed).
    ChannelSettled {
        /// The emitting token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
    },
}

/// Why saved state cannot be put back into a [`TokenNetworkRegistry`]: the saved data breaks an
/// invariant the in-memory state relies on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The token network is already followed.
    #[error("token network {0} is restored twice")]
    DuplicateTokenNetwork(Address),
    /// The channel's participants are equal or not in address order.
    #[error("channel {0} has participants that are equal or not in address order")]
    ParticipantsNotOrdered(ChannelId),
    /// A channel with this id is already open.
    #[error("channel {0} is restored twice")]
    DuplicateChannel(ChannelId),
    /// Another open channel joins the same participants.
    #[error("channel {channel_id} joins the same participants as open channel {existing}")]
    DuplicatePair {
        /// The channel being restored.
        channel_id: ChannelId,
        /// The open channel with the same participants.
        existing: ChannelId,
    },
    /// A deferred update breaks an invariant of the waiting set.
    #[error(transparent)]
    Deferred(#[from] DeferredRestoreError),
}

/// Why a chain event changed nothing. The reference logs these (`events_log_errors_total`);
/// none is an error of the PFS itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoredEvent {
    /// The event's token network is not followed.
    UnknownTokenNetwork(Address),
    /// The token network is already followed.
    TokenNetworkKnown(Address),
    /// The channel is not open (unknown, or already closed).
    UnknownChannel(ChannelId),
    /// The channel is already open with the same participants.
    ChannelKnown(ChannelId),
    /// The event's participants do not fit the channel (or are equal).
    ParticipantMismatch(ChannelId),
}

/// Reverts one applied chain event (see the module docs on reorganisations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// The event changed nothing.
    Nothing,
    /// Stop following a token network created by the event.
    RemoveTokenNetwork(Address),
    /// Remove a channel opened by the event.
    RemoveChannel {
        /// Its token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
    },
    /// Put back a channel the event closed or settled, with everything reported for it.
    RestoreChannel {
        /// Its token network.
        token_network: Address,
        /// The channel as it was.
        channel: Box<Channel>,
    },
    /// Remove a channel opened by the event and put back the channel between the same
    /// participants that the opening replaced.
    ReplaceChannel {
        /// Its token network.
        token_network: Address,
        /// The channel the event opened.
        opened: ChannelId,
        /// The channel as it was before the event replaced it.
        replaced: Box<Channel>,
    },
    /// Set a side's on-chain totals back to what they were.
    RestoreTotals {
        /// Its token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
        /// 0 or 1, as in [`Channel::sides`].
        side: usize,
        /// The total deposit before the event.
        total_deposit: TokenAmount,
        /// The total withdrawal before the event.
        total_withdraw: TokenAmount,
    },
}

/// What applying a chain event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEventEffect {
    /// How to revert it.
    pub undo: Undo,
    /// Why nothing changed, if so.
    pub ignored: Option<IgnoredEvent>,
    /// Updates that waited for a channel this event opened, with what became of each, in
    /// arrival order.
    pub replayed: Vec<(VerifiedUpdate, Result<UpdateOutcome, UpdateRejection>)>,
}

impl ChainEventEffect {
    fn changed(undo: Undo) -> Self {
        Self { undo, ignored: None, replayed: Vec::new() }
    }

    fn ignored(reason: IgnoredEvent) -> Self {
        Self { undo: Undo::Nothing, ignored: Some(reason), replayed: Vec::new() }
    }
}

/// Everything the PFS follows on one chain: the token networks of a TokenNetworkRegistry, and the
/// updates waiting for channels not yet open.
#[derive(Debug, Clone)]
pub struct TokenNetworkRegistry {
    chain_id: ChainId,
    token_networks: BTreeMap<Address, TokenNetwork>,
    deferred: DeferredUpdates,
}

impl TokenNetworkRegistry {
    /// An empty registry on `chain_id`.
    pub fn new(chain_id: ChainId) -> Self {
        Self { chain_id, token_networks: BTreeMap::new(), deferred: DeferredUpdates::default() }
    }

    /// The chain followed.
    pub fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    /// A followed token network.
    pub fn token_network(&self, address: &Address) -> Option<&TokenNetwork> {
        self.token_networks.get(address)
    }

    /// Every followed token network, by address.
    pub fn token_networks(&self) -> impl ExactSizeIterator<Item = &TokenNetwork> {
        self.token_networks.values()
    }

    /// The updates waiting for their channels.
    pub fn deferred(&self) -> &DeferredUpdates {
        &self.deferred
    }

    /// Adds a token network saved earlier, with its channels (persistence rebuilding the state at
    /// start-up; see [`TokenNetwork::restore_channel`]).
    ///
    /// # Errors
    /// [`RestoreError::DuplicateTokenNetwork`] if it is already followed; the registry is then
    /// unchanged.
    pub fn restore_token_network(&mut self, network: TokenNetwork) -> Result<(), RestoreError> {
        if self.token_networks.contains_key(&network.address) {
            return Err(RestoreError::DuplicateTokenNetwork(network.address));
        }
        self.token_networks.insert(network.address, network);
        Ok(())
    }

    /// Puts back an update that was waiting for its channel when the state was saved (see
    /// [`DeferredUpdates::restore`]).
    ///
    /// # Errors
    /// [`RestoreError::Deferred`] if the entry breaks an invariant of the waiting set; the
    /// registry is then unchanged.
    pub fn restore_deferred(&mut self, sequence: u64, entry: DeferredUpdate) -> Result<(), RestoreError> {
        Ok(self.deferred.restore(sequence, entry)?)
    }

    /// Applies one confirmed chain event. `now` dates the replay of deferred updates.
    pub fn apply_chain_event(&mut self, event: &ChainEvent, now: NaiveTimestamp) -> ChainEventEffect {
        match *event {
            ChainEvent::TokenNetworkCreated { token_network, token, settle_timeout } => {
                if self.token_networks.contains_key(&token_network) {
                    return ChainEventEffect::ignored(IgnoredEvent::TokenNetworkKnown(token_network));
                }
                self.token_networks
                    .insert(token_network, TokenNetwork::new(token_network, token, settle_timeout));
                ChainEventEffect::changed(Undo::RemoveTokenNetwork(token_network))
            }
            ChainEvent::ChannelOpened { token_network, channel_id, participant1, participant2 } => {
                self.open_channel(token_network, channel_id, participant1, participant2, now)
            }
            ChainEvent::Deposit { token_network, channel_id, participant, total_deposit } => {
                self.set_totals(token_network, channel_id, participant, |side| {
                    side.total_deposit = total_deposit
                })
            }
            ChainEvent::Withdraw { token_network, channel_id, participant, total_withdraw } => self
                .set_totals(token_network, channel_id, participant, |side| {
                    side.total_withdraw = total_withdraw
                }),
            ChainEvent::ChannelClosed { token_network, channel_id }
            | ChainEvent::ChannelSettled { token_network, channel_id } => {
                let Some(network) = self.token_networks.get_mut(&token_network) else {
                    return ChainEventEffect::ignored(IgnoredEvent::UnknownTokenNetwork(token_network));
                };
                match network.remove_channel(&channel_id) {
                    Some(channel) => ChainEventEffect::changed(Undo::RestoreChannel {
                        token_network,
                        channel: Box::new(channel),
                    }),
                    None => ChainEventEffect::ignored(IgnoredEvent::UnknownChannel(channel_id)),
                }
            }
        }
    }

    /// Reverts a chain event applied earlier, given the [`Undo`] it returned. Undos must be applied
    /// in the reverse order of their events.
    pub fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Nothing => {}
            Undo::RemoveTokenNetwork(address) => {
                self.token_networks.remove(&address);
            }
            Undo::RemoveChannel { token_network, channel_id } => {
                if let Some(network) = self.token_networks.get_mut(&token_network) {
                    network.remove_channel(&channel_id);
                }
            }
            Undo::RestoreChannel { token_network, channel } => {
                if let Some(network) = self.token_networks.get_mut(&token_network) {
                    network.insert_channel(*channel);
                }
            }
            Undo::ReplaceChannel { token_network, opened, replaced } => {
                if let Some(network) = self.token_networks.get_mut(&token_network) {
                    network.remove_channel(&opened);
                    network.insert_channel(*replaced);
                }
            }
            Undo::RestoreTotals { token_network, channel_id, side, total_deposit, total_withdraw } => {
                let channel = self
                    .token_networks
                    .get_mut(&token_network)
                    .and_then(|network| network.channels.get_mut(&channel_id));
                if let Some(channel) = channel {
                    channel.sides[side].total_deposit = total_deposit;
                    channel.sides[side].total_withdraw = total_withdraw;
                }
            }
        }
    }

    /// Validates a signature-checked update against the state and applies it, or keeps it until
    /// its channel opens. `now` is the current UTC time, for the fee-timestamp rules and the
    /// expiry of deferred updates.
    ///
    /// The checks, in the reference's order: chain id, followed token network, known channel
    /// (else deferred), participants; then beyond the reference, nonces that must not go backwards
    /// (capacity updates); and the reference's fee-timestamp rules (at most one hour ahead of
    /// `now`, strictly later than the stored schedule's).
    ///
    /// # Errors
    /// The [`UpdateRejection`] of the first failed check; the state is then unchanged.
    pub fn apply_update(
        &mut self,
        update: VerifiedUpdate,
        now: NaiveTimestamp,
    ) -> Result<UpdateOutcome, UpdateRejection> {
        let identifier = *update.canonical_identifier();
        if identifier.chain_identifier != self.chain_id {
            return Err(UpdateRejection::WrongChain {
                expected: self.chain_id,
                received: identifier.chain_identifier,
            });
        }
        let token_network = identifier.token_network_address;
        let network = self
            .token_networks
            .get_mut(&token_network)
            .ok_or(UpdateRejection::UnknownTokenNetwork(token_network))?;
        let Some(channel) = network.channels.get_mut(&identifier.channel_identifier) else {
            self.deferred.insert(update, now);
            return Ok(UpdateOutcome::Deferred);
        };
        match update.message() {
            Message::CapacityUpdate(message) => apply_capacity_update(channel, message),
            Message::FeeUpdate(message) => apply_fee_update(channel, message, now),
        }
    }

    /// Drops deferred updates older than [`DEFERRED_UPDATE_LIFETIME_MICROS`]; returns how many.
    pub fn expire_deferred(&mut self, now: NaiveTimestamp) -> usize {
        self.deferred.expire(now)
    }

    fn open_channel(
        &mut self,
        token_network: Address,
        channel_id: ChannelId,
        participant1: Address,
        participant2: Address,
        now: NaiveTimestamp,
    ) -> ChainEventEffect {
        let Some(network) = self.token_networks.get_mut(&token_network) else {
            return ChainEventEffect::ignored(IgnoredEvent::UnknownTokenNetwork(token_network));
        };
        if participant1 == participant2 {
            return ChainEventEffect::ignored(IgnoredEvent::ParticipantMismatch(channel_id));
        }
        let channel = Channel::new(channel_id, participant1, participant2);
        if let Some(existing) = network.channels.get(&channel_id) {
            let reason = if existing.participants() == channel.participants() {
                IgnoredEvent::ChannelKnown(channel_id)
            } else {
                IgnoredEvent::ParticipantMismatch(channel_id)
            };
            return ChainEventEffect::ignored(reason);
        }
        // The contract allows one open channel per pair; an old entry for the pair can only
        // survive a missed close, and the newer channel replaces it.
        let undo = match network.by_participants.get(&channel.participants()).copied() {
            Some(old_id) => match network.remove_channel(&old_id) {
                Some(old) => {
                    Undo::ReplaceChannel { token_network, opened: channel_id, replaced: Box::new(old) }
                }
                None => Undo::RemoveChannel { token_network, channel_id },
            },
            None => Undo::RemoveChannel { token_network, channel_id },
        };
        network.insert_channel(channel);
        let mut effect = ChainEventEffect::changed(undo);
        for waiting in self.deferred.take_channel(&(token_network, channel_id)) {
            let outcome = self.apply_update(waiting.update.clone(), now);
            effect.replayed.push((waiting.update, outcome));
        }
        effect
    }

    fn set_totals(
        &mut self,
        token_network: Address,
        channel_id: ChannelId,
        participant: Address,
        change: impl FnOnce(&mut ChannelSide),
    ) -> ChainEventEffect {
        let Some(network) = self.token_networks.get_mut(&token_network) else {
            return ChainEventEffect::ignored(IgnoredEvent::UnknownTokenNetwork(token_network));
        };
        let Some(channel) = network.channels.get_mut(&channel_id) else {
            return ChainEventEffect::ignored(IgnoredEvent::UnknownChannel(channel_id));
        };
        let Some(index) = channel.side_index(&participant) else {
            return ChainEventEffect::ignored(IgnoredEvent::ParticipantMismatch(channel_id));
        };
        let side = &mut channel.sides[index];
        let undo = Undo::RestoreTotals {
            token_network,
            channel_id,
            side: index,
            total_deposit: side.total_deposit,
            total_withdraw: side.total_withdraw,
        };
        change(side);
        ChainEventEffect::changed(undo)
    }
}

fn apply_capacity_update(
    channel: &mut Channel,
    message: &CapacityUpdate,
) -> Result<UpdateOutcome, UpdateRejection> {
    let fields = message.fields();
    let channel_id = channel.id;
    let updating = channel
        .side_index(&fields.updating_participant)
        .ok_or(UpdateRejection::NotParticipant { channel_id, participant: fields.updating_participant })?;
    if channel.sides[1 - updating].participant != fields.other_participant {
        return Err(UpdateRejection::OtherNotParticipant {
            channel_id,
            participant: fields.other_participant,
        });
    }
    let side = &mut channel.sides[updating];
    if let Some(stored) = side.capacity_report {
        if fields.updating_nonce < stored.updating_nonce {
            return Err(UpdateRejection::StaleNonce {
                field: "updating_nonce",
                stored: stored.updating_nonce,
                received: fields.updating_nonce,
            });
        }
        if fields.other_nonce < stored.other_nonce {
            return Err(UpdateRejection::StaleNonce {
                field: "other_nonce",
                stored: stored.other_nonce,
                received: fields.other_nonce,
            });
        }
    }
    side.capacity_report = Some(CapacityReport {
        updating_nonce: fields.updating_nonce,
        other_nonce: fields.other_nonce,
        updating_capacity: fields.updating_capacity,
        other_capacity: fields.other_capacity,
        reveal_timeout: fields.reveal_timeout,
    });
    Ok(UpdateOutcome::Applied)
}

fn apply_fee_update(
    channel: &mut Channel,
    message: &FeeUpdate,
    now: NaiveTimestamp,
) -> Result<UpdateOutcome, UpdateRejection> {
    let fields = message.fields();
    let updating =
        channel.side_index(&fields.updating_participant).ok_or(UpdateRejection::NotParticipant {
            channel_id: channel.id,
            participant: fields.updating_participant,
        })?;
    let latest =
        NaiveTimestamp::from_unix_micros(now.unix_micros().saturating_add(MAX_FEE_UPDATE_CLOCK_SKEW_MICROS))
            .unwrap_or(now);
    if fields.timestamp > latest {
        return Err(UpdateRejection::TimestampInFuture { received: fields.timestamp, latest });
    }
    let side = &mut channel.sides[updating];
    if fields.timestamp <= side.fee_timestamp {
        return Err(UpdateRejection::StaleTimestamp {
            stored: side.fee_timestamp,
            received: fields.timestamp,
        });
    }
    side.fee_schedule = fields.fee_schedule.clone();
    side.fee_timestamp = fields.timestamp;
    Ok(UpdateOutcome::Applied)
}

#[cfg(test)]
mod tests;
