//! The routing graph of one token network: an immutable snapshot of its channels, built once from
//! channel descriptions and updated by publishing a new snapshot.
//!
//! # Layout
//!
//! * [`Topology`] (shared through an `Arc`, rebuilt only when channels open or close): nodes sorted
//!   by address bytes (so comparing node indices compares addresses), and a compressed adjacency
//!   array. Every channel contributes two directed edges ([`ChannelView`]s); a node's out-edges
//!   are stored in the order its channels were given, which is the reference's insertion order
//!   (it shows in the §2.4 capacity lists). Edge `e` and `reverse[e]` are the two directions of
//!   one channel.
//! * Edge states (capacity and the sender's fee schedule per direction) in fixed-size chunks,
//!   each behind an `Arc`. Publishing a capacity or fee update copies only the chunks it touches;
//!   the rest is shared with the previous snapshot. Each state also holds what the search
//!   derives from it without the request (whether the sender's penalty covers its balance, for
//!   which amounts the edge's fee weight can be finite).
//! * Per node, whether it announces no imbalance penalty at all (one byte; copied whole when an
//!   update changes a schedule): the search's mediator conditions are trivial for such nodes.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::{I256, U256};

use crate::address::Address;
use crate::fee_schedule::FeeSchedule;
use crate::fees::{PenaltyPoints, ScheduleTerms};
use crate::ids::{ChannelId, TokenAmount};

use super::mediation_range::PairEstimates;

/// Edges per copy-on-write chunk of edge states.
const CHUNK_EDGES: usize = 1024;

/// Most channels one token network may hold (edge indices are `u32`).
pub const MAX_CHANNELS: usize = (u32::MAX / 2) as usize;

/// One channel as the routing graph needs it.
///
/// `capacity1` is what `participant1` can send to `participant2`; `fee_schedule1` is
/// `participant1`'s schedule for this channel, used when it forwards into the channel and when it
/// receives through it. Participants may be given in either byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDescription {
    /// The channel's on-chain identifier.
    pub channel_id: ChannelId,
    /// One participant.
    pub participant1: Address,
    /// The other participant.
    pub participant2: Address,
    /// What `participant1` can send to `participant2`.
    pub capacity1: TokenAmount,
    /// What `participant2` can send to `participant1`.
    pub capacity2: TokenAmount,
    /// `participant1`'s fee schedule for this channel.
    pub fee_schedule1: FeeSchedule,
    /// `participant2`'s fee schedule for this channel.
    pub fee_schedule2: FeeSchedule,
}

/// A change to one direction of one channel: what `participant` can send to its partner, and/or
/// `participant`'s fee schedule for the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelUpdate {
    /// The channel.
    pub channel_id: ChannelId,
    /// The participant whose side changes.
    pub participant: Address,
    /// Its new capacity towards the partner, if it changes.
    pub capacity: Option<TokenAmount>,
    /// Its new fee schedule for this channel, if it changes.
    pub fee_schedule: Option<FeeSchedule>,
}

/// Why channel descriptions or updates were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A channel from a node to itself.
    #[error("channel {0} connects {1} to itself")]
    SelfChannel(ChannelId, Address),
    /// Two channels between the same pair of nodes.
    #[error("channels {0} and {1} connect the same pair of nodes")]
    DuplicatePair(ChannelId, ChannelId),
    /// Two channels with the same identifier.
    #[error("channel id {0} appears twice")]
    DuplicateChannelId(ChannelId),
    /// More than [`MAX_CHANNELS`] channels.
    #[error("a token network holds at most {MAX_CHANNELS} channels, got {0}")]
    TooManyChannels(usize),
    /// An update names a channel the graph does not have.
    #[error("unknown channel {0}")]
    UnknownChannel(ChannelId),
    /// An update names a participant that is not in the channel.
    #[error("{1} is not a participant of channel {0}")]
    NotAParticipant(ChannelId, Address),
}

/// Index of a node in a [`ChannelGraph`] (its rank in address byte order).
pub type NodeIndex = u32;
/// Index of a directed edge in a [`ChannelGraph`].
pub type EdgeIndex = u32;

/// The shape of the graph: nodes, edges and channels, without capacities or fees.
#[derive(Debug)]
pub(crate) struct Topology {
    /// Node addresses, strictly increasing.
    pub nodes: Vec<Address>,
    /// `offsets[n]..offsets[n + 1]` are node `n`'s out-edges.
    pub offsets: Vec<u32>,
    /// Head of each edge.
    pub target: Vec<NodeIndex>,
    /// The opposite direction of each edge.
    pub reverse: Vec<EdgeIndex>,
    /// The channel (index into `channel_ids`) of each edge.
    pub channel: Vec<u32>,
    /// Channel identifiers in description order.
    pub channel_ids: Vec<ChannelId>,
    /// For each channel (description order), the edge `participant1 → participant2`.
    pub channel_edge: Vec<EdgeIndex>,
    /// `(channel id, channel index)` sorted by id, for updates.
    pub channel_lookup: Vec<(ChannelId, u32)>,
    /// Connected component of each node: the reference's unweighted "is there a path" check is
    /// a component comparison, because every channel has both directions.
    pub component: Vec<u32>,
}

