//! What a node signs for the PFS: a `PFSCapacityUpdate` from its view of a channel
//! ([`ChannelState::capacity_update`]) and a `PFSFeeUpdate` from its fee schedule
//! ([`fee_update`]). The messages are `pfs_core::messages`' own types, so the packing and the
//! JSON are the ones the service verifies; only the arithmetic of a node's balances lives here.

use pfs_core::messages::{UnsignedCapacityUpdate, UnsignedFeeUpdate};
use pfs_core::{
    Address, BlockTimeout, CanonicalIdentifier, CapacityUpdate, FeeSchedule, FeeUpdate, NaiveTimestamp,
    Nonce, PrivateKey, TokenAmount,
};

use crate::error::ClientError;

/// One participant's amounts in a channel, as its latest balance proof and the chain say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParticipantState {
    /// Total deposit on chain.
    pub deposit: TokenAmount,
    /// Total withdrawn on chain.
    pub withdrawn: TokenAmount,
    /// Transferred to the partner so far (the balance proof's `transferred_amount`).
    pub transferred: TokenAmount,
    /// Locked in pending transfers.
    pub locked: TokenAmount,
    /// The nonce of the participant's latest balance proof.
    pub nonce: Nonce,
}

/// A node's view of one of its channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelState {
    /// The channel.
    pub canonical_identifier: CanonicalIdentifier,
    /// The node itself.
    pub own_address: Address,
    /// Its amounts.
    pub own: ParticipantState,
    /// The partner.
    pub partner_address: Address,
    /// The partner's amounts.
    pub partner: ParticipantState,
    /// The reveal timeout the node uses (blocks for the Python client, seconds for the LC).
    pub reveal_timeout: BlockTimeout,
}

impl ParticipantState {
    /// What this participant can send: `deposit − withdrawn − transferred − locked +
    /// partner's transferred` (Raiden's distributable balance).
    fn capacity(&self, partner: &Self) -> Option<TokenAmount> {
        self.deposit
            .checked_sub(self.withdrawn)?
            .checked_add(partner.transferred)?
            .checked_sub(self.transferred)?
            .checked_sub(self.locked)
    }
}

impl ChannelState {
    /// A channel just opened and funded with `own_deposit` and `partner_deposit`, nothing sent.
    pub fn funded(
        canonical_identifier: CanonicalIdentifier,
        own_address: Address,
        own_deposit: TokenAmount,
        partner_address: Address,
        partner_deposit: TokenAmount,
        reveal_timeout: BlockTimeout,
    ) -> Self {
        Self {
            canonical_identifier,
            own_address,
            own: ParticipantState { deposit: own_deposit, ..ParticipantState::default() },
            partner_address,
            partner: ParticipantState { deposit: partner_deposit, ..ParticipantState::default() },
            reveal_timeout,
        }
    }

    /// The node's capacity (what it can send) and the partner's, as the node sees them.
    ///
    /// # Errors
    /// [`ClientError::ChannelState`] if a side has sent, withdrawn or locked more than it has.
    pub fn capacities(&self) -> Result<(TokenAmount, TokenAmount), ClientError> {
        let own = self.own.capacity(&self.partner).ok_or_else(|| {
            ClientError::ChannelState(format!("{} has a negative capacity", self.own_address))
        })?;
        let partner = self.partner.capacity(&self.own).ok_or_else(|| {
            ClientError::ChannelState(format!("{} has a negative capacity", self.partner_address))
        })?;
        Ok((own, partner))
    }

    /// The signed `PFSCapacityUpdate` the node sends for this state.
    ///
    /// # Errors
    /// [`ClientError::ChannelState`] for inconsistent amounts, [`ClientError::Message`] if both
    /// participants are the same address, and [`ClientError::ChannelState`] if `key` is not the
    /// node's.
    pub fn capacity_update(&self, key: &PrivateKey) -> Result<CapacityUpdate, ClientError> {
        self.check_key(key)?;
        let (updating_capacity, other_capacity) = self.capacities()?;
        let update = UnsignedCapacityUpdate {
            canonical_identifier: self.canonical_identifier,
            updating_participant: self.own_address,
            other_participant: self.partner_address,
            updating_nonce: self.own.nonce,
            other_nonce: self.partner.nonce,
            updating_capacity,
            other_capacity,
            reveal_timeout: self.reveal_timeout,
        };
        Ok(update.sign(key)?)
    }

