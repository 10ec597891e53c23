//! Typed operations on a deployment of the Raiden contracts: funding accounts, UserDeposit and
//! ServiceRegistry, the channel life cycle (open, deposit, withdraw, close, settle), bulk
//! channel setup, and reading the token network's events back.
//!
//! Each operation is sent from the account whose `msg.sender` the contract cares about (a node
//! opens and deposits from its own account, a service registers itself), through anvil's
//! impersonation. Only bulk setup deviates: one funder sends every transaction (the contracts
//! allow anyone to open a channel or deposit for a participant), which lets the transactions
//! carry consecutive nonces and be pipelined.

use std::collections::HashMap;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent, SolEventInterface};

use crate::accounts::NodeAccount;
use crate::chain::{Chain, ChainError, rpc_error};
use crate::contracts::abi::{CustomToken, ServiceRegistry, TokenNetwork, UserDeposit};
use crate::deploy::Deployment;
use crate::messages::{EMPTY_SIGNATURE, balance_proof_counter_message, withdraw_message};

/// A channel identifier (a per-TokenNetwork counter starting at 1).
pub type ChannelIdentifier = U256;

/// A channel to open in bulk, with each participant's deposit (0 for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPlan {
    /// The first participant (the opener, `participant1` in `ChannelOpened`).
    pub participant1: Address,
    /// The second participant.
    pub participant2: Address,
    /// `participant1`'s total deposit.
    pub deposit1: U256,
    /// `participant2`'s total deposit.
    pub deposit2: U256,
}

/// A channel opened on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedChannel {
    /// Its identifier.
    pub channel_identifier: ChannelIdentifier,
    /// `participant1` of `ChannelOpened`.
    pub participant1: Address,
    /// `participant2` of `ChannelOpened`.
    pub participant2: Address,
    /// The block of `ChannelOpened`.
    pub block_number: u64,
}

/// A decoded event with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent<E> {
    /// The block.
    pub block_number: u64,
    /// The transaction.
    pub transaction_hash: B256,
    /// The position of the log in its block.
    pub log_index: u64,
    /// The emitting contract.
    pub address: Address,
    /// The event.
    pub event: E,
}

/// A participant's state in a channel (`getChannelParticipantInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParticipantInfo {
    /// Total deposit.
    pub deposit: U256,
    /// Total withdrawn.
    pub withdrawn: U256,
    /// Whether this participant closed the channel.
    pub is_the_closer: bool,
    /// Nonce of the balance proof submitted for this participant.
    pub nonce: U256,
}

/// Gas limit of one bulk `openChannel` / `openChannelWithDeposit` transaction (used ≈ 90–150 k).
const BULK_OPEN_GAS: u64 = 250_000;
/// Gas limit of one bulk `setTotalDeposit` transaction (used ≈ 60–80 k).
const BULK_DEPOSIT_GAS: u64 = 150_000;
/// Transactions in anvil's pool at a time in bulk setup.
const BULK_POOL_CHUNK: usize = 1000;
/// Transactions per JSON-RPC batch in bulk setup.
const BULK_BATCH_SIZE: usize = 500;
/// The lowest fee cap of a bulk transaction (100 gwei): well above the base fee after the
/// hundreds of full blocks a large setup mines.
const BULK_MIN_FEE_CAP: u128 = 100_000_000_000;
/// Seconds a withdraw signature stays valid.
const WITHDRAW_VALIDITY_SECONDS: u64 = 3600;

/// A deployment of the Raiden contracts on a chain, with operations on it.
#[derive(Debug, Clone)]
pub struct Raiden {
    chain: Chain,
    deployment: Deployment,
}

impl Raiden {
    /// Operations on `deployment` through `chain`.
    pub fn new(chain: Chain, deployment: Deployment) -> Self {
        Self { chain, deployment }
    }