impl Topology {
    pub fn node_index(&self, address: &Address) -> Option<NodeIndex> {
        self.nodes.binary_search(address).ok().map(|index| index as NodeIndex)
    }

    pub fn out_edges(&self, node: NodeIndex) -> std::ops::Range<usize> {
        self.offsets[node as usize] as usize..self.offsets[node as usize + 1] as usize
    }

    /// The tail of an edge: the head of its reverse.
    pub fn source(&self, edge: EdgeIndex) -> NodeIndex {
        self.target[self.reverse[edge as usize] as usize]
    }

    pub fn find_edge(&self, from: NodeIndex, to: NodeIndex) -> Option<EdgeIndex> {
        self.out_edges(from).find(|&edge| self.target[edge] == to).map(|edge| edge as EdgeIndex)
    }
}

/// A fee schedule as the graph stores it: the penalty narrowed to `u128` balances and `u64`
/// penalties when they fit (amounts beyond 3·10^38, or penalties beyond 1.8·10^19, are unusual),
/// which cuts the biggest part of a schedule to three eighths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredSchedule {
    cap_fees: bool,
    flat: TokenAmount,
    proportional: U256,
    penalty: Option<StoredPenalty>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum StoredPenalty {
    Narrow { xs: Box<[u128]>, ys: Box<[u64]> },
    Wide(Box<[(TokenAmount, TokenAmount)]>),
}

impl StoredSchedule {
    fn new(schedule: &FeeSchedule) -> Self {
        let penalty = schedule.imbalance_penalty.as_ref().map(|penalty| {
            let points = penalty.points();
            let xs: Option<Box<[u128]>> = points.iter().map(|(x, _)| u128::try_from(*x).ok()).collect();
            let ys: Option<Box<[u64]>> = points.iter().map(|(_, y)| u64::try_from(*y).ok()).collect();
            match (xs, ys) {
                (Some(xs), Some(ys)) => StoredPenalty::Narrow { xs, ys },
                _ => StoredPenalty::Wide(points.into()),
            }
        });
        Self {
            cap_fees: schedule.cap_fees,
            flat: schedule.flat,
            proportional: schedule.proportional,
            penalty,
        }
    }

    pub fn terms(&self) -> ScheduleTerms<'_> {
        ScheduleTerms {
            cap_fees: self.cap_fees,
            flat: I256::try_from(self.flat).unwrap_or(I256::MAX),
            proportional: self.proportional,
            imbalance_penalty: self.penalty.as_ref().map(|penalty| match penalty {
                StoredPenalty::Narrow { xs, ys } => PenaltyPoints::Narrow { xs, ys },
                StoredPenalty::Wide(points) => PenaltyPoints::Wide(points),
            }),
        }
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + match &self.penalty {
                Some(StoredPenalty::Narrow { xs, ys }) => {
                    std::mem::size_of_val(&**xs) + std::mem::size_of_val(&**ys)
                }
                Some(StoredPenalty::Wide(points)) => std::mem::size_of_val(&**points),
                None => 0,
            }
    }
}

/// What one direction of a channel carries: its capacity and its sender's fee schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EdgeState {
    pub capacity: TokenAmount,
    /// `None` is the default schedule (capped, no fees); schedules without penalty are shared
    /// between the edges that announce the same one.
    pub schedule: Option<Arc<StoredSchedule>>,
    /// Whether the sender's imbalance penalty, if it has one, is defined at the sender's balance
    /// `capacity`. A mediator's fee evaluates the penalty of each of its two channels at its
    /// unchanged balance whatever the amount (§2.8 step 5), so if not, the sender can neither
    /// forward into this edge nor receive through its reverse as a mediator.
    pub penalty_covers_capacity: bool,
    /// For which amounts this edge's fee weight can be finite (see [`WeightAmounts`]); depends
    /// on the reverse edge's schedule too, so it is refreshed when either side changes.
    pub weight_amounts: WeightAmounts,
    /// The pair conditions of the sender as a mediator on this channel, estimated; depends on
    /// the reverse edge's capacity too, so it is refreshed when either side changes.
    pub pair: PairEstimates,
}

