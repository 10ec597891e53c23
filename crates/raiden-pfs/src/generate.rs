//! A seeded generator of token-network snapshots of realistic shape, for benchmarks and replay.
//!
//! Shape: preferential attachment (each new node opens channels to partners picked with
//! probability proportional to their channel count, so a few hubs emerge); deposits log-uniform
//! from 0.001 to 100 tokens of 18 decimals; some directions depleted; per-node fee settings like
//! Raiden's CLI (no fees; flat + proportional; or flat + proportional + the default imbalance
//! penalty of 3000 ppm), `cap_fees` per node; some nodes offline. The same seed always gives the
//! same files.

use std::collections::HashSet;

use alloy_primitives::U256;
use pfs_core::fee_schedule::ImbalancePenalty;
use pfs_core::fees::client::{calculate_imbalance_fees, ppm_fee_per_channel};
use pfs_core::ids::ChannelId;
use pfs_core::{Address, FeeSchedule};

use crate::snapshot::{ChannelRecord, NetworkSnapshot, RequestRecord};

/// SplitMix64: tiny, seeded, and good enough for test data.
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// `10^exponent` tokens-units with `exponent` uniform in `[low, high)`.
    pub fn log_uniform(&mut self, low: f64, high: f64) -> U256 {
        let exponent = low + (high - low) * self.unit();
        let value = 10f64.powf(exponent);
        U256::from(value as u128)
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkShape {
    /// Nodes.
    pub nodes: usize,
    /// Channels (at least `nodes - 1` for a connected result).
    pub channels: usize,
    /// Fraction of nodes offline.
    pub offline_fraction: f64,
    /// Fraction of channel directions with zero capacity.
    pub depleted_fraction: f64,
}

impl NetworkShape {
    /// The default mix for `nodes` and `channels`: 10 % offline, 10 % depleted directions.
    pub fn new(nodes: usize, channels: usize) -> Self {
        Self { nodes, channels, offline_fraction: 0.1, depleted_fraction: 0.1 }
    }
}

/// A node's fee settings, as a Raiden node's CLI would configure them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FeeProfile {
    /// No fees at all (the default schedule).
    Free,
    /// Flat and proportional fees.
    FlatProportional,
    /// Flat, proportional and the default imbalance penalty.
    WithImbalance,
}

