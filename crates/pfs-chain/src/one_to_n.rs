//! The OneToN contract, from the service's side: is a session settled, what would a claim
//! transfer now (`eth_call`), and the claim itself, a transaction signed with the service's key
//! (spec/REFERENCE-PFS.md §6.5, spec/PROTOCOL.md §8.2).
//!
//! Unlike the reference, which calls `transact()` without a signer and so needs a node holding
//! the unlocked PFS account, transactions are signed locally and sent raw, so any RPC endpoint
//! works.

use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent};
use alloy::transports::TransportError;
use pfs_core::{Address, Iou, PrivateKey};

sol! {
    /// The OneToN functions and event of contracts 0.50 the service uses.
    interface OneToN {
        /// A session was claimed: `transferred` tokens moved from the sender's deposit.
        event Claimed(address sender, address indexed receiver, uint256 claimable_until, uint256 transferred);
        /// Claims an IOU for the receiver; returns the amount transferred.
        function claim(address sender, address receiver, uint256 amount, uint256 claimable_until, bytes signature) external returns (uint256);
        /// Non-zero (the session's `claimable_until`) once a session was claimed.
        function settled_sessions(bytes32 session) external view returns (uint256);
    }
}

/// Gas limit of one claim transaction: `gas.json`'s 103,552 for `OneToN.claim` with room for
/// a cold storage slot more.
pub const CLAIM_GAS_LIMIT: u64 = 150_000;

/// Why a OneToN operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OneToNError {
    /// The RPC endpoint is not a URL.
    #[error("invalid RPC URL {0:?}")]
    BadUrl(String),
    /// alloy's signer refused the key (it is valid for pfs-core, so this does not happen).
    #[error("the claiming key is not a valid private key")]
    BadKey,
    /// A request failed; for `eth_call` and gas estimation the message carries the revert
    /// reason (e.g. "Already settled session", "receiver not registered", "IOU expired").
    #[error("{call}: {source}")]
    Rpc {
        /// The method or contract function.
        call: &'static str,
        /// The transport or JSON-RPC error.
        source: TransportError,
    },
    /// An answer does not decode.
    #[error("{call}: undecodable answer: {source}")]
    Decode {
        /// The contract function.
        call: &'static str,
        /// The ABI decoder's complaint.
        source: alloy::sol_types::Error,
    },
    /// The claim transaction was mined but reverted.
    #[error("claim transaction {0} reverted")]
    Reverted(B256),
    /// No receipt appeared in time.
    #[error("no receipt for claim transaction {hash} after {waited:?}")]
    NoReceipt {
        /// The transaction.
        hash: B256,
        /// How long it was waited for.
        waited: Duration,
    },
}

/// A mined, successful claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimReceipt {
    /// The transaction.
    pub transaction: B256,
    /// The block it was mined in.
    pub block_number: u64,
    /// The amount the `Claimed` event reports (0 if there is none: nothing was transferred).
    pub transferred: U256,
}

/// The OneToN contract seen by one service account, which signs the claims. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OneToNClient {
    provider: DynProvider,
    contract: Address,
    account: Address,
    receipt_timeout: Duration,
    receipt_poll: Duration,
}

