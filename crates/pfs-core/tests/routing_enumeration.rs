//! How the enumeration spends its work (see the `Speed` section of the search's docs): a set's
//! best path is searched for only as far as it may be needed. Every rule here leaves the
//! answer as it is (the property tests compare each tuning with a brute-force reference);
//! these tests pin the work they save.

mod common;

use common::{answer_from_1_to_9, byte_channel as channel, node, nodes_of};
use pfs_core::routing::{ChannelDescription, Routes, SearchMode, SearchTuning};
use pfs_core::{FeeSchedule, U256};

/// The node search's answer (see [`answer_from_1_to_9`]).
fn answer(channels: &[ChannelDescription], tuning: SearchTuning, max_paths: usize) -> Routes {
    answer_from_1_to_9(channels, SearchTuning { mode: SearchMode::Nodes, ..tuning }, max_paths)
}

/// Channels joining `nodes` one after the other, with ids from `first_id`.
fn chain(first_id: u64, nodes: &[u8]) -> Vec<ChannelDescription> {
    (0u64..)
        .zip(nodes.windows(2))
        .map(|(offset, pair)| channel(first_id + offset, pair[0], pair[1], 100, 100))
        .collect()
}

/// The best path is 1 → 2 → 9. Its neighbour 4 is two hops from the target through 2, which
/// the set of paths that start 1 → 2 and leave 2 by another edge cannot use: that set's bound
/// counts on it (4 at most), but its best path goes round an 11-hop chain (13 in all). The
/// second path, 1 → 3 → 5 → 6 → 7 → 8 → 9, weighs 6.
fn a_detour_behind_the_spur() -> Vec<ChannelDescription> {
    let mut channels = chain(1, &[1, 2, 9]);
    channels.extend(chain(10, &[1, 3, 5, 6, 7, 8, 9]));
    channels.extend(chain(20, &[2, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 9]));
    channels
}

#[test]
fn a_set_whose_best_path_lies_beyond_the_next_set_goes_back_to_the_queue() {
    let expected = vec![[1, 2, 9].map(node).to_vec(), [1, 3, 5, 6, 7, 8, 9].map(node).to_vec()];
    let yielding = answer(
        &a_detour_behind_the_spur(),
        SearchTuning { yield_after_pops: 0, ..SearchTuning::default() },
        2,
    );
    let to_the_end = answer(
        &a_detour_behind_the_spur(),
        SearchTuning { yield_after_pops: u64::MAX, ..SearchTuning::default() },
        2,
    );
    assert_eq!(nodes_of(&yielding), expected);
    assert_eq!(nodes_of(&to_the_end), expected);
    // Searched to its end, the detour's set walks the whole chain.
    assert!(
        yielding.queue_pops < to_the_end.queue_pops,
        "{} against {}",
        yielding.queue_pops,
        to_the_end.queue_pops
    );
}

/// The best path is 1 → 2 → 9, the only one. Node 4, next to 2, leads into a ring of 20 nodes
/// that reaches the target only through 2: the set of paths that start 1 → 2 and leave 2 by
/// another edge has a finite bound (the bound does not know that 2 is taken) and no path.
fn a_dead_end_behind_the_spur() -> Vec<ChannelDescription> {
    let mut channels = chain(1, &[1, 2, 9]);
    let ring: Vec<u8> = (20..40).chain([20]).collect();
    channels.extend(chain(10, &ring));
    channels.extend(chain(40, &[2, 4, 20]));
    channels
}

#[test]
fn a_set_without_a_path_to_the_target_is_dropped_after_a_reachability_check() {
    let expected = vec![[1, 2, 9].map(node).to_vec()];
    let checked = answer(
        &a_dead_end_behind_the_spur(),
        SearchTuning { undefined_check_after_pops: 1, ..SearchTuning::default() },
        2,
    );
    let unchecked = answer(
        &a_dead_end_behind_the_spur(),
        SearchTuning { undefined_check_after_pops: u64::MAX, ..SearchTuning::default() },
        2,
    );
    assert_eq!(nodes_of(&checked), expected);
    assert_eq!(nodes_of(&unchecked), expected);
    // Unchecked, the search settles the whole ring before it gives the set up. (Checked, the
    // target's side of the check runs dry at once: 9's only other neighbour is the root's 1.)
    assert!(
        checked.queue_pops < unchecked.queue_pops,
        "{} against {}",
        checked.queue_pops,
        unchecked.queue_pops
    );
}

/// [`a_dead_end_behind_the_spur`] with a way out of the ring that avoids 2: 30 → 9.
fn a_way_round_behind_the_spur() -> Vec<ChannelDescription> {
    let mut channels = a_dead_end_behind_the_spur();
    channels.extend(chain(60, &[30, 9]));
    channels
}

#[test]
fn a_set_with_a_way_round_its_spur_keeps_its_path_after_the_reachability_check() {
    // The set that leaves 2 by 2 → 4 has one path, round the ring to 30 and on to 9: the
    // check (which first looks for a way without undefined fees from both ends) keeps it.
    let second: Vec<_> = [1, 2, 4, 20].into_iter().chain(21..=30).chain([9]).map(node).collect();
    let expected = vec![[1, 2, 9].map(node).to_vec(), second];
    for undefined_check_after_pops in [1, u64::MAX] {
        let routes = answer(
            &a_way_round_behind_the_spur(),
            SearchTuning { undefined_check_after_pops, ..SearchTuning::default() },
            2,
        );
        assert_eq!(nodes_of(&routes), expected, "check after {undefined_check_after_pops} pops");
    }
}

/// Ten paths of five edges, 1 → 1x → 2 → 3 → 4 → 9, all end with 2 → 3 → 4 → 9, where node 4
/// charges a flat fee of 5 towards 9: 15 must leave 3, which its channel from 2 (12) cannot
/// bring in. The only valid path, 1 → 20 → 21 → 22 → 23 → 24 → 9, has six edges.
fn ten_ways_into_one_failing_suffix() -> Vec<ChannelDescription> {
    let mut channels: Vec<ChannelDescription> = (10u8..20)
        .flat_map(|middle| {
            let id = u64::from(middle) * 2;
            [channel(id, 1, middle, 100, 100), channel(id + 1, middle, 2, 100, 100)]
        })
        .collect();
    channels.push(channel(50, 2, 3, 12, 100));
    channels.extend(chain(51, &[3, 4]));
    channels.push(ChannelDescription {
        fee_schedule1: FeeSchedule { flat: U256::from(5), ..FeeSchedule::default() },
        ..channel(53, 4, 9, 100, 100)
    });
    channels.extend(chain(60, &[1, 20, 21, 22, 23, 24, 9]));
    channels
}

#[test]
fn a_candidate_whose_fee_fails_rules_out_every_path_that_ends_the_same_way() {
    let expected = vec![[1, 20, 21, 22, 23, 24, 9].map(node).to_vec()];
    let tuning = SearchTuning { mode: SearchMode::PairAware, ..SearchTuning::default() };
    let learning = answer_from_1_to_9(&ten_ways_into_one_failing_suffix(), tuning, 1);
    let not_learning = answer_from_1_to_9(
        &ten_ways_into_one_failing_suffix(),
        SearchTuning { learn_dead_ends: false, ..tuning },
        1,
    );
    assert_eq!(nodes_of(&learning), expected);
    assert_eq!(nodes_of(&not_learning), expected);
    // One way into the suffix is examined, then the valid path.
    assert_eq!(learning.candidates_examined, 2);
    assert_eq!(not_learning.candidates_examined, 11);
}