    /// The signed `PFSFeeUpdate` announcing `schedule` for this channel at `timestamp`.
    ///
    /// # Errors
    /// [`ClientError::ChannelState`] if `key` is not the node's.
    pub fn fee_update(
        &self,
        key: &PrivateKey,
        schedule: FeeSchedule,
        timestamp: NaiveTimestamp,
    ) -> Result<FeeUpdate, ClientError> {
        self.check_key(key)?;
        Ok(fee_update(key, self.canonical_identifier, schedule, timestamp))
    }

    fn check_key(&self, key: &PrivateKey) -> Result<(), ClientError> {
        if key.address() != self.own_address {
            return Err(ClientError::ChannelState(format!(
                "the key of {} cannot sign for {}",
                key.address(),
                self.own_address
            )));
        }
        Ok(())
    }
}

/// The `PFSFeeUpdate` of `key`'s node for `channel`: `schedule` as of `timestamp` (naive UTC;
/// it must grow between a node's updates of one channel).
pub fn fee_update(
    key: &PrivateKey,
    channel: CanonicalIdentifier,
    schedule: FeeSchedule,
    timestamp: NaiveTimestamp,
) -> FeeUpdate {
    UnsignedFeeUpdate {
        canonical_identifier: channel,
        updating_participant: key.address(),
        fee_schedule: schedule,
        timestamp,
    }
    .sign(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfs_core::{ChainId, ChannelId, U256};

    fn channel() -> (PrivateKey, ChannelState) {
        let key = PrivateKey::from_bytes([3; 32]).unwrap();
        let partner = PrivateKey::from_bytes([4; 32]).unwrap().address();
        let identifier = CanonicalIdentifier {
            chain_identifier: ChainId(31337),
            token_network_address: Address::from_bytes([9; 20]),
            channel_identifier: ChannelId(U256::from(1)),
        };
        let state = ChannelState::funded(
            identifier,
            key.address(),
            U256::from(100),
            partner,
            U256::from(40),
            BlockTimeout(U256::from(50)),
        );
        (key, state)
    }

    #[test]
    fn capacities_follow_the_distributable_balance() {
        let (_, mut state) = channel();
        state.own.transferred = U256::from(30);
        state.own.locked = U256::from(5);
        state.partner.transferred = U256::from(10);
        state.own.withdrawn = U256::from(20);
        assert_eq!(state.capacities().unwrap(), (U256::from(55), U256::from(60)));
    }

    #[test]
    fn overdrawn_channels_are_an_error() {
        let (_, mut state) = channel();
        state.own.withdrawn = U256::from(101);
        assert!(matches!(state.capacities(), Err(ClientError::ChannelState(_))));
    }

    #[test]
    fn the_capacity_update_is_signed_by_the_node_and_parses_back() {
        let (key, state) = channel();
        let update = state.capacity_update(&key).unwrap();
        assert_eq!(update.signer().unwrap(), key.address());
        let json = pfs_core::Message::CapacityUpdate(update.clone()).to_json();
        assert_eq!(pfs_core::Message::parse(&json).unwrap(), pfs_core::Message::CapacityUpdate(update));
    }

    #[test]
    fn another_nodes_key_cannot_sign() {
        let (_, state) = channel();
        let stranger = PrivateKey::from_bytes([5; 32]).unwrap();
        assert!(matches!(state.capacity_update(&stranger), Err(ClientError::ChannelState(_))));
    }

    #[test]
    fn the_fee_update_is_signed_by_the_node() {
        let (key, state) = channel();
        let schedule = FeeSchedule { flat: U256::from(7), ..FeeSchedule::default() };
        let timestamp = NaiveTimestamp::parse("2026-01-01T00:00:00.5").unwrap();
        let update = state.fee_update(&key, schedule.clone(), timestamp).unwrap();
        assert_eq!(update.signer().unwrap(), key.address());
        assert_eq!(update.fields().fee_schedule, schedule);
    }
}
