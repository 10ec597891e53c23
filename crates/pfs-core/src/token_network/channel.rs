//! One payment channel as the PFS knows it: on-chain deposits and withdrawals of both
//! participants, and what each participant last reported about capacities and fees.

use alloy_primitives::U256;

use crate::address::Address;
use crate::fee_schedule::FeeSchedule;
use crate::ids::{BlockTimeout, ChannelId, Nonce, TokenAmount};
use crate::timestamp::NaiveTimestamp;

/// Reveal timeout assumed for a direction until its participant reports one (the reference's
/// `DEFAULT_REVEAL_TIMEOUT`).
pub const DEFAULT_REVEAL_TIMEOUT: u64 = 50;

/// What a participant last stated in a `PFSCapacityUpdate`, the fields the PFS keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityReport {
    /// Nonce of the reporter's own latest balance proof.
    pub updating_nonce: Nonce,
    /// Nonce of its partner's latest balance proof, as the reporter knows it.
    pub other_nonce: Nonce,
    /// What the reporter can send to its partner.
    pub updating_capacity: TokenAmount,
    /// What its partner can send to the reporter, as the reporter sees it.
    pub other_capacity: TokenAmount,
    /// The reveal timeout the reporter uses in this channel.
    pub reveal_timeout: BlockTimeout,
}

/// One participant's half of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSide {
    /// The participant.
    pub participant: Address,
    /// Its total deposit on chain (`ChannelNewDeposit.total_deposit`).
    pub total_deposit: TokenAmount,
    /// Its total withdrawal on chain (`ChannelWithdraw.total_withdraw`).
    pub total_withdraw: TokenAmount,
    /// Its latest capacity update, if it sent one.
    pub capacity_report: Option<CapacityReport>,
    /// Its fee schedule for forwarding into this channel (the default until it announces one).
    pub fee_schedule: FeeSchedule,
    /// The timestamp of the fee update that set `fee_schedule`; [`NaiveTimestamp::EPOCH_2000`]
    /// before any, so the first update with a later timestamp is accepted, as in the reference.
    pub fee_timestamp: NaiveTimestamp,
}

impl ChannelSide {
    fn new(participant: Address) -> Self {
        Self {
            participant,
            total_deposit: U256::ZERO,
            total_withdraw: U256::ZERO,
            capacity_report: None,
            fee_schedule: FeeSchedule::default(),
            fee_timestamp: NaiveTimestamp::EPOCH_2000,
        }
    }
}

/// An open channel between two participants.
///
/// Invariants: `sides[0].participant < sides[1].participant` (raw byte order, as the reference
/// sorts them), and the two participants differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The channel's identifier within its token network.
    pub id: ChannelId,
    /// Both halves, ordered by participant address.
    pub sides: [ChannelSide; 2],
}

impl Channel {
    /// A new channel with nothing deposited and nothing reported, its participants sorted.
    ///
    /// # Panics
    /// Never for distinct participants; callers reject equal participants before (the contract
    /// forbids such channels).
    pub fn new(id: ChannelId, participant_a: Address, participant_b: Address) -> Self {
        debug_assert_ne!(participant_a, participant_b, "a channel needs two distinct participants");
        let (first, second) = if participant_a < participant_b {
            (participant_a, participant_b)
        } else {
            (participant_b, participant_a)
        };
        Self { id, sides: [ChannelSide::new(first), ChannelSide::new(second)] }
    }

    /// The two participants, in address order.
    pub fn participants(&self) -> [Address; 2] {
        [self.sides[0].participant, self.sides[1].participant]
    }

    /// The index (0 or 1) of `participant` in [`Channel::sides`], if it is one.
    pub fn side_index(&self, participant: &Address) -> Option<usize> {
        self.sides.iter().position(|side| side.participant == *participant)
    }

    /// What the channel holds on chain: both deposits minus both withdrawals (saturating, since
    /// events of a rolled-back block might transiently disagree).
    pub fn total_on_chain(&self) -> TokenAmount {
        let deposits = self.sides[0].total_deposit.saturating_add(self.sides[1].total_deposit);
        let withdrawals = self.sides[0].total_withdraw.saturating_add(self.sides[1].total_withdraw);
        deposits.saturating_sub(withdrawals)
    }