/// For which payment amounts the fee part of an edge's weight (§2.6: the sender's and the
/// receiver's fee computed with every balance equal to the edge's capacity) passes the fee
/// model's integer checks ([`crate::fees`]: every penalty evaluated inside its points). Outside
/// them the weight is `+inf`, whatever else the request says. Inside them it is usually finite.
///
/// Why the search needs it: Raiden's float `linspace` often puts a penalty's last point a little
/// below the channel's total deposit, so the weight of a lopsided channel towards a receiver
/// with a penalty is `+inf` at every amount. Paths through such edges come after all others, and
/// a lower bound that ignored this would make the A* search explore every path that the
/// cheaper-looking `+inf` edges seem to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WeightAmounts {
    /// No amount: the weight is `+inf`.
    Never,
    /// Every amount up to the capacity.
    UpToCapacity,
    /// The amounts of [`crate::fees::backward_defined_amounts`] for this edge, a narrower
    /// window (computed when a request asks, as it is rare).
    Window,
}

impl WeightAmounts {
    /// The amounts for the edge whose sender state is `sender` and whose reverse edge (the
    /// receiver's side) is `receiver`.
    fn of(sender: &EdgeState, receiver: &EdgeState) -> Self {
        if sender.penalty_span().1.is_none() && receiver.penalty_span().1.is_none() {
            // What the window comes to without penalties (domains [0, 2·capacity] and
            // [0, capacity]), without its 512-bit arithmetic: most edges have none.
            return if sender.capacity.is_zero() { Self::Never } else { Self::UpToCapacity };
        }
        match weight_window(sender, receiver) {
            None => Self::Never,
            Some((least, most)) if least.is_zero() && most == sender.capacity => Self::UpToCapacity,
            Some(_) => Self::Window,
        }
    }
}

/// What the search's per-request pass over every edge reads (see [`ChannelGraph::search_key_chunks`]):
/// a compact copy of the parts of an edge's [`EdgeState`] and of its reverse's that say, for a
/// given amount, whether each carries it, whether its fee weight may be finite and whether
/// its sender's penalty covers its balance. With both directions in one place the pass reads
/// 12 bytes per edge in order, instead of two whole states, one of them anywhere: at 15k nodes
/// and 52k channels the pass went from 1.8 to 0.23 ms per request (with its other changes).
///
/// Invariant: equal to [`SearchKey::of`] the edge's and its reverse's current states
/// (refreshed with them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SearchKey {
    /// [`amount_key`] of the capacity of the edge, then of its reverse.
    pub capacity: [f32; 2],
    /// [`EdgeState::penalty_covers_capacity`] of the edge, then of its reverse.
    pub penalty_covers_capacity: [bool; 2],
    /// [`EdgeState::weight_amounts`] of the edge, then of its reverse.
    pub weight_amounts: [WeightAmounts; 2],
}

impl SearchKey {
    fn of(state: &EdgeState, reverse: &EdgeState) -> Self {
        Self {
            capacity: [amount_key(&state.capacity), amount_key(&reverse.capacity)],
            penalty_covers_capacity: [state.penalty_covers_capacity, reverse.penalty_covers_capacity],
            weight_amounts: [state.weight_amounts, reverse.weight_amounts],
        }
    }
}

/// An amount rounded to the nearest `f32` (`+inf` from about 3.4·10^38 on, beyond `u128` too).
/// Rounding is monotone, so for amounts `a` and `b`, `amount_key(a) < amount_key(b)` implies
/// `a < b`, and only equal keys leave the order open.
pub(crate) fn amount_key(amount: &TokenAmount) -> f32 {
    // Casts from integers round to nearest and overflow to infinity.
    u128::try_from(*amount).map_or(f32::INFINITY, |amount| amount as f32)
}

/// The window of [`WeightAmounts`] for an edge: the fee weight's inputs are the receiver's and
/// the sender's schedules with `cap_fees` forced on, and every balance the capacity.
pub(crate) fn weight_window(sender: &EdgeState, receiver: &EdgeState) -> Option<(TokenAmount, TokenAmount)> {
    let capacity = sender.capacity;
    let schedule_in = receiver.terms().with_cap_fees(true);
    let schedule_out = sender.terms().with_cap_fees(true);
    crate::fees::backward_defined_amounts(capacity, capacity, capacity, &schedule_in, &schedule_out)
}

static DEFAULT_SCHEDULE: std::sync::LazyLock<FeeSchedule> = std::sync::LazyLock::new(FeeSchedule::default);
static DEFAULT_STORED: std::sync::LazyLock<StoredSchedule> =
    std::sync::LazyLock::new(|| StoredSchedule::new(&FeeSchedule::default()));

