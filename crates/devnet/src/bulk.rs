//! Sending thousands of transactions quickly: consecutive nonces per sender, JSON-RPC batches,
//! automine off while a chunk enters anvil's pool, then blocks mined until the pool is empty,
//! and every transaction checked: by its logs (one `eth_getLogs` for the whole send; a revert
//! leaves none), and by its receipt only where it left no logs.
//!
//! Three anvil behaviours shape this. With automine on, anvil mines while a (concurrently
//! answered) batch still arrives, and a transaction can be lost, leaving a nonce gap; with
//! automine off the whole chunk is in the pool before the first block. anvil's pool slows down
//! quadratically with thousands of transactions in it, so it gets at most [`POOL_CHUNK`] at a
//! time. And full blocks raise the base fee by 12.5 % each, which over thousands of
//! transactions outgrows any fee cap and balance (transactions are then silently dropped), so
//! the blocks are mined at the base fee found before the bulk send: the chain's gas price stays
//! as it was.

use std::collections::HashMap;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::client::BatchRequest;
use alloy::rpc::types::{Filter, Log, TransactionRequest};

use crate::chain::{Chain, ChainError, rpc_error};

/// Transactions in anvil's pool at a time.
pub const POOL_CHUNK: usize = 1000;
/// Requests per JSON-RPC batch.
const BATCH_SIZE: usize = 500;
/// The lowest fee cap of a bulk transaction (100 gwei): far above the held base fee.
const MIN_FEE_CAP: u128 = 100_000_000_000;

/// One transaction of a bulk send. Sends are fastest when each transaction emits a log on
/// success (all Raiden calls the devnet makes do); one without logs costs a receipt request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTransaction {
    /// The sender (anvil impersonates it; it needs ETH for `gas` × 100 gwei).
    pub from: Address,
    /// The contract called.
    pub to: Address,
    /// The ABI-encoded call.
    pub input: Vec<u8>,
    /// The gas limit (fixed: gas cannot be estimated against a state that earlier transactions
    /// of the same send have not made yet).
    pub gas: u64,
}

impl Chain {
    /// Sends `transactions` in order (per sender, in nonce order) and returns each one's logs
    /// once all are mined. Other transactions sent to the chain meanwhile wait for these blocks.
    ///
    /// # Errors
    /// An RPC error, a transaction that cannot be mined, or one that reverted (the error names
    /// it and the revert reason, found by replaying it on its parent block). Automine is
    /// switched on again in every case.
    pub async fn send_bulk(
        &self,
        transactions: &[PlannedTransaction],
        what: &'static str,
    ) -> Result<Vec<Vec<Log>>, ChainError> {
        if transactions.is_empty() {
            return Ok(Vec::new());
        }
        let base_fee = self.next_base_fee().await?;
        let first_block = self.block_number().await? + 1;
        let fee_cap = self
            .provider()
            .get_gas_price()
            .await
            .map_err(rpc_error("eth_gasPrice"))?
            .saturating_mul(4)
            .max(MIN_FEE_CAP);
        self.set_automine(false).await?;
        let mut nonces: HashMap<Address, u64> = HashMap::new();
        let mut hashes = Vec::with_capacity(transactions.len());
        let mut result = Ok(());
        for chunk in transactions.chunks(POOL_CHUNK) {
            result = self.send_chunk(chunk, &mut nonces, fee_cap, &mut hashes, what).await;
            if result.is_ok() {
                result = self.mine_until_pool_is_empty(base_fee, what).await;
            }
            if result.is_err() {
                break;
            }
        }
        self.set_automine(true).await?;
        result?;
        self.checked_logs(transactions, &hashes, first_block, what).await
    }