    /// The chain connection.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The contract addresses.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// Gives `account` `eth` wei (setting, not adding) and `tokens` more tokens (minted), and
    /// approves the TokenNetwork, UserDeposit and ServiceRegistry to take its tokens.
    ///
    /// # Errors
    /// A transaction fails.
    pub async fn fund_account(&self, account: Address, eth: U256, tokens: U256) -> Result<(), ChainError> {
        // Gas for the approvals first; the balance is set to `eth` exactly afterwards.
        self.chain.set_balance(account, eth.saturating_add(ether(1))).await?;
        if !tokens.is_zero() {
            self.mint(account, tokens).await?;
        }
        for spender in
            [self.deployment.token_network, self.deployment.user_deposit, self.deployment.service_registry]
        {
            self.chain
                .transact(
                    account,
                    self.deployment.token,
                    CustomToken::approveCall { _spender: spender, _value: U256::MAX },
                )
                .await?;
        }
        self.chain.set_balance(account, eth).await
    }

    /// Mints `amount` tokens to `account`.
    ///
    /// # Errors
    /// The transaction fails.
    pub async fn mint(&self, account: Address, amount: U256) -> Result<(), ChainError> {
        self.chain
            .transact(
                self.deployment.deployer,
                self.deployment.token,
                CustomToken::mintForCall { num: amount, target: account },
            )
            .await
            .map(drop)
    }

    /// The token balance of `account`.
    ///
    /// # Errors
    /// The call fails.
    pub async fn token_balance(&self, account: Address) -> Result<U256, ChainError> {
        self.chain.call(self.deployment.token, CustomToken::balanceOfCall { _owner: account }).await
    }

    /// Sets the UserDeposit total deposit of `beneficiary` to `new_total_deposit`, paid from
    /// `payer`'s tokens (which must be funded).
    ///
    /// # Errors
    /// The transaction fails (e.g. the total does not grow).
    pub async fn deposit_to_user_deposit(
        &self,
        payer: Address,
        beneficiary: Address,
        new_total_deposit: U256,
    ) -> Result<TransactionReceipt, ChainError> {
        self.chain
            .transact(
                payer,
                self.deployment.user_deposit,
                UserDeposit::depositCall { beneficiary, new_total_deposit },
            )
            .await
    }

    /// The UserDeposit balance of `owner` that services can claim (`effectiveBalance`).
    ///
    /// # Errors
    /// The call fails.
    pub async fn user_deposit_balance(&self, owner: Address) -> Result<U256, ChainError> {
        self.chain.call(self.deployment.user_deposit, UserDeposit::effectiveBalanceCall { owner }).await
    }

    /// Registers `service` in the ServiceRegistry: mints it the current price, makes the
    /// deposit from its account and sets its URL. Returns the `valid_till` timestamp.
    ///
    /// # Errors
    /// A transaction fails (an empty URL is refused by the contract).
    pub async fn register_service(&self, service: Address, url: &str) -> Result<U256, ChainError> {
        let registry = self.deployment.service_registry;
        let price = self.chain.call(registry, ServiceRegistry::currentPriceCall {}).await?;
        self.fund_account(service, ether(10), price).await?;
        let receipt = self
            .chain
            .transact(service, registry, ServiceRegistry::depositCall { _limit_amount: price })
            .await?;
        let registered = receipt
            .logs()
            .iter()
            .find_map(|log| ServiceRegistry::RegisteredService::decode_log(&log.inner).ok())
            .ok_or_else(|| {
                ChainError::Unexpected("ServiceRegistry.deposit emitted no RegisteredService".into())
            })?;
        self.chain
            .transact(service, registry, ServiceRegistry::setURLCall { new_url: url.to_owned() })
            .await?;
        Ok(registered.valid_till)
    }

    /// The URL `service` registered.
    ///
    /// # Errors
    /// The call fails.
    pub async fn service_url(&self, service: Address) -> Result<String, ChainError> {
        self.chain.call(self.deployment.service_registry, ServiceRegistry::urlsCall { service }).await
    }

    /// Whether `service` has a valid registration now.
    ///
    /// # Errors
    /// The call fails.
    pub async fn has_valid_registration(&self, service: Address) -> Result<bool, ChainError> {
        self.chain
            .call(
                self.deployment.service_registry,
                ServiceRegistry::hasValidRegistrationCall { _address: service },
            )
            .await
    }

    /// Opens a channel between `participant1` (the sender) and `participant2`.
    ///
    /// # Errors
    /// The transaction fails (e.g. the channel exists).
    pub async fn open_channel(
        &self,
        participant1: Address,
        participant2: Address,
    ) -> Result<OpenedChannel, ChainError> {
        let receipt = self
            .transact_token_network(
                participant1,
                TokenNetwork::openChannelCall { participant1, participant2 },
            )
            .await?;
        opened_channel(&receipt)
    }