impl EdgeState {
    fn new(capacity: TokenAmount, schedule: Option<Arc<StoredSchedule>>) -> Self {
        let mut state = Self {
            capacity,
            schedule,
            penalty_covers_capacity: true,
            weight_amounts: WeightAmounts::Never,
            pair: PairEstimates::default(),
        };
        state.update_penalty_cover();
        state
    }

    /// Recomputes `penalty_covers_capacity` after a change of capacity or schedule.
    fn update_penalty_cover(&mut self) {
        self.penalty_covers_capacity = match self.terms().imbalance_penalty {
            Some(points) if !points.is_empty() => {
                points.point(0).0 <= self.capacity && self.capacity <= points.point(points.len() - 1).0
            }
            _ => true,
        };
    }

    pub fn terms(&self) -> ScheduleTerms<'_> {
        self.schedule.as_deref().unwrap_or(&DEFAULT_STORED).terms()
    }

    /// The sender's `cap_fees` and the first and last balance of its imbalance penalty, if it
    /// has one: what the amount-independent fee conditions read, without building the terms.
    pub fn penalty_span(&self) -> (bool, Option<(TokenAmount, TokenAmount)>) {
        let schedule = self.schedule.as_deref().unwrap_or(&DEFAULT_STORED);
        let span = match &schedule.penalty {
            Some(StoredPenalty::Narrow { xs, .. }) => match (xs.first(), xs.last()) {
                (Some(&first), Some(&last)) => Some((U256::from(first), U256::from(last))),
                _ => None,
            },
            Some(StoredPenalty::Wide(points)) => match (points.first(), points.last()) {
                (Some(first), Some(last)) => Some((first.0, last.0)),
                _ => None,
            },
            None => None,
        };
        (schedule.cap_fees, span)
    }
}

/// Shares schedules without penalty between edges while building (a penalty depends on the
/// channel's deposits, so those are rarely equal and not worth hashing).
#[derive(Default)]
struct ScheduleInterner(HashMap<(bool, U256, U256), Arc<StoredSchedule>>);

impl ScheduleInterner {
    fn intern(&mut self, schedule: &FeeSchedule) -> Option<Arc<StoredSchedule>> {
        if *schedule == *DEFAULT_SCHEDULE {
            return None;
        }
        if schedule.imbalance_penalty.is_some() {
            return Some(Arc::new(StoredSchedule::new(schedule)));
        }
        Some(
            self.0
                .entry((schedule.cap_fees, schedule.flat, schedule.proportional))
                .or_insert_with(|| Arc::new(StoredSchedule::new(schedule)))
                .clone(),
        )
    }
}

/// An immutable snapshot of one token network's channels: what a path query reads.
///
/// Cloning is cheap (reference counts only). [`ChannelGraph::with_updates`] publishes a new
/// snapshot sharing everything it does not change.
#[derive(Debug, Clone)]
pub struct ChannelGraph {
    address: Address,
    pub(crate) topology: Arc<Topology>,
    chunks: Vec<Arc<Vec<EdgeState>>>,
    /// The [`SearchKey`]s of the states in `chunks`, chunked alike.
    keys: Vec<Arc<Vec<SearchKey>>>,
    /// Per node, its `cap_fees` when none of its schedules has an imbalance penalty and all
    /// share that `cap_fees` (see [`ChannelGraph::penalty_free_cap_fees`]); rewritten as a
    /// whole when an update changes a schedule.
    penalty_free: Arc<Vec<Option<bool>>>,
}

/// One direction of a channel as seen from its sender, in the reference's terms.
#[derive(Debug, Clone, Copy)]
pub struct ChannelView<'a> {
    /// The channel.
    pub channel_id: ChannelId,
    /// The sending participant.
    pub participant: Address,
    /// The receiving participant.
    pub partner: Address,
    /// What `participant` can send to `partner`.
    pub capacity: TokenAmount,
    /// What `partner` can send back.
    pub capacity_partner: TokenAmount,
    /// `participant`'s schedule for this channel (its arithmetic terms).
    pub fee_schedule_sender: ScheduleTerms<'a>,
    /// `partner`'s schedule for this channel (its arithmetic terms).
    pub fee_schedule_receiver: ScheduleTerms<'a>,
}

impl ChannelGraph {
    /// Builds the graph of `channels` of the token network at `address`.
    ///
    /// # Errors
    /// [`GraphError`] for a channel to itself, two channels between one pair, a repeated
    /// channel id, or more than [`MAX_CHANNELS`] channels.
    pub fn build(address: Address, channels: &[ChannelDescription]) -> Result<Self, GraphError> {
        if channels.len() > MAX_CHANNELS {
            return Err(GraphError::TooManyChannels(channels.len()));
        }
        let mut nodes: Vec<Address> =
            channels.iter().flat_map(|channel| [channel.participant1, channel.participant2]).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let index_of = |address: &Address| -> NodeIndex {
            // Every participant was collected above.
            nodes.binary_search(address).map(|index| index as NodeIndex).unwrap_or(0)
        };

        let mut channel_lookup: Vec<(ChannelId, u32)> =
            channels.iter().enumerate().map(|(index, channel)| (channel.channel_id, index as u32)).collect();
        channel_lookup.sort_unstable();
        if let Some(pair) = channel_lookup.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(GraphError::DuplicateChannelId(pair[0].0));
        }

