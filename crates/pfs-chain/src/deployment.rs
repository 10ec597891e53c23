//! Finding the block a contract was deployed in, so that a new state starts reading there instead
//! of at block 0.
//!
//! The reference takes the deployment block from the raiden-contracts deployment data, and reads
//! from block 0 when the contract addresses are given on the command line (as raiden-pfs always
//! has them). Reading from 0 is correct but slow on a long chain: on mainnet some 20 million
//! empty blocks of `eth_getLogs`. The first block in which an address has code is the deployment
//! block, and code, once there, stays (the Raiden contracts cannot self-destruct), so a bisection
//! over `eth_getCode` finds it in about 25 requests.
//!
//! A node that keeps no state for old blocks (a non-archive node answers `eth_getCode` only for
//! recent ones) cannot answer the bisection: [`DeploymentBlockError::HistoryUnavailable`] says so,
//! and the caller falls back to block 0. This relies on such a node answering with an error, as
//! geth does ("missing trie node"): one that answered pruned state with empty code would move the
//! start past the deployment. Give such a node an explicit start block.

use std::time::Duration;

use alloy::eips::BlockId;
use alloy::primitives::Address as RpcAddress;
use alloy::providers::{Provider, RootProvider};
use alloy::transports::TransportError;
use pfs_core::{Address, BlockNumber};

/// Why the deployment block of a contract was not found.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentBlockError {
    /// The address has no code at the latest block: it is not a deployed contract on this chain
    /// (a wrong address or a wrong chain).
    #[error("no contract at {address} on this chain (no code at the latest block, {latest})")]
    NoCode {
        /// The address asked about.
        address: Address,
        /// The latest block when asked.
        latest: BlockNumber,
    },
    /// The node did not answer for an older block, typically because it keeps no state that old.
    #[error("the node has no state for block {block} ({reason})")]
    HistoryUnavailable {
        /// The block asked about.
        block: BlockNumber,
        /// The node's error, or that it timed out.
        reason: String,
    },
    /// The node did not answer for the latest block.
    #[error("the node did not answer {method}: {reason}")]
    Rpc {
        /// The JSON-RPC method.
        method: &'static str,
        /// The node's error, or that it timed out.
        reason: String,
    },
}

/// The first block at which `contract` has code: its deployment block.
///
/// Asks `eth_blockNumber` once and `eth_getCode` about `log2(latest) + 1` times, each within
/// `timeout`.
///
/// # Errors
/// [`DeploymentBlockError::NoCode`] if the contract has no code at the latest block,
/// [`DeploymentBlockError::HistoryUnavailable`] if the node does not answer for an older block,
/// [`DeploymentBlockError::Rpc`] if it does not answer for the latest one.
pub(crate) async fn deployment_block(
    provider: &RootProvider,
    contract: Address,
    timeout: Duration,
) -> Result<BlockNumber, DeploymentBlockError> {
    let latest = within(timeout, provider.get_block_number().into_future())
        .await
        .map_err(|reason| DeploymentBlockError::Rpc { method: "eth_blockNumber", reason })?;
    let has_code = |block: u64| async move {
        let request = provider.get_code_at(RpcAddress::from(contract)).block_id(BlockId::number(block));
        within(timeout, request.into_future()).await.map(|code| !code.is_empty())
    };
    let deployed_at_latest = has_code(latest)
        .await
        .map_err(|reason| DeploymentBlockError::Rpc { method: "eth_getCode", reason })?;
    if !deployed_at_latest {
        return Err(DeploymentBlockError::NoCode { address: contract, latest: BlockNumber(latest) });
    }
    // Invariant: the contract has code at `deployed` and none before `unknown_from`.
    let (mut unknown_from, mut deployed) = (0, latest);
    while unknown_from < deployed {
        let middle = unknown_from + (deployed - unknown_from) / 2;
        let code = has_code(middle).await.map_err(|reason| DeploymentBlockError::HistoryUnavailable {
            block: BlockNumber(middle),
            reason,
        })?;
        if code {
            deployed = middle;
        } else {
            unknown_from = middle + 1;
        }
    }
    Ok(BlockNumber(deployed))
}

/// `request`'s answer, or its error or timeout as text.
async fn within<T>(
    timeout: Duration,
    request: impl Future<Output = Result<T, TransportError>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, request).await {
        Ok(answer) => answer.map_err(|error| error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}
