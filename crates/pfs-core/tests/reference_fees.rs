//! The fee tables of raiden-services' `tests/pathfinding/test_fee_schedule.py`
//! (REFERENCE-PFS.md §2.8): whole paths through the routing engine, fees computed backwards.

mod common;

use alloy_primitives::U256;
use common::{channel, fixture_addresses, query, set_fee};
use pfs_core::fee_schedule::ImbalancePenalty;
use pfs_core::fees::client::ppm_fee_per_channel;
use pfs_core::routing::{ChannelDescription, PathRequest};
use pfs_core::{Address, FeeSchedule};

fn penalty(points: &[(u64, u64)]) -> Option<ImbalancePenalty> {
    Some(
        ImbalancePenalty::new(points.iter().map(|&(x, y)| (U256::from(x), U256::from(y))).collect()).unwrap(),
    )
}

fn schedule(cap_fees: bool, flat: u64, proportional: u64, points: &[(u64, u64)]) -> FeeSchedule {
    FeeSchedule {
        cap_fees,
        flat: U256::from(flat),
        proportional: U256::from(proportional),
        imbalance_penalty: if points.is_empty() { None } else { penalty(points) },
    }
}

/// Nodes 1…`count` in a line, `capacity1`/`capacity2` on every channel.
fn line(addresses: &[Address], count: usize, capacity1: u64, capacity2: u64) -> Vec<ChannelDescription> {
    (1..count).map(|node| channel(addresses, node as u64, node, node + 1, capacity1, capacity2)).collect()
}

/// The estimated fee of the only path `source → target`, or `None` when there is none.
fn fee(
    channels: &[ChannelDescription],
    addresses: &[Address],
    source: usize,
    target: usize,
    value: u64,
) -> Option<i128> {
    let online: Vec<usize> = (0..addresses.len()).collect();
    let request = PathRequest {
        max_paths: 1,
        ..PathRequest::new(addresses[source], addresses[target], U256::from(value))
    };
    match query(channels, addresses, &online, &request) {
        Ok(paths) => paths.first().map(|(_, fee)| *fee),
        Err(_) => None,
    }
}

/// `set_fee(node, partner, …)` for node 2 on its channels to `partners`.
fn with_node2(
    capacity: (u64, u64),
    settings: &[(usize, FeeSchedule)],
) -> (Vec<ChannelDescription>, Vec<Address>) {
    let addresses = fixture_addresses(5);
    let mut channels = line(&addresses, 3, capacity.0, capacity.1);
    for (partner, schedule) in settings {
        set_fee(&mut channels, &addresses, 2, *partner, schedule.clone());
    }
    (channels, addresses)
}

#[test]
fn flat_fees_count_only_for_mediators() {
    let addresses = fixture_addresses(5);
    let mut channels = line(&addresses, 3, 1000, 1000);
    set_fee(&mut channels, &addresses, 1, 2, schedule(true, 1, 0, &[]));
    assert_eq!(fee(&channels, &addresses, 1, 3, 100), Some(0));
    set_fee(&mut channels, &addresses, 2, 1, schedule(true, 1, 0, &[]));
    assert_eq!(fee(&channels, &addresses, 1, 3, 100), Some(1));
    set_fee(&mut channels, &addresses, 2, 3, schedule(true, 1, 0, &[]));
    assert_eq!(fee(&channels, &addresses, 1, 3, 100), Some(2));
    assert_eq!(fee(&channels, &addresses, 3, 1, 100), Some(2));
}