        // Edge 2c is participant1 → participant2 of channel c, 2c + 1 the reverse, before sorting
        // by tail. A stable counting sort keeps each node's edges in description order.
        let node_count = nodes.len();
        let mut degree = vec![0u32; node_count + 1];
        let mut pairs: Vec<(NodeIndex, NodeIndex, u32)> = Vec::with_capacity(channels.len());
        for channel in channels {
            let (first, second) = (index_of(&channel.participant1), index_of(&channel.participant2));
            if first == second {
                return Err(GraphError::SelfChannel(channel.channel_id, channel.participant1));
            }
            degree[first as usize] += 1;
            degree[second as usize] += 1;
            pairs.push((first, second, pairs.len() as u32));
        }
        let mut offsets = vec![0u32; node_count + 1];
        for node in 0..node_count {
            offsets[node + 1] = offsets[node] + degree[node];
        }
        let edge_count = channels.len() * 2;
        let mut cursor = offsets.clone();
        let mut position = vec![0u32; edge_count];
        for (index, &(first, second, _)) in pairs.iter().enumerate() {
            position[2 * index] = cursor[first as usize];
            cursor[first as usize] += 1;
            position[2 * index + 1] = cursor[second as usize];
            cursor[second as usize] += 1;
        }
        let mut target = vec![0 as NodeIndex; edge_count];
        let mut reverse = vec![0 as EdgeIndex; edge_count];
        let mut channel_of = vec![0u32; edge_count];
        let mut states: Vec<EdgeState> = vec![EdgeState::new(U256::ZERO, None); edge_count];
        let mut channel_edge = Vec::with_capacity(channels.len());
        let mut interner = ScheduleInterner::default();
        for (index, (&(first, second, _), channel)) in pairs.iter().zip(channels).enumerate() {
            let (forward, backward) = (position[2 * index], position[2 * index + 1]);
            target[forward as usize] = second;
            target[backward as usize] = first;
            reverse[forward as usize] = backward;
            reverse[backward as usize] = forward;
            channel_of[forward as usize] = index as u32;
            channel_of[backward as usize] = index as u32;
            states[forward as usize] =
                EdgeState::new(channel.capacity1, interner.intern(&channel.fee_schedule1));
            states[backward as usize] =
                EdgeState::new(channel.capacity2, interner.intern(&channel.fee_schedule2));
            channel_edge.push(forward);
        }

