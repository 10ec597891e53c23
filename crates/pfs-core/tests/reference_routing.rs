//! The routing cases of raiden-services' `tests/pathfinding/test_graphs.py` (REFERENCE-PFS.md §10)
//! and the edge-weight vectors of §2.6, with the reference's fixture accounts.

mod common;

use alloy_primitives::U256;
use common::{channel, fixture_addresses, query, set_fee};
use pfs_core::routing::{ChannelDescription, ChannelGraph, PathError, PathRequest, edge_weight};
use pfs_core::{Address, ChannelId, FeeSchedule};

fn case_1(addresses: &[Address]) -> Vec<ChannelDescription> {
    [
        (0, 1, 90, 60),
        (1, 2, 130, 40),
        (2, 3, 80, 20),
        (3, 4, 50, 50),
        (0, 2, 0, 120),
        (1, 4, 35, 35),
        (5, 6, 550, 700),
    ]
    .iter()
    .enumerate()
    .map(|(id, &(first, second, capacity1, capacity2))| {
        channel(addresses, id as u64, first, second, capacity1, capacity2)
    })
    .collect()
}

fn case_3(addresses: &[Address]) -> Vec<ChannelDescription> {
    [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 8),
        (0, 7),
        (7, 6),
        (7, 8),
        (7, 9),
        (9, 10),
        (10, 8),
        (5, 8),
        (6, 5),
        (6, 8),
    ]
    .iter()
    .enumerate()
    .map(|(id, &(first, second))| channel(addresses, id as u64, first, second, 100, 100))
    .collect()
}

fn request(addresses: &[Address], source: usize, target: usize, value: u64, max_paths: usize) -> PathRequest {
    PathRequest { max_paths, ..PathRequest::new(addresses[source], addresses[target], U256::from(value)) }
}

fn nodes_only(result: Vec<(Vec<usize>, i128)>) -> Vec<Vec<usize>> {
    result.into_iter().map(|(nodes, _)| nodes).collect()
}

const ALL: [usize; 11] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

#[test]
fn fixture_accounts_are_the_reference_ones() {
    let expected = [
        "0x425Ae743",
        "0x19d36ABD",
        "0x1B54A58A",
        "0x5d0497c2",
        "0x415DEC8c",
        "0x57762FC6",
        "0xcd9946ec",
        "0xc35bD49A",
        "0xcf5f8526",
        "0xE59Da686",
    ];
    for (address, prefix) in fixture_addresses(10).iter().zip(expected) {
        assert!(
            address.to_checksum().starts_with(prefix),
            "{} does not start with {prefix}",
            address.to_checksum()
        );
    }
}

#[test]
fn views_carry_the_described_capacities_and_default_fees() {
    let addresses = fixture_addresses(7);
    let network = ChannelGraph::build(Address::ZERO, &case_1(&addresses)).unwrap();
    let view01 = network.view(&addresses[0], &addresses[1]).unwrap();
    let view10 = network.view(&addresses[1], &addresses[0]).unwrap();
    assert_eq!(view01.capacity, U256::from(90));
    assert_eq!(view10.capacity, U256::from(60));
    assert!(view01.fee_schedule_sender.flat.is_zero());
}

#[test]
fn routing_simple_prefers_the_lexicographically_smaller_of_two_equal_paths() {
    let addresses = fixture_addresses(7);
    let result =
        query(&case_1(&addresses), &addresses, &ALL[..7], &request(&addresses, 0, 3, 10, 2)).unwrap();
    assert_eq!(result, vec![(vec![0, 1, 2, 3], 0), (vec![0, 1, 4, 3], 0)]);
}

#[test]
fn disconnected_nodes_have_no_route() {
    let addresses = fixture_addresses(7);
    // The reference's get_paths returns [] here; the request-level check answers first.
    let result = query(&case_1(&addresses), &addresses, &ALL[..7], &request(&addresses, 0, 5, 10, 2));
    assert_eq!(result, Err(PathError::NoRoute));
}

#[test]
fn capacity_check_skips_hops_below_the_value() {
    let addresses = fixture_addresses(7);
    let result =
        query(&case_1(&addresses), &addresses, &ALL[..7], &request(&addresses, 4, 0, 35, 1)).unwrap();
    assert_eq!(nodes_only(result), vec![vec![4, 1, 0]]);
}

#[test]
fn capacity_check_includes_the_mediators_fee() {
    let addresses = fixture_addresses(7);
    let mut channels = case_1(&addresses);
    set_fee(&mut channels, &addresses, 1, 0, FeeSchedule { flat: U256::from(1), ..FeeSchedule::default() });
    let request = PathRequest { fee_penalty: 0.0, ..request(&addresses, 4, 0, 35, 1) };
    let result = query(&channels, &addresses, &ALL[..7], &request).unwrap();
    assert_eq!(nodes_only(result), vec![vec![4, 1, 2, 0]]);
}

#[test]
fn routing_result_order_lists_only_valid_paths() {
    let addresses = fixture_addresses(7);
    let result =
        query(&case_1(&addresses), &addresses, &ALL[..7], &request(&addresses, 0, 2, 10, 5)).unwrap();
    assert_eq!(result, vec![(vec![0, 1, 2], 0), (vec![0, 1, 4, 3, 2], 0)]);
}

fn diversity_case(penalty: f64) -> Vec<Vec<usize>> {
    let addresses = fixture_addresses(11);
    let request = PathRequest { diversity_penalty: penalty, ..request(&addresses, 0, 8, 10, 5) };
    nodes_only(query(&case_3(&addresses), &addresses, &ALL, &request).unwrap())
}

