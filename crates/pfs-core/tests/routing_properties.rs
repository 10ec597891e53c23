//! Property tests of the fee model and the search, against independent oracles:
//!
//! * the fast `i128` instantiation of the fee model equals the arbitrary-precision one;
//! * on small random networks, [`find_paths`] returns exactly what a brute-force transcription of
//!   REFERENCE-PFS.md §2.4–2.7 returns (all simple paths of the reachable graph sorted by total
//!   weight, then address list; the first valid one not taken yet, `max_paths` times, with the
//!   diversity penalty in between), so every returned path is simple, online, within capacity,
//!   has the independently recomputed fee, and the first one is a shortest valid path;
//! * results are deterministic, with a fresh or a reused [`PathFinder`];
//! * with routing feedback, the same holds with each hop's penalty added to its weight.

use alloy_primitives::{I256, U256};
use pfs_core::fee_schedule::ImbalancePenalty;
use pfs_core::fees::{ScheduleTerms, get_amount_with_fees, get_amount_with_fees_general};
use pfs_core::routing::{
    Budget, ChannelDescription, ChannelGraph, FeedbackPenalties, OnlineSet, PathError, PathFinder,
    PathRequest, Routes, SearchLimits, SearchMode, SearchTuning, Unlimited, find_paths,
};
use pfs_core::{Address, ChannelId, FeeSchedule, NaiveTimestamp};
use proptest::prelude::*;

fn penalty_strategy(scale: u64) -> impl Strategy<Value = Option<Vec<(u64, u64)>>> {
    prop_oneof![
        Just(None),
        (1usize..5, prop::collection::vec((1u64..=scale, 0u64..=scale / 5 + 1), 4)).prop_map(
            move |(count, steps)| {
                let mut x = 0;
                let points = steps
                    .into_iter()
                    .take(count)
                    .map(|(step, y)| {
                        let point = (x, y);
                        x += step;
                        point
                    })
                    .collect();
                Some(points)
            }
        ),
    ]
}