        let mut topology = Topology {
            nodes,
            offsets,
            target,
            reverse,
            channel: channel_of,
            channel_ids: channels.iter().map(|channel| channel.channel_id).collect(),
            channel_edge,
            channel_lookup,
            component: Vec::new(),
        };
        // At most one channel per pair: a node's out-edges have distinct heads.
        let mut last_seen = vec![u32::MAX; node_count];
        let mut seen_edge = vec![0 as EdgeIndex; node_count];
        for node in 0..node_count as NodeIndex {
            for edge in topology.out_edges(node) {
                let head = topology.target[edge] as usize;
                if last_seen[head] == node {
                    let first = topology.channel_ids[topology.channel[seen_edge[head] as usize] as usize];
                    let second = topology.channel_ids[topology.channel[edge] as usize];
                    return Err(GraphError::DuplicatePair(first, second));
                }
                last_seen[head] = node;
                seen_edge[head] = edge as EdgeIndex;
            }
        }
        topology.component = components(&topology);
        let derived: Vec<(WeightAmounts, PairEstimates)> = (0..edge_count)
            .map(|edge| {
                let (state, reverse) = (&states[edge], &states[topology.reverse[edge] as usize]);
                (WeightAmounts::of(state, reverse), PairEstimates::of(state, reverse.capacity))
            })
            .collect();
        for (state, (amounts, pair)) in states.iter_mut().zip(derived) {
            state.weight_amounts = amounts;
            state.pair = pair;
        }
        let keys: Vec<SearchKey> = (0..edge_count)
            .map(|edge| SearchKey::of(&states[edge], &states[topology.reverse[edge] as usize]))
            .collect();
        let keys = keys.chunks(CHUNK_EDGES).map(|chunk| Arc::new(chunk.to_vec())).collect();
        let mut remaining = states.into_iter();
        let chunks = (0..edge_count.div_ceil(CHUNK_EDGES))
            .map(|_| Arc::new(remaining.by_ref().take(CHUNK_EDGES).collect::<Vec<_>>()))
            .collect();
        let mut graph =
            Self { address, topology: Arc::new(topology), chunks, keys, penalty_free: Arc::default() };
        graph.penalty_free =
            Arc::new((0..node_count as NodeIndex).map(|node| graph.scan_penalty_free(node)).collect());
        Ok(graph)
    }

    /// A new snapshot with `updates` applied in order; this one is unchanged. Only the chunks of
    /// edge states that an update touches are copied.
    ///
    /// # Errors
    /// [`GraphError::UnknownChannel`] or [`GraphError::NotAParticipant`]; then nothing is applied.
    pub fn with_updates<'u>(
        &self,
        updates: impl IntoIterator<Item = &'u ChannelUpdate>,
    ) -> Result<Self, GraphError> {
        let mut next = self.clone();
        let mut touched = Vec::new();
        let mut schedule_changed = Vec::new();
        for update in updates {
            let edge = self.edge_of(update.channel_id, &update.participant)?;
            touched.push((edge, update.fee_schedule.is_some()));
            if update.fee_schedule.is_some() {
                schedule_changed.push(self.topology.source(edge));
            }
            let chunk = Arc::make_mut(&mut next.chunks[edge as usize / CHUNK_EDGES]);
            let state = &mut chunk[edge as usize % CHUNK_EDGES];
            if let Some(capacity) = update.capacity {
                state.capacity = capacity;
            }
            if let Some(schedule) = &update.fee_schedule {
                state.schedule = if *schedule == *DEFAULT_SCHEDULE {
                    None
                } else {
                    Some(Arc::new(StoredSchedule::new(schedule)))
                };
            }
            state.update_penalty_cover();
        }
        if !schedule_changed.is_empty() {
            let shapes: Vec<(NodeIndex, Option<bool>)> =
                schedule_changed.into_iter().map(|node| (node, next.scan_penalty_free(node))).collect();
            let penalty_free = Arc::make_mut(&mut next.penalty_free);
            for (node, shape) in shapes {
                penalty_free[node as usize] = shape;
            }
        }
        // An edge's weight amounts depend on its capacity and both schedules, its pair
        // estimates on its state and the reverse edge's capacity: an update may change the
        // reverse edge's estimates (rarely: only whether its entry's slack is unlimited), and a
        // new schedule its weight amounts too. Unchanged
        // states are not written, so that their chunks stay shared.
        for &(edge, schedule) in &touched {
            let backward = self.topology.reverse[edge as usize];
            for (sender, receiver) in [(edge, backward), (backward, edge)] {
                let amounts = if sender == edge || schedule {
                    WeightAmounts::of(next.state(sender), next.state(receiver))
                } else {
                    next.state(sender).weight_amounts
                };
                let pair = PairEstimates::of(next.state(sender), next.state(receiver).capacity);
                let state = next.state(sender);
                if state.weight_amounts != amounts || state.pair != pair {
                    let chunk = Arc::make_mut(&mut next.chunks[sender as usize / CHUNK_EDGES]);
                    let state = &mut chunk[sender as usize % CHUNK_EDGES];
                    state.weight_amounts = amounts;
                    state.pair = pair;
                }
            }
        }
        // The keys copy both directions' derived fields, so they come after all of them.
        for (edge, _) in touched {
            let backward = self.topology.reverse[edge as usize];
            for (sender, receiver) in [(edge, backward), (backward, edge)] {
                let key = SearchKey::of(next.state(sender), next.state(receiver));
                let (chunk, offset) = (sender as usize / CHUNK_EDGES, sender as usize % CHUNK_EDGES);
                if next.keys[chunk][offset] != key {
                    Arc::make_mut(&mut next.keys[chunk])[offset] = key;
                }
            }
        }
        Ok(next)
    }

    /// `node`'s `cap_fees` if none of its schedules (one per channel) has an imbalance penalty
    /// and all agree on `cap_fees`: such a mediator's fee is defined between any two of its
    /// channels that carry something, whatever their balances.
    pub(crate) fn penalty_free_cap_fees(&self, node: NodeIndex) -> Option<bool> {
        self.penalty_free[node as usize]
    }

    fn scan_penalty_free(&self, node: NodeIndex) -> Option<bool> {
        let mut cap_fees = None;
        for edge in self.topology.out_edges(node) {
            let (edge_cap_fees, span) = self.state(edge as EdgeIndex).penalty_span();
            if span.is_some() || cap_fees.is_some_and(|seen| seen != edge_cap_fees) {
                return None;
            }
            cap_fees = Some(edge_cap_fees);
        }
        cap_fees
    }

    /// The edge `participant → partner` of `channel_id`.
    fn edge_of(&self, channel_id: ChannelId, participant: &Address) -> Result<EdgeIndex, GraphError> {
        let topology = &self.topology;
        let position = topology
            .channel_lookup
            .binary_search_by(|(id, _)| id.cmp(&channel_id))
            .map_err(|_| GraphError::UnknownChannel(channel_id))?;
        let forward = topology.channel_edge[topology.channel_lookup[position].1 as usize];
        let backward = topology.reverse[forward as usize];
        [forward, backward]
            .into_iter()
            .find(|&edge| topology.nodes[topology.source(edge) as usize] == *participant)
            .ok_or(GraphError::NotAParticipant(channel_id, *participant))
    }

    /// The token network's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Number of nodes (addresses with at least one channel).
    pub fn node_count(&self) -> usize {
        self.topology.nodes.len()
    }

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.topology.channel_ids.len()
    }

    /// The node index of `address`, if it has a channel.
    pub fn node_index(&self, address: &Address) -> Option<NodeIndex> {
        self.topology.node_index(address)
    }

    /// The address of node `index`.
    ///
    /// # Panics
    /// If `index` is not below [`ChannelGraph::node_count`].
    pub fn node_address(&self, index: NodeIndex) -> Address {
        self.topology.nodes[index as usize]
    }

    pub(crate) fn state(&self, edge: EdgeIndex) -> &EdgeState {
        &self.chunks[edge as usize / CHUNK_EDGES][edge as usize % CHUNK_EDGES]
    }

    /// The [`SearchKey`] of `edge`.
    pub(crate) fn search_key(&self, edge: EdgeIndex) -> &SearchKey {
        &self.keys[edge as usize / CHUNK_EDGES][edge as usize % CHUNK_EDGES]
    }

    /// Every edge's [`SearchKey`], in edge order, a chunk at a time.
    pub(crate) fn search_key_chunks(&self) -> impl Iterator<Item = &[SearchKey]> + '_ {
        self.keys.iter().map(|chunk| chunk.as_slice())
    }

    pub(crate) fn capacity(&self, edge: EdgeIndex) -> TokenAmount {
        self.state(edge).capacity
    }

    /// The view `from → to`, if they share a channel.
    pub fn view(&self, from: &Address, to: &Address) -> Option<ChannelView<'_>> {
        let topology = &self.topology;
        let edge = topology.find_edge(topology.node_index(from)?, topology.node_index(to)?)?;
        Some(self.edge_view(edge))
    }

    pub(crate) fn edge_view(&self, edge: EdgeIndex) -> ChannelView<'_> {
        let topology = &self.topology;
        let backward = topology.reverse[edge as usize];
        ChannelView {
            channel_id: topology.channel_ids[topology.channel[edge as usize] as usize],
            participant: topology.nodes[topology.source(edge) as usize],
            partner: topology.nodes[topology.target[edge as usize] as usize],
            capacity: self.capacity(edge),
            capacity_partner: self.capacity(backward),
            fee_schedule_sender: self.state(edge).terms(),
            fee_schedule_receiver: self.state(backward).terms(),
        }
    }

    /// The sender's and the receiver's fee terms of an edge.
    pub(crate) fn terms(&self, edge: EdgeIndex) -> (ScheduleTerms<'_>, ScheduleTerms<'_>) {
        let backward = self.topology.reverse[edge as usize];
        (self.state(edge).terms(), self.state(backward).terms())
    }

    /// Bytes of memory this snapshot holds (arrays and schedules, counting shared schedules once
    /// per distinct allocation); for capacity planning and the benchmarks.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let topology = &self.topology;
        let mut bytes = topology.nodes.capacity() * size_of::<Address>()
            + topology.offsets.capacity() * 4
            + topology.target.capacity() * 4
            + topology.reverse.capacity() * 4
            + topology.channel.capacity() * 4
            + topology.channel_ids.capacity() * size_of::<ChannelId>()
            + topology.channel_edge.capacity() * 4
            + topology.channel_lookup.capacity() * size_of::<(ChannelId, u32)>()
            + topology.component.capacity() * 4
            + self.chunks.capacity() * size_of::<Arc<Vec<EdgeState>>>()
            + self.keys.capacity() * size_of::<Arc<Vec<SearchKey>>>()
            + self.keys.iter().map(|chunk| chunk.capacity() * size_of::<SearchKey>()).sum::<usize>()
            + self.penalty_free.capacity() * size_of::<Option<bool>>();
        let mut seen = std::collections::HashSet::new();
        for chunk in &self.chunks {
            bytes += chunk.capacity() * size_of::<EdgeState>();
            for state in chunk.iter() {
                if let Some(schedule) = &state.schedule
                    && seen.insert(Arc::as_ptr(schedule))
                {
                    // The Arc's two counters, the schedule, its points.
                    bytes += 16 + schedule.heap_bytes();
                }
            }
        }
        bytes
    }
}