fn address_of(index: usize) -> Address {
    let mut bytes = [0u8; 20];
    let mut random = Random::new(index as u64 ^ 0xA5A5_5A5A_0F0F_F0F0);
    for chunk in bytes.chunks_mut(8) {
        let word = random.next_u64().to_be_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    Address::from_bytes(bytes)
}

fn schedule(profile: FeeProfile, cap_fees: bool, total: U256) -> FeeSchedule {
    match profile {
        FeeProfile::Free => FeeSchedule { cap_fees, ..FeeSchedule::default() },
        FeeProfile::FlatProportional | FeeProfile::WithImbalance => {
            let imbalance_penalty = if profile == FeeProfile::WithImbalance {
                calculate_imbalance_fees(total, U256::from(3000))
                    .ok()
                    .flatten()
                    .and_then(|points| ImbalancePenalty::new(points).ok())
            } else {
                None
            };
            FeeSchedule {
                cap_fees,
                // Raiden's default flat fee for DAI, halved per channel.
                flat: U256::from(500_000_000_000u64),
                proportional: ppm_fee_per_channel(U256::from(4000)),
                imbalance_penalty,
            }
        }
    }
}

/// Generates a snapshot of `shape` from `seed`.
pub fn generate_network(shape: &NetworkShape, seed: u64) -> NetworkSnapshot {
    let mut random = Random::new(seed);
    let nodes = shape.nodes.max(2);
    let addresses: Vec<Address> =
        (0..nodes).map(|index| address_of(index ^ (seed as usize).wrapping_mul(31))).collect();
    let profiles: Vec<(FeeProfile, bool)> = (0..nodes)
        .map(|_| {
            let roll = random.unit();
            let profile = if roll < 0.4 {
                FeeProfile::Free
            } else if roll < 0.75 {
                FeeProfile::FlatProportional
            } else {
                FeeProfile::WithImbalance
            };
            (profile, random.unit() < 0.9)
        })
        .collect();

    // Preferential attachment over an endpoint list (each channel lists both participants).
    let mut endpoints: Vec<usize> = Vec::with_capacity(shape.channels * 2);
    let mut pairs: HashSet<(usize, usize)> = HashSet::with_capacity(shape.channels);
    let mut ordered: Vec<(usize, usize)> = Vec::with_capacity(shape.channels);
    let mut connect = |first: usize, second: usize, endpoints: &mut Vec<usize>| -> bool {
        let key = (first.min(second), first.max(second));
        if first == second || !pairs.insert(key) {
            return false;
        }
        ordered.push((first, second));
        endpoints.push(first);
        endpoints.push(second);
        true
    };
    let seeds = nodes.min(5);
    for first in 0..seeds {
        for second in first + 1..seeds {
            connect(first, second, &mut endpoints);
        }
    }
    let per_node = shape.channels as f64 / nodes as f64;
    for node in seeds..nodes {
        let mut wanted = per_node.floor() as usize + usize::from(random.unit() < per_node.fract());
        wanted = wanted.max(1);
        let mut attempts = 0;
        while wanted > 0 && attempts < 20 {
            attempts += 1;
            let partner = endpoints[random.below(endpoints.len())];
            if connect(node, partner, &mut endpoints) {
                wanted -= 1;
            }
        }
    }
    let mut attempts = 0;
    while endpoints.len() / 2 < shape.channels && attempts < shape.channels * 20 {
        attempts += 1;
        let first = endpoints[random.below(endpoints.len())];
        let second = random.below(nodes);
        connect(first, second, &mut endpoints);
    }

    ordered.truncate(shape.channels);
    let channels = ordered
        .iter()
        .enumerate()
        .map(|(index, &(first, second))| {
            let capacity = |random: &mut Random| {
                if random.unit() < shape.depleted_fraction {
                    U256::ZERO
                } else {
                    random.log_uniform(15.0, 20.0)
                }
            };
            let capacity1 = capacity(&mut random);
            let capacity2 = capacity(&mut random);
            let total = capacity1 + capacity2;
            ChannelRecord {
                channel_id: ChannelId(U256::from(index as u64 + 1)),
                participant1: addresses[first],
                participant2: addresses[second],
                capacity1,
                capacity2,
                fee_schedule1: schedule(profiles[first].0, profiles[first].1, total),
                fee_schedule2: schedule(profiles[second].0, profiles[second].1, total),
            }
        })
        .collect();
    let online = addresses.iter().filter(|_| random.unit() >= shape.offline_fraction).copied().collect();
    NetworkSnapshot { token_network_address: address_of(usize::MAX), channels, online }
}

/// `count` requests between random online nodes of `snapshot`, values log-uniform from 0.001 to
/// 1 token, default penalties.
pub fn generate_requests(
    snapshot: &NetworkSnapshot,
    count: usize,
    max_paths: usize,
    seed: u64,
) -> Vec<RequestRecord> {
    let mut random = Random::new(seed ^ 0x5EED);
    let with_channels: HashSet<Address> =
        snapshot.channels.iter().flat_map(|channel| [channel.participant1, channel.participant2]).collect();
    let candidates: Vec<Address> =
        snapshot.online.iter().filter(|address| with_channels.contains(address)).copied().collect();
    if candidates.len() < 2 {
        return Vec::new();
    }
    (0..count)
        .map(|_| {
            let from = candidates[random.below(candidates.len())];
            let mut to = candidates[random.below(candidates.len())];
            while to == from {
                to = candidates[random.below(candidates.len())];
            }
            RequestRecord {
                from,
                to,
                value: random.log_uniform(15.0, 18.0),
                max_paths,
                diversity_penalty: None,
                fee_penalty: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_has_the_requested_size() {
        let shape = NetworkShape::new(300, 1000);
        let first = generate_network(&shape, 7);
        assert_eq!(first, generate_network(&shape, 7));
        assert_eq!(first.channels.len(), 1000);
        assert!(first.online.len() > 200 && first.online.len() < 300);
        let requests = generate_requests(&first, 20, 5, 7);
        assert_eq!(requests.len(), 20);
        assert!(requests.iter().all(|request| request.from != request.to));
    }

    #[test]
    fn preferential_attachment_grows_hubs() {
        let snapshot = generate_network(&NetworkShape::new(2000, 7000), 1);
        let mut degree = std::collections::HashMap::new();
        for channel in &snapshot.channels {
            *degree.entry(channel.participant1).or_insert(0) += 1;
            *degree.entry(channel.participant2).or_insert(0) += 1;
        }
        let max = degree.values().copied().max().unwrap();
        assert!(max > 100, "the biggest hub has only {max} channels");
    }
}
