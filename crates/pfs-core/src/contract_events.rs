//! The topic0 of every Raiden contract event the PFS follows, for contracts 0.50 and 0.40.
//!
//! A log's first topic is `keccak256` of its event signature; the chain follower filters and
//! dispatches on these. The two generations differ in `TokenNetworkCreated` (0.50 added
//! `settle_timeout`) and `ChannelOpened` (0.50 dropped it), so both are listed.

use alloy_primitives::{B256, b256, keccak256};

/// An event the PFS consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractEvent {
    /// The emitting contract, e.g. `TokenNetwork`.
    pub contract: &'static str,
    /// The canonical signature, e.g. `ChannelOpened(uint256,address,address)`.
    pub signature: &'static str,
    /// `keccak256(signature)`, the log's first topic.
    pub topic0: B256,
}

/// `keccak256` of an event signature such as `ChannelClosed(uint256,address,uint256,bytes32)`.
pub fn event_topic(signature: &str) -> B256 {
    keccak256(signature.as_bytes())
}

const fn event(contract: &'static str, signature: &'static str, topic0: B256) -> ContractEvent {
    ContractEvent { contract, signature, topic0 }
}

/// `TokenNetworkCreated(address,address,uint256)` (0.50): a new token network and its settle timeout.
pub const TOKEN_NETWORK_CREATED: ContractEvent = event(
    "TokenNetworkRegistry",
    "TokenNetworkCreated(address,address,uint256)",
    b256!("16a2f408238dc0c22c8873be71a8ff6d7c731ee52e1955ffc4927a622b30f88f"),
);
/// `ChannelOpened(uint256,address,address)` (0.50).
pub const CHANNEL_OPENED: ContractEvent = event(
    "TokenNetwork",
    "ChannelOpened(uint256,address,address)",
    b256!("55bc5cbdb280ba924235746821de33542a878e786d67a54fd0a95bd640193844"),
);
/// `ChannelNewDeposit(uint256,address,uint256)`.
pub const CHANNEL_NEW_DEPOSIT: ContractEvent = event(
    "TokenNetwork",
    "ChannelNewDeposit(uint256,address,uint256)",
    b256!("2b55547a3b586ab51f65ee9ce4927fa6d25191388299988e89e059a02f9dd445"),
);
/// `ChannelWithdraw(uint256,address,uint256)`.
pub const CHANNEL_WITHDRAW: ContractEvent = event(
    "TokenNetwork",
    "ChannelWithdraw(uint256,address,uint256)",
    b256!("98ed0357b86b313fa9f968de5c9d2bcf591432355b34aa1ab7e3e9e92f428408"),
);
/// `ChannelClosed(uint256,address,uint256,bytes32)`.
pub const CHANNEL_CLOSED: ContractEvent = event(
    "TokenNetwork",
    "ChannelClosed(uint256,address,uint256,bytes32)",
    b256!("09d2f946e008c38931cd739dd20e35146deff8ab3134caee6d54fe50816a81b8"),
);
/// `ChannelSettled(uint256,address,uint256,bytes32,address,uint256,bytes32)`.
pub const CHANNEL_SETTLED: ContractEvent = event(
    "TokenNetwork",
    "ChannelSettled(uint256,address,uint256,bytes32,address,uint256,bytes32)",
    b256!("5e973099ee6bae497f110b6b50e988c2a10decca1eb93982a42af12f297fc91c"),
);
/// `RegisteredService(address,uint256,uint256,address)`: a service's ServiceRegistry deposit.
pub const REGISTERED_SERVICE: ContractEvent = event(
    "ServiceRegistry",
    "RegisteredService(address,uint256,uint256,address)",
    b256!("318a723b2ed9fac0536d971fcca40b4653a29e1956dd7b7b8972486947d86529"),
);
/// `Claimed(address,address,uint256,uint256)`: an IOU claimed from OneToN.
pub const CLAIMED: ContractEvent = event(
    "OneToN",
    "Claimed(address,address,uint256,uint256)",
    b256!("2f6639d24651730c7bf57c95ddbf96d66d11477e4ec626876f92c22e5f365e68"),
);
/// `TokenNetworkCreated(address,address)` (0.40, no settle timeout).
pub const TOKEN_NETWORK_CREATED_0_40: ContractEvent = event(
    "TokenNetworkRegistry",
    "TokenNetworkCreated(address,address)",
    b256!("f11a7558a113d9627989c5edf26cbd19143b7375248e621c8e30ac9e0847dc3f"),
);
/// `ChannelOpened(uint256,address,address,uint256)` (0.40, with the settle timeout).
pub const CHANNEL_OPENED_0_40: ContractEvent = event(
    "TokenNetwork",
    "ChannelOpened(uint256,address,address,uint256)",
    b256!("669a4b0ac0b9994c0f82ed4dbe07bb421fe74e5951725af4f139c7443ebf049d"),
);

/// A generation of the Raiden contracts; the event set the PFS follows depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractsVersion {
    /// Contracts 0.40 (Raiden 3.0.1, raiden.rs).
    V0_40,
    /// Contracts 0.50 (raiden-services 2.x, the light client).
    V0_50,
}

/// The events both generations share.
const SHARED_EVENTS: [ContractEvent; 6] =
    [CHANNEL_NEW_DEPOSIT, CHANNEL_WITHDRAW, CHANNEL_CLOSED, CHANNEL_SETTLED, REGISTERED_SERVICE, CLAIMED];

/// The events the PFS follows for one contracts generation.
pub fn events(version: ContractsVersion) -> impl Iterator<Item = &'static ContractEvent> {
    let own: &'static [ContractEvent; 2] = match version {
        ContractsVersion::V0_40 => &[TOKEN_NETWORK_CREATED_0_40, CHANNEL_OPENED_0_40],
        ContractsVersion::V0_50 => &[TOKEN_NETWORK_CREATED, CHANNEL_OPENED],
    };
    own.iter().chain(SHARED_EVENTS.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constant_is_the_keccak_of_its_signature() {
        for event in events(ContractsVersion::V0_50).chain(events(ContractsVersion::V0_40)) {
            assert_eq!(event_topic(event.signature), event.topic0, "{}", event.signature);
        }
    }
}