fn schedule_strategy(scale: u64) -> impl Strategy<Value = FeeSchedule> {
    (
        prop::bool::weighted(0.9),
        0u64..=scale / 20 + 1,
        prop_oneof![Just(0u64), 0u64..200_000],
        penalty_strategy(scale),
    )
        .prop_map(|(cap_fees, flat, proportional, penalty)| FeeSchedule {
            cap_fees,
            flat: U256::from(flat),
            proportional: U256::from(proportional),
            imbalance_penalty: penalty.map(|points| {
                ImbalancePenalty::new(
                    points.into_iter().map(|(x, y)| (U256::from(x), U256::from(y))).collect(),
                )
                .unwrap()
            }),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The fast path either computes the reference value or falls back; it never differs.
    #[test]
    fn fast_fee_path_equals_general_path(
        scale in prop_oneof![Just(1_000u64), Just(1_000_000_000_000_000_000u64), Just(u64::MAX)],
        amount_fraction in 0.0f64..1.2,
        balances in (0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0),
        schedule_in in schedule_strategy(1_000),
        schedule_out in schedule_strategy(1_000),
        big in any::<bool>(),
    ) {
        // Scale penalties and balances together so big values exercise the overflow fallback.
        let factor = if big { U256::from(scale) * U256::from(1_000_000_000u64) } else { U256::from(scale / 1000 + 1) };
        let scale_penalty = |schedule: &FeeSchedule| FeeSchedule {
            imbalance_penalty: schedule.imbalance_penalty.as_ref().map(|penalty| {
                ImbalancePenalty::new(penalty.points().iter().map(|(x, y)| (*x * factor, *y * factor)).collect()).unwrap()
            }),
            flat: schedule.flat * factor,
            ..schedule.clone()
        };
        let (schedule_in, schedule_out) = (scale_penalty(&schedule_in), scale_penalty(&schedule_out));
        let unit = |fraction: f64| U256::from((fraction * 1000.0) as u64) * factor;
        let amount = unit(amount_fraction);
        let (balance_in, balance_out, receivable) = (unit(balances.0), unit(balances.1), unit(balances.2));
        let cap_fees = schedule_in.cap_fees;
        let terms_in = ScheduleTerms::of(&schedule_in).with_cap_fees(cap_fees);
        let terms_out = ScheduleTerms::of(&schedule_out).with_cap_fees(cap_fees);
        let fast = get_amount_with_fees(amount, balance_in, balance_out, &terms_in, &terms_out, receivable);
        let general = get_amount_with_fees_general(amount, balance_in, balance_out, &terms_in, &terms_out, receivable);
        prop_assert_eq!(fast, general);
    }
}

/// A small random network: channels, who is online, and a request.
#[derive(Debug, Clone)]
struct Scenario {
    addresses: Vec<Address>,
    channels: Vec<ChannelDescription>,
    online: Vec<bool>,
    request: PathRequest,
}

fn scenario_strategy() -> impl Strategy<Value = Scenario> {
    (4usize..=7).prop_flat_map(|nodes| {
        let pairs: Vec<(usize, usize)> =
            (0..nodes).flat_map(|a| (a + 1..nodes).map(move |b| (a, b))).collect();
        let pair_count = pairs.len();
        let capacity = prop_oneof![1 => Just(0u64), 1 => Just(5), 3 => 10u64..100, 5 => Just(200)];
        let channel = (
            prop::bool::weighted(0.75),
            capacity.clone(),
            capacity,
            schedule_strategy(200),
            schedule_strategy(200),
        );
        (
            Just(pairs),
            prop::collection::vec(channel, pair_count),
            prop::collection::vec(prop::bool::weighted(0.92), nodes),
            Just(nodes).prop_shuffle_addresses(),
            (0..nodes, 1..nodes, 1u64..25, 1usize..=5),
            prop_oneof![Just(0.1f64), Just(1.1), Just(5.0)],
            prop_oneof![Just(0.0f64), Just(100.0), Just(1e16)],
        )
            .prop_map(
                |(
                    pairs,
                    channels,
                    online,
                    addresses,
                    (source, target, value, max_paths),
                    diversity,
                    fee_penalty,
                )| {
                    let mut descriptions = Vec::new();
                    for ((first, second), (present, capacity1, capacity2, schedule1, schedule2)) in
                        pairs.into_iter().zip(channels)
                    {
                        if present {
                            descriptions.push(ChannelDescription {
                                channel_id: ChannelId(U256::from(descriptions.len() as u64 + 1)),
                                participant1: addresses[first],
                                participant2: addresses[second],
                                capacity1: U256::from(capacity1),
                                capacity2: U256::from(capacity2),
                                fee_schedule1: schedule1,
                                fee_schedule2: schedule2,
                            });
                        }
                    }
                    let request = PathRequest {
                        source: addresses[source],
                        target: addresses[(source + target) % addresses.len()],
                        value: U256::from(value),
                        max_paths,
                        diversity_penalty: diversity,
                        fee_penalty,
                    };
                    Scenario { addresses, channels: descriptions, online, request }
                },
            )
    })
}

/// Distinct addresses whose byte order differs from their index order.
trait ShuffleAddresses {
    fn prop_shuffle_addresses(self) -> BoxedStrategy<Vec<Address>>;
}

impl ShuffleAddresses for Just<usize> {
    fn prop_shuffle_addresses(self) -> BoxedStrategy<Vec<Address>> {
        let nodes = self.0;
        Just((0..nodes).map(|index| Address::from_bytes([index as u8 * 17 + 3; 20])).collect::<Vec<_>>())
            .prop_shuffle()
            .boxed()
    }
}

/// The brute-force transcription of §2.4–2.7.
mod oracle {
    use super::*;

    pub struct Edge<'a> {
        pub channel: usize,
        pub capacity: U256,
        pub capacity_partner: U256,
        pub sender: &'a FeeSchedule,
        pub receiver: &'a FeeSchedule,
    }

    pub fn edge<'a>(channels: &'a [ChannelDescription], from: Address, to: Address) -> Option<Edge<'a>> {
        channels.iter().enumerate().find_map(|(index, channel)| {
            if channel.participant1 == from && channel.participant2 == to {
                Some(Edge {
                    channel: index,
                    capacity: channel.capacity1,
                    capacity_partner: channel.capacity2,
                    sender: &channel.fee_schedule1,
                    receiver: &channel.fee_schedule2,
                })
            } else if channel.participant2 == from && channel.participant1 == to {
                Some(Edge {
                    channel: index,
                    capacity: channel.capacity2,
                    capacity_partner: channel.capacity1,
                    sender: &channel.fee_schedule2,
                    receiver: &channel.fee_schedule1,
                })
            } else {
                None
            }
        })
    }

    fn small(value: U256) -> u64 {
        u64::try_from(value).expect("test amounts are small")
    }

    /// `ChannelGraph.edge_weight`, written out again from §2.6, plus the routing feedback's
    /// `penalty` (added last, only when positive).
    pub fn weight(edge: &Edge<'_>, diversity: f64, amount: U256, fee_penalty: f64, penalty: f64) -> f64 {
        let schedule_in = ScheduleTerms::of(edge.receiver).with_cap_fees(true);
        let schedule_out = ScheduleTerms::of(edge.sender).with_cap_fees(true);
        let Ok(with_fees) = get_amount_with_fees_general(
            amount,
            edge.capacity,
            edge.capacity,
            &schedule_in,
            &schedule_out,
            edge.capacity,
        ) else {
            return f64::INFINITY;
        };
        let fee = small(with_fees) as f64 - small(amount) as f64;
        let fee_weight = fee / 1e18 * fee_penalty;
        let threshold = (small(amount) as f64 * 1.1) as u64;
        let no_refund = if small(edge.capacity_partner) < threshold { 1.0 } else { 0.0 };
        let weight = 1.0 + diversity + fee_weight + no_refund;
        if penalty > 0.0 { weight + penalty } else { weight }
    }

    /// `Path._calculate_fees` after the capacity check; `None` if invalid.
    pub fn path_fee(channels: &[ChannelDescription], path: &[Address], value: U256) -> Option<I256> {
        for pair in path.windows(2) {
            if edge(channels, pair[0], pair[1])?.capacity < value {
                return None;
            }
        }
        let mut total = value;
        let mut fees = I256::ZERO;
        for window in path.windows(3).rev() {
            let view_in = edge(channels, window[0], window[1])?;
            let view_out = edge(channels, window[1], window[2])?;
            let with_fees = get_amount_with_fees_general(
                total,
                view_in.capacity_partner,
                view_out.capacity,
                &ScheduleTerms::of(view_in.receiver),
                &ScheduleTerms::of(view_out.sender),
                view_in.capacity,
            )
            .ok()?;
            fees += I256::from_raw(with_fees) - I256::from_raw(total);
            total = with_fees;
        }
        Some(fees)
    }

    fn simple_paths(
        channels: &[ChannelDescription],
        online: &dyn Fn(&Address) -> bool,
        path: &mut Vec<Address>,
        target: Address,
        out: &mut Vec<Vec<Address>>,
    ) {
        let last = *path.last().unwrap();
        if last == target {
            out.push(path.clone());
            return;
        }
        let mut neighbours: Vec<Address> = channels
            .iter()
            .filter_map(|channel| {
                if channel.participant1 == last {
                    Some(channel.participant2)
                } else if channel.participant2 == last {
                    Some(channel.participant1)
                } else {
                    None
                }
            })
            .collect();
        neighbours.sort();
        for next in neighbours {
            if online(&next) && !path.contains(&next) {
                path.push(next);
                simple_paths(channels, online, path, target, out);
                path.pop();
            }
        }
    }

    /// The loop-free paths from the source to the target through online nodes.
    pub fn online_simple_paths(scenario: &Scenario) -> usize {
        let Scenario { addresses, channels, online, request } = scenario;
        let is_online = |address: &Address| {
            addresses.iter().position(|candidate| candidate == address).is_some_and(|index| online[index])
        };
        let mut paths = Vec::new();
        simple_paths(channels, &is_online, &mut vec![request.source], request.target, &mut paths);
        paths.len()
    }

    pub fn find_paths(scenario: &Scenario) -> Result<Vec<(Vec<Address>, I256)>, PathError> {
        find_paths_penalised(scenario, &|_, _| 0.0)
    }

    /// [`find_paths`] with `penalty(from, to)` added to each hop's weight.
    pub fn find_paths_penalised(
        scenario: &Scenario,
        penalty: &dyn Fn(Address, Address) -> f64,
    ) -> Result<Vec<(Vec<Address>, I256)>, PathError> {
        let Scenario { addresses, channels, online, request } = scenario;
        let is_online = |address: &Address| {
            addresses.iter().position(|candidate| candidate == address).is_some_and(|index| online[index])
        };
        if !is_online(&request.source) {
            return Err(PathError::SourceNotOnline);
        }
        if !is_online(&request.target) {
            return Err(PathError::TargetNotOnline);
        }
        let out_capacities = |node: Address| -> Vec<U256> {
            channels
                .iter()
                .filter_map(|channel| {
                    if channel.participant1 == node {
                        Some(channel.capacity1)
                    } else if channel.participant2 == node {
                        Some(channel.capacity2)
                    } else {
                        None
                    }
                })
                .collect()
        };
        let source_capacities = out_capacities(request.source);
        if source_capacities.is_empty() {
            return Err(PathError::NoChannelFromSource);
        }
        let target_in: Vec<U256> = channels
            .iter()
            .filter_map(|channel| {
                if channel.participant1 == request.target {
                    Some(channel.capacity2)
                } else if channel.participant2 == request.target {
                    Some(channel.capacity1)
                } else {
                    None
                }
            })
            .collect();
        if target_in.is_empty() {
            return Err(PathError::NoChannelToTarget);
        }
        if *source_capacities.iter().max().unwrap() < request.value {
            return Err(PathError::SourceCapacity {
                capacities: pfs_core::routing::Capacities(source_capacities),
                value: request.value,
            });
        }
        if *target_in.iter().max().unwrap() < request.value {
            return Err(PathError::TargetCapacity {
                capacities: pfs_core::routing::Capacities(target_in),
                value: request.value,
            });
        }
        let mut connected = Vec::new();
        simple_paths(channels, &|_| true, &mut vec![request.source], request.target, &mut connected);
        if connected.is_empty() {
            return Err(PathError::NoRoute);
        }

        let mut candidates = Vec::new();
        simple_paths(channels, &is_online, &mut vec![request.source], request.target, &mut candidates);
        let mut visited = vec![0.0f64; channels.len()];
        let mut taken: Vec<(Vec<Address>, I256)> = Vec::new();
        while taken.len() < request.max_paths {
            // Total: (edges of undefined fee, exact sum of the finite f64 weights, in 2^-52 units).
            let mut weighted: Vec<((u32, u128), &Vec<Address>)> = candidates
                .iter()
                .map(|path| {
                    let total = path.windows(2).fold((0u32, 0u128), |(undefined, units), pair| {
                        let edge = edge(channels, pair[0], pair[1]).unwrap();
                        let weight = weight(
                            &edge,
                            visited[edge.channel],
                            request.value,
                            request.fee_penalty,
                            penalty(pair[0], pair[1]),
                        );
                        if weight.is_infinite() {
                            (undefined + 1, units)
                        } else {
                            assert!(
                                weight >= 1.0
                                    && weight.fract() * 2f64.powi(52)
                                        == (weight.fract() * 2f64.powi(52)).trunc()
                            );
                            (undefined, units + (weight * 2f64.powi(52)) as u128)
                        }
                    });
                    (total, path)
                })
                .collect();
            weighted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
            let next = weighted.into_iter().find_map(|(_, path)| {
                if taken.iter().any(|(nodes, _)| nodes == path) {
                    return None;
                }
                path_fee(channels, path, request.value).map(|fee| (path.clone(), fee))
            });
            let Some((path, fee)) = next else { break };
            for pair in path.windows(2) {
                visited[edge(channels, pair[0], pair[1]).unwrap().channel] += request.diversity_penalty;
            }
            taken.push((path, fee));
        }
        Ok(taken)
    }
}

