//! The harness of the integration tests: a real devnet (anvil with the Raiden contracts), a
//! [`ChainFollower`] on it, and the consumer side as the service runs it (a registry, an undo log
//! and a SQLite `pfs_store::Store` committed after every batch).

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use devnet::Devnet;
use pfs_chain::{ChainBatch, ChainFollower, FollowerConfig, UndoLog, apply_batch};
use pfs_core::timestamp::NaiveTimestamp;
use pfs_core::token_network::{Channel, TokenNetworkRegistry};
use pfs_core::{Address, BlockNumber, ChainId, ChannelId};
use pfs_store::{Deployment, StateChanges, Store, StoreConfig};

/// How long a sync may take before the test fails.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn devnet(nodes: usize) -> Devnet {
    Devnet::builder().nodes(nodes).start().await.expect("the devnet starts (anvil and contracts installed)")
}

pub fn config(devnet: &Devnet, confirmations: u64) -> FollowerConfig {
    let mut config = FollowerConfig::new(
        devnet.deployment().token_network_registry.into(),
        BlockNumber(devnet.deployment().deployment_block),
    );
    config.confirmations = confirmations;
    config.poll_interval = Duration::from_millis(50);
    config.retry_initial = Duration::from_millis(100);
    config.retry_max = Duration::from_millis(400);
    config
}

pub fn now() -> NaiveTimestamp {
    NaiveTimestamp::from_unix_micros(1_767_225_600_000_000).expect("2026 is in range")
}

/// The service's writer, reduced to the chain: follower, registry, undo log, store.
pub struct Writer {
    pub follower: ChainFollower,
    pub registry: TokenNetworkRegistry,
    pub undo_log: UndoLog,
    pub store: Store,
    pub batches: Vec<ChainBatch>,
}

impl Writer {
    /// Opens (or reopens) the database in `dir` and resumes from what it holds.
    pub async fn open(devnet: &Devnet, dir: &Path, config: FollowerConfig) -> Self {
        let deployment = Deployment {
            chain_id: ChainId(devnet.chain().chain_id()),
            token_network_registry: devnet.deployment().token_network_registry.into(),
            user_deposit: devnet.deployment().user_deposit.into(),
            receiver: Address::from_bytes([0x77; 20]),
        };
        let store = Store::open(&StoreConfig::new(dir.join("pfs.db").to_string_lossy()), &deployment)
            .await
            .expect("the store opens");
        let loaded = store.load_state().await.expect("the state loads");
        let token_networks: Vec<Address> =
            loaded.registry.token_networks().map(|network| network.address).collect();
        let undo_log = UndoLog::restore(
            config.recent_blocks,
            loaded.cursor.map(|cursor| cursor.block_number),
            loaded.undo_log.clone(),
        );
        let follower = ChainFollower::connect(devnet.eth_rpc(), config, loaded.recent_blocks, token_networks)
            .expect("the RPC URL is valid");
        Self { follower, registry: loaded.registry, undo_log, store, batches: Vec::new() }
    }

    /// Takes one batch, applies it and commits it.
    pub async fn step(&mut self) -> ChainBatch {
        let batch = tokio::time::timeout(SYNC_TIMEOUT, self.follower.next_batch())
            .await
            .expect("a batch within the timeout")
            .expect("the follower goes on");
        let mut changes = StateChanges::new();
        apply_batch(&mut self.registry, &batch, &mut self.undo_log, &mut changes, now())
            .expect("the batch applies");
        self.store.commit(&self.registry, &changes).await.expect("the commit succeeds");
        self.batches.push(batch.clone());
        batch
    }

    /// Steps until the cursor reaches `block`.
    pub async fn sync_to(&mut self, block: u64) {
        while self.follower.cursor().is_none_or(|cursor| cursor.block_number.0 < block) {
            self.step().await;
        }
    }

    /// Steps until every block confirmed now (`latest − confirmations`) is processed.
    pub async fn sync(&mut self, devnet: &Devnet, confirmations: u64) {
        let latest = devnet.chain().block_number().await.expect("eth_blockNumber");
        self.sync_to(latest.saturating_sub(confirmations)).await;
    }

    pub fn channel(&self, token_network: Address, id: alloy::primitives::U256) -> Option<&Channel> {
        self.registry.token_network(&token_network)?.channel(&ChannelId(id))
    }

    pub fn channel_count(&self) -> usize {
        self.registry.token_networks().map(|network| network.channels().len()).sum()
    }

    /// The state in the database equals the state in memory, and so does the cursor.
    pub async fn assert_store_matches(&self) {
        let loaded = self.store.load_state().await.expect("the state loads");
        assert_eq!(loaded.cursor, self.follower.cursor(), "the committed cursor is the follower's");
        let saved: Vec<_> = loaded.registry.token_networks().cloned().collect();
        let live: Vec<_> = self.registry.token_networks().cloned().collect();
        assert_eq!(saved, live, "the committed state is the state in memory");
    }
}
