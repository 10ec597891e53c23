//! Decoding of the Raiden contract logs the follower reads into [`ChainEvent`]s, with `sol!`
//! types; the topic0 values are the ones of `pfs_core::contract_events` (checked by a test).

use alloy::primitives::B256;
use alloy::rpc::types::Log;
use alloy::sol;
use alloy::sol_types::SolEvent;
use pfs_core::token_network::ChainEvent;
use pfs_core::{BlockTimeout, ChannelId};

sol! {
    /// The TokenNetworkRegistry event the follower reads (contracts 0.50).
    event TokenNetworkCreated(address indexed token_address, address indexed token_network_address, uint256 settle_timeout);
    /// A channel was opened.
    event ChannelOpened(uint256 indexed channel_identifier, address indexed participant1, address indexed participant2);
    /// A participant's total deposit grew.
    event ChannelNewDeposit(uint256 indexed channel_identifier, address indexed participant, uint256 total_deposit);
    /// A participant's total withdrawal grew.
    event ChannelWithdraw(uint256 indexed channel_identifier, address indexed participant, uint256 total_withdraw);
    /// A channel was closed.
    event ChannelClosed(uint256 indexed channel_identifier, address indexed closing_participant, uint256 indexed nonce, bytes32 balance_hash);
    /// A channel was settled.
    event ChannelSettled(uint256 indexed channel_identifier, address participant1, uint256 participant1_amount, bytes32 participant1_locksroot, address participant2, uint256 participant2_amount, bytes32 participant2_locksroot);
}

/// The topic0 of every TokenNetwork event the follower reads.
pub const TOKEN_NETWORK_TOPICS: [B256; 5] = [
    ChannelOpened::SIGNATURE_HASH,
    ChannelNewDeposit::SIGNATURE_HASH,
    ChannelWithdraw::SIGNATURE_HASH,
    ChannelClosed::SIGNATURE_HASH,
    ChannelSettled::SIGNATURE_HASH,
];

/// The topic0 of the registry event the follower reads.
pub const REGISTRY_TOPIC: B256 = TokenNetworkCreated::SIGNATURE_HASH;

/// Why a log could not be turned into a [`ChainEvent`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The log has no topics or a topic0 the follower does not read.
    #[error("log with unexpected topic0 {0:?}")]
    UnknownTopic(Option<B256>),
    /// The log's data or topics do not match the event's ABI.
    #[error("log does not decode as {event}: {source}")]
    Abi {
        /// The event it claimed to be.
        event: &'static str,
        /// The decoder's complaint.
        source: alloy::sol_types::Error,
    },
}

/// Decodes one log of the registry or of a token network.
///
/// # Errors
/// [`DecodeError`] if the topic is not one of the six read or the log does not fit its ABI.
pub fn decode_log(log: &Log) -> Result<ChainEvent, DecodeError> {
    let data = log.data();
    let emitter = log.address().into();
    fn abi<E: SolEvent>(data: &alloy::primitives::LogData) -> Result<E, DecodeError> {
        E::decode_log_data(data).map_err(|source| DecodeError::Abi { event: E::SIGNATURE, source })
    }
    let topic0 = data.topics().first().copied();
    Ok(match topic0 {
        Some(TokenNetworkCreated::SIGNATURE_HASH) => {
            let event: TokenNetworkCreated = abi(data)?;
            ChainEvent::TokenNetworkCreated {
                token_network: event.token_network_address.into(),
                token: event.token_address.into(),
                settle_timeout: BlockTimeout(event.settle_timeout),
            }
        }
        Some(ChannelOpened::SIGNATURE_HASH) => {
            let event: ChannelOpened = abi(data)?;
            ChainEvent::ChannelOpened {
                token_network: emitter,
                channel_id: ChannelId(event.channel_identifier),
                participant1: event.participant1.into(),
                participant2: event.participant2.into(),
            }
        }
        Some(ChannelNewDeposit::SIGNATURE_HASH) => {
            let event: ChannelNewDeposit = abi(data)?;
            ChainEvent::Deposit {
                token_network: emitter,
                channel_id: ChannelId(event.channel_identifier),
                participant: event.participant.into(),
                total_deposit: event.total_deposit,
            }
        }
        Some(ChannelWithdraw::SIGNATURE_HASH) => {
            let event: ChannelWithdraw = abi(data)?;
            ChainEvent::Withdraw {
                token_network: emitter,
                channel_id: ChannelId(event.channel_identifier),
                participant: event.participant.into(),
                total_withdraw: event.total_withdraw,
            }
        }
        Some(ChannelClosed::SIGNATURE_HASH) => {
            let event: ChannelClosed = abi(data)?;
            ChainEvent::ChannelClosed {
                token_network: emitter,
                channel_id: ChannelId(event.channel_identifier),
            }
        }
        Some(ChannelSettled::SIGNATURE_HASH) => {
            let event: ChannelSettled = abi(data)?;
            ChainEvent::ChannelSettled {
                token_network: emitter,
                channel_id: ChannelId(event.channel_identifier),
            }
        }
        other => return Err(DecodeError::UnknownTopic(other)),
    })
}

#[cfg(test)]
mod tests {
    use pfs_core::contract_events;

    use super::*;

    #[test]
    fn topics_are_the_ones_of_pfs_core() {
        assert_eq!(REGISTRY_TOPIC, contract_events::TOKEN_NETWORK_CREATED.topic0);
        let expected = [
            contract_events::CHANNEL_OPENED,
            contract_events::CHANNEL_NEW_DEPOSIT,
            contract_events::CHANNEL_WITHDRAW,
            contract_events::CHANNEL_CLOSED,
            contract_events::CHANNEL_SETTLED,
        ]
        .map(|event| event.topic0);
        assert_eq!(TOKEN_NETWORK_TOPICS, expected);
    }
}
