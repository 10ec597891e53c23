//! The pair-aware search (see the `Speed` section of the search's docs): states are the edges a
//! path enters a node by, so a mediator's conditions on its pair of edges hold on every path it
//! finds. It returns what the node search returns (the property tests compare every
//! [`SearchMode`] with a brute-force reference); these tests pin what it does differently.

mod common;

use alloy_primitives::U256;
use common::{answer_from_1_to_9, byte_channel as channel, node, nodes_of};
use pfs_core::fee_schedule::ImbalancePenalty;
use pfs_core::routing::{
    ChannelDescription, ChannelGraph, OnlineSet, PathFinder, PathRequest, Routes, SearchLimits, SearchMode,
    SearchTuning, Unlimited,
};
use pfs_core::{Address, FeeSchedule};

fn answer(channels: &[ChannelDescription], mode: SearchMode, max_paths: usize) -> Routes {
    answer_from_1_to_9(channels, SearchTuning { mode, ..SearchTuning::default() }, max_paths)
}

/// A schedule whose imbalance penalty ends at 350 (and is zero up to there): a mediator holding
/// 300 on that channel, whose partner can send it 100, enters with a slack of 50.
fn penalty_ending_at_350() -> FeeSchedule {
    FeeSchedule {
        imbalance_penalty: Some(
            ImbalancePenalty::new(vec![(U256::ZERO, U256::ZERO), (U256::from(350), U256::ZERO)])
                .expect("increasing points"),
        ),
        ..FeeSchedule::default()
    }
}

/// Mediator 5 is entered from 2 or 3 and leaves to 6 (then the target 9) or to 7 (a dead
/// end). Its penalty on the channel with 2 ends at 350 while it holds 300 there and 2 can send
/// 100: a slack of 50, which covers its balance of 40 towards 7 but not its balance of 1000
/// towards 6. So both of its edges pass the conditions of a single edge, and only the pair
/// 2 → 5 → 6 breaks them. 1 → 2 → 5 → 6 → 9 and 1 → 3 → 5 → 6 → 9 weigh the same; the first is
/// the lexicographically smaller one, and invalid.
fn mediator_with_one_bad_pair() -> Vec<ChannelDescription> {
    let mut into_mediator = channel(3, 2, 5, 100, 300);
    into_mediator.fee_schedule2 = penalty_ending_at_350();
    vec![
        channel(1, 1, 2, 100, 100),
        channel(2, 1, 3, 100, 100),
        into_mediator,
        channel(4, 3, 5, 100, 100),
        channel(5, 5, 6, 1000, 100),
        channel(6, 6, 9, 1000, 100),
        channel(7, 5, 7, 40, 100),
    ]
}

#[test]
fn a_path_through_a_pair_that_breaks_the_mediator_conditions_is_never_examined() {
    let expected = vec![[1, 3, 5, 6, 9].map(node).to_vec()];
    let pair_aware = answer(&mediator_with_one_bad_pair(), SearchMode::PairAware, 1);
    assert_eq!(nodes_of(&pair_aware), expected);
    assert_eq!(pair_aware.candidates_examined, 1);
    // The node search finds the invalid path first and examines it.
    let nodes = answer(&mediator_with_one_bad_pair(), SearchMode::Nodes, 1);
    assert_eq!(nodes_of(&nodes), expected);
    assert_eq!(nodes.candidates_examined, 2);
}

/// 1 → 2 → 5 → 9 and 1 → 3 → 4 → 9 weigh the same. The first is lexicographically smaller, but
/// its last edge leaves a larger node: the two paths end in different states of the pair-aware
/// search, and the smaller path must win over the state reached first.
#[test]
fn equal_paths_that_enter_the_target_by_different_edges_keep_the_lexicographically_smaller() {
    let channels = vec![
        channel(1, 1, 2, 100, 100),
        channel(2, 1, 3, 100, 100),
        channel(3, 2, 5, 100, 100),
        channel(4, 3, 4, 100, 100),
        channel(5, 5, 9, 100, 100),
        channel(6, 4, 9, 100, 100),
    ];
    for mode in [SearchMode::PairAware, SearchMode::Nodes] {
        let routes = answer(&channels, mode, 2);
        assert_eq!(
            nodes_of(&routes),
            vec![[1, 2, 5, 9].map(node).to_vec(), [1, 3, 4, 9].map(node).to_vec()],
            "{mode:?}"
        );
    }
}

#[test]
fn a_request_switches_to_the_pair_aware_search_once_a_candidate_is_invalid() {
    let tuning = SearchTuning { pair_aware_after_invalid: 1, ..SearchTuning::default() };
    let routes = answer_from_1_to_9(&mediator_with_one_bad_pair(), tuning, 5);
    // The node search examined the invalid path; the pair-aware search took over, found the
    // valid one, and knows that no other path passes the pair conditions.
    assert_eq!(nodes_of(&routes), vec![[1, 3, 5, 6, 9].map(node).to_vec()]);
    assert_eq!(routes.candidates_examined, 2);
    let nodes = answer(&mediator_with_one_bad_pair(), SearchMode::Nodes, 5);
    assert_eq!(nodes_of(&nodes), nodes_of(&routes));
}