    /// Opens a channel and deposits `deposit` for `participant1` in one transaction.
    ///
    /// # Errors
    /// The transaction fails.
    pub async fn open_channel_with_deposit(
        &self,
        participant1: Address,
        participant2: Address,
        deposit: U256,
    ) -> Result<OpenedChannel, ChainError> {
        let call = TokenNetwork::openChannelWithDepositCall {
            participant1,
            participant2,
            participant1_total_deposit: deposit,
        };
        let receipt = self.transact_token_network(participant1, call).await?;
        opened_channel(&receipt)
    }

    /// Sets `participant`'s total deposit in the channel, paid from `participant`'s tokens.
    ///
    /// # Errors
    /// The transaction fails (e.g. the total does not grow).
    pub async fn set_total_deposit(
        &self,
        channel_identifier: ChannelIdentifier,
        participant: Address,
        total_deposit: U256,
        partner: Address,
    ) -> Result<TransactionReceipt, ChainError> {
        let call =
            TokenNetwork::setTotalDepositCall { channel_identifier, participant, total_deposit, partner };
        self.transact_token_network(participant, call).await
    }

    /// A cooperative withdraw: both participants sign the withdraw message and `participant`
    /// submits it, raising its total withdraw to `total_withdraw`.
    ///
    /// # Errors
    /// Signing or the transaction fails (e.g. more than the participant can withdraw).
    pub async fn withdraw(
        &self,
        channel_identifier: ChannelIdentifier,
        participant: &NodeAccount,
        partner: &NodeAccount,
        total_withdraw: U256,
    ) -> Result<TransactionReceipt, ChainError> {
        let withdrawable_until = U256::from(self.chain.latest_timestamp().await? + WITHDRAW_VALIDITY_SECONDS);
        let message = withdraw_message(
            self.deployment.token_network,
            self.chain.chain_id(),
            channel_identifier,
            participant.address(),
            total_withdraw,
            withdrawable_until,
        );
        let call = TokenNetwork::setTotalWithdrawCall {
            channel_identifier,
            participant: participant.address(),
            total_withdraw,
            withdrawable_until,
            participant_signature: participant.sign_eip191(&message)?.to_vec().into(),
            partner_signature: partner.sign_eip191(&message)?.to_vec().into(),
        };
        self.transact_token_network(participant.address(), call).await
    }

    /// Closes the channel as `closer` without a balance proof from the partner (nonce 0): the
    /// closer counter-signs the empty balance proof.
    ///
    /// # Errors
    /// Signing or the transaction fails (e.g. the channel is not open).
    pub async fn close_channel(
        &self,
        channel_identifier: ChannelIdentifier,
        closer: &NodeAccount,
        partner: Address,
    ) -> Result<TransactionReceipt, ChainError> {
        let message = balance_proof_counter_message(
            self.deployment.token_network,
            self.chain.chain_id(),
            channel_identifier,
            B256::ZERO,
            U256::ZERO,
            B256::ZERO,
            &EMPTY_SIGNATURE,
        );
        let call = TokenNetwork::closeChannelCall {
            channel_identifier,
            non_closing_participant: partner,
            closing_participant: closer.address(),
            balance_hash: B256::ZERO,
            nonce: U256::ZERO,
            additional_hash: B256::ZERO,
            non_closing_signature: EMPTY_SIGNATURE.to_vec().into(),
            closing_signature: closer.sign_eip191(&message)?.to_vec().into(),
        };
        self.transact_token_network(closer.address(), call).await
    }

    /// Mines blocks one second apart until the settlement window of the closed channel is over
    /// (`block.timestamp > settleable_after`), as many blocks as seconds remain.
    ///
    /// # Errors
    /// An RPC error.
    pub async fn mine_through_settle_timeout(
        &self,
        channel_identifier: ChannelIdentifier,
    ) -> Result<(), ChainError> {
        let settleable_after: U256 = self
            .chain
            .call(self.deployment.token_network, TokenNetwork::settleable_afterCall { channel_identifier })
            .await?;
        let now = U256::from(self.chain.latest_timestamp().await?);
        if settleable_after >= now {
            let remaining = u64::try_from(settleable_after - now).unwrap_or(u64::MAX).saturating_add(1);
            self.chain.mine(remaining, 1).await?;
        }
        Ok(())
    }

