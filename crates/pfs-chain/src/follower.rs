//! [`ChainFollower`]: polls the chain and produces ordered, confirmed, reorg-checked
//! [`ChainBatch`]es. It owns no derived state: only the chain cursor, the hashes of recent
//! processed blocks and the list of followed token networks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address as RpcAddress, B256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{Filter, Log};
use alloy::transports::TransportError;
use pfs_core::token_network::ChainEvent;
use pfs_core::{Address, BlockNumber};
use pfs_store::ChainCursor;

use crate::deployment::DeploymentBlockError;
use crate::events::{REGISTRY_TOPIC, TOKEN_NETWORK_TOPICS, decode_log};
use crate::metrics::FollowerMetrics;
use crate::range::{BlockRange, RangeLimits, is_range_limit};

/// The default confirmation depth (the reference's `DEFAULT_NUMBER_OF_BLOCK_CONFIRMATIONS`).
pub const DEFAULT_CONFIRMATIONS: u64 = 5;

/// What the follower follows and how.
#[derive(Debug, Clone)]
pub struct FollowerConfig {
    /// The TokenNetworkRegistry contract.
    pub registry: Address,
    /// The first block read when the state is empty. `None`: the registry's deployment block,
    /// found before the first read by bisecting `eth_getCode` (see
    /// [`ChainFollower::deployment_block`]), or block 0 if the node keeps no state that old. Note
    /// the reference stores the deployment block as already processed and starts one later.
    pub start_block: Option<BlockNumber>,
    /// Only blocks at or below `latest − confirmations` are processed; 0 processes the latest
    /// block.
    pub confirmations: u64,
    /// The adaptive `eth_getLogs` range.
    pub range: RangeLimits,
    /// How long to wait when no new confirmed block exists (the reference polls every 2 s).
    pub poll_interval: Duration,
    /// The first wait after a failed RPC request; doubled per failure up to `retry_max`.
    pub retry_initial: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
    /// How many recent blocks (by number, below the cursor) keep their hashes for reorg checks;
    /// use the same value for the consumer's [`crate::UndoLog`].
    pub recent_blocks: u64,
    /// How long one RPC request may take. A slow `eth_getLogs` shrinks the range; any other
    /// slow request is retried like a failed one.
    pub request_timeout: Duration,
}

