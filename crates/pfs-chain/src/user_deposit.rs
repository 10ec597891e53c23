//! Reads the UserDeposit contract for the payment checks: a sender's `effectiveBalance` at a
//! given block (balance minus planned withdrawal), the amount a PFS may rely on when it accepts
//! an IOU (spec/REFERENCE-PFS.md §6.3 step 9).

use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::U256;
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::SolCall;
use alloy::transports::TransportError;
use pfs_core::{Address, BlockNumber};

sol! {
    /// The UserDeposit functions the payment checks read (contracts 0.50).
    interface UserDeposit {
        /// `balances[owner] − withdraw_plans[owner].amount`, 0 if the plan exceeds the balance.
        function effectiveBalance(address owner) external view returns (uint256);
    }
}

/// How long one balance read may take before it counts as failed.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a chain read failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainReadError {
    /// The RPC endpoint is not a URL.
    #[error("invalid RPC URL {0:?}")]
    BadUrl(String),
    /// The request failed (connection, or an error answer such as an unknown block).
    #[error("{call}: {source}")]
    Rpc {
        /// The contract function.
        call: &'static str,
        /// The transport or JSON-RPC error.
        source: TransportError,
    },
    /// The node did not answer within [`READ_TIMEOUT`].
    #[error("{0}: no answer within {READ_TIMEOUT:?}")]
    Timeout(&'static str),
    /// The answer does not decode as the function's return type.
    #[error("{call}: undecodable answer: {source}")]
    Decode {
        /// The contract function.
        call: &'static str,
        /// The ABI decoder's complaint.
        source: alloy::sol_types::Error,
    },
}

/// Reads one UserDeposit contract through an Ethereum JSON-RPC endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UserDepositReader {
    provider: RootProvider,
    contract: Address,
}

impl UserDepositReader {
    /// A reader of `contract` through `rpc_url` (no request is made yet).
    ///
    /// # Errors
    /// [`ChainReadError::BadUrl`].
    pub fn connect(rpc_url: &str, contract: Address) -> Result<Self, ChainReadError> {
        let url = rpc_url.parse().map_err(|_| ChainReadError::BadUrl(rpc_url.to_owned()))?;
        Ok(Self { provider: RootProvider::new_http(url), contract })
    }

    /// The contract read.
    pub fn contract(&self) -> Address {
        self.contract
    }

    /// `effectiveBalance(owner)` in the state after `block`.
    ///
    /// # Errors
    /// [`ChainReadError`] if the call fails, times out or does not decode.
    pub async fn effective_balance(
        &self,
        owner: Address,
        block: BlockNumber,
    ) -> Result<U256, ChainReadError> {
        self.call(UserDeposit::effectiveBalanceCall { owner: owner.into() }, block).await
    }

    async fn call<C: SolCall>(&self, call: C, block: BlockNumber) -> Result<C::Return, ChainReadError> {
        let request = TransactionRequest::default().to(self.contract.into()).with_input(call.abi_encode());
        let answer = tokio::time::timeout(READ_TIMEOUT, self.provider.call(request).block(block.0.into()))
            .await
            .map_err(|_| ChainReadError::Timeout(C::SIGNATURE))?
            .map_err(|source| ChainReadError::Rpc { call: C::SIGNATURE, source })?;
        C::abi_decode_returns(&answer).map_err(|source| ChainReadError::Decode { call: C::SIGNATURE, source })
    }
}
