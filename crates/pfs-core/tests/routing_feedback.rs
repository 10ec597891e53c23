//! Routing feedback in the search (ARCHITECTURE §4): hops of routes reported as failed weigh
//! more until their penalty decays; without reports the answer is the reference's.

mod common;

use common::{byte_channel as channel, node};
use pfs_core::routing::{
    ChannelGraph, EdgePenalties, FEEDBACK_HALF_LIFE_SECONDS, FeedbackPenalties, OnlineSet, PathFinder,
    PathRequest, SearchLimits, Unlimited,
};
use pfs_core::{Address, NaiveTimestamp, U256};

/// Two equal routes from 1 to 9, through 2 and through 3: without penalties 1 → 2 → 9 comes first
/// (the smaller address list, §2.10).
fn two_equal_routes() -> ChannelGraph {
    let channels = [
        channel(1, 1, 2, 100, 100),
        channel(2, 2, 9, 100, 100),
        channel(3, 1, 3, 100, 100),
        channel(4, 3, 9, 100, 100),
    ];
    ChannelGraph::build(Address::ZERO, &channels).expect("valid channels")
}

fn first_route(network: &ChannelGraph, penalties: &EdgePenalties) -> Vec<Address> {
    let online = OnlineSet::from_addresses(network, &[node(1), node(2), node(3), node(9)]);
    let request = PathRequest { max_paths: 1, ..PathRequest::new(node(1), node(9), U256::from(10)) };
    let routes = PathFinder::new()
        .find_paths_with_feedback(network, &online, penalties, &request, &SearchLimits::default(), &Unlimited)
        .expect("the pre-checks pass");
    routes.paths[0].nodes.clone()
}

fn at_seconds(seconds: f64) -> NaiveTimestamp {
    NaiveTimestamp::from_unix_micros(1_800_000_000_000_000 + (seconds * 1e6) as i64).expect("in range")
}

#[test]
fn without_reports_the_first_route_is_the_references() {
    let network = two_equal_routes();
    let penalties = FeedbackPenalties::new().edge_penalties(&network, at_seconds(0.0));
    assert!(penalties.is_empty());
    assert_eq!(first_route(&network, &penalties), [1, 2, 9].map(node));
}

#[test]
fn a_route_reported_as_failed_goes_behind_its_equal_alternative() {
    let network = two_equal_routes();
    let mut penalties = FeedbackPenalties::new();
    penalties.record(&[1, 2, 9].map(node), false, at_seconds(0.0));
    assert_eq!(
        first_route(&network, &penalties.edge_penalties(&network, at_seconds(0.0))),
        [1, 3, 9].map(node)
    );
}

#[test]
fn a_failed_route_comes_back_once_its_penalty_is_forgotten() {
    let network = two_equal_routes();
    let mut penalties = FeedbackPenalties::new();
    penalties.record(&[1, 2, 9].map(node), false, at_seconds(0.0));
    let an_hour_later = at_seconds(6.0 * FEEDBACK_HALF_LIFE_SECONDS);
    assert_eq!(
        first_route(&network, &penalties.edge_penalties(&network, an_hour_later)),
        [1, 3, 9].map(node)
    );
    let much_later = at_seconds(8.0 * FEEDBACK_HALF_LIFE_SECONDS);
    assert_eq!(first_route(&network, &penalties.edge_penalties(&network, much_later)), [1, 2, 9].map(node));
}

#[test]
fn a_failure_in_the_other_direction_does_not_count() {
    let network = two_equal_routes();
    let mut penalties = FeedbackPenalties::new();
    penalties.record(&[9, 2, 1].map(node), false, at_seconds(0.0));
    assert_eq!(
        first_route(&network, &penalties.edge_penalties(&network, at_seconds(0.0))),
        [1, 2, 9].map(node)
    );
}

#[test]
fn updating_the_hops_of_a_report_gives_the_edge_penalties_worked_out_afresh() {
    let network = two_equal_routes();
    let mut penalties = FeedbackPenalties::new();
    penalties.record(&[1, 2, 9].map(node), false, at_seconds(0.0));
    let mut edges = penalties.edge_penalties(&network, at_seconds(0.0));
    let reports: [(&[u8], bool); 4] =
        [(&[1, 3, 9], false), (&[1, 2, 9], true), (&[1, 2, 9], true), (&[9, 3, 1, 7], false)];
    for (route, successful) in reports {
        let route: Vec<Address> = route.iter().map(|&byte| node(byte)).collect();
        penalties.record(&route, successful, at_seconds(0.0));
        penalties.update_route(&mut edges, &network, &route, at_seconds(0.0));
        assert_eq!(edges, penalties.edge_penalties(&network, at_seconds(0.0)), "after {route:?}");
    }
}