impl FollowerConfig {
    /// Starting at `start_block` on an empty state (`None`: at the registry's deployment block).
    /// Defaults: 5 confirmations, the reference's range limits, 2 s polls, retries from 0.5 s up
    /// to 30 s, 128 recent blocks, 30 s per request.
    pub fn new(registry: Address, start_block: impl Into<Option<BlockNumber>>) -> Self {
        Self {
            registry,
            start_block: start_block.into(),
            confirmations: DEFAULT_CONFIRMATIONS,
            range: RangeLimits::default(),
            poll_interval: Duration::from_secs(2),
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            recent_blocks: 128,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// One step of the chain, for the consumer to apply (with [`crate::apply_batch`]) and commit in
/// one transaction.
///
/// Invariants: `events` are in chain order (block, then log index) and all lie in blocks above
/// `rollback_to` (if any) and at or below the last entry of `blocks`; `blocks` are strictly
/// increasing and end with the last processed block, the new cursor. A batch is either a
/// rollback (with no events or blocks) or a step forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBatch {
    /// A reorganisation: the consumer reverts every event applied above this block, which becomes
    /// the cursor.
    pub rollback_to: Option<ChainCursor>,
    /// The decoded events, with their blocks.
    pub events: Vec<(BlockNumber, ChainEvent)>,
    /// The processed blocks whose hashes the follower checks later: every block with an event,
    /// and the last block of the step.
    pub blocks: Vec<ChainCursor>,
    /// The chain's latest block when the step started.
    pub latest_block: BlockNumber,
}

/// Errors [`ChainFollower::next_batch`] cannot retry its way out of. RPC failures are not among
/// them: they are retried with backoff, logged and counted.
#[derive(Debug, thiserror::Error)]
pub enum FollowerError {
    /// The RPC endpoint is not a URL.
    #[error("invalid RPC URL {0:?}")]
    BadUrl(String),
    /// None of the kept block hashes is on the chain any more: the reorganisation is deeper than
    /// [`FollowerConfig::recent_blocks`]. The state must be rebuilt from the start block.
    #[error("reorganisation deeper than the kept blocks (oldest kept: block {oldest_kept})")]
    ReorgBeyondKeptBlocks {
        /// The oldest block whose hash was kept.
        oldest_kept: BlockNumber,
    },
    /// The TokenNetworkRegistry has no code on this chain (found when looking for its deployment
    /// block): a wrong address, or a node on another chain.
    #[error("no TokenNetworkRegistry at {address} on this chain (no code at block {latest})")]
    NoRegistry {
        /// The configured registry.
        address: Address,
        /// The latest block when asked.
        latest: BlockNumber,
    },
}

/// A failure of one step.
enum StepError {
    /// Retry after a backoff.
    Rpc(&'static str, TransportError),
    /// A request took longer than [`FollowerConfig::request_timeout`]; retry after a backoff.
    Timeout(&'static str),
    /// The node's answers did not fit together (the chain moved during the step, or a log came
    /// without its block); retry after a backoff.
    Inconsistent(&'static str),
    /// Finding the start block failed for want of an answer; retry after a backoff.
    Deployment(DeploymentBlockError),
    /// Give up.
    Fatal(FollowerError),
}

fn rpc(method: &'static str) -> impl FnOnce(TransportError) -> StepError {
    move |error| StepError::Rpc(method, error)
}

/// Follows a TokenNetworkRegistry and its token networks (see the crate docs).
///
/// `next_batch` is cancel-safe: the follower changes only after its last `.await`, so a batch is
/// either returned or not produced at all.
#[derive(Debug)]
pub struct ChainFollower {
    provider: RootProvider,
    config: FollowerConfig,
    range: BlockRange,
    /// Oldest first; the last entry is the cursor.
    recent: VecDeque<ChainCursor>,
    /// Followed token networks, with the block of their creation if this follower saw it.
    token_networks: BTreeMap<RpcAddress, Option<BlockNumber>>,
    /// The start block once known: [`FollowerConfig::start_block`], or the one found for it.
    start_block: Option<BlockNumber>,
    metrics: Arc<FollowerMetrics>,
}

impl ChainFollower {
    /// A follower on `rpc_url`, resuming after `recent_blocks` (oldest first, ending with the
    /// cursor: `pfs_store::LoadedState::recent_blocks`; empty on a new state) and following
    /// `token_networks` (those of the loaded registry). Does not contact the node.
    ///
    /// # Errors
    /// [`FollowerError::BadUrl`] if `rpc_url` is not a URL.
    pub fn connect(
        rpc_url: &str,
        config: FollowerConfig,
        recent_blocks: Vec<ChainCursor>,
        token_networks: impl IntoIterator<Item = Address>,
    ) -> Result<Self, FollowerError> {
        let url = rpc_url.parse().map_err(|_| FollowerError::BadUrl(rpc_url.to_owned()))?;
        Ok(Self::new(RootProvider::new_http(url), config, recent_blocks, token_networks))
    }

    /// As [`ChainFollower::connect`], with a provider.
    pub fn new(
        provider: RootProvider,
        config: FollowerConfig,
        recent_blocks: Vec<ChainCursor>,
        token_networks: impl IntoIterator<Item = Address>,
    ) -> Self {
        let metrics = Arc::new(FollowerMetrics::default());
        let range = BlockRange::new(config.range);
        if let Some(cursor) = recent_blocks.last() {
            FollowerMetrics::set(&metrics.processed_block, cursor.block_number.0);
        }
        Self {
            provider,
            range,
            recent: recent_blocks.into(),
            token_networks: token_networks.into_iter().map(|address| (address.into(), None)).collect(),
            start_block: config.start_block,
            config,
            metrics,
        }
    }

    /// The last processed block: the cursor (`None` before the first batch of a new state). This
    /// is the `confirmed_block.number` of `/api/v1/info` once the batch is committed.
    pub fn cursor(&self) -> Option<ChainCursor> {
        self.recent.back().copied()
    }

    /// The counters and gauges, shared.
    pub fn metrics(&self) -> Arc<FollowerMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The followed token networks.
    pub fn token_networks(&self) -> impl Iterator<Item = Address> + '_ {
        self.token_networks.keys().map(|address| Address::from(*address))
    }

    /// Waits for and returns the next batch: a rollback if a processed block left the chain,
    /// otherwise the events of the next range of confirmed blocks (at most the current adaptive
    /// range). Waits [`FollowerConfig::poll_interval`] between polls while no new block is
    /// confirmed; retries RPC failures forever with exponential backoff (logged, and counted in
    /// [`FollowerMetrics::rpc_errors`]).
    ///
    /// # Errors
    /// [`FollowerError::ReorgBeyondKeptBlocks`]; the follower is then unusable.
    pub async fn next_batch(&mut self) -> Result<ChainBatch, FollowerError> {
        let mut backoff = self.config.retry_initial;
        loop {
            match self.step().await {
                Ok(Some(batch)) => return Ok(batch),
                Ok(None) => tokio::time::sleep(self.config.poll_interval).await,
                Err(StepError::Fatal(error)) => return Err(error),
                Err(failure) => backoff = self.retry_after(&failure, backoff).await,
            }
        }
    }

    /// Counts and logs a failed step, waits `backoff`, and returns the next backoff.
    async fn retry_after(&self, failure: &StepError, backoff: Duration) -> Duration {
        FollowerMetrics::add(&self.metrics.rpc_errors, 1);
        match failure {
            StepError::Rpc(method, error) => {
                tracing::warn!(method, %error, retry_in = ?backoff, "chain RPC failed; retrying")
            }
            StepError::Timeout(method) => {
                tracing::warn!(method, retry_in = ?backoff, "chain RPC timed out; retrying")
            }
            StepError::Inconsistent(reason) => {
                tracing::warn!(reason, retry_in = ?backoff, "inconsistent chain answers; retrying")
            }
            StepError::Deployment(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "finding the registry's deployment block failed; retrying")
            }
            StepError::Fatal(_) => {}
        }
        tokio::time::sleep(backoff).await;
        (backoff * 2).min(self.config.retry_max)
    }

    /// The block `contract` was deployed in, found by bisecting `eth_getCode` (about 25
    /// requests on mainnet, each within [`FollowerConfig::request_timeout`], not retried): where
    /// a new state starts reading when no start block is configured (the registry's, in
    /// `raiden-pfs serve`).
    ///
    /// # Errors
    /// [`DeploymentBlockError::NoCode`] if `contract` has no code at the latest block (a wrong
    /// address or chain); [`DeploymentBlockError::HistoryUnavailable`] if the node keeps no state
    /// for older blocks (then read from block 0); [`DeploymentBlockError::Rpc`] if the node did
    /// not answer for the latest block.
    pub async fn deployment_block(&self, contract: Address) -> Result<BlockNumber, DeploymentBlockError> {
        crate::deployment::deployment_block(&self.provider, contract, self.config.request_timeout).await
    }

    /// The chain id the node reports (`eth_chainId`), retried like [`ChainFollower::next_batch`]
    /// until the node answers (each failure logged and counted in
    /// [`FollowerMetrics::rpc_errors`]).
    pub async fn chain_id(&self) -> u64 {
        let mut backoff = self.config.retry_initial;
        loop {
            match self.timed("eth_chainId", self.provider.get_chain_id().into_future()).await {
                Ok(chain_id) => return chain_id,
                Err(failure) => backoff = self.retry_after(&failure, backoff).await,
            }
        }
    }

    /// Runs one request under [`FollowerConfig::request_timeout`].
    async fn timed<T>(
        &self,
        method: &'static str,
        request: impl Future<Output = Result<T, TransportError>>,
    ) -> Result<T, StepError> {
        match tokio::time::timeout(self.config.request_timeout, request).await {
            Ok(answer) => answer.map_err(rpc(method)),
            Err(_) => Err(StepError::Timeout(method)),
        }
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, StepError> {
        let request = self.provider.get_block_by_number(BlockNumberOrTag::Number(number)).into_future();
        let block = self.timed("eth_getBlockByNumber", request).await?;
        Ok(block.map(|block| block.header.hash))
    }

    /// One poll: `None` if there is nothing new.
    async fn step(&mut self) -> Result<Option<ChainBatch>, StepError> {
        let latest = self.timed("eth_blockNumber", self.provider.get_block_number().into_future()).await?;
        FollowerMetrics::set(&self.metrics.latest_block, latest);
        if let Some(cursor) = self.cursor()
            && self.block_hash(cursor.block_number.0).await? != Some(cursor.block_hash)
        {
            let fork = self.find_fork_point().await?;
            self.roll_back_to(fork, cursor);
            return Ok(Some(ChainBatch {
                rollback_to: Some(fork),
                events: Vec::new(),
                blocks: Vec::new(),
                latest_block: BlockNumber(latest),
            }));
        }
        let confirmed = latest.saturating_sub(self.config.confirmations);
        let from = match self.cursor() {
            Some(cursor) => cursor.block_number.0 + 1,
            None => self.start_block().await?.0,
        };
        if from > confirmed {
            return Ok(None);
        }
        let started = Instant::now();
        let (to, logs) = self.fetch_logs(from, confirmed).await?;
        let (events, blocks, new_networks) = self.decode(logs, to.0, to.1)?;
        // Nothing changed before this point: the step is cancel-safe.
        self.range.succeeded(events.len(), started.elapsed());
        FollowerMetrics::set(&self.metrics.range_blocks, self.range.blocks());
        FollowerMetrics::add(&self.metrics.events, events.len() as u64);
        FollowerMetrics::set(&self.metrics.processed_block, to.0);
        for (address, block) in new_networks {
            self.token_networks.entry(address).or_insert(Some(block));
        }
        self.recent.extend(blocks.iter().copied());
        let floor = to.0.saturating_sub(self.config.recent_blocks);
        while self.recent.len() > 1 && self.recent.front().is_some_and(|block| block.block_number.0 < floor) {
            self.recent.pop_front();
        }
        tracing::debug!(from, to = to.0, events = events.len(), "chain step");
        Ok(Some(ChainBatch { rollback_to: None, events, blocks, latest_block: BlockNumber(latest) }))
    }

    /// Fetches the logs of `from ..= min(confirmed, from + range − 1)`, shrinking the range while
    /// the provider refuses it. Returns the last block with its hash, and the logs in chain order.
    async fn fetch_logs(&mut self, from: u64, confirmed: u64) -> Result<((u64, B256), Vec<Log>), StepError> {
        loop {
            let to = confirmed.min(from.saturating_add(self.range.blocks() - 1));
            let Some(hash_before) = self.block_hash(to).await? else {
                return Err(StepError::Inconsistent("the last block of the range vanished"));
            };
            let answer =
                tokio::time::timeout(self.config.request_timeout, self.logs_of_range(from, to)).await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(_) if self.range.shrink() => {
                    FollowerMetrics::add(&self.metrics.range_shrinks, 1);
                    tracing::info!(blocks = self.range.blocks(), "eth_getLogs timed out; range shrunk");
                    continue;
                }
                Err(_) => return Err(StepError::Timeout("eth_getLogs")),
            };
            match answer {
                Ok(logs) => {
                    // The same last block after the logs: they all come from one chain.
                    if self.block_hash(to).await? != Some(hash_before) {
                        return Err(StepError::Inconsistent("the last block changed while reading logs"));
                    }
                    return Ok(((to, hash_before), logs));
                }
                Err(error) if is_range_limit(&error.to_string()) && self.range.shrink() => {
                    FollowerMetrics::add(&self.metrics.range_shrinks, 1);
                    tracing::info!(%error, blocks = self.range.blocks(), "eth_getLogs range shrunk");
                }
                Err(error) => return Err(StepError::Rpc("eth_getLogs", error)),
            }
        }
    }

    /// The registry's and the followed token networks' logs of one range (two requests, in
    /// parallel), plus a third for token networks created in the range itself.
    async fn logs_of_range(&self, from: u64, to: u64) -> Result<Vec<Log>, TransportError> {
        let registry_filter = Filter::new()
            .address(RpcAddress::from(self.config.registry))
            .event_signature(REGISTRY_TOPIC)
            .from_block(from)
            .to_block(to);
        let known: Vec<RpcAddress> = self.token_networks.keys().copied().collect();
        let (registry_logs, mut logs) = tokio::try_join!(self.provider.get_logs(&registry_filter), async {
            self.token_network_logs(known, from, to).await
        })?;
        let created: Vec<RpcAddress> = registry_logs
            .iter()
            .filter_map(|log| match decode_log(log) {
                Ok(ChainEvent::TokenNetworkCreated { token_network, .. }) => Some(token_network.into()),
                _ => None,
            })
            .filter(|address| !self.token_networks.contains_key(address))
            .collect();
        logs.extend(self.token_network_logs(created, from, to).await?);
        logs.extend(registry_logs);
        logs.retain(|log| !log.removed);
        logs.sort_by_key(|log| (log.block_number, log.log_index));
        Ok(logs)
    }

    async fn token_network_logs(
        &self,
        addresses: Vec<RpcAddress>,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, TransportError> {
        if addresses.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter::new()
            .address(addresses)
            .event_signature(TOKEN_NETWORK_TOPICS.to_vec())
            .from_block(from)
            .to_block(to);
        self.provider.get_logs(&filter).await
    }

    /// Decodes the logs (skipping, logging and counting any that do not decode) and lists the
    /// blocks to remember.
    #[allow(clippy::type_complexity)]
    fn decode(
        &self,
        logs: Vec<Log>,
        to: u64,
        to_hash: B256,
    ) -> Result<(Vec<(BlockNumber, ChainEvent)>, Vec<ChainCursor>, Vec<(RpcAddress, BlockNumber)>), StepError>
    {
        let mut events = Vec::with_capacity(logs.len());
        let mut blocks: Vec<ChainCursor> = Vec::new();
        let mut created = Vec::new();
        for log in &logs {
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                return Err(StepError::Inconsistent("a log without its block number or hash"));
            };
            let event = match decode_log(log) {
                Ok(event) => event,
                Err(error) => {
                    FollowerMetrics::add(&self.metrics.undecodable_logs, 1);
                    tracing::warn!(%error, block = number, "skipping a log");
                    continue;
                }
            };
            if let ChainEvent::TokenNetworkCreated { token_network, .. } = event {
                created.push((token_network.into(), BlockNumber(number)));
            }
            if number < to && blocks.last().is_none_or(|last| last.block_number.0 != number) {
                blocks.push(ChainCursor { block_number: BlockNumber(number), block_hash: hash });
            }
            events.push((BlockNumber(number), event));
        }
        blocks.push(ChainCursor { block_number: BlockNumber(to), block_hash: to_hash });
        Ok((events, blocks, created))
    }

    /// The first block to read on an empty state: the configured one, or the registry's
    /// deployment block, found once. Keeping what was found does not break cancel safety: asked
    /// again, the node gives the same answer.
    async fn start_block(&mut self) -> Result<BlockNumber, StepError> {
        if let Some(start) = self.start_block {
            return Ok(start);
        }
        let start = match self.deployment_block(self.config.registry).await {
            Ok(block) => {
                tracing::info!(block = block.0, "starting at the registry's deployment block");
                block
            }
            Err(DeploymentBlockError::HistoryUnavailable { block, reason }) => {
                tracing::warn!(
                    block = block.0,
                    reason,
                    "the node keeps no state for old blocks, so the registry's deployment block is \
                     unknown: starting at block 0 (set --start-block to skip the empty blocks)"
                );
                BlockNumber(0)
            }
            Err(DeploymentBlockError::NoCode { address, latest }) => {
                return Err(StepError::Fatal(FollowerError::NoRegistry { address, latest }));
            }
            Err(error @ DeploymentBlockError::Rpc { .. }) => return Err(StepError::Deployment(error)),
        };
        self.start_block = Some(start);
        Ok(start)
    }

    /// Walks back through the kept hashes to the newest block still on the chain.
    async fn find_fork_point(&self) -> Result<ChainCursor, StepError> {
        for kept in self.recent.iter().rev().skip(1) {
            if self.block_hash(kept.block_number.0).await? == Some(kept.block_hash) {
                return Ok(*kept);
            }
        }
        let oldest_kept =
            self.recent.front().map_or(self.start_block.unwrap_or_default(), |block| block.block_number);
        Err(StepError::Fatal(FollowerError::ReorgBeyondKeptBlocks { oldest_kept }))
    }

    fn roll_back_to(&mut self, fork: ChainCursor, old_cursor: ChainCursor) {
        while self.recent.back().is_some_and(|block| block.block_number > fork.block_number) {
            self.recent.pop_back();
        }
        self.token_networks.retain(|_, created| created.is_none_or(|block| block <= fork.block_number));
        FollowerMetrics::add(&self.metrics.reorgs, 1);
        FollowerMetrics::set(&self.metrics.processed_block, fork.block_number.0);
        tracing::warn!(
            from = old_cursor.block_number.0,
            to = fork.block_number.0,
            "chain reorganisation: rolling back"
        );
    }
}
