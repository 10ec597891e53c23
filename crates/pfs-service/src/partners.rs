//! Partner suggestions (spec/REFERENCE-PFS.md §2.12): reachable nodes ranked by
//! `closeness centrality × uptime × outgoing capacity`.

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use pfs_core::presence::{AddressReachability, PresenceBook};
use pfs_core::{Address, TokenAmount};

use crate::snapshot::NetworkSnapshot;

/// Most suggestions returned.
pub const MAX_SUGGESTIONS: usize = 5;

/// One suggested partner.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerSuggestion {
    /// The node.
    pub address: Address,
    /// `centrality × uptime × capacity`.
    pub score: f64,
    /// networkx's closeness centrality with `wf_improved`, unweighted.
    pub centrality: f64,
    /// Seconds since the node's reachability last changed.
    pub uptime: f64,
    /// Sum of the capacities of the node's outgoing channel directions.
    pub capacity: TokenAmount,
}

/// Closeness centrality of every node of an undirected graph given as adjacency lists
/// (networkx `closeness_centrality(G, wf_improved=True)`; every channel has both directions, so
/// inward and outward distances agree).
pub fn closeness_centrality(adjacency: &[Vec<usize>]) -> Vec<f64> {
    let node_count = adjacency.len();
    let mut distance = vec![usize::MAX; node_count];
    let mut queue = VecDeque::new();
    (0..node_count)
        .map(|start| {
            distance.iter_mut().for_each(|entry| *entry = usize::MAX);
            distance[start] = 0;
            queue.push_back(start);
            let (mut total, mut reached) = (0usize, 1usize);
            while let Some(node) = queue.pop_front() {
                for &next in &adjacency[node] {
                    if distance[next] == usize::MAX {
                        distance[next] = distance[node] + 1;
                        total += distance[next];
                        reached += 1;
                        queue.push_back(next);
                    }
                }
            }
            if total == 0 || node_count <= 1 {
                return 0.0;
            }
            let closeness = (reached - 1) as f64 / total as f64;
            closeness * (reached - 1) as f64 / (node_count - 1) as f64
        })
        .collect()
}

/// The best [`MAX_SUGGESTIONS`] reachable partners in `network`, best first.
pub fn suggest_partners(
    network: &NetworkSnapshot,
    presence: &PresenceBook,
    now: SystemTime,
) -> Vec<PartnerSuggestion> {
    let mut index: BTreeMap<Address, usize> = BTreeMap::new();
    for participants in network.channel_participants.iter() {
        for participant in participants {
            let next = index.len();
            index.entry(*participant).or_insert(next);
        }
    }
    let mut adjacency = vec![Vec::new(); index.len()];
    let mut capacity = vec![TokenAmount::ZERO; index.len()];
    for [first, second] in network.channel_participants.iter() {
        let (a, b) = (index[first], index[second]);
        adjacency[a].push(b);
        adjacency[b].push(a);
        for (from, to, slot) in [(first, second, a), (second, first, b)] {
            let sent = network.graph.view(from, to).map_or(TokenAmount::ZERO, |view| view.capacity);
            capacity[slot] = capacity[slot].saturating_add(sent);
        }
    }
    let centrality = closeness_centrality(&adjacency);
    let mut suggestions: Vec<PartnerSuggestion> = index
        .iter()
        .filter(|(address, _)| presence.reachability(address) == AddressReachability::Reachable)
        .map(|(address, &slot)| {
            let uptime = presence.time_in_current_state(address, now).as_secs_f64();
            let capacity_f64 = f64::from(capacity[slot]);
            PartnerSuggestion {
                address: *address,
                score: centrality[slot] * uptime * capacity_f64,
                centrality: centrality[slot],
                uptime,
                capacity: capacity[slot],
            }
        })
        .collect();
    suggestions
        .sort_by(|left, right| right.score.total_cmp(&left.score).then(left.address.cmp(&right.address)));
    suggestions.truncate(MAX_SUGGESTIONS);
    suggestions
}

#[cfg(test)]
mod tests {
    use super::closeness_centrality;

    #[test]
    fn closeness_of_a_path_graph_matches_networkx() {
        // networkx.closeness_centrality(nx.path_graph(3)) == {0: 0.666…, 1: 1.0, 2: 0.666…}
        let centrality = closeness_centrality(&[vec![1], vec![0, 2], vec![1]]);
        assert!((centrality[0] - 2.0 / 3.0).abs() < 1e-12);
        assert!((centrality[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn closeness_scales_down_nodes_in_small_components() {
        // Two components {0,1} and {2,3,4 path}: wf_improved scales by reached/(n-1).
        let centrality = closeness_centrality(&[vec![1], vec![0], vec![3], vec![2, 4], vec![3]]);
        assert!((centrality[0] - 0.25).abs() < 1e-12);
        assert!((centrality[3] - 0.5).abs() < 1e-12);
    }
}
