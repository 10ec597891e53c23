//! A realistic channel graph for the devnet: a few well-connected hubs and preferential
//! attachment (Barabási–Albert), as payment networks grow, with deposits that vary per side.
//!
//! Pure and deterministic: the graph depends only on the parameters and the seed (a small
//! SplitMix64 generator, so the devnet needs no `rand` crate and a seed reproduces a devnet).

use alloy::primitives::{Address, U256};

use crate::raiden::ChannelPlan;

/// Parameters of the channel graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    /// Nodes that start fully connected to each other (at most the node count).
    pub hubs: usize,
    /// Channels each further node opens to existing nodes (fewer while fewer nodes exist).
    pub links_per_node: usize,
    /// The smallest deposit of one side, in the token's smallest unit.
    pub min_deposit: U256,
    /// The largest deposit of one side (inclusive); must be ≥ `min_deposit`.
    pub max_deposit: U256,
    /// Seed of the random choices.
    pub seed: u64,
}

impl Default for Topology {
    /// Three hubs, two channels per further node, deposits of 10 to 1000 tokens (18 decimals).
    fn default() -> Self {
        let token = U256::from(10).pow(U256::from(18));
        Self {
            hubs: 3,
            links_per_node: 2,
            min_deposit: U256::from(10) * token,
            max_deposit: U256::from(1000) * token,
            seed: 1,
        }
    }
}

/// One channel of the graph, between node indices, with both deposits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedChannel {
    /// The opener (the newer node; `participant1`).
    pub participant1: usize,
    /// The partner (`participant2`).
    pub participant2: usize,
    /// The opener's deposit.
    pub deposit1: U256,
    /// The partner's deposit.
    pub deposit2: U256,
}

impl PlannedChannel {
    /// The plan of this channel between `accounts[participant1]` and `accounts[participant2]`;
    /// `None` if an index is out of range.
    pub fn plan(&self, accounts: &[Address]) -> Option<ChannelPlan> {
        Some(ChannelPlan {
            participant1: *accounts.get(self.participant1)?,
            participant2: *accounts.get(self.participant2)?,
            deposit1: self.deposit1,
            deposit2: self.deposit2,
        })
    }
}

impl Topology {
    /// The channels among `node_count` nodes. Every pair appears at most once, no node has a
    /// channel with itself, and the graph is connected (each node after the hubs links to at
    /// least one earlier node).
    pub fn channels(&self, node_count: usize) -> Vec<PlannedChannel> {
        let mut random = SplitMix64(self.seed);
        let hubs = self.hubs.clamp(1, node_count.max(1)).min(node_count);
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        // Each node appears here once per channel end, plus once for itself so that new nodes
        // can be chosen at all: choosing uniformly from it is choosing proportionally to degree + 1.
        let mut endpoints: Vec<usize> = Vec::new();
        for hub in 0..hubs {
            endpoints.push(hub);
            for earlier in 0..hub {
                pairs.push((hub, earlier));
                endpoints.extend([hub, earlier]);
            }
        }
        for node in hubs..node_count {
            let wanted = self.links_per_node.max(1).min(node);
            let mut partners: Vec<usize> = Vec::with_capacity(wanted);
            while partners.len() < wanted {
                let candidate = endpoints[random.below(endpoints.len() as u64) as usize];
                if !partners.contains(&candidate) {
                    partners.push(candidate);
                }
            }
            endpoints.push(node);
            for partner in partners {
                pairs.push((node, partner));
                endpoints.extend([node, partner]);
            }
        }
        pairs
            .into_iter()
            .map(|(participant1, participant2)| PlannedChannel {
                participant1,
                participant2,
                deposit1: self.deposit(&mut random),
                deposit2: self.deposit(&mut random),
            })
            .collect()
    }

    /// [`Topology::channels`] among `accounts`, as plans for
    /// [`crate::Raiden::open_channels_bulk`].
    pub fn channel_plans(&self, accounts: &[Address]) -> Vec<ChannelPlan> {
        self.channels(accounts.len())
            .into_iter()
            // Invariant: `channels(n)` only names node indices below n.
            .map(|channel| channel.plan(accounts).expect("topology indices are below the node count"))
            .collect()
    }

    fn deposit(&self, random: &mut SplitMix64) -> U256 {
        let span = self.max_deposit.saturating_sub(self.min_deposit);
        if span.is_zero() {
            return self.min_deposit;
        }
        // Whole steps of 1/1000 of the span keep the arithmetic in u64.
        let step = span / U256::from(1000);
        self.min_deposit + step * U256::from(random.below(1001))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-distributed deterministic generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0); the modulo bias is below 2^-40 for the bounds used.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn degrees(channels: &[PlannedChannel], node_count: usize) -> Vec<usize> {
        let mut degrees = vec![0; node_count];
        for channel in channels {
            degrees[channel.participant1] += 1;
            degrees[channel.participant2] += 1;
        }
        degrees
    }

    #[test]
    fn every_pair_is_unique_and_no_node_links_to_itself() {
        let channels = Topology::default().channels(200);
        let mut seen = HashSet::new();
        for channel in &channels {
            assert_ne!(channel.participant1, channel.participant2);
            let pair = (
                channel.participant1.min(channel.participant2),
                channel.participant1.max(channel.participant2),
            );
            assert!(seen.insert(pair), "duplicate channel {pair:?}");
        }
    }

    #[test]
    fn the_graph_has_hub_edges_plus_links_per_further_node() {
        let channels = Topology::default().channels(50);
        assert_eq!(channels.len(), 3 + (50 - 3) * 2);
    }

    #[test]
    fn every_node_is_connected() {
        let node_count = 100;
        let channels = Topology::default().channels(node_count);
        let mut reached = vec![false; node_count];
        reached[0] = true;
        // Channels are listed in growth order, each new node linking to earlier ones.
        for channel in &channels {
            if reached[channel.participant2] {
                reached[channel.participant1] = true;
            }
        }
        assert!(reached.iter().all(|&node| node));
    }

    #[test]
    fn preferential_attachment_makes_hubs() {
        let node_count = 1000;
        let degrees = degrees(&Topology::default().channels(node_count), node_count);
        let max = *degrees.iter().max().unwrap();
        let median = {
            let mut sorted = degrees.clone();
            sorted.sort_unstable();
            sorted[node_count / 2]
        };
        assert!(max >= 10 * median, "max degree {max}, median {median}");
    }

    #[test]
    fn the_same_seed_gives_the_same_graph_and_another_seed_another() {
        let topology = Topology::default();
        assert_eq!(topology.channels(100), topology.channels(100));
        assert_ne!(topology.channels(100), Topology { seed: 2, ..topology }.channels(100));
    }

    #[test]
    fn deposits_stay_within_bounds() {
        let topology = Topology::default();
        for channel in topology.channels(100) {
            for deposit in [channel.deposit1, channel.deposit2] {
                assert!(deposit >= topology.min_deposit && deposit <= topology.max_deposit);
            }
        }
    }

    #[test]
    fn tiny_networks_work() {
        assert!(Topology::default().channels(0).is_empty());
        assert!(Topology::default().channels(1).is_empty());
        assert_eq!(Topology::default().channels(2).len(), 1);
    }
}
