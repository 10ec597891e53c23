//! Who is online: a bitset over a [`ChannelGraph`]'s node indices, kept apart from the graph
//! snapshot because presence changes far more often than channels, and cheap to copy.

use crate::address::Address;

use super::graph::{ChannelGraph, NodeIndex};

/// The nodes of one [`ChannelGraph`] whose composite reachability is `REACHABLE`, plus online
/// addresses that have no channel (they matter only for the "not online" pre-checks).
///
/// Invariant: built for one topology; node indices change when channels open or close, so the
/// service rebuilds it (from its presence map) when it publishes a snapshot with a new topology.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnlineSet {
    bits: Vec<u64>,
    without_channels: Vec<Address>,
}

impl OnlineSet {
    /// Everyone offline.
    pub fn new(network: &ChannelGraph) -> Self {
        Self { bits: vec![0; network.node_count().div_ceil(64)], without_channels: Vec::new() }
    }

    /// The set of `addresses` that are online.
    pub fn from_addresses<'a>(
        network: &ChannelGraph,
        addresses: impl IntoIterator<Item = &'a Address>,
    ) -> Self {
        let mut set = Self::new(network);
        for address in addresses {
            set.set(network, address, true);
        }
        set
    }

    /// Marks `address` online or offline.
    pub fn set(&mut self, network: &ChannelGraph, address: &Address, online: bool) {
        match network.node_index(address) {
            Some(index) => {
                let (word, bit) = (index as usize / 64, index % 64);
                if word >= self.bits.len() {
                    self.bits.resize(word + 1, 0);
                }
                if online {
                    self.bits[word] |= 1 << bit;
                } else {
                    self.bits[word] &= !(1 << bit);
                }
            }
            None => match (self.without_channels.binary_search(address), online) {
                (Err(position), true) => self.without_channels.insert(position, *address),
                (Ok(position), false) => {
                    self.without_channels.remove(position);
                }
                _ => {}
            },
        }
    }

    /// Whether node `index` is online.
    pub fn contains_node(&self, index: NodeIndex) -> bool {
        self.bits.get(index as usize / 64).is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    /// 1 if node `index` is online, else 0: [`OnlineSet::contains_node`] as a number, so that
    /// a loop can combine it with other conditions without a branch on it.
    pub(crate) fn node_bit(&self, index: NodeIndex) -> u32 {
        let word = self.bits.get(index as usize / 64).copied().unwrap_or(0);
        ((word >> (index % 64)) & 1) as u32
    }

    /// Whether `address` is online.
    pub fn contains(&self, network: &ChannelGraph, address: &Address) -> bool {
        match network.node_index(address) {
            Some(index) => self.contains_node(index),
            None => self.without_channels.binary_search(address).is_ok(),
        }
    }
}
