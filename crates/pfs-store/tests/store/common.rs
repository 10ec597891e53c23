//! Fixtures shared by the store tests: a deployment, keys, signed updates, a store in a temporary
//! directory.

use std::path::Path;

use pfs_core::messages::{CanonicalIdentifier, UnsignedCapacityUpdate, UnsignedFeeUpdate};
use pfs_core::token_network::VerifiedUpdate;
use pfs_core::{
    Address, BlockTimeout, ChainId, ChannelId, FeeSchedule, ImbalancePenalty, Message, NaiveTimestamp, Nonce,
    PrivateKey, U256,
};
use pfs_store::testing::TestDatabase;
use pfs_store::{Deployment, Store, StoreConfig};

pub const CHAIN: ChainId = ChainId(1337);

pub fn deployment() -> Deployment {
    Deployment {
        chain_id: CHAIN,
        token_network_registry: Address::from_bytes([0x11; 20]),
        user_deposit: Address::from_bytes([0x22; 20]),
        receiver: Address::from_bytes([0x33; 20]),
    }
}

/// A fresh database for one test, on the configured backend (see [`TestDatabase`]).
pub struct TempDatabase(TestDatabase);

impl TempDatabase {
    /// A database on the configured backend.
    pub async fn new() -> Self {
        Self(TestDatabase::new().await)
    }

    /// A SQLite file, for tests of SQLite itself.
    pub fn sqlite() -> Self {
        Self(TestDatabase::sqlite())
    }

    pub fn location(&self) -> String {
        self.0.location()
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub async fn open(&self) -> Store {
        Store::open(&StoreConfig::new(self.location()), &deployment()).await.expect("the store opens")
    }
}

/// The version of [`add_future_migration`].
pub const FUTURE_VERSION: i64 = 99990101000000;

/// Records in the SQLite `database` a migration newer than this binary knows, as a newer
/// raiden-pfs would have.
pub async fn add_future_migration(database: &TempDatabase) {
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.location())).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from the future', TRUE, x'00', 0)",
    )
    .bind(FUTURE_VERSION)
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
}

pub fn key(index: u8) -> PrivateKey {
    // Invariant: small non-zero byte patterns are valid secp256k1 keys.
    PrivateKey::from_bytes([index + 1; 32]).expect("valid key")
}

pub fn at(seconds: i64) -> NaiveTimestamp {
    // Invariant: these offsets stay well inside years 1–9999.
    NaiveTimestamp::from_unix_micros(1_700_000_000_000_000 + seconds * 1_000_000).expect("in range")
}

fn identifier(token_network: Address, channel_id: ChannelId) -> CanonicalIdentifier {
    CanonicalIdentifier {
        chain_identifier: CHAIN,
        token_network_address: token_network,
        channel_identifier: channel_id,
    }
}

pub struct CapacityUpdateFields {
    pub token_network: Address,
    pub channel_id: ChannelId,
    pub from: u8,
    pub to: u8,
    pub nonce: u64,
    pub updating_capacity: u64,
    pub other_capacity: u64,
}

pub fn capacity_update(fields: CapacityUpdateFields) -> VerifiedUpdate {
    let message = UnsignedCapacityUpdate {
        canonical_identifier: identifier(fields.token_network, fields.channel_id),
        updating_participant: key(fields.from).address(),
        other_participant: key(fields.to).address(),
        updating_nonce: Nonce(fields.nonce),
        other_nonce: Nonce(fields.nonce),
        updating_capacity: U256::from(fields.updating_capacity),
        other_capacity: U256::from(fields.other_capacity),
        reveal_timeout: BlockTimeout(U256::from(40 + fields.nonce % 100)),
    }
    .sign(&key(fields.from))
    .expect("distinct participants");
    VerifiedUpdate::verify(Message::CapacityUpdate(message)).expect("signed by the updater")
}

pub fn fee_update(
    token_network: Address,
    channel_id: ChannelId,
    from: u8,
    flat: u64,
    timestamp: NaiveTimestamp,
) -> VerifiedUpdate {
    let message = UnsignedFeeUpdate {
        canonical_identifier: identifier(token_network, channel_id),
        updating_participant: key(from).address(),
        fee_schedule: FeeSchedule {
            flat: U256::from(flat),
            proportional: U256::from(flat * 100),
            cap_fees: flat.is_multiple_of(2),
            imbalance_penalty: flat.is_multiple_of(3).then(|| {
                ImbalancePenalty::new(vec![
                    (U256::ZERO, U256::from(flat)),
                    (U256::from(100), U256::ZERO),
                    (U256::from(200), U256::from(flat)),
                ])
                .expect("increasing points")
            }),
        },
        timestamp,
    }
    .sign(&key(from));
    VerifiedUpdate::verify(Message::FeeUpdate(message)).expect("signed by the updater")
}
