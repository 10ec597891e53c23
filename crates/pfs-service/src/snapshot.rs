//! The immutable views queries read: per token network a [`NetworkSnapshot`] (channel graph and
//! online set), and a [`ServiceSnapshot`] bundling them with the presence book and the confirmed
//! block. The writer publishes a new [`ServiceSnapshot`] after each commit; readers clone an
//! `Arc` and never wait for the writer.

use std::collections::BTreeMap;
use std::sync::Arc;

use pfs_core::presence::PresenceBook;
use pfs_core::routing::{ChannelDescription, ChannelGraph, ChannelUpdate, GraphError, OnlineSet};
use pfs_core::token_network::{Channel, TokenNetwork};
use pfs_core::{Address, BlockNumber};

/// What a path query on one token network needs.
#[derive(Debug, Clone)]
pub struct NetworkSnapshot {
    /// The channels with their capacities and fee schedules.
    pub graph: ChannelGraph,
    /// Who of the graph's nodes (and of the channel-less addresses) is reachable.
    pub online: OnlineSet,
    /// Every open channel's participants (the unpruned topology, for partner suggestions);
    /// shared between snapshots of the same topology.
    pub channel_participants: Arc<Vec<[Address; 2]>>,
}

impl NetworkSnapshot {
    /// Builds the graph of `network` from scratch, with `online` the reachable addresses.
    ///
    /// # Errors
    /// [`GraphError`] if the channels break a graph invariant (the registry's invariants rule
    /// that out; the error is passed on rather than assumed away).
    pub fn build(network: &TokenNetwork, presence: &PresenceBook) -> Result<Self, GraphError> {
        let channels: Vec<ChannelDescription> = network.channels().map(describe).collect();
        let graph = ChannelGraph::build(network.address, &channels)?;
        let online = OnlineSet::from_addresses(&graph, &presence.reachable_addresses());
        let channel_participants = Arc::new(network.channels().map(Channel::participants).collect());
        Ok(Self { graph, online, channel_participants })
    }

    /// This snapshot with `channels`' current capacities and fee schedules (same topology).
    ///
    /// # Errors
    /// [`GraphError`] if a channel is not in the graph (the caller then rebuilds).
    pub fn with_channels<'c>(
        &self,
        channels: impl IntoIterator<Item = &'c Channel>,
    ) -> Result<Self, GraphError> {
        let updates: Vec<ChannelUpdate> = channels
            .into_iter()
            .flat_map(|channel| {
                (0..2).map(move |side| ChannelUpdate {
                    channel_id: channel.id,
                    participant: channel.sides[side].participant,
                    capacity: Some(channel.capacity(side)),
                    fee_schedule: Some(channel.sides[side].fee_schedule.clone()),
                })
            })
            .collect();
        Ok(Self {
            graph: self.graph.with_updates(&updates)?,
            online: self.online.clone(),
            channel_participants: Arc::clone(&self.channel_participants),
        })
    }
}

/// A channel as the routing graph sees it: each side's usable capacity (its report, capped by
/// what the channel holds on chain) and fee schedule. `raiden-pfs export` writes the same values,
/// so a replayed snapshot routes as the live service does.
pub fn describe(channel: &Channel) -> ChannelDescription {
    ChannelDescription {
        channel_id: channel.id,
        participant1: channel.sides[0].participant,
        participant2: channel.sides[1].participant,
        capacity1: channel.capacity(0),
        capacity2: channel.capacity(1),
        fee_schedule1: channel.sides[0].fee_schedule.clone(),
        fee_schedule2: channel.sides[1].fee_schedule.clone(),
    }
}

/// Everything queries read, as of one commit of the writer.
#[derive(Debug, Clone)]
pub struct ServiceSnapshot {
    /// One snapshot per followed token network.
    pub networks: BTreeMap<Address, Arc<NetworkSnapshot>>,
    /// Presence and metadata of every known address.
    pub presence: Arc<PresenceBook>,
    /// The last block whose events are applied; `None` before the first.
    pub confirmed_block: Option<BlockNumber>,
    /// How many times the chain was rolled back since the service started (a processed block
    /// left the chain, so the cursor went back): what was read from the chain at a fixed height
    /// stays true only while this stays the same.
    pub chain_rollbacks: u64,
}