    async fn send_chunk(
        &self,
        chunk: &[PlannedTransaction],
        nonces: &mut HashMap<Address, u64>,
        fee_cap: u128,
        hashes: &mut Vec<B256>,
        what: &'static str,
    ) -> Result<(), ChainError> {
        for batch_transactions in chunk.chunks(BATCH_SIZE) {
            let mut batch = BatchRequest::new(self.provider().client());
            let mut waiters = Vec::with_capacity(batch_transactions.len());
            for transaction in batch_transactions {
                let nonce = match nonces.get_mut(&transaction.from) {
                    Some(nonce) => nonce,
                    None => {
                        let pending = self
                            .provider()
                            .get_transaction_count(transaction.from)
                            .pending()
                            .await
                            .map_err(rpc_error("eth_getTransactionCount"))?;
                        nonces.entry(transaction.from).or_insert(pending)
                    }
                };
                let request = request(transaction)
                    .with_nonce(*nonce)
                    .with_max_fee_per_gas(fee_cap)
                    .with_max_priority_fee_per_gas(0);
                *nonce += 1;
                waiters.push(
                    batch.add_call::<_, B256>("eth_sendTransaction", &(request,)).map_err(rpc_error(what))?,
                );
            }
            batch.send().await.map_err(rpc_error(what))?;
            for waiter in waiters {
                hashes.push(waiter.await.map_err(rpc_error(what))?);
            }
        }
        Ok(())
    }

    async fn mine_until_pool_is_empty(&self, base_fee: u128, what: &'static str) -> Result<(), ChainError> {
        let mut previous_pending = u64::MAX;
        loop {
            let status: serde_json::Value = self
                .provider()
                .raw_request("txpool_status".into(), ())
                .await
                .map_err(rpc_error("txpool_status"))?;
            let count = |key: &str| {
                status[key]
                    .as_str()
                    .and_then(|hex| u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok())
            };
            match (count("pending"), count("queued")) {
                (Some(0), Some(0)) => return Ok(()),
                (Some(0), Some(queued)) => {
                    return Err(ChainError::Unexpected(format!(
                        "{queued} {what} transactions are stuck behind a nonce gap"
                    )));
                }
                (Some(pending), Some(_)) if pending < previous_pending => {
                    previous_pending = pending;
                    self.set_next_base_fee(base_fee).await?;
                    self.mine(1, 0).await?;
                }
                (Some(pending), Some(_)) => {
                    return Err(ChainError::Unexpected(format!(
                        "{pending} {what} transactions are not mined (fee cap below the base fee?)"
                    )));
                }
                _ => return Err(ChainError::Unexpected(format!("unexpected txpool_status answer {status}"))),
            }
        }
    }

    /// Each transaction's logs, in order, from one `eth_getLogs` over the mined blocks (far
    /// cheaper in anvil than receipts). A transaction without logs is checked by its receipt:
    /// a revert leaves no logs.
    async fn checked_logs(
        &self,
        transactions: &[PlannedTransaction],
        hashes: &[B256],
        first_block: u64,
        what: &'static str,
    ) -> Result<Vec<Vec<Log>>, ChainError> {
        let filter = Filter::new().from_block(first_block).to_block(self.block_number().await?);
        let mut by_hash: HashMap<B256, Vec<Log>> = HashMap::with_capacity(hashes.len());
        for log in self.logs(&filter).await? {
            if let Some(hash) = log.transaction_hash {
                by_hash.entry(hash).or_default().push(log);
            }
        }
        let mut reverted = Vec::new();
        let mut all_logs = Vec::with_capacity(hashes.len());
        for (index, &hash) in hashes.iter().enumerate() {
            let logs = by_hash.remove(&hash).unwrap_or_default();
            if logs.is_empty() {
                let receipt = self
                    .provider()
                    .get_transaction_receipt(hash)
                    .await
                    .map_err(rpc_error("eth_getTransactionReceipt"))?
                    .ok_or(ChainError::NoReceipt { hash, what })?;
                if !receipt.status() {
                    reverted.push((index, receipt));
                }
            }
            all_logs.push(logs);
        }
        let Some((first, receipt)) = reverted.first() else { return Ok(all_logs) };
        let parent = receipt.block_number.unwrap_or_default().saturating_sub(1);
        let reason = match self.provider().call(request(&transactions[*first])).block(parent.into()).await {
            Err(error) => error.to_string(),
            Ok(_) => format!("none on replay (out of its {} gas?)", transactions[*first].gas),
        };
        Err(ChainError::Reverted {
            hash: receipt.transaction_hash,
            what,
            reason: format!(
                "{reason}; {} of {} transactions of the bulk send reverted",
                reverted.len(),
                hashes.len()
            ),
        })
    }
}

fn request(transaction: &PlannedTransaction) -> TransactionRequest {
    TransactionRequest::default()
        .from(transaction.from)
        .to(transaction.to)
        .with_input(transaction.input.clone())
        .with_gas_limit(transaction.gas)
}