    /// Settles a closed channel in which no transfers happened (both balance proofs empty),
    /// sent by `participant1`. The settlement window must be over
    /// ([`Raiden::mine_through_settle_timeout`]).
    ///
    /// # Errors
    /// The transaction fails (e.g. still inside the window).
    pub async fn settle_channel(
        &self,
        channel_identifier: ChannelIdentifier,
        participant1: Address,
        participant2: Address,
    ) -> Result<TransactionReceipt, ChainError> {
        let call = TokenNetwork::settleChannelCall {
            channel_identifier,
            participant1,
            participant1_transferred_amount: U256::ZERO,
            participant1_locked_amount: U256::ZERO,
            participant1_locksroot: B256::ZERO,
            participant2,
            participant2_transferred_amount: U256::ZERO,
            participant2_locked_amount: U256::ZERO,
            participant2_locksroot: B256::ZERO,
        };
        self.transact_token_network(participant1, call).await
    }

    /// `participant`'s state in the channel with `partner`.
    ///
    /// # Errors
    /// The call fails.
    pub async fn participant_info(
        &self,
        channel_identifier: ChannelIdentifier,
        participant: Address,
        partner: Address,
    ) -> Result<ParticipantInfo, ChainError> {
        let info = self
            .chain
            .call(
                self.deployment.token_network,
                TokenNetwork::getChannelParticipantInfoCall { channel_identifier, participant, partner },
            )
            .await?;
        Ok(ParticipantInfo {
            deposit: info.deposit,
            withdrawn: info.withdrawn_amount,
            is_the_closer: info.is_the_closer,
            nonce: info.nonce,
        })
    }

    /// The identifier of the open (or closed, unsettled) channel between two participants; 0 if
    /// there is none.
    ///
    /// # Errors
    /// The call fails.
    pub async fn channel_identifier(
        &self,
        participant: Address,
        partner: Address,
    ) -> Result<ChannelIdentifier, ChainError> {
        self.chain
            .call(
                self.deployment.token_network,
                TokenNetwork::getChannelIdentifierCall { participant, partner },
            )
            .await
    }