    /// The usable capacity from side `from` (0 or 1) to the other side.
    ///
    /// As in the reference, it is the smaller of what the sender reports it can send and what its
    /// partner reports the sender can send, 0 until both have reported (spec/REFERENCE-PFS.md
    /// §2.2). Beyond the reference, it is never more than the channel holds on chain, whatever
    /// the reports claim.
    ///
    /// # Panics
    /// If `from` is not 0 or 1.
    pub fn capacity(&self, from: usize) -> TokenAmount {
        let sender = self.sides[from].capacity_report;
        let receiver = self.sides[1 - from].capacity_report;
        match (sender, receiver) {
            (Some(sender), Some(receiver)) => {
                sender.updating_capacity.min(receiver.other_capacity).min(self.total_on_chain())
            }
            _ => U256::ZERO,
        }
    }

    /// The reveal timeout of the direction from side `from`.
    ///
    /// # Panics
    /// If `from` is not 0 or 1.
    pub fn reveal_timeout(&self, from: usize) -> BlockTimeout {
        self.sides[from]
            .capacity_report
            .map_or(BlockTimeout(U256::from(DEFAULT_REVEAL_TIMEOUT)), |report| report.reveal_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(byte: u8) -> Address {
        Address::from_bytes([byte; 20])
    }

    fn report(updating: u64, other: u64) -> CapacityReport {
        CapacityReport {
            updating_nonce: Nonce(1),
            other_nonce: Nonce(1),
            updating_capacity: U256::from(updating),
            other_capacity: U256::from(other),
            reveal_timeout: BlockTimeout(U256::from(50)),
        }
    }

    fn funded_channel() -> Channel {
        let mut channel = Channel::new(ChannelId(U256::from(1)), address(2), address(1));
        channel.sides[0].total_deposit = U256::from(1_000);
        channel.sides[1].total_deposit = U256::from(1_000);
        channel
    }

    #[test]
    fn participants_are_sorted() {
        assert_eq!(funded_channel().participants(), [address(1), address(2)]);
    }

    #[test]
    fn capacity_is_zero_until_both_report() {
        let mut channel = funded_channel();
        channel.sides[0].capacity_report = Some(report(90, 110));
        assert_eq!(channel.capacity(0), U256::ZERO);
        assert_eq!(channel.capacity(1), U256::ZERO);
        channel.sides[1].capacity_report = Some(report(110, 90));
        assert_eq!(channel.capacity(0), U256::from(90));
        assert_eq!(channel.capacity(1), U256::from(110));
    }

    #[test]
    fn capacity_is_the_minimum_of_both_reports() {
        let mut channel = funded_channel();
        channel.sides[0].capacity_report = Some(report(90, 0));
        channel.sides[1].capacity_report = Some(report(110, 90));
        assert_eq!(channel.capacity(0), U256::from(90));
        assert_eq!(channel.capacity(1), U256::ZERO);
        channel.sides[0].capacity_report = Some(report(10_000, 10_000));
        assert_eq!(channel.capacity(0), U256::from(90));
        assert_eq!(channel.capacity(1), U256::from(110));
    }

    #[test]
    fn capacity_never_exceeds_what_the_channel_holds_on_chain() {
        let mut channel = funded_channel();
        channel.sides[1].total_withdraw = U256::from(1_500);
        channel.sides[0].capacity_report = Some(report(2_000, 2_000));
        channel.sides[1].capacity_report = Some(report(2_000, 2_000));
        assert_eq!(channel.total_on_chain(), U256::from(500));
        assert_eq!(channel.capacity(0), U256::from(500));
        assert_eq!(channel.capacity(1), U256::from(500));
    }

    #[test]
    fn reveal_timeout_defaults_to_fifty_blocks() {
        let mut channel = funded_channel();
        assert_eq!(channel.reveal_timeout(0), BlockTimeout(U256::from(50)));
        channel.sides[0].capacity_report =
            Some(CapacityReport { reveal_timeout: BlockTimeout(U256::from(600)), ..report(1, 1) });
        assert_eq!(channel.reveal_timeout(0), BlockTimeout(U256::from(600)));
    }
}
