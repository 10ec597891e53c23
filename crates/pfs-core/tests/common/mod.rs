//! Fixtures shared by the routing tests: the reference test suite's deterministic accounts and a
//! small builder for channel descriptions.
#![allow(dead_code)]

use alloy_primitives::{U256, keccak256};
use pfs_core::routing::{
    ChannelDescription, ChannelGraph, OnlineSet, PathFinder, PathRequest, Routes, SearchLimits, SearchTuning,
    Unlimited,
};
use pfs_core::{Address, ChannelId, FeeSchedule};

/// Account `index` of raiden-services' `tests/pathfinding/fixtures/network_service.py`: private key
/// `keccak256(minimal big-endian bytes of 14789632 + index)`, address = last 20 bytes of the
/// keccak256 of the uncompressed public key (without its 0x04 prefix).
pub fn fixture_address(index: u64) -> Address {
    let seed = 14_789_632u64 + index;
    let bytes = seed.to_be_bytes();
    let first = bytes.iter().position(|byte| *byte != 0).unwrap_or(bytes.len() - 1);
    let private_key = keccak256(&bytes[first..]);
    let secret = secp256k1::SecretKey::from_secret_bytes(private_key.0).expect("valid secret key");
    let public = secp256k1::PublicKey::from_secret_key(&secret).serialize_uncompressed();
    let hash = keccak256(&public[1..]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    Address::from_bytes(address)
}

/// The first `count` fixture accounts.
pub fn fixture_addresses(count: u64) -> Vec<Address> {
    (0..count).map(fixture_address).collect()
}

/// A channel between `addresses[first]` and `addresses[second]` with default schedules.
pub fn channel(
    addresses: &[Address],
    id: u64,
    first: usize,
    second: usize,
    capacity1: u64,
    capacity2: u64,
) -> ChannelDescription {
    ChannelDescription {
        channel_id: ChannelId(U256::from(id)),
        participant1: addresses[first],
        participant2: addresses[second],
        capacity1: U256::from(capacity1),
        capacity2: U256::from(capacity2),
        fee_schedule1: FeeSchedule::default(),
        fee_schedule2: FeeSchedule::default(),
    }
}

/// Sets `addresses[node]`'s schedule on its channel with `addresses[partner]`.
pub fn set_fee(
    channels: &mut [ChannelDescription],
    addresses: &[Address],
    node: usize,
    partner: usize,
    schedule: FeeSchedule,
) {
    let (node, partner) = (addresses[node], addresses[partner]);
    let channel = channels
        .iter_mut()
        .find(|channel| {
            (channel.participant1 == node && channel.participant2 == partner)
                || (channel.participant1 == partner && channel.participant2 == node)
        })
        .expect("the nodes share a channel");
    if channel.participant1 == node {
        channel.fee_schedule1 = schedule;
    } else {
        channel.fee_schedule2 = schedule;
    }
}

/// Node-index paths and fees of a query with everyone in `online`.
pub fn query(
    channels: &[ChannelDescription],
    addresses: &[Address],
    online: &[usize],
    request: &PathRequest,
) -> Result<Vec<(Vec<usize>, i128)>, pfs_core::routing::PathError> {
    let network = ChannelGraph::build(Address::ZERO, channels).expect("valid channels");
    let online = OnlineSet::from_addresses(&network, online.iter().map(|&index| &addresses[index]));
    let routes =
        pfs_core::routing::find_paths(&network, &online, request, &SearchLimits::default(), &Unlimited)?;
    Ok(routes
        .paths
        .iter()
        .map(|path| {
            let nodes = path
                .nodes
                .iter()
                .map(|node| addresses.iter().position(|address| address == node).expect("known node"))
                .collect();
            (nodes, i128::try_from(path.estimated_fee).expect("small fee"))
        })
        .collect())
}

/// The address whose 20 bytes are all `byte`: small hand-made networks, where a node's number is
/// its address and so also its rank (§2.10's tie-break by address list).
pub fn node(byte: u8) -> Address {
    Address::from_bytes([byte; 20])
}

/// Channel `id` between [`node`]`(first)` and [`node`]`(second)` with default schedules.
pub fn byte_channel(id: u64, first: u8, second: u8, capacity1: u64, capacity2: u64) -> ChannelDescription {
    ChannelDescription {
        channel_id: ChannelId(U256::from(id)),
        participant1: node(first),
        participant2: node(second),
        capacity1: U256::from(capacity1),
        capacity2: U256::from(capacity2),
        fee_schedule1: FeeSchedule::default(),
        fee_schedule2: FeeSchedule::default(),
    }
}

/// The answer to a request from [`node`]`(1)` to [`node`]`(9)` for 10 units with `tuning`, every
/// node of `channels` online, no diversity or fee penalty (so an edge without fees weighs 1).
///
/// # Panics
/// If `channels` do not build a network or the request fails its pre-checks.
pub fn answer_from_1_to_9(channels: &[ChannelDescription], tuning: SearchTuning, max_paths: usize) -> Routes {
    let network = ChannelGraph::build(Address::ZERO, channels).expect("valid channels");
    let everyone: Vec<Address> =
        channels.iter().flat_map(|channel| [channel.participant1, channel.participant2]).collect();
    let online = OnlineSet::from_addresses(&network, &everyone);
    let request = PathRequest {
        max_paths,
        diversity_penalty: 0.0,
        fee_penalty: 0.0,
        ..PathRequest::new(node(1), node(9), U256::from(10))
    };
    PathFinder::with_tuning(tuning)
        .find_paths(&network, &online, &request, &SearchLimits::default(), &Unlimited)
        .expect("the pre-checks pass")
}

/// The node lists of `routes`' paths.
pub fn nodes_of(routes: &Routes) -> Vec<Vec<Address>> {
    routes.paths.iter().map(|path| path.nodes.clone()).collect()
}