#[test]
fn diversity_penalty_small() {
    assert_eq!(
        diversity_case(0.1),
        vec![
            vec![0, 7, 8],
            vec![0, 7, 6, 8],
            vec![0, 7, 9, 10, 8],
            vec![0, 7, 6, 5, 8],
            vec![0, 1, 2, 3, 4, 8]
        ]
    );
}

#[test]
fn diversity_penalty_medium() {
    assert_eq!(
        diversity_case(1.1),
        vec![
            vec![0, 7, 8],
            vec![0, 7, 6, 8],
            vec![0, 1, 2, 3, 4, 8],
            vec![0, 7, 9, 10, 8],
            vec![0, 7, 6, 5, 8]
        ]
    );
}

#[test]
fn diversity_penalty_large() {
    assert_eq!(
        diversity_case(10.0),
        vec![
            vec![0, 7, 8],
            vec![0, 1, 2, 3, 4, 8],
            vec![0, 7, 6, 8],
            vec![0, 7, 9, 10, 8],
            vec![0, 7, 6, 5, 8]
        ]
    );
}

fn reachability_case(online: &[usize]) -> Result<Vec<Vec<usize>>, PathError> {
    let addresses = fixture_addresses(11);
    query(&case_3(&addresses), &addresses, online, &request(&addresses, 0, 8, 10, 5)).map(nodes_only)
}

#[test]
fn reachability_baseline_uses_the_default_penalty() {
    assert_eq!(
        reachability_case(&ALL).unwrap(),
        vec![
            vec![0, 7, 8],
            vec![0, 1, 2, 3, 4, 8],
            vec![0, 7, 6, 8],
            vec![0, 7, 9, 10, 8],
            vec![0, 7, 6, 5, 8]
        ]
    );
}

#[test]
fn offline_initiator_is_refused() {
    let online: Vec<usize> = ALL.iter().copied().filter(|&node| node != 0).collect();
    assert_eq!(reachability_case(&online), Err(PathError::SourceNotOnline));
}

#[test]
fn offline_mediator_is_avoided() {
    let online: Vec<usize> = ALL.iter().copied().filter(|&node| node != 7).collect();
    assert_eq!(reachability_case(&online).unwrap(), vec![vec![0, 1, 2, 3, 4, 8]]);
    let online: Vec<usize> = ALL.iter().copied().filter(|&node| node != 7 && node != 1).collect();
    assert_eq!(reachability_case(&online).unwrap(), Vec::<Vec<usize>>::new());
}

#[test]
fn offline_target_is_refused() {
    let online: Vec<usize> = ALL.iter().copied().filter(|&node| node != 8).collect();
    assert_eq!(reachability_case(&online), Err(PathError::TargetNotOnline));
}

#[test]
fn precheck_messages_are_the_reference_texts() {
    let addresses = fixture_addresses(7);
    let channels = case_1(&addresses);
    let error = query(&channels, &addresses, &ALL[..7], &request(&addresses, 0, 3, 1000, 1)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Source does not have a channel with sufficient capacity (current capacities: [90, 0] < requested amount:  1000)"
    );
    let error = query(&channels, &addresses, &ALL[..7], &request(&addresses, 6, 3, 100, 1)).unwrap_err();
    assert_eq!(error.to_string(), "Target does not have a channel with sufficient capacity ([80, 50] < 100)");
    let outsider = Address::from_bytes([0xEE; 20]);
    let mut with_outsider = addresses.clone();
    with_outsider.push(outsider);
    let error =
        query(&channels, &with_outsider, &[0, 1, 7], &request(&with_outsider, 7, 0, 1, 1)).unwrap_err();
    assert_eq!(error.to_string(), "No channel from source");
    let error =
        query(&channels, &with_outsider, &[0, 1, 7], &request(&with_outsider, 0, 7, 1, 1)).unwrap_err();
    assert_eq!(error.to_string(), "No channel to target");
    assert_eq!(PathError::NoRoute.to_string(), "No route from source to target");
}

/// test_graphs.py::test_edge_weight: capacities 20e18 / 10e18, amount 1e18.
#[test]
fn edge_weight_matches_the_reference_vectors() {
    let addresses = fixture_addresses(2);
    let ether = U256::from(10u64).pow(U256::from(18));
    let build = |sender: FeeSchedule, partner_capacity: U256| {
        let description = ChannelDescription {
            channel_id: ChannelId(U256::from(1)),
            participant1: addresses[0],
            participant2: addresses[1],
            capacity1: ether * U256::from(20),
            capacity2: partner_capacity,
            fee_schedule1: sender,
            fee_schedule2: FeeSchedule::default(),
        };
        ChannelGraph::build(Address::ZERO, &[description]).unwrap()
    };
    let weight = |network: &ChannelGraph, diversity: f64, fee_penalty: f64| {
        let view = network.view(&addresses[0], &addresses[1]).unwrap();
        edge_weight(diversity, &view, ether, fee_penalty)
    };
    let ten = ether * U256::from(10);
    let plain = build(FeeSchedule::default(), ten);
    assert_eq!(weight(&plain, 0.0, 0.0), 1.0);
    assert_eq!(weight(&plain, 2.0, 0.0), 3.0);
    let flat =
        build(FeeSchedule { flat: U256::from(30_000_000_000_000_000u64), ..FeeSchedule::default() }, ten);
    assert_eq!(weight(&flat, 0.0, 100.0), 4.0);
    let proportional = build(FeeSchedule { proportional: U256::from(10_000), ..FeeSchedule::default() }, ten);
    assert_eq!(weight(&proportional, 0.0, 100.0), 2.0);
    let no_refund =
        build(FeeSchedule { proportional: U256::from(10_000), ..FeeSchedule::default() }, U256::ZERO);
    assert_eq!(weight(&no_refund, 0.0, 100.0), 3.0);
}
