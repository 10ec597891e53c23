//! The simulated Raiden nodes' behaviour beyond the chain: each logs into its homeserver
//! (round-robin over the homeservers) as a Raiden node does (signature login, displayname =
//! signature of its user id, capabilities in the avatar URL, device `RAIDEN`), goes online and
//! stays online, and posts signed capacity and fee updates for its channels to the PFS over HTTP
//! with `pfs-client`.
//!
//! Staying online: Synapse marks a user who neither syncs nor acts offline after 30 s, so a
//! background task sets every node online again every [`PRESENCE_REFRESH`]. The same state again
//! is no presence change, so the PFS sees one `online` per node.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;
use futures_util::future::try_join_all;
use pfs_client::{ChannelState, PfsClient, PfsError, UpdateOutcome};
use pfs_core::matrix_identity::{Capabilities, CapabilityValue};
use pfs_core::presence::UserPresence;
use pfs_core::{
    BlockTimeout, CanonicalIdentifier, ChainId, ChannelId, FeeSchedule, Message, NaiveTimestamp, PrivateKey,
};
use pfs_matrix::{HomeserverAddress, LoginMethod, NODE_DEVICE_ID, NodeError, NodeSession};

use crate::accounts::NodeAccount;
use crate::raiden::{ChannelPlan, OpenedChannel};

/// How often every node sets its presence to online again.
pub const PRESENCE_REFRESH: Duration = Duration::from_secs(15);
/// Nodes logging in at the same time.
const LOGIN_CONCURRENCY: usize = 16;
/// The reveal timeout the nodes announce (blocks, as the Python client counts it).
const REVEAL_TIMEOUT: u64 = 50;

/// The node's key in pfs-core's type.
///
/// # Panics
/// Never: a [`NodeAccount`]'s secret key is a valid secp256k1 key by construction.
pub fn private_key(account: &NodeAccount) -> PrivateKey {
    PrivateKey::from_bytes(account.secret_key().0).expect("a node account's key is valid")
}

/// An address in pfs-core's type.
pub fn core_address(address: alloy::primitives::Address) -> pfs_core::Address {
    pfs_core::Address::from_bytes(address.into_array())
}

/// What a devnet node announces: it receives and mediates, over to-device messages.
pub fn node_capabilities() -> Capabilities {
    Capabilities::from_pairs(
        ["Delivery", "Receive", "Mediate", "toDevice", "immutableMetadata"]
            .into_iter()
            .map(|name| (name.to_owned(), CapabilityValue::Flag(true))),
    )
}

/// Logs every node into homeserver `index % homeservers.len()`, publishes its identity and sets
/// it online; returns the sessions in node order.
///
/// # Errors
/// A login or a profile or presence call fails.
pub async fn go_online(
    accounts: &[NodeAccount],
    homeservers: &[HomeserverAddress],
) -> Result<Vec<NodeSession>, NodeError> {
    let mut sessions = Vec::with_capacity(accounts.len());
    if homeservers.is_empty() {
        return Ok(sessions);
    }
    let capabilities = node_capabilities();
    let indexed: Vec<(usize, &NodeAccount)> = accounts.iter().enumerate().collect();
    for chunk in indexed.chunks(LOGIN_CONCURRENCY) {
        let logins = chunk.iter().map(|(index, account)| {
            let homeserver = &homeservers[index % homeservers.len()];
            let capabilities = &capabilities;
            async move {
                let session = NodeSession::log_in(
                    homeserver,
                    private_key(account),
                    &LoginMethod::RaidenSignature,
                    NODE_DEVICE_ID,
                )
                .await?;
                session.publish_identity(capabilities).await?;
                session.set_presence(UserPresence::Online).await?;
                Ok::<_, NodeError>(session)
            }
        });
        sessions.extend(try_join_all(logins).await?);
    }
    Ok(sessions)
}

/// Sets every session online every [`PRESENCE_REFRESH`] until the returned handle is dropped.
pub fn keep_online(sessions: Arc<Vec<NodeSession>>) -> KeepOnline {
    KeepOnline(tokio::spawn(async move {
        let mut interval = tokio::time::interval(PRESENCE_REFRESH);
        interval.tick().await;
        loop {
            interval.tick().await;
            for session in sessions.iter() {
                // A failed refresh is retried at the next tick; the PFS then sees the node
                // offline for a while, as it would a real node with a flaky connection.
                let _ = session.set_presence(UserPresence::Online).await;
            }
        }
    }))
}

/// The presence refresher; aborted on drop.
#[derive(Debug)]
pub struct KeepOnline(tokio::task::JoinHandle<()>);

impl Drop for KeepOnline {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The updates the nodes send after opening `channels` (planned as `plans`, in the same order):
/// from each side a capacity update with both deposits, and a fee update with its schedule
/// (node `i` uses `fee_schedules[i % len]`; none if `fee_schedules` is empty), stamped `now`.
///
/// # Errors
/// A node's amounts are inconsistent (a deposit overflows) or it cannot sign.
pub fn channel_updates(
    chain_id: u64,
    token_network: alloy::primitives::Address,
    accounts: &[NodeAccount],
    plans: &[ChannelPlan],
    channels: &[OpenedChannel],
    fee_schedules: &[FeeSchedule],
    now: NaiveTimestamp,
) -> Result<Vec<Message>, pfs_client::ClientError> {
    let index_of = |address| accounts.iter().position(|account| account.address() == address);
    let mut messages = Vec::with_capacity(channels.len() * 4);
    for (plan, channel) in plans.iter().zip(channels) {
        let identifier = CanonicalIdentifier {
            chain_identifier: ChainId(chain_id),
            token_network_address: core_address(token_network),
            channel_identifier: ChannelId(channel.channel_identifier),
        };
        let sides = [
            (plan.participant1, plan.deposit1, plan.participant2, plan.deposit2),
            (plan.participant2, plan.deposit2, plan.participant1, plan.deposit1),
        ];
        for (own, own_deposit, partner, partner_deposit) in sides {
            let Some(index) = index_of(own) else { continue };
            let key = private_key(&accounts[index]);
            let state = ChannelState::funded(
                identifier,
                core_address(own),
                own_deposit,
                core_address(partner),
                partner_deposit,
                BlockTimeout(U256::from(REVEAL_TIMEOUT)),
            );
            messages.push(Message::CapacityUpdate(state.capacity_update(&key)?));
            if !fee_schedules.is_empty() {
                let schedule = fee_schedules[index % fee_schedules.len()].clone();
                messages.push(Message::FeeUpdate(state.fee_update(&key, schedule, now)?));
            }
        }
    }
    Ok(messages)
}

/// How the PFS answered the nodes' updates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateReport {
    /// Applied.
    pub accepted: usize,
    /// Kept until the channel opens.
    pub deferred: usize,
    /// Refused, with the PFS's errors.
    pub refused: Vec<PfsError>,
}

/// Posts `messages` in batches of 100 and counts the outcomes.
///
/// # Errors
/// A batch fails as a whole (transport, 413, 503).
pub async fn post_updates(
    pfs: &PfsClient,
    messages: &[Message],
) -> Result<UpdateReport, pfs_client::ClientError> {
    let mut report = UpdateReport::default();
    for result in pfs.post_all_updates(messages).await? {
        match result {
            Ok(UpdateOutcome::Accepted) => report.accepted += 1,
            Ok(UpdateOutcome::Deferred) => report.deferred += 1,
            Err(error) => report.refused.push(error),
        }
    }
    Ok(report)
}