/// Mediator 2 holds 300 on its channel with the source 1, where its penalty ends at 350: an
/// entry from 1 has a slack of 50, which covers its balance of 40 towards 5 but not its balance
/// of 1000 towards 7 (and the target 9 behind it). The only valid path enters 2 from 5:
/// 1 → 4 → 3 → 5 → 2 → 7 → 9. The pair-aware search reaches 5 first from 2 (two hops), and
/// never turns back along that channel; its second entry, from 3, has no more slack (5 has no
/// penalty), and must still take the edge to 2 that the first could not.
#[test]
fn an_entry_that_an_earlier_one_covers_still_turns_where_that_one_came_from() {
    let mut from_source = channel(1, 1, 2, 100, 300);
    from_source.fee_schedule2 = penalty_ending_at_350();
    let channels = vec![
        from_source,
        channel(2, 2, 5, 40, 100),
        channel(3, 2, 7, 1000, 100),
        channel(4, 7, 9, 1000, 100),
        channel(5, 1, 4, 100, 100),
        channel(6, 4, 3, 100, 100),
        channel(7, 3, 5, 100, 100),
    ];
    let expected = vec![[1, 4, 3, 5, 2, 7, 9].map(node).to_vec()];
    for mode in [SearchMode::PairAware, SearchMode::Nodes] {
        assert_eq!(nodes_of(&answer(&channels, mode, 5)), expected, "{mode:?}");
    }
}

/// `schedule` with `cap_fees`, `flat`, `proportional` and penalty `points`.
fn schedule(cap_fees: bool, flat: u64, proportional: u64, points: Option<&[(u64, u64)]>) -> FeeSchedule {
    FeeSchedule {
        cap_fees,
        flat: U256::from(flat),
        proportional: U256::from(proportional),
        imbalance_penalty: points.map(|points| {
            ImbalancePenalty::new(points.iter().map(|&(x, y)| (U256::from(x), U256::from(y))).collect())
                .expect("increasing points")
        }),
    }
}

/// Found by the property test `search_equals_the_brute_force_reference` (in CI, session 10). From
/// 0x25 to 0x36 for 20, one path. The request finds four candidates invalid and learns two dead
/// ends, 0x14 → 0x58 → 0x47 → 0x36 and 0x58 → 0x47 → 0x03 → 0x36, then (with
/// [`SearchMode::Adaptive`]) switches to the pair-aware search, whose bound knows them. The
/// reference's first path is 0x25 → 0x58 → 0x47 → 0x36 (fee 7): after its edge 0x58 → 0x47 the walk
/// follows the second dead end's first edge, and its rest, 0x47 → 0x36, is one edge into the
/// target. The bound offered the target's own entries to their tails but not to the dead-end
/// states there, so that state kept no label, the bound of the walk was the frontier's (six units
/// instead of one), and the search returned 0x25 → 0x58 → 0x14 → 0x47 → 0x36 (fee 3), which weighs
/// one unit more.
#[test]
fn the_adaptive_search_with_a_learnt_dead_end_returns_the_references_first_path() {
    let channel = |id, first, second, capacity1, capacity2, schedule1, schedule2| ChannelDescription {
        fee_schedule1: schedule1,
        fee_schedule2: schedule2,
        ..channel(id, first, second, capacity1, capacity2)
    };
    let channels = [
        channel(1, 0x03, 0x36, 36, 0, schedule(true, 1, 51_594, None), schedule(false, 0, 0, None)),
        channel(2, 0x03, 0x47, 0, 37, schedule(true, 0, 136_005, None), schedule(true, 1, 113_343, None)),
        channel(
            3,
            0x14,
            0x25,
            0,
            61,
            schedule(true, 0, 0, Some(&[(0, 0), (12, 8), (122, 26)])),
            schedule(false, 0, 0, None),
        ),
        channel(4, 0x14, 0x47, 34, 0, schedule(true, 0, 0, None), schedule(true, 0, 0, None)),
        channel(5, 0x14, 0x58, 22, 42, schedule(true, 0, 0, None), schedule(true, 0, 0, None)),
        channel(6, 0x25, 0x58, 200, 0, schedule(false, 0, 0, Some(&[(0, 0)])), schedule(true, 0, 0, None)),
        channel(7, 0x36, 0x47, 0, 200, schedule(false, 0, 0, None), schedule(true, 3, 0, None)),
        channel(8, 0x47, 0x58, 0, 35, schedule(true, 1, 115_803, None), schedule(true, 0, 0, None)),
    ];
    let network = ChannelGraph::build(Address::ZERO, &channels).expect("valid channels");
    let online = OnlineSet::from_addresses(&network, &[0x03, 0x14, 0x25, 0x36, 0x47, 0x58].map(node));
    let request = PathRequest {
        max_paths: 1,
        diversity_penalty: 0.1,
        fee_penalty: 0.0,
        ..PathRequest::new(node(0x25), node(0x36), U256::from(20))
    };
    let mut finder = PathFinder::with_tuning(SearchTuning::default());
    let routes = finder
        .find_paths(&network, &online, &request, &SearchLimits::default(), &Unlimited)
        .expect("the pre-checks pass");
    assert_eq!(nodes_of(&routes), vec![[0x25, 0x58, 0x47, 0x36].map(node).to_vec()]);
}