impl OneToNClient {
    /// A client of `contract` through `rpc_url` whose transactions are signed with `key`. No
    /// request is made yet.
    ///
    /// # Errors
    /// [`OneToNError::BadUrl`], [`OneToNError::BadKey`].
    pub fn connect(rpc_url: &str, contract: Address, key: &PrivateKey) -> Result<Self, OneToNError> {
        let url = rpc_url.parse().map_err(|_| OneToNError::BadUrl(rpc_url.to_owned()))?;
        let signer =
            PrivateKeySigner::from_bytes(&B256::from(key.secret_bytes())).map_err(|_| OneToNError::BadKey)?;
        let account = signer.address().into();
        let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url).erased();
        Ok(Self {
            provider,
            contract,
            account,
            receipt_timeout: Duration::from_secs(120),
            receipt_poll: Duration::from_millis(100),
        })
    }

    /// Sets how long a claim waits for its receipt (default 120 s) and how often it asks
    /// (default 100 ms).
    #[must_use]
    pub fn with_receipt_wait(mut self, timeout: Duration, poll: Duration) -> Self {
        self.receipt_timeout = timeout;
        self.receipt_poll = poll;
        self
    }

    /// The account that signs the claims (the service's payment address).
    pub fn account(&self) -> Address {
        self.account
    }

    /// The chain id the endpoint serves.
    ///
    /// # Errors
    /// [`OneToNError::Rpc`].
    pub async fn chain_id(&self) -> Result<u64, OneToNError> {
        self.provider.get_chain_id().await.map_err(|source| OneToNError::Rpc { call: "eth_chainId", source })
    }

    /// The current gas price (`eth_gasPrice`), in wei.
    ///
    /// # Errors
    /// [`OneToNError::Rpc`].
    pub async fn gas_price(&self) -> Result<u128, OneToNError> {
        self.provider
            .get_gas_price()
            .await
            .map_err(|source| OneToNError::Rpc { call: "eth_gasPrice", source })
    }

    /// Whether the IOU's session was already claimed on chain.
    ///
    /// # Errors
    /// [`OneToNError::Rpc`], [`OneToNError::Decode`].
    pub async fn is_settled(&self, iou: &Iou) -> Result<bool, OneToNError> {
        let call = OneToN::settled_sessionsCall { session: B256::from(iou.session_id()) };
        let settled = self.call(call).await?;
        Ok(!settled.is_zero())
    }

    /// What `claim` would transfer now (an `eth_call` from the service's account).
    ///
    /// # Errors
    /// [`OneToNError::Rpc`] with the contract's revert reason, [`OneToNError::Decode`].
    pub async fn claimable(&self, iou: &Iou) -> Result<U256, OneToNError> {
        self.call(claim_call(iou)).await
    }

    /// Sends the claim, signed with the service's key, and waits for its receipt.
    ///
    /// # Errors
    /// [`OneToNError::Rpc`] if it is not accepted, [`OneToNError::Reverted`] if it reverted,
    /// [`OneToNError::NoReceipt`] if it was not mined in time.
    pub async fn claim(&self, iou: &Iou) -> Result<ClaimReceipt, OneToNError> {
        let request = TransactionRequest::default()
            .from(self.account.into())
            .to(self.contract.into())
            .with_input(claim_call(iou).abi_encode())
            .with_gas_limit(CLAIM_GAS_LIMIT);
        let pending = self
            .provider
            .send_transaction(request)
            .await
            .map_err(|source| OneToNError::Rpc { call: "eth_sendRawTransaction", source })?;
        let hash = *pending.tx_hash();
        let receipt = self.wait_for_receipt(hash).await?;
        if !receipt.status() {
            return Err(OneToNError::Reverted(hash));
        }
        let transferred = receipt
            .logs()
            .iter()
            .filter(|log| log.address() == alloy::primitives::Address::from(self.contract))
            .find_map(|log| OneToN::Claimed::decode_log(&log.inner).ok())
            .map_or(U256::ZERO, |claimed| claimed.transferred);
        Ok(ClaimReceipt {
            transaction: hash,
            block_number: receipt.block_number.unwrap_or_default(),
            transferred,
        })
    }

    async fn wait_for_receipt(&self, hash: B256) -> Result<TransactionReceipt, OneToNError> {
        let started = Instant::now();
        loop {
            let receipt = self
                .provider
                .get_transaction_receipt(hash)
                .await
                .map_err(|source| OneToNError::Rpc { call: "eth_getTransactionReceipt", source })?;
            if let Some(receipt) = receipt {
                return Ok(receipt);
            }
            if started.elapsed() > self.receipt_timeout {
                return Err(OneToNError::NoReceipt { hash, waited: started.elapsed() });
            }
            tokio::time::sleep(self.receipt_poll).await;
        }
    }

    async fn call<C: SolCall>(&self, call: C) -> Result<C::Return, OneToNError> {
        let request = TransactionRequest::default()
            .from(self.account.into())
            .to(self.contract.into())
            .with_input(call.abi_encode());
        let answer = self
            .provider
            .call(request)
            .await
            .map_err(|source| OneToNError::Rpc { call: C::SIGNATURE, source })?;
        C::abi_decode_returns(&answer).map_err(|source| OneToNError::Decode { call: C::SIGNATURE, source })
    }
}

fn claim_call(iou: &Iou) -> OneToN::claimCall {
    let fields = iou.fields();
    OneToN::claimCall {
        sender: fields.sender.into(),
        receiver: fields.receiver.into(),
        amount: fields.amount,
        claimable_until: fields.claimable_until,
        signature: Bytes::copy_from_slice(iou.signature().as_bytes()),
    }
}
