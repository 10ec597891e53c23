//! Typed operations on a deployment of the Raiden contracts: funding accounts, UserDeposit and
//! ServiceRegistry, the channel life cycle (open, deposit, withdraw, close, settle), bulk
//! channel setup, and reading the token network's events back.
//!
//! Each operation is sent from the account whose `msg.sender` the contract cares about (a node
//! opens and deposits from its own account, a service registers itself), through anvil's
//! impersonation. Only bulk channel setup deviates: one funder sends every transaction (the
//! contracts allow anyone to open a channel or deposit for a participant), which keeps the
//! whole setup in one sender's nonce order. Bulk operations go through
//! [`Chain::send_bulk`](crate::chain::Chain::send_bulk).

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::sol_types::{SolCall, SolEvent, SolEventInterface};

use crate::accounts::NodeAccount;
use crate::bulk::PlannedTransaction;
use crate::chain::{Chain, ChainError};
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
/// Gas limit of one bulk `mintFor` or `approve` (used ≈ 30–70 k).
const BULK_TOKEN_GAS: u64 = 120_000;
/// Gas limit of one bulk `UserDeposit.deposit` (used ≈ 60–100 k).
const BULK_USER_DEPOSIT_GAS: u64 = 200_000;
/// Seconds a withdraw signature stays valid.
const WITHDRAW_VALIDITY_SECONDS: u64 = 3600;

/// How an account is funded by [`Raiden::fund_accounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeFunding {
    /// ETH for gas, in wei.
    pub eth: U256,
    /// Tokens left in the account (besides what goes into UserDeposit).
    pub tokens: U256,
    /// The account's UserDeposit balance (to pay the PFS with IOUs); 0 for none.
    pub user_deposit: U256,
}

impl Default for NodeFunding {
    /// 100 ETH, 10 000 tokens, 100 tokens in UserDeposit (18 decimals).
    fn default() -> Self {
        Self { eth: ether(100), tokens: ether(10_000), user_deposit: ether(100) }
    }
}

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
        self.fund_accounts(&[account], &NodeFunding { eth, tokens, user_deposit: U256::ZERO }).await
    }

    /// Funds all `accounts` as [`NodeFunding`] says, with two bulk sends: the mints (from the
    /// deployer), then each account's approvals of the TokenNetwork, UserDeposit and
    /// ServiceRegistry and its UserDeposit deposit (from the account itself).
    ///
    /// # Errors
    /// A transaction fails (e.g. a UserDeposit total that does not grow).
    pub async fn fund_accounts(&self, accounts: &[Address], funding: &NodeFunding) -> Result<(), ChainError> {
        let token = self.deployment.token;
        // Gas for the approvals and the deposit at the 100 gwei fee cap of a bulk send; the
        // balance is set to `funding.eth` exactly afterwards.
        for &account in accounts {
            self.chain.set_balance(account, funding.eth.saturating_add(ether(1))).await?;
        }
        let minted = funding.tokens.saturating_add(funding.user_deposit);
        if !minted.is_zero() {
            let mints: Vec<PlannedTransaction> = accounts
                .iter()
                .map(|&account| PlannedTransaction {
                    from: self.deployment.deployer,
                    to: token,
                    input: CustomToken::mintForCall { num: minted, target: account }.abi_encode(),
                    gas: BULK_TOKEN_GAS,
                })
                .collect();
            self.chain.send_bulk(&mints, "mintFor").await?;
        }
        let spenders =
            [self.deployment.token_network, self.deployment.user_deposit, self.deployment.service_registry];
        let mut own = Vec::with_capacity(accounts.len() * 4);
        for &account in accounts {
            for spender in spenders {
                own.push(PlannedTransaction {
                    from: account,
                    to: token,
                    input: CustomToken::approveCall { _spender: spender, _value: U256::MAX }.abi_encode(),
                    gas: BULK_TOKEN_GAS,
                });
            }
            if !funding.user_deposit.is_zero() {
                own.push(PlannedTransaction {
                    from: account,
                    to: self.deployment.user_deposit,
                    input: UserDeposit::depositCall {
                        beneficiary: account,
                        new_total_deposit: funding.user_deposit,
                    }
                    .abi_encode(),
                    gas: BULK_USER_DEPOSIT_GAS,
                });
            }
        }
        self.chain.send_bulk(&own, "approve / UserDeposit.deposit").await?;
        for &account in accounts {
            self.chain.set_balance(account, funding.eth).await?;
        }
        Ok(())
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
        let token_network = self.deployment.token_network;
        // Gas for thousands of transactions at the 100 gwei fee cap of a bulk send.
        self.chain.set_balance(funder, ether(1_000_000)).await?;
        let total: U256 = plans.iter().map(|plan| plan.deposit1 + plan.deposit2).sum();
        if !total.is_zero() {
            self.mint(funder, total).await?;
            self.chain
                .transact(
                    funder,
                    self.deployment.token,
                    CustomToken::approveCall { _spender: token_network, _value: U256::MAX },
                )
                .await?;
        }

        let opens: Vec<PlannedTransaction> = plans
            .iter()
            .map(|plan| {
                let input = if plan.deposit1.is_zero() {
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
                };
                PlannedTransaction { from: funder, to: token_network, input, gas: BULK_OPEN_GAS }
            })
            .collect();
        let logs = self.chain.send_bulk(&opens, "openChannelWithDeposit").await?;
        let channels = logs.iter().map(|logs| opened_channel_in(logs)).collect::<Result<Vec<_>, _>>()?;

        let deposits: Vec<PlannedTransaction> = plans
            .iter()
            .zip(&channels)
            .filter(|(plan, _)| !plan.deposit2.is_zero())
            .map(|(plan, channel)| PlannedTransaction {
                from: funder,
                to: token_network,
                input: TokenNetwork::setTotalDepositCall {
                    channel_identifier: channel.channel_identifier,
                    participant: plan.participant2,
                    total_deposit: plan.deposit2,
                    partner: plan.participant1,
                }
                .abi_encode(),
                gas: BULK_DEPOSIT_GAS,
            })
            .collect();
        self.chain.send_bulk(&deposits, "setTotalDeposit").await?;
        Ok(channels)
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
    opened_channel_in(receipt.logs())
}

fn opened_channel_in(logs: &[alloy::rpc::types::Log]) -> Result<OpenedChannel, ChainError> {
    logs.iter()
        .find_map(|log| {
            let opened = TokenNetwork::ChannelOpened::decode_log(&log.inner).ok()?;
            Some(OpenedChannel {
                channel_identifier: opened.channel_identifier,
                participant1: opened.participant1,
                participant2: opened.participant2,
                block_number: log.block_number.unwrap_or_default(),
            })
        })
        .ok_or_else(|| ChainError::Unexpected("no ChannelOpened among the logs".into()))
}
