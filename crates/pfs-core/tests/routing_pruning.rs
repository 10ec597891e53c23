//! The search's pruning by a mediator's amount-independent fee conditions (see the `Speed`
//! section of the search's docs): the answer is the reference's, and the paths ruled out are
//! never examined. And edges whose fee weight is undefined, which the search's lower bound
//! leaves out: paths through them still come, after all others.

mod common;

use alloy_primitives::U256;
use common::{byte_channel as channel, node};
use pfs_core::fee_schedule::ImbalancePenalty;
use pfs_core::routing::{
    ChannelDescription, ChannelGraph, ChannelUpdate, OnlineSet, PathRequest, Routes, SearchLimits, Unlimited,
    find_paths,
};
use pfs_core::{Address, ChannelId, FeeSchedule};

/// Source 1, target 9. Mediator 5 is reached from 1 through 2, 3 or 4 (three hops to the
/// target), but its penalty on each of those channels ends at 350 while it holds 300 there and
/// the partner can send 100: a slack of 50, short of its balance of 1000 towards the target (the
/// edge weights, which assume balances equal to the edge's capacity, stay finite). The only
/// valid path is the longer 1 → 6 → 7 → 8 → 10 → 9.
fn network() -> ChannelGraph {
    ChannelGraph::build(Address::ZERO, &channels(short_penalty())).expect("valid channels")
}

/// `participant`'s side of channel `id`: a new capacity and/or schedule.
fn update(
    id: u64,
    participant: u8,
    capacity: Option<u64>,
    fee_schedule: Option<FeeSchedule>,
) -> ChannelUpdate {
    ChannelUpdate {
        channel_id: ChannelId(U256::from(id)),
        participant: node(participant),
        capacity: capacity.map(U256::from),
        fee_schedule,
    }
}

/// Mediator 5's schedule on its channels with 2, 3 and 4.
fn short_penalty() -> FeeSchedule {
    FeeSchedule {
        imbalance_penalty: Some(
            ImbalancePenalty::new(vec![(U256::ZERO, U256::ZERO), (U256::from(350), U256::from(10))])
                .expect("increasing points"),
        ),
        ..FeeSchedule::default()
    }
}

/// The channels of [`network`], with `mediator_schedule` as 5's schedule towards 2, 3 and 4.
fn channels(mediator_schedule: FeeSchedule) -> Vec<ChannelDescription> {
    let mut channels = Vec::new();
    for (id, partner) in [(1, 2), (2, 3), (3, 4)] {
        channels.push(channel(id, 1, partner, 1000, 1000));
        let mut into_mediator = channel(id + 10, partner, 5, 100, 300);
        into_mediator.fee_schedule2 = mediator_schedule.clone();
        channels.push(into_mediator);
    }
    channels.push(channel(20, 5, 9, 1000, 0));
    channels.extend([channel(30, 1, 6, 1000, 1000), channel(31, 6, 7, 1000, 1000)]);
    channels.extend([channel(32, 7, 8, 1000, 1000), channel(33, 8, 10, 1000, 1000)]);
    channels.push(channel(34, 10, 9, 1000, 1000));
    channels
}

/// The answer for `max_paths` paths of 10 from 1 to 9 on [`network`], everyone online.
fn answer(max_paths: usize) -> Routes {
    answer_on(&network(), max_paths)
}