/// Connected components by breadth-first search (every channel has both directions).
fn components(topology: &Topology) -> Vec<u32> {
    let node_count = topology.nodes.len();
    let mut component = vec![u32::MAX; node_count];
    let mut queue = Vec::new();
    let mut next = 0;
    for start in 0..node_count {
        if component[start] != u32::MAX {
            continue;
        }
        component[start] = next;
        queue.clear();
        queue.push(start as NodeIndex);
        while let Some(node) = queue.pop() {
            for edge in topology.out_edges(node) {
                let head = topology.target[edge] as usize;
                if component[head] == u32::MAX {
                    component[head] = next;
                    queue.push(head as NodeIndex);
                }
            }
        }
        next += 1;
    }
    component
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fee_schedule::ImbalancePenalty;

    fn node(byte: u8) -> Address {
        Address::from_bytes([byte; 20])
    }

    fn with_penalty(last: u64) -> FeeSchedule {
        FeeSchedule {
            imbalance_penalty: Some(
                ImbalancePenalty::new(vec![(U256::ZERO, U256::from(5)), (U256::from(last), U256::ZERO)])
                    .expect("increasing points"),
            ),
            ..FeeSchedule::default()
        }
    }

    fn channels() -> Vec<ChannelDescription> {
        let channel = |id: u64, first: u8, second: u8, capacity1: u64, capacity2: u64| ChannelDescription {
            channel_id: ChannelId(U256::from(id)),
            participant1: node(first),
            participant2: node(second),
            capacity1: U256::from(capacity1),
            capacity2: U256::from(capacity2),
            fee_schedule1: with_penalty(150),
            fee_schedule2: FeeSchedule::default(),
        };
        vec![channel(1, 1, 2, 100, 40), channel(2, 2, 3, 70, 0), channel(3, 3, 1, 10, 90)]
    }

    /// What an update derives (weight amounts, pair estimates) is what a fresh build of the
    /// updated channels derives, for both directions of every channel.
    #[test]
    fn updates_derive_what_a_fresh_build_derives() {
        let mut updated = channels();
        let network = ChannelGraph::build(Address::ZERO, &updated).expect("valid channels");
        let updates = [
            ChannelUpdate {
                channel_id: ChannelId(U256::from(1)),
                participant: node(2),
                capacity: Some(U256::from(120)),
                fee_schedule: Some(with_penalty(400)),
            },
            ChannelUpdate {
                channel_id: ChannelId(U256::from(2)),
                participant: node(2),
                capacity: Some(U256::ZERO),
                fee_schedule: None,
            },
        ];
        updated[0].capacity2 = U256::from(120);
        updated[0].fee_schedule2 = with_penalty(400);
        updated[1].capacity1 = U256::ZERO;
        let network = network.with_updates(&updates).expect("known channels");
        let fresh = ChannelGraph::build(Address::ZERO, &updated).expect("valid channels");
        for edge in 0..network.topology.target.len() as EdgeIndex {
            assert_eq!(network.state(edge), fresh.state(edge), "edge {edge}");
        }
        assert!(network.search_key_chunks().eq(fresh.search_key_chunks()));
    }

    /// A sender's new schedule changes the weight amounts of the reverse edge (where it is the
    /// receiver), which the search key of its own edge copies.
    #[test]
    fn a_schedule_update_refreshes_both_search_keys_of_its_channel() {
        let mut updated = channels();
        // The fee weight of 2 → 1 models every balance at its capacity: 1's penalty (points up
        // to 150) is evaluated up to 200.
        updated[0].capacity2 = U256::from(100);
        let before = ChannelGraph::build(Address::ZERO, &updated).expect("valid channels");
        let update = ChannelUpdate {
            channel_id: ChannelId(U256::from(1)),
            participant: node(1),
            capacity: None,
            fee_schedule: Some(FeeSchedule::default()),
        };
        updated[0].fee_schedule1 = FeeSchedule::default();
        let network = before.with_updates([&update]).expect("known channel");
        let fresh = ChannelGraph::build(Address::ZERO, &updated).expect("valid channels");
        let edge = network.edge_of(ChannelId(U256::from(1)), &node(1)).expect("a participant");
        let backward = network.topology.reverse[edge as usize];
        assert_ne!(
            before.state(backward).weight_amounts,
            fresh.state(backward).weight_amounts,
            "the update changes the reverse edge's weight amounts"
        );
        assert!(network.search_key_chunks().eq(fresh.search_key_chunks()));
    }
}
