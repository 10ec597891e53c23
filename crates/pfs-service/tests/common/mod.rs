//! Fixtures shared by the service's tests: the deployment, the nodes' keys, one token network,
//! a store in a file, the chain events that open its channels, and node 0's capacity updates.

#![allow(dead_code)]

use std::path::Path;

use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate};
use pfs_core::token_network::ChainEvent;
use pfs_core::{Address, BlockNumber, BlockTimeout, ChainId, ChannelId, Message, Nonce, PrivateKey, U256};
use pfs_service::Service;
use pfs_store::{ChainCursor, Deployment, Store, StoreConfig};

pub const CHAIN: ChainId = ChainId(1337);

pub fn deployment() -> Deployment {
    Deployment {
        chain_id: CHAIN,
        token_network_registry: Address::from_bytes([1; 20]),
        user_deposit: Address::from_bytes([2; 20]),
        receiver: Address::from_bytes([3; 20]),
    }
}

pub fn key(index: u8) -> PrivateKey {
    PrivateKey::from_bytes([index + 1; 32]).expect("a small constant is a valid secp256k1 key")
}

pub fn node(index: u8) -> Address {
    key(index).address()
}

pub fn token_network() -> Address {
    Address::from_bytes([0xab; 20])
}

/// The store in the SQLite file `path`.
pub async fn open_store(path: &Path) -> Store {
    let location = path.to_str().expect("a UTF-8 temporary path");
    Store::open(&StoreConfig::new(location), &deployment()).await.expect("the store opens")
}

/// Commits, as block 10, the token network and `channels` (id, participants), each participant
/// having deposited `deposit`.
pub async fn open_channels(service: &Service, channels: &[(ChannelId, [Address; 2])], deposit: u64) {
    let mut events = vec![ChainEvent::TokenNetworkCreated {
        token_network: token_network(),
        token: Address::from_bytes([0x55; 20]),
        settle_timeout: BlockTimeout(U256::from(500)),
    }];
    for &(channel_id, [participant1, participant2]) in channels {
        events.push(ChainEvent::ChannelOpened {
            token_network: token_network(),
            channel_id,
            participant1,
            participant2,
        });
        for participant in [participant1, participant2] {
            events.push(ChainEvent::Deposit {
                token_network: token_network(),
                channel_id,
                participant,
                total_deposit: U256::from(deposit),
            });
        }
    }
    let cursor = ChainCursor { block_number: BlockNumber(10), block_hash: [7; 32].into() };
    service.apply_chain_batch(Vec::new(), events, cursor).await.expect("the chain batch commits");
}

/// Node 0's capacity update of channel 1 (with node 1), signed: both nonces `nonce`, reveal
/// timeout 50.
pub fn capacity_update(nonce: u64, updating_capacity: u64, other_capacity: u64) -> Message {
    let update = UnsignedCapacityUpdate {
        canonical_identifier: CanonicalIdentifier {
            chain_identifier: CHAIN,
            token_network_address: token_network(),
            channel_identifier: ChannelId(U256::from(1)),
        },
        updating_participant: node(0),
        other_participant: node(1),
        updating_nonce: Nonce(nonce),
        other_nonce: Nonce(nonce),
        updating_capacity: U256::from(updating_capacity),
        other_capacity: U256::from(other_capacity),
        reveal_timeout: BlockTimeout(U256::from(50)),
    };
    Message::CapacityUpdate(update.sign(&key(0)).expect("distinct participants"))
}
