//! Capacity and fee updates on their way into the state: signature verification, and the
//! reasons an update is refused.
//!
//! Validation happens once, here and in [`super::TokenNetworkRegistry::apply_update`], for every
//! way an update arrives (HTTP or Matrix): the transport only parses and hands over.

use crate::address::Address;
use crate::ids::{ChainId, ChannelId, Nonce};
use crate::messages::{CanonicalIdentifier, Message};
use crate::timestamp::NaiveTimestamp;

/// A capacity or fee update whose signature recovers its `updating_participant`.
///
/// Only [`VerifiedUpdate::verify`] makes one, so holding one proves the check was done: the
/// expensive recovery can run on any thread before the update reaches the single writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUpdate(Message);

impl VerifiedUpdate {
    /// Checks that the message is signed by its updating participant.
    ///
    /// # Errors
    /// [`UpdateRejection::InvalidSignature`] if the signature does not recover the updating
    /// participant (or recovers nothing).
    pub fn verify(message: Message) -> Result<Self, UpdateRejection> {
        let expected = updating_participant(&message);
        match message.signer() {
            Ok(signer) if signer == expected => Ok(Self(message)),
            Ok(signer) => Err(UpdateRejection::InvalidSignature { expected, recovered: Some(signer) }),
            Err(_) => Err(UpdateRejection::InvalidSignature { expected, recovered: None }),
        }
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.0
    }

    /// The participant that sent and signed the update.
    pub fn updating_participant(&self) -> Address {
        updating_participant(&self.0)
    }

    /// The channel the update is about.
    pub fn canonical_identifier(&self) -> &CanonicalIdentifier {
        self.0.canonical_identifier()
    }

    /// Which kind of update this is.
    pub fn kind(&self) -> UpdateKind {
        match self.0 {
            Message::CapacityUpdate(_) => UpdateKind::Capacity,
            Message::FeeUpdate(_) => UpdateKind::Fee,
        }
    }
}

fn updating_participant(message: &Message) -> Address {
    match message {
        Message::CapacityUpdate(update) => update.fields().updating_participant,
        Message::FeeUpdate(update) => update.fields().updating_participant,
    }
}

/// The two kinds of update a node sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UpdateKind {
    /// `PFSCapacityUpdate`.
    Capacity,
    /// `PFSFeeUpdate`.
    Fee,
}

/// What happened to an accepted update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The update changed (or confirmed) the channel's state.
    Applied,
    /// The channel is not known yet (its opening is not confirmed): the update is kept and
    /// applied when the channel opens.
    Deferred,
}

/// Why an update is refused. Each variant is one error code of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateRejection {
    /// The signature does not recover the updating participant.
    #[error("signature does not match the updating participant {expected}")]
    InvalidSignature {
        /// The updating participant named in the message.
        expected: Address,
        /// Who the signature recovers to, if anyone.
        recovered: Option<Address>,
    },
    /// The message is for another chain.
    #[error("update is for chain {received}, this service follows chain {expected}")]
    WrongChain {
        /// This service's chain id.
        expected: ChainId,
        /// The chain id in the message.
        received: ChainId,
    },
    /// The token network is not followed by this service.
    #[error("unknown token network {0}")]
    UnknownTokenNetwork(Address),
    /// The updating participant is not a participant of the channel.
    #[error("{participant} is not a participant of channel {channel_id}")]
    NotParticipant {
        /// The channel.
        channel_id: ChannelId,
        /// The address that claims to be a participant.
        participant: Address,
    },
    /// A capacity update's other participant is not the updating participant's partner.
    #[error("{participant} is not the partner in channel {channel_id}")]
    OtherNotParticipant {
        /// The channel.
        channel_id: ChannelId,
        /// The address named as the partner.
        participant: Address,
    },
    /// A capacity update older than the one stored for this participant (a lower nonce).
    #[error("stale capacity update: {field} {received} is lower than the stored {stored}")]
    StaleNonce {
        /// `updating_nonce` or `other_nonce`.
        field: &'static str,
        /// The nonce stored from the previous update.
        stored: Nonce,
        /// The nonce in this update.
        received: Nonce,
    },
    /// A fee update whose timestamp is not later than the stored schedule's.
    #[error("fee update timestamp {received} is not later than the stored {stored}")]
    StaleTimestamp {
        /// Timestamp of the stored schedule.
        stored: NaiveTimestamp,
        /// Timestamp of this update.
        received: NaiveTimestamp,
    },
    /// A fee update dated more than [`super::MAX_FEE_UPDATE_CLOCK_SKEW_MICROS`] in the future.
    #[error("fee update timestamp {received} is too far in the future (latest accepted {latest})")]
    TimestampInFuture {
        /// Timestamp of this update.
        received: NaiveTimestamp,
        /// The latest timestamp accepted now.
        latest: NaiveTimestamp,
    },
}
