//! A JSON-RPC connection to the devnet's anvil: typed contract calls and transactions, and
//! anvil's test methods (balances, mining, time, automine, snapshots, reorgs).
//!
//! Transactions are sent with `eth_sendTransaction` from accounts anvil signs for (its dev
//! accounts, and any other through `--auto-impersonate`), so the contracts see the real
//! `msg.sender` without the devnet holding every key. A receipt is polled directly after
//! sending (anvil mines on arrival), not on alloy's 250 ms heartbeat, which would dominate the
//! time of a test.

use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{Filter, Log, TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolCall;
use alloy::transports::TransportError;

/// The first of anvil's well-known dev accounts (mnemonic "test test ... junk"): the deployer
/// and funder of the devnet.
pub const ANVIL_DEV_ACCOUNT: Address =
    alloy::primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

/// How long a receipt may take to appear after a transaction was accepted.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of chain operations.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The endpoint is not a URL.
    #[error("invalid RPC endpoint {0}")]
    BadEndpoint(String),
    /// An RPC request failed (connection, or an error answer such as a revert during gas
    /// estimation, which carries the revert reason).
    #[error("{method}: {source}")]
    Rpc {
        /// The method or contract function.
        method: String,
        /// The transport or JSON-RPC error.
        source: TransportError,
    },
    /// A transaction was mined but reverted.
    #[error("transaction {hash} ({what}) reverted: {reason}")]
    Reverted {
        /// The transaction hash.
        hash: B256,
        /// The contract function.
        what: &'static str,
        /// The revert reason, found by replaying the transaction on the parent block.
        reason: String,
    },
    /// A transaction's receipt did not appear in time.
    #[error("no receipt for {hash} ({what}) after {RECEIPT_TIMEOUT:?}")]
    NoReceipt {
        /// The transaction hash.
        hash: B256,
        /// The contract function.
        what: &'static str,
    },
    /// A return value or log could not be decoded.
    #[error("decode {what}: {source}")]
    Decode {
        /// What was decoded.
        what: &'static str,
        /// The ABI decoding error.
        source: alloy::sol_types::Error,
    },
    /// A receipt lacks an expected event or contract address.
    #[error("{0}")]
    Unexpected(String),
    /// Signing failed.
    #[error("signing: {0}")]
    Signing(#[from] alloy::signers::Error),
}

/// A connection to one anvil chain.
///
/// Cheap to clone (the HTTP client is shared).
#[derive(Debug, Clone)]
pub struct Chain {
    provider: RootProvider,
    endpoint: String,
    chain_id: u64,
}

impl Chain {
    /// Connects to `endpoint` and reads the chain id.
    ///
    /// # Errors
    /// The URL is invalid or the node does not answer.
    pub async fn connect(endpoint: &str) -> Result<Self, ChainError> {
        let url = endpoint.parse().map_err(|_| ChainError::BadEndpoint(endpoint.to_owned()))?;
        let provider = RootProvider::new_http(url);
        let chain_id = provider.get_chain_id().await.map_err(rpc_error("eth_chainId"))?;
        Ok(Self { provider, endpoint: endpoint.to_owned(), chain_id })
    }

    /// The alloy provider, for anything this type does not wrap.
    pub fn provider(&self) -> &RootProvider {
        &self.provider
    }

    /// The JSON-RPC endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The chain id (31337 on anvil).
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Calls a view function at the latest block.
    ///
    /// # Errors
    /// The call fails or its answer does not decode.
    pub async fn call<C: SolCall>(&self, contract: Address, call: C) -> Result<C::Return, ChainError> {
        let request = TransactionRequest::default().to(contract).with_input(call.abi_encode());
        let answer = self.provider.call(request).await.map_err(rpc_error(C::SIGNATURE))?;
        C::abi_decode_returns(&answer).map_err(|source| ChainError::Decode { what: C::SIGNATURE, source })
    }

    /// Sends `call` to `contract` from `from` and waits for a successful receipt.
    ///
    /// # Errors
    /// The transaction is rejected (e.g. gas estimation hits a revert: the error carries the
    /// reason), reverts, or no receipt appears.
    pub async fn transact<C: SolCall>(
        &self,
        from: Address,
        contract: Address,
        call: C,
    ) -> Result<TransactionReceipt, ChainError> {
        let request = TransactionRequest::default().from(from).to(contract).with_input(call.abi_encode());
        self.send(request, C::SIGNATURE).await
    }

    /// Deploys `creation_code` (code and encoded constructor arguments) from `from` and returns
    /// the new contract's address with the receipt.
    ///
    /// # Errors
    /// As [`Chain::transact`], or the receipt names no contract address.
    pub async fn deploy(
        &self,
        from: Address,
        creation_code: Bytes,
        what: &'static str,
    ) -> Result<(Address, TransactionReceipt), ChainError> {
        let request = TransactionRequest::default().from(from).with_deploy_code(creation_code);
        let receipt = self.send(request, what).await?;
        let address = receipt
            .contract_address
            .ok_or_else(|| ChainError::Unexpected(format!("deployment of {what} created no contract")))?;
        Ok((address, receipt))
    }

    /// Sends a prepared transaction and waits for a successful receipt.
    ///
    /// # Errors
    /// As [`Chain::transact`].
    pub async fn send(
        &self,
        mut request: TransactionRequest,
        what: &'static str,
    ) -> Result<TransactionReceipt, ChainError> {
        if request.gas.is_none() {
            // anvil's estimate is exact for its pending block, but the block the transaction
            // lands in may differ in what a storage write costs (ServiceRegistry.deposit
            // rewrites `set_price_at = block.timestamp`: free if unchanged, 2,900 gas if not),
            // and a contract creation or call passes on only 63/64 of the gas left, so an exact
            // estimate reverts now and then. A quarter more is ample and is not charged.
            let estimate = self.provider.estimate_gas(request.clone()).await.map_err(rpc_error(what))?;
            request.gas = Some(estimate.saturating_add(estimate / 4));
        }
        let hash: B256 = self
            .provider
            .raw_request("eth_sendTransaction".into(), (request.clone(),))
            .await
            .map_err(rpc_error(what))?;
        let receipt = self.wait_for_receipt(hash, what).await?;
        if receipt.status() {
            return Ok(receipt);
        }
        // Replaying the call on the parent block reproduces the revert (anvil mines one
        // transaction per block on arrival) and yields the reason the receipt does not carry.
        // A replay runs with the block's gas limit, so a transaction that ran out of the gas
        // anvil estimated for it is named as such first.
        let gas_limit = match self.provider.get_transaction_by_hash(hash).await {
            Ok(Some(transaction)) => Some(alloy::consensus::Transaction::gas_limit(&transaction)),
            _ => None,
        };
        let parent = receipt.block_number.unwrap_or_default().saturating_sub(1);
        let reason = if gas_limit == Some(receipt.gas_used) {
            format!("out of gas (used all {} of its limit)", receipt.gas_used)
        } else {
            match self.provider.call(request).block(parent.into()).await {
                Err(error) => error.to_string(),
                Ok(_) => format!(
                    "unknown (the replay on the parent block succeeded; {} gas used of {gas_limit:?})",
                    receipt.gas_used
                ),
            }
        };
        Err(ChainError::Reverted { hash, what, reason })
    }

    /// Polls for the receipt of `hash` (every 2 ms, anvil mines on arrival).
    ///
    /// # Errors
    /// An RPC error, or no receipt within 30 s.
    pub async fn wait_for_receipt(
        &self,
        hash: B256,
        what: &'static str,
    ) -> Result<TransactionReceipt, ChainError> {
        let started = Instant::now();
        loop {
            if let Some(receipt) = self
                .provider
                .get_transaction_receipt(hash)
                .await
                .map_err(rpc_error("eth_getTransactionReceipt"))?
            {
                return Ok(receipt);
            }
            if started.elapsed() > RECEIPT_TIMEOUT {
                return Err(ChainError::NoReceipt { hash, what });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The latest block number.
    ///
    /// # Errors
    /// An RPC error.
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.provider.get_block_number().await.map_err(rpc_error("eth_blockNumber"))
    }

    /// The logs matching `filter`.
    ///
    /// # Errors
    /// An RPC error.
    pub async fn logs(&self, filter: &Filter) -> Result<Vec<Log>, ChainError> {
        self.provider.get_logs(filter).await.map_err(rpc_error("eth_getLogs"))
    }

    /// Sets the ETH balance of `account` (`anvil_setBalance`).
    ///
    /// # Errors
    /// An RPC error.
    pub async fn set_balance(&self, account: Address, wei: U256) -> Result<(), ChainError> {
        self.anvil("anvil_setBalance", (account, wei)).await
    }

    /// The ETH balance of `account`.
    ///
    /// # Errors
    /// An RPC error.
    pub async fn balance(&self, account: Address) -> Result<U256, ChainError> {
        self.provider.get_balance(account).await.map_err(rpc_error("eth_getBalance"))
    }

    /// Mines `blocks` blocks, `seconds_apart` seconds apart (`anvil_mine`); with
    /// `seconds_apart` 0 they share the current timestamp.
    ///
    /// # Errors
    /// An RPC error.
    pub async fn mine(&self, blocks: u64, seconds_apart: u64) -> Result<(), ChainError> {
        if seconds_apart == 0 {
            self.anvil("anvil_mine", (U256::from(blocks),)).await
        } else {
            self.anvil("anvil_mine", (U256::from(blocks), U256::from(seconds_apart))).await
        }
    }

    /// Advances the time of the next block by `seconds` (`evm_increaseTime`).
    ///
    /// # Errors
    /// An RPC error.
    pub async fn increase_time(&self, seconds: u64) -> Result<(), ChainError> {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (U256::from(seconds),))
            .await
            .map_err(rpc_error("evm_increaseTime"))?;
        Ok(())
    }

    /// The timestamp of the latest block.
    ///
    /// # Errors
    /// An RPC error.
    pub async fn latest_timestamp(&self) -> Result<u64, ChainError> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(rpc_error("eth_getBlockByNumber"))?
            .ok_or_else(|| ChainError::Unexpected("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// The base fee per gas the next block will have, in wei.
    ///
    /// # Errors
    /// An RPC error.
    pub async fn next_base_fee(&self) -> Result<u128, ChainError> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Pending)
            .await
            .map_err(rpc_error("eth_getBlockByNumber"))?
            .ok_or_else(|| ChainError::Unexpected("no pending block".into()))?;
        Ok(u128::from(block.header.base_fee_per_gas.unwrap_or_default()))
    }

    /// Sets the base fee per gas of the next block (`anvil_setNextBlockBaseFeePerGas`).
    ///
    /// # Errors
    /// An RPC error.
    pub async fn set_next_base_fee(&self, wei: u128) -> Result<(), ChainError> {
        self.anvil("anvil_setNextBlockBaseFeePerGas", (U256::from(wei),)).await
    }

    /// Turns mining on arrival on or off (`evm_setAutomine`). With it off, transactions wait in
    /// the pool until [`Chain::mine`].
    ///
    /// # Errors
    /// An RPC error.
    pub async fn set_automine(&self, enabled: bool) -> Result<(), ChainError> {
        self.anvil("evm_setAutomine", (enabled,)).await
    }

    /// Takes a snapshot of the chain (`evm_snapshot`) to return to with [`Chain::revert_to`].
    ///
    /// # Errors
    /// An RPC error.
    pub async fn snapshot(&self) -> Result<U256, ChainError> {
        self.provider.raw_request("evm_snapshot".into(), ()).await.map_err(rpc_error("evm_snapshot"))
    }

    /// Returns the chain to `snapshot` (`evm_revert`): later blocks disappear, and the same
    /// heights get new blocks with new hashes when mined again.
    ///
    /// # Errors
    /// An RPC error, or the snapshot is unknown (already used).
    pub async fn revert_to(&self, snapshot: U256) -> Result<(), ChainError> {
        let reverted: bool = self
            .provider
            .raw_request("evm_revert".into(), (snapshot,))
            .await
            .map_err(rpc_error("evm_revert"))?;
        if reverted { Ok(()) } else { Err(ChainError::Unexpected(format!("unknown snapshot {snapshot}"))) }
    }

    /// Replaces the last `depth` blocks with as many new, empty blocks (`anvil_reorg`); the
    /// transactions of the dropped blocks are gone.
    ///
    /// # Errors
    /// An RPC error (e.g. `depth` beyond the chain).
    pub async fn reorg(&self, depth: u64) -> Result<(), ChainError> {
        let no_transactions: Vec<serde_json::Value> = Vec::new();
        self.anvil("anvil_reorg", (depth, no_transactions)).await
    }

    async fn anvil<P: alloy::rpc::json_rpc::RpcSend>(
        &self,
        method: &'static str,
        params: P,
    ) -> Result<(), ChainError> {
        let _: serde_json::Value =
            self.provider.raw_request(method.into(), params).await.map_err(rpc_error(method))?;
        Ok(())
    }
}

/// Maps a transport error to [`ChainError::Rpc`] naming `method`.
pub(crate) fn rpc_error(method: &str) -> impl FnOnce(TransportError) -> ChainError + '_ {
    move |source| ChainError::Rpc { method: method.to_owned(), source }
}