fn answer_on(network: &ChannelGraph, max_paths: usize) -> Routes {
    let everyone: Vec<Address> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(node).to_vec();
    let online = OnlineSet::from_addresses(network, &everyone);
    let request = PathRequest { max_paths, ..PathRequest::new(node(1), node(9), U256::from(10)) };
    find_paths(network, &online, &request, &SearchLimits::default(), &Unlimited).expect("the pre-checks pass")
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

/// Source 1, target 9, as in [`network`] but with one way into mediator 5 (from 2) and a dead
/// end 11 behind it. 5 announces no penalty at first; then, by an update, [`short_penalty`] on
/// its channel with 2 (slack 50): it can still forward 10 to 11 (need 40) but no longer to 9
/// (need 1000).
fn network_with_late_penalty() -> (ChannelGraph, ChannelUpdate) {
    // 5's channel to 11 comes first among its channels (its smallest need).
    let mut channels = vec![channel(12, 5, 11, 40, 0), channel(1, 1, 2, 1000, 1000)];
    channels.extend([channel(11, 2, 5, 100, 300), channel(20, 5, 9, 1000, 0)]);
    channels.extend([channel(30, 1, 6, 1000, 1000), channel(31, 6, 7, 1000, 1000)]);
    channels.extend([channel(32, 7, 8, 1000, 1000), channel(33, 8, 10, 1000, 1000)]);
    channels.push(channel(34, 10, 9, 1000, 1000));
    let update = update(11, 5, None, Some(short_penalty()));
    (ChannelGraph::build(Address::ZERO, &channels).expect("valid channels"), update)
}

#[test]
fn a_penalty_announced_by_an_update_prunes_like_one_given_at_build() {
    let (penalty_free, update) = network_with_late_penalty();
    assert_eq!(answer_on(&penalty_free, 1).paths[0].nodes, [1, 2, 5, 9].map(node).to_vec());
    let routes = answer_on(&penalty_free.with_updates([&update]).unwrap(), 1);
    assert_eq!(routes.paths[0].nodes, [1, 6, 7, 8, 10, 9].map(node).to_vec());
    // 5 → 9 is ruled out before any path through it is examined.
    assert_eq!(routes.candidates_examined, 1);
}

#[test]
fn every_valid_path_is_still_found_after_the_pruned_ones() {
    let routes = answer(5);
    let found: Vec<Vec<Address>> = routes.paths.into_iter().map(|path| path.nodes).collect();
    assert_eq!(found, vec![[1, 6, 7, 8, 10, 9].map(node).to_vec()]);
    assert!(routes.truncated.is_none());
}

/// A penalty for `first`'s side of a channel whose points end at `last`.
fn penalty_until(last: u64) -> FeeSchedule {
    FeeSchedule {
        imbalance_penalty: Some(
            ImbalancePenalty::new(vec![(U256::ZERO, U256::ZERO), (U256::from(last), U256::from(10))])
                .expect("increasing points"),
        ),
        ..FeeSchedule::default()
    }
}

/// Source 1, target 9: the short path 1 → 2 → 9 and the long one 1 → 3 → 4 → 9. The fee weight
/// of 2 → 9 is computed as if 9 held 1000 there (the edge's capacity), beyond its penalty's
/// last point 500: it is undefined for every amount. The path is still valid (9 is the target,
/// whose penalty no fee evaluates).
fn network_with_undefined_weight(with_long_path: bool) -> Vec<ChannelDescription> {
    let mut channels = vec![channel(1, 1, 2, 1000, 1000)];
    let mut last_hop = channel(2, 2, 9, 1000, 0);
    last_hop.fee_schedule2 = penalty_until(500);
    channels.push(last_hop);
    if with_long_path {
        channels.extend([channel(3, 1, 3, 1000, 1000), channel(4, 3, 4, 1000, 1000)]);
        channels.push(channel(5, 4, 9, 1000, 1000));
    }
    channels
}

fn paths_from_1_to_9(network: &ChannelGraph, max_paths: usize) -> Routes {
    let everyone: Vec<Address> = [1, 2, 3, 4, 9].map(node).to_vec();
    let online = OnlineSet::from_addresses(network, &everyone);
    let request = PathRequest { max_paths, ..PathRequest::new(node(1), node(9), U256::from(10)) };
    find_paths(network, &online, &request, &SearchLimits::default(), &Unlimited).expect("the pre-checks pass")
}

fn nodes_of(routes: Routes) -> Vec<Vec<Address>> {
    routes.paths.into_iter().map(|path| path.nodes).collect()
}

#[test]
fn paths_with_an_undefined_fee_weight_come_after_all_others() {
    let network = ChannelGraph::build(Address::ZERO, &network_with_undefined_weight(true)).unwrap();
    let routes = paths_from_1_to_9(&network, 2);
    assert!(routes.truncated.is_none());
    assert_eq!(nodes_of(routes), vec![[1, 3, 4, 9].map(node).to_vec(), [1, 2, 9].map(node).to_vec()]);
}

#[test]
fn a_target_reached_only_through_undefined_fee_weights_is_still_reached() {
    let network = ChannelGraph::build(Address::ZERO, &network_with_undefined_weight(false)).unwrap();
    assert_eq!(nodes_of(paths_from_1_to_9(&network, 3)), vec![[1, 2, 9].map(node).to_vec()]);
}

#[test]
fn a_receiver_schedule_update_makes_the_fee_weight_defined_again() {
    let network = ChannelGraph::build(Address::ZERO, &network_with_undefined_weight(true)).unwrap();
    // 9 drops its penalty on the channel with 2: the update is on 9's side (edge 9 → 2), and it
    // changes the weight of the opposite edge 2 → 9.
    let update = update(2, 9, None, Some(FeeSchedule::default()));
    let network = network.with_updates([&update]).unwrap();
    let routes = paths_from_1_to_9(&network, 2);
    assert_eq!(nodes_of(routes), vec![[1, 2, 9].map(node).to_vec(), [1, 3, 4, 9].map(node).to_vec()]);
}

#[test]
fn a_capacity_update_makes_the_fee_weight_defined_again() {
    let network = ChannelGraph::build(Address::ZERO, &network_with_undefined_weight(true)).unwrap();
    // 2 → 9 now holds 200: the weight's fee evaluates 9's penalty (points up to 500) at its
    // modelled balance 200 plus up to 200 more, all inside.
    let update = update(2, 2, Some(200), None);
    let network = network.with_updates([&update]).unwrap();
    let routes = paths_from_1_to_9(&network, 2);
    assert_eq!(nodes_of(routes), vec![[1, 2, 9].map(node).to_vec(), [1, 3, 4, 9].map(node).to_vec()]);
}

#[test]
fn capacities_that_round_to_the_same_float_are_compared_exactly() {
    // The search's per-request pass compares `f32` keys of amounts; 10^18 and 10^18 + 1 have
    // the same key, so only an exact comparison tells that 1 → 3 → 9 cannot carry the value.
    let value = 1_000_000_000_000_000_001u64;
    assert_eq!(value as f32, (value - 1) as f32);
    let channels = [
        channel(1, 1, 2, value, 0),
        channel(2, 2, 9, value, 0),
        channel(3, 1, 3, value - 1, 0),
        channel(4, 3, 9, value - 1, 0),
    ];
    let network = ChannelGraph::build(Address::ZERO, &channels).unwrap();
    let everyone: Vec<Address> = [1, 2, 3, 9].map(node).to_vec();
    let online = OnlineSet::from_addresses(&network, &everyone);
    let request = PathRequest { max_paths: 2, ..PathRequest::new(node(1), node(9), U256::from(value)) };
    let routes = find_paths(&network, &online, &request, &SearchLimits::default(), &Unlimited).unwrap();
    // Not even examined: the edges below the value are left out.
    assert_eq!(routes.candidates_examined, 1);
    assert_eq!(nodes_of(routes), vec![[1, 2, 9].map(node).to_vec()]);
}
