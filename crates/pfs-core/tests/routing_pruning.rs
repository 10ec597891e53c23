//! The search's pruning by a mediator's amount-independent fee conditions (see the `Speed`
//! section of the search's docs): the answer is the reference's, and the paths ruled out are
//! never examined.

use alloy_primitives::U256;
use pfs_core::fee_schedule::ImbalancePenalty;
use pfs_core::routing::{
    ChannelDescription, ChannelGraph, OnlineSet, PathRequest, Routes, SearchLimits, Unlimited, find_paths,
};
use pfs_core::{Address, ChannelId, FeeSchedule};

fn node(byte: u8) -> Address {
    Address::from_bytes([byte; 20])
}

fn channel(id: u64, first: u8, second: u8, capacity1: u64, capacity2: u64) -> ChannelDescription {
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

/// Source 1, target 9. Mediator 5 is reached from 1 through 2, 3 or 4 (three hops to the
/// target), but its penalty on each of those channels ends at 350 while it holds 300 there and
/// the partner can send 100: a slack of 50, short of its balance of 1000 towards the target (the
/// edge weights, which assume balances equal to the edge's capacity, stay finite). The only
/// valid path is the longer 1 → 6 → 7 → 8 → 10 → 9.
fn network() -> ChannelGraph {
    let short_penalty = FeeSchedule {
        imbalance_penalty: Some(
            ImbalancePenalty::new(vec![(U256::ZERO, U256::ZERO), (U256::from(350), U256::from(10))])
                .expect("increasing points"),
        ),
        ..FeeSchedule::default()
    };
    let mut channels = Vec::new();
    for (id, partner) in [(1, 2), (2, 3), (3, 4)] {
        channels.push(channel(id, 1, partner, 1000, 1000));
        let mut into_mediator = channel(id + 10, partner, 5, 100, 300);
        into_mediator.fee_schedule2 = short_penalty.clone();
        channels.push(into_mediator);
    }
    channels.push(channel(20, 5, 9, 1000, 0));
    channels.extend([channel(30, 1, 6, 1000, 1000), channel(31, 6, 7, 1000, 1000)]);
    channels.extend([channel(32, 7, 8, 1000, 1000), channel(33, 8, 10, 1000, 1000)]);
    channels.push(channel(34, 10, 9, 1000, 1000));
    ChannelGraph::build(Address::ZERO, &channels).expect("valid channels")
}

/// The answer for `max_paths` paths of 10 from 1 to 9 on [`network`], everyone online.
fn answer(max_paths: usize) -> Routes {
    let network = network();
    let everyone: Vec<Address> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(node).to_vec();
    let online = OnlineSet::from_addresses(&network, &everyone);
    let request = PathRequest { max_paths, ..PathRequest::new(node(1), node(9), U256::from(10)) };
    find_paths(&network, &online, &request, &SearchLimits::default(), &Unlimited)
        .expect("the pre-checks pass")
}

#[test]
fn paths_through_a_mediator_no_entry_can_feed_are_never_examined() {
    let routes = answer(1);
    assert_eq!(routes.paths.len(), 1);
    assert_eq!(routes.paths[0].nodes, [1, 6, 7, 8, 10, 9].map(node).to_vec());
    // The three shorter paths through mediator 5 come first in the order but are invalid, and
    // were not enumerated.
    assert_eq!(routes.candidates_examined, 1);
}

#[test]
fn every_valid_path_is_still_found_after_the_pruned_ones() {
    let routes = answer(5);
    let found: Vec<Vec<Address>> = routes.paths.into_iter().map(|path| path.nodes).collect();
    assert_eq!(found, vec![[1, 6, 7, 8, 10, 9].map(node).to_vec()]);
    assert!(routes.truncated.is_none());
}