fn engine(scenario: &Scenario, finder: &mut PathFinder) -> Result<Vec<(Vec<Address>, I256)>, PathError> {
    let routes = engine_with_limits(scenario, finder)?;
    assert_eq!(routes.truncated, None);
    Ok(routes.paths.into_iter().map(|path| (path.nodes, path.estimated_fee)).collect())
}

/// The engine's answer with the default limits, whether or not they cut it.
fn engine_with_limits(scenario: &Scenario, finder: &mut PathFinder) -> Result<Routes, PathError> {
    let network = ChannelGraph::build(Address::ZERO, &scenario.channels).expect("valid scenario");
    let online_addresses: Vec<&Address> = scenario
        .addresses
        .iter()
        .zip(&scenario.online)
        .filter(|(_, online)| **online)
        .map(|(a, _)| a)
        .collect();
    let online = OnlineSet::from_addresses(&network, online_addresses);
    finder.find_paths(&network, &online, &scenario.request, &SearchLimits::default(), &Unlimited)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn search_equals_the_brute_force_reference(scenario in scenario_strategy()) {
        let mut finder = PathFinder::new();
        let result = engine(&scenario, &mut finder);
        let expected = oracle::find_paths(&scenario);
        prop_assert_eq!(&result, &expected);
        // The same finder after a request the other way round, with another value: nothing
        // of that request's state may leak into this one's answer.
        let mut other = scenario.clone();
        other.request.source = scenario.request.target;
        other.request.target = scenario.request.source;
        other.request.value = scenario.request.value / U256::from(2);
        let _ = engine_with_limits(&other, &mut finder);
        prop_assert_eq!(&engine(&scenario, &mut finder), &expected, "a reused finder");
        for tuning in [
            SearchTuning { mode: SearchMode::PairAware, ..SearchTuning::default() },
            SearchTuning { mode: SearchMode::Nodes, ..SearchTuning::default() },
            // A node bound that stops at once: every node not settled gets the frontier's label.
            SearchTuning { mode: SearchMode::Nodes, node_bound_scan_limit: 1, ..SearchTuning::default() },
            // A pair-aware bound that stops at once.
            SearchTuning { mode: SearchMode::PairAware, entry_bound_scan_limit: 1, ..SearchTuning::default() },
            // Searches give their sets back to the queue after their first pop.
            SearchTuning { mode: SearchMode::Nodes, yield_after_pops: 0, ..SearchTuning::default() },
            SearchTuning { mode: SearchMode::PairAware, yield_after_pops: 0, ..SearchTuning::default() },
            // The node search counts the undefined fee weights a set needs after its first pop.
            SearchTuning { mode: SearchMode::Nodes, undefined_check_after_pops: 1, ..SearchTuning::default() },
            // Both searches expand every node by a cursor over its edges.
            SearchTuning { mode: SearchMode::PairAware, hub_min_edges: 1, ..SearchTuning::default() },
            SearchTuning { mode: SearchMode::Nodes, hub_min_edges: 1, ..SearchTuning::default() },
            // A node search that gives up after one pop switches the request in the middle of a
            // set.
            SearchTuning { node_search_pops: 1, ..SearchTuning::default() },
            // Candidates found invalid teach nothing: every path ending in a failing suffix is
            // examined.
            SearchTuning { mode: SearchMode::PairAware, learn_dead_ends: false, ..SearchTuning::default() },
            // Every shortcut at once, so that small networks take them too.
            SearchTuning {
                mode: SearchMode::Adaptive,
                pair_aware_after_pops: 3,
                pair_aware_after_invalid: 1,
                stale_bound_after_pops: 1,
                undefined_check_after_pops: 1,
                node_bound_scan_limit: 1,
                node_search_pops: 2,
                yield_after_pops: 1,
                entry_bound_scan_limit: 1,
                hub_min_edges: 1,
                learn_dead_ends: true,
            },
        ] {
            prop_assert_eq!(&engine(&scenario, &mut PathFinder::with_tuning(tuning)), &expected, "{:?}", tuning);
        }
        // The adaptive search switching after each number of invalid candidates: its pair-aware
        // bound is then computed with as many dead ends as the request has learnt by then.
        for after_invalid in 1..=6 {
            let tuning = SearchTuning { pair_aware_after_invalid: after_invalid, ..SearchTuning::default() };
            prop_assert_eq!(&engine(&scenario, &mut PathFinder::with_tuning(tuning)), &expected, "{:?}", tuning);
        }
        if let Ok(paths) = &result {
            for (nodes, fee) in paths {
                let mut sorted = nodes.clone();
                sorted.sort();
                sorted.dedup();
                prop_assert_eq!(sorted.len(), nodes.len(), "path is simple");
                for node in nodes {
                    let index = scenario.addresses.iter().position(|a| a == node).unwrap();
                    prop_assert!(scenario.online[index], "path node online");
                }
                prop_assert_eq!(Some(*fee), oracle::path_fee(&scenario.channels, nodes, scenario.request.value));
            }
        }
        // Deterministic, with a reused finder and with a fresh one.
        prop_assert_eq!(&engine(&scenario, &mut finder), &result);
        let network = ChannelGraph::build(Address::ZERO, &scenario.channels).unwrap();
        let online_addresses: Vec<&Address> =
            scenario.addresses.iter().zip(&scenario.online).filter(|(_, o)| **o).map(|(a, _)| a).collect();
        let online = OnlineSet::from_addresses(&network, online_addresses);
        let fresh = find_paths(&network, &online, &scenario.request, &SearchLimits::default(), &Unlimited)
            .map(|routes| routes.paths.into_iter().map(|p| (p.nodes, p.estimated_fee)).collect::<Vec<_>>());
        prop_assert_eq!(&fresh, &result);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Routing feedback adds each hop's penalty to its weight, in every search mode, and the
    /// search stays exact (reports on random routes, failed or successful, at one moment).
    #[test]
    fn feedback_penalties_weigh_as_in_the_brute_force_reference(
        scenario in scenario_strategy(),
        reports in prop::collection::vec((prop::collection::vec(0usize..7, 2..5), any::<bool>()), 0..6),
    ) {
        let now = NaiveTimestamp::from_unix_micros(1_800_000_000_000_000).unwrap();
        let mut penalties = FeedbackPenalties::new();
        for (route, successful) in &reports {
            let route: Vec<Address> =
                route.iter().map(|index| scenario.addresses[index % scenario.addresses.len()]).collect();
            penalties.record(&route, *successful, now);
        }
        let network = ChannelGraph::build(Address::ZERO, &scenario.channels).expect("valid scenario");
        let online_addresses: Vec<&Address> =
            scenario.addresses.iter().zip(&scenario.online).filter(|(_, o)| **o).map(|(a, _)| a).collect();
        let online = OnlineSet::from_addresses(&network, online_addresses);
        let edge_penalties = penalties.edge_penalties(&network, now);
        let expected = oracle::find_paths_penalised(&scenario, &|from, to| penalties.penalty(&from, &to, now));
        for tuning in [
            SearchTuning::default(),
            SearchTuning { mode: SearchMode::PairAware, ..SearchTuning::default() },
            SearchTuning { mode: SearchMode::Nodes, ..SearchTuning::default() },
        ] {
            let found = PathFinder::with_tuning(tuning)
                .find_paths_with_feedback(&network, &online, &edge_penalties, &scenario.request, &SearchLimits::default(), &Unlimited)
                .map(|routes| routes.paths.into_iter().map(|path| (path.nodes, path.estimated_fee)).collect::<Vec<_>>());
            prop_assert_eq!(&found, &expected, "{:?}", tuning);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// One enumeration serves every returned path: no candidate path is examined twice in a
    /// request, however many paths it returns.
    #[test]
    fn no_candidate_is_examined_twice(scenario in scenario_strategy()) {
        let network = ChannelGraph::build(Address::ZERO, &scenario.channels).expect("valid scenario");
        let online_addresses: Vec<&Address> =
            scenario.addresses.iter().zip(&scenario.online).filter(|(_, o)| **o).map(|(a, _)| a).collect();
        let online = OnlineSet::from_addresses(&network, online_addresses);
        if let Ok(routes) =
            find_paths(&network, &online, &scenario.request, &SearchLimits::default(), &Unlimited)
        {
            let paths = oracle::online_simple_paths(&scenario) as u64;
            prop_assert!(
                routes.candidates_examined <= paths,
                "{} candidates examined, {} paths exist",
                routes.candidates_examined,
                paths
            );
        }
    }
}

/// A budget that runs out at its `limit`-th poll.
struct RunsOutAt {
    limit: u64,
    polls: std::cell::Cell<u64>,
}

impl Budget for RunsOutAt {
    fn exhausted(&self) -> bool {
        self.polls.set(self.polls.get() + 1);
        self.polls.get() > self.limit
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Wherever the budget runs out (between candidates or inside a shortest-path search, in
    /// every search mode), the paths returned are the first ones of the full answer, and a cut
    /// answer says so.
    #[test]
    fn a_search_cut_by_its_budget_returns_the_first_paths_of_the_full_answer(
        scenario in scenario_strategy(),
        limit in 0u64..40,
        pair_aware in any::<bool>(),
    ) {
        let network = ChannelGraph::build(Address::ZERO, &scenario.channels).expect("valid scenario");
        let online_addresses: Vec<&Address> =
            scenario.addresses.iter().zip(&scenario.online).filter(|(_, o)| **o).map(|(a, _)| a).collect();
        let online = OnlineSet::from_addresses(&network, online_addresses);
        let tuning = SearchTuning {
            mode: if pair_aware { SearchMode::PairAware } else { SearchMode::Nodes },
            ..SearchTuning::default()
        };
        let limits = SearchLimits::default();
        let Ok(full) = PathFinder::with_tuning(tuning).find_paths(&network, &online, &scenario.request, &limits, &Unlimited)
        else {
            return Ok(());
        };
        let budget = RunsOutAt { limit, polls: std::cell::Cell::new(0) };
        let cut = PathFinder::with_tuning(tuning)
            .find_paths(&network, &online, &scenario.request, &limits, &budget)
            .expect("the pre-checks passed once");
        prop_assert!(cut.paths.len() <= full.paths.len());
        prop_assert_eq!(&cut.paths[..], &full.paths[..cut.paths.len()]);
        if cut.paths.len() < full.paths.len() {
            prop_assert!(cut.truncated.is_some());
        }
    }
}