    /// The token network's events in blocks `from_block..=to_block`, decoded, in chain order.
    /// Logs of events the devnet does not know are skipped.
    ///
    /// # Errors
    /// An RPC error.
    pub async fn token_network_events(
        &self,
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<ChainEvent<TokenNetwork::TokenNetworkEvents>>, ChainError> {
        let filter =
            Filter::new().address(self.deployment.token_network).from_block(from_block).to_block(to_block);
        let logs = self.chain.logs(&filter).await?;
        Ok(logs
            .iter()
            .filter_map(|log| {
                let event = TokenNetwork::TokenNetworkEvents::decode_log(&log.inner).ok()?;
                Some(ChainEvent {
                    block_number: log.block_number?,
                    transaction_hash: log.transaction_hash?,
                    log_index: log.log_index?,
                    address: log.address(),
                    event: event.data,
                })
            })
            .collect())
    }

    /// Opens every planned channel and makes its deposits, quickly: the deployer mints the
    /// tokens to itself, then puts all `openChannelWithDeposit` transactions into the pool
    /// (consecutive nonces, fixed gas, JSON-RPC batches of 500, automine off) and mines them,
    /// then does the same with all second deposits. Every channel's `ChannelOpened` is read
    /// back from the logs, so the returned identifiers are the chain's. Other transactions sent
    /// to the chain meanwhile wait for these blocks.
    ///
    /// Pairs must be distinct and not have a channel yet.
    ///
    /// # Errors
    /// An RPC error, or a transaction reverted (then fewer channels opened than planned).
    pub async fn open_channels_bulk(&self, plans: &[ChannelPlan]) -> Result<Vec<OpenedChannel>, ChainError> {
        if plans.is_empty() {
            return Ok(Vec::new());
        }
        let funder = self.deployment.deployer;
        let total: U256 = plans.iter().map(|plan| plan.deposit1 + plan.deposit2).sum();
        if !total.is_zero() {
            self.mint(funder, total).await?;
            self.chain
                .transact(
                    funder,
                    self.deployment.token,
                    CustomToken::approveCall { _spender: self.deployment.token_network, _value: U256::MAX },
                )
                .await?;
        }
        let first_block = self.chain.block_number().await? + 1;

        let opens: Vec<Vec<u8>> = plans
            .iter()
            .map(|plan| {
                if plan.deposit1.is_zero() {
                    TokenNetwork::openChannelCall {
                        participant1: plan.participant1,
                        participant2: plan.participant2,
                    }
                    .abi_encode()
                } else {
                    TokenNetwork::openChannelWithDepositCall {
                        participant1: plan.participant1,
                        participant2: plan.participant2,
                        participant1_total_deposit: plan.deposit1,
                    }
                    .abi_encode()
                }
            })
            .collect();
        self.send_pipelined(funder, opens.clone(), BULK_OPEN_GAS, "openChannelWithDeposit").await?;
        let last_block = self.chain.block_number().await?;

        let opened: HashMap<(Address, Address), OpenedChannel> = self
            .opened_channels(first_block, last_block)
            .await?
            .into_iter()
            .map(|channel| ((channel.participant1, channel.participant2), channel))
            .collect();
        let mut channels = Vec::with_capacity(plans.len());
        let mut deposits = Vec::new();
        for (plan, input) in plans.iter().zip(&opens) {
            let Some(&channel) = opened.get(&(plan.participant1, plan.participant2)) else {
                let reason = self.replay(funder, input.clone()).await;
                return Err(ChainError::Unexpected(format!(
                    "channel {} – {} was not opened; replaying the call now: {reason}",
                    plan.participant1, plan.participant2
                )));
            };
            if !plan.deposit2.is_zero() {
                deposits.push(
                    TokenNetwork::setTotalDepositCall {
                        channel_identifier: channel.channel_identifier,
                        participant: plan.participant2,
                        total_deposit: plan.deposit2,
                        partner: plan.participant1,
                    }
                    .abi_encode(),
                );
            }
            channels.push(channel);
        }
        let expected_deposits = deposits.len();
        let deposit_block = self.chain.block_number().await? + 1;
        self.send_pipelined(funder, deposits, BULK_DEPOSIT_GAS, "setTotalDeposit").await?;
        let made_deposits = self
            .token_network_events(deposit_block, self.chain.block_number().await?)
            .await?
            .iter()
            .filter(|event| matches!(event.event, TokenNetwork::TokenNetworkEvents::ChannelNewDeposit(_)))
            .count();
        if made_deposits != expected_deposits {
            return Err(ChainError::Unexpected(format!(
                "{made_deposits} of {expected_deposits} bulk deposits succeeded"
            )));
        }
        Ok(channels)
    }

    async fn opened_channels(
        &self,
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<OpenedChannel>, ChainError> {
        Ok(self
            .token_network_events(from_block, to_block)
            .await?
            .into_iter()
            .filter_map(|event| match event.event {
                TokenNetwork::TokenNetworkEvents::ChannelOpened(opened) => Some(OpenedChannel {
                    channel_identifier: opened.channel_identifier,
                    participant1: opened.participant1,
                    participant2: opened.participant2,
                    block_number: event.block_number,
                }),
                _ => None,
            })
            .collect())
    }

    /// Sends `inputs` to the token network from `from` with consecutive nonces, in JSON-RPC
    /// batches, with automine off, then mines blocks until all of them are in.
    ///
    /// With automine on, anvil mines while the (concurrently answered) batch still arrives, and
    /// a transaction can then be lost, leaving a nonce gap; with automine off the whole set is
    /// in the pool before the first block is mined. Automine is switched on again in any case.
    async fn send_pipelined(
        &self,
        from: Address,
        inputs: Vec<Vec<u8>>,
        gas: u64,
        what: &'static str,
    ) -> Result<(), ChainError> {
        if inputs.is_empty() {
            return Ok(());
        }
        // Full blocks raise the base fee by 12.5 % each; over thousands of transactions it
        // would outgrow any fee cap and balance. The blocks of a bulk setup are therefore
        // mined at the base fee found before it, so the chain's gas price stays as it was.
        self.chain.set_balance(from, ether(1_000_000)).await?;
        let base_fee = self.chain.next_base_fee().await?;
        self.chain.set_automine(false).await?;
        let mut result = Ok(());
        // anvil's pool slows down quadratically with thousands of transactions of one sender
        // in it: it gets at most a chunk at a time.
        let mut inputs = inputs.into_iter().peekable();
        while result.is_ok() && inputs.peek().is_some() {
            let chunk: Vec<Vec<u8>> = inputs.by_ref().take(BULK_POOL_CHUNK).collect();
            result = match self.send_batches(from, chunk, gas, what).await {
                Ok(()) => self.mine_until_pool_is_empty(base_fee, what).await,
                Err(error) => Err(error),
            };
        }
        self.chain.set_automine(true).await?;
        result
    }

    async fn send_batches(
        &self,
        from: Address,
        inputs: Vec<Vec<u8>>,
        gas: u64,
        what: &'static str,
    ) -> Result<(), ChainError> {
        let provider = self.chain.provider();
        let mut nonce = provider
            .get_transaction_count(from)
            .pending()
            .await
            .map_err(rpc_error("eth_getTransactionCount"))?;
        let gas_price = provider.get_gas_price().await.map_err(rpc_error("eth_gasPrice"))?;
        let max_fee = gas_price.saturating_mul(4).max(BULK_MIN_FEE_CAP);
        let mut inputs = inputs.into_iter().peekable();
        while inputs.peek().is_some() {
            let mut batch = alloy::rpc::client::BatchRequest::new(provider.client());
            let mut waiters = Vec::with_capacity(BULK_BATCH_SIZE);
            for input in inputs.by_ref().take(BULK_BATCH_SIZE) {
                let request = TransactionRequest::default()
                    .from(from)
                    .to(self.deployment.token_network)
                    .with_input(input)
                    .with_nonce(nonce)
                    .with_gas_limit(gas)
                    .with_max_fee_per_gas(max_fee)
                    .with_max_priority_fee_per_gas(0);
                nonce += 1;
                waiters.push(
                    batch.add_call::<_, B256>("eth_sendTransaction", &(request,)).map_err(rpc_error(what))?,
                );
            }
            batch.send().await.map_err(rpc_error(what))?;
            for waiter in waiters {
                waiter.await.map_err(rpc_error(what))?;
            }
        }
        Ok(())
    }

    async fn mine_until_pool_is_empty(&self, base_fee: u128, what: &'static str) -> Result<(), ChainError> {
        let mut previous_pending = u64::MAX;
        loop {
            let status: serde_json::Value = self
                .chain
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
                    self.chain.set_next_base_fee(base_fee).await?;
                    self.chain.mine(1, 0).await?;
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

    /// What the token network answers to `input` from `from` at the latest block: the revert
    /// reason, or its gas estimate if it would succeed now.
    async fn replay(&self, from: Address, input: Vec<u8>) -> String {
        let request =
            TransactionRequest::default().from(from).to(self.deployment.token_network).with_input(input);
        match self.chain.provider().estimate_gas(request).await {
            Ok(gas) => format!("it would succeed now with {gas} gas"),
            Err(error) => error.to_string(),
        }
    }

    async fn transact_token_network<C: SolCall>(
        &self,
        from: Address,
        call: C,
    ) -> Result<TransactionReceipt, ChainError> {
        self.chain.transact(from, self.deployment.token_network, call).await
    }
}

/// `amount` whole ether in wei.
pub fn ether(amount: u64) -> U256 {
    U256::from(amount) * U256::from(10).pow(U256::from(18))
}

fn opened_channel(receipt: &TransactionReceipt) -> Result<OpenedChannel, ChainError> {
    receipt
        .logs()
        .iter()
        .find_map(|log| TokenNetwork::ChannelOpened::decode_log(&log.inner).ok())
        .map(|opened| OpenedChannel {
            channel_identifier: opened.channel_identifier,
            participant1: opened.participant1,
            participant2: opened.participant2,
            block_number: receipt.block_number.unwrap_or_default(),
        })
        .ok_or_else(|| ChainError::Unexpected("no ChannelOpened in the receipt".into()))
}