/// (partner of node 2 carrying the penalty, points, cap_fees, fee 1→3, fee 3→1)
type PenaltyRow = (usize, &'static [(u64, u64)], bool, i128, i128);

fn check_penalty_rows(capacity: (u64, u64), rows: &[PenaltyRow], reverse_defined: bool) {
    for &(partner, points, cap_fees, forward, backward) in rows {
        let other = if partner == 1 { 3 } else { 1 };
        let (channels, addresses) = with_node2(
            capacity,
            &[(partner, schedule(cap_fees, 0, 0, points)), (other, schedule(cap_fees, 0, 0, &[]))],
        );
        assert_eq!(
            fee(&channels, &addresses, 1, 3, 100),
            Some(forward),
            "1→3 for {partner} {points:?} cap {cap_fees}"
        );
        let expected_backward = if reverse_defined { Some(backward) } else { None };
        assert_eq!(
            fee(&channels, &addresses, 3, 1, 100),
            expected_backward,
            "3→1 for {partner} {points:?} cap {cap_fees}"
        );
    }
}

#[test]
fn imbalance_penalties_in_balanced_channels() {
    let rising: &[(u64, u64)] = &[(0, 0), (2000, 200)];
    let falling: &[(u64, u64)] = &[(0, 200), (2000, 0)];
    check_penalty_rows(
        (1000, 1000),
        &[
            (1, rising, false, 11, -10),
            (1, rising, true, 11, 0),
            (1, falling, false, -9, 10),
            (1, falling, true, 0, 10),
            (3, rising, false, -10, 11),
            (3, rising, true, 0, 11),
            (3, falling, false, 10, -9),
            (3, falling, true, 10, 0),
        ],
        true,
    );
}

#[test]
fn equal_penalties_on_both_channels_cancel() {
    for cap_fees in [false, true] {
        let flat_curve = schedule(cap_fees, 0, 0, &[(0, 0), (2000, 20)]);
        let (channels, addresses) = with_node2((1000, 1000), &[(1, flat_curve.clone()), (3, flat_curve)]);
        assert_eq!(fee(&channels, &addresses, 1, 3, 100), Some(0));
        assert_eq!(fee(&channels, &addresses, 3, 1, 100), Some(0));
    }
}

#[test]
fn penalty_not_covering_the_balance_makes_the_path_invalid() {
    let (channels, addresses) = with_node2((1000, 1000), &[(3, schedule(true, 0, 0, &[(0, 0), (800, 200)]))]);
    assert_eq!(fee(&channels, &addresses, 1, 3, 100), None);
}

#[test]
fn imbalance_penalties_in_unbalanced_channels() {
    let rising: &[(u64, u64)] = &[(0, 0), (1000, 100)];
    let falling: &[(u64, u64)] = &[(0, 100), (1000, 0)];
    check_penalty_rows(
        (1000, 0),
        &[
            (1, rising, false, 11, 0),
            (1, rising, true, 11, 0),
            (1, falling, false, -9, 0),
            (1, falling, true, 0, 0),
            (3, rising, false, -10, 0),
            (3, rising, true, 0, 0),
            (3, falling, false, 10, 0),
            (3, falling, true, 10, 0),
        ],
        false,
    );
    let (channels, addresses) = with_node2((1000, 0), &[(3, schedule(true, 0, 0, &[(0, 0), (80, 200)]))]);
    assert_eq!(fee(&channels, &addresses, 1, 3, 100), None);
}

#[test]
fn regression_554_penalties_at_the_channel_edge_give_a_result() {
    let (channels, addresses) = with_node2((100, 0), &[(1, schedule(true, 0, 0, &[(0, 20), (100, 0)]))]);
    assert!(fee(&channels, &addresses, 1, 3, 10).is_some());
    let curve: &[(u64, u64)] = &[(0, 1000), (50_000, 0), (100_000, 1000)];
    let (channels, addresses) =
        with_node2((100_000, 0), &[(1, schedule(true, 0, 0, curve)), (3, schedule(true, 0, 0, curve))]);
    assert!(fee(&channels, &addresses, 1, 3, 10_000).is_some());
}

#[test]
fn fees_compound_along_the_path() {
    // Path 1→2→3→4, capacity 10 000, value 1000; per-hop CLI values on both channels of 2 and 3.
    let cases: [(u64, u64, i128); 6] = [
        (100, 0, 200),
        (10, 0, 20),
        (0, 1_000_000, 3000),
        (0, 100_000, 210),
        (0, 50_000, 102),
        (0, 10_000, 20),
    ];
    for (flat_per_hop, proportional_per_hop, expected) in cases {
        let addresses = fixture_addresses(5);
        let mut channels = line(&addresses, 4, 10_000, 10_000);
        let per_channel = FeeSchedule {
            flat: U256::from(flat_per_hop / 2),
            proportional: ppm_fee_per_channel(U256::from(proportional_per_hop)),
            ..FeeSchedule::default()
        };
        for (node, partner) in [(2, 1), (2, 3), (3, 2), (3, 4)] {
            set_fee(&mut channels, &addresses, node, partner, per_channel.clone());
        }
        assert_eq!(
            fee(&channels, &addresses, 1, 4, 1000),
            Some(expected),
            "{flat_per_hop} {proportional_per_hop}"
        );
    }
}

#[test]
fn fee_estimate_rounds_half_to_even() {
    // (flat, per-hop ppm, max linear imbalance, value) → fee; path 1→2→3, capacity 10 000.
    let cases: [(u64, u64, u64, u64, i128); 14] = [
        (0, 1_000_000, 0, 1000, 1000),
        (0, 100_000, 0, 1000, 100),
        (0, 50_000, 0, 1000, 50),
        (0, 10_000, 0, 1000, 10),
        (0, 10_000, 0, 100, 1),
        (0, 5_000, 0, 100, 1),
        (0, 4_999, 0, 100, 0),
        (0, 5_000, 0, 99, 0),
        (50, 0, 0, 1000, 100),
        (10, 100_000, 0, 1000, 121),
        (100, 500_000, 0, 1000, 750),
        (100, 500_000, 0, 967, 733),
        (0, 0, 100, 1000, 10),
        (0, 0, 1000, 1000, 111),
    ];
    for (flat, proportional_per_hop, imbalance, value, expected) in cases {
        let points: Vec<(u64, u64)> =
            if imbalance == 0 { Vec::new() } else { vec![(0, 0), (10_000, 0), (20_000, imbalance)] };
        let node2 = schedule(true, flat, 0, &points);
        let node2 =
            FeeSchedule { proportional: ppm_fee_per_channel(U256::from(proportional_per_hop)), ..node2 };
        let (channels, addresses) = {
            let addresses = fixture_addresses(5);
            let mut channels = line(&addresses, 3, 10_000, 10_000);
            set_fee(&mut channels, &addresses, 2, 1, node2.clone());
            set_fee(&mut channels, &addresses, 2, 3, node2);
            (channels, addresses)
        };
        assert_eq!(
            fee(&channels, &addresses, 1, 3, value),
            Some(expected),
            "{flat} {proportional_per_hop} {imbalance} {value}"
        );
    }
}

#[test]
fn mismatched_cap_fees_on_a_mediator_makes_its_paths_invalid_instead_of_crashing() {
    // Node 2 announced cap_fees = false on its channel to 1 but keeps the default (capped) on
    // its channel to 3: the reference asserts and answers 500; here the mediator cannot mediate.
    let (channels, addresses) = with_node2((1000, 1000), &[(1, schedule(false, 1, 0, &[]))]);
    assert_eq!(fee(&channels, &addresses, 1, 3, 100), None);
    assert_eq!(fee(&channels, &addresses, 3, 1, 100), None);
    // A direct channel still works: no mediator, no fee.
    assert_eq!(fee(&channels, &addresses, 1, 2, 100), Some(0));
}
