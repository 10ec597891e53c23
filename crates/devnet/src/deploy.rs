//! Deployment of the Raiden contracts 0.50.2 on a fresh chain, in the order of raiden-contracts'
//! own deployer, from the shipped creation code with ABI-encoded constructor arguments.

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};

use crate::chain::{ANVIL_DEV_ACCOUNT, Chain, ChainError};
use crate::contracts::abi::{
    CustomToken, MonitoringService, OneToN, SecretRegistry, ServiceRegistry, TokenNetworkRegistry,
    UserDeposit,
};
use crate::contracts::{CompiledContracts, ContractsError};

/// Errors while deploying.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The compiled contracts are missing a contract or a constructor differs.
    #[error(transparent)]
    Contracts(#[from] ContractsError),
    /// A deployment transaction failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Parameters of a deployment. [`DeployConfig::default`] suits tests and the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployConfig {
    /// The account that deploys, controls the registries and funds everyone (must be unlocked).
    pub deployer: Address,
    /// Seconds between `closeChannel` and the earliest `settleChannel` (contracts 0.50 count
    /// seconds, not blocks).
    pub settle_timeout: u64,
    /// Supply minted to the deployer when the token is created, in the token's smallest unit.
    pub token_supply: U256,
    /// The token's decimals.
    pub token_decimals: u8,
    /// The token's name.
    pub token_name: String,
    /// The token's symbol.
    pub token_symbol: String,
    /// ServiceRegistry: the price of the first registration.
    pub service_initial_price: U256,
    /// ServiceRegistry: the lowest price the decay reaches.
    pub service_min_price: U256,
    /// ServiceRegistry: each registration multiplies the price by numerator / denominator.
    pub service_price_bump: (U256, U256),
    /// ServiceRegistry: seconds over which the price decays.
    pub service_decay_constant: U256,
    /// ServiceRegistry: seconds a registration (deposit) is valid.
    pub service_registration_duration: U256,
    /// UserDeposit: seconds between planning a withdrawal and making it.
    pub user_deposit_withdraw_timeout: U256,
}

impl Default for DeployConfig {
    /// raiden-contracts' deployer defaults for the ServiceRegistry, a settle timeout of 500 s,
    /// and a token with 18 decimals and 10^9 whole tokens.
    fn default() -> Self {
        let token = U256::from(10).pow(U256::from(18));
        Self {
            deployer: ANVIL_DEV_ACCOUNT,
            settle_timeout: 500,
            token_supply: U256::from(1_000_000_000u64) * token,
            token_decimals: 18,
            token_name: "Raiden Devnet Token".into(),
            token_symbol: "RDT".into(),
            service_initial_price: U256::from(2000) * token,
            service_min_price: U256::from(1000) * token,
            service_price_bump: (U256::from(6), U256::from(5)),
            service_decay_constant: U256::from(200u64 * 24 * 3600),
            service_registration_duration: U256::from(180u64 * 24 * 3600),
            user_deposit_withdraw_timeout: U256::from(100),
        }
    }
}

/// The addresses of one deployment of the Raiden contracts and its token network.
///
/// Invariant: every address holds the named contract, deployed by [`deploy`] on the chain
/// with id `chain_id`; `token_network` is the registry's network for `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The chain id the contracts are on (OneToN was constructed with it).
    pub chain_id: u64,
    /// The deployer, controller and funder.
    pub deployer: Address,
    /// SecretRegistry.
    pub secret_registry: Address,
    /// TokenNetworkRegistry.
    pub token_network_registry: Address,
    /// The CustomToken.
    pub token: Address,
    /// ServiceRegistry.
    pub service_registry: Address,
    /// UserDeposit.
    pub user_deposit: Address,
    /// MonitoringService (deployed because `UserDeposit.init` needs one).
    pub monitoring_service: Address,
    /// OneToN.
    pub one_to_n: Address,
    /// The TokenNetwork of `token`.
    pub token_network: Address,
    /// The block of the first deployment transaction: a chain follower starts here.
    pub deployment_block: u64,
    /// The block with the `TokenNetworkCreated` event.
    pub token_network_block: u64,
    /// The settle timeout of the token network, in seconds.
    pub settle_timeout: u64,
}

/// Deploys SecretRegistry → TokenNetworkRegistry → CustomToken → ServiceRegistry →
/// UserDeposit → MonitoringService → OneToN, initialises UserDeposit, and creates the token
/// network of the token without deposit limits.
///
/// Every constructor's parameter types are checked against the ABI in `contracts` first.
///
/// # Errors
/// A constructor differs from the shipped ABI, or a transaction fails.
pub async fn deploy(
    chain: &Chain,
    contracts: &CompiledContracts,
    config: &DeployConfig,
) -> Result<Deployment, DeployError> {
    let deployer = config.deployer;
    let chain_id = chain.chain_id();

    let (secret_registry, receipt) = chain
        .deploy(
            deployer,
            contracts.creation_code("SecretRegistry", &SecretRegistry::constructorCall {})?,
            "SecretRegistry",
        )
        .await?;
    let deployment_block = receipt.block_number.unwrap_or_default();

    let (token_network_registry, _) = chain
        .deploy(
            deployer,
            contracts.creation_code(
                "TokenNetworkRegistry",
                &TokenNetworkRegistry::constructorCall {
                    _secret_registry_address: secret_registry,
                    _settle_timeout: U256::from(config.settle_timeout),
                    _max_token_networks: U256::MAX,
                },
            )?,
            "TokenNetworkRegistry",
        )
        .await?;

    let token = deploy_token(chain, contracts, config, &config.token_name, &config.token_symbol).await?;

    let (service_registry, _) = chain
        .deploy(
            deployer,
            contracts.creation_code(
                "ServiceRegistry",
                &ServiceRegistry::constructorCall {
                    _token_for_registration: token,
                    _controller: deployer,
                    _initial_price: config.service_initial_price,
                    _price_bump_numerator: config.service_price_bump.0,
                    _price_bump_denominator: config.service_price_bump.1,
                    _decay_constant: config.service_decay_constant,
                    _min_price: config.service_min_price,
                    _registration_duration: config.service_registration_duration,
                },
            )?,
            "ServiceRegistry",
        )
        .await?;

    let (user_deposit, _) = chain
        .deploy(
            deployer,
            contracts.creation_code(
                "UserDeposit",
                &UserDeposit::constructorCall {
                    _token_address: token,
                    _whole_balance_limit: U256::MAX,
                    _withdraw_timeout: config.user_deposit_withdraw_timeout,
                },
            )?,
            "UserDeposit",
        )
        .await?;

    let (monitoring_service, _) = chain
        .deploy(
            deployer,
            contracts.creation_code(
                "MonitoringService",
                &MonitoringService::constructorCall {
                    _token_address: token,
                    _service_registry_address: service_registry,
                    _udc_address: user_deposit,
                    _token_network_registry_address: token_network_registry,
                },
            )?,
            "MonitoringService",
        )
        .await?;

    let (one_to_n, _) = chain
        .deploy(
            deployer,
            contracts.creation_code(
                "OneToN",
                &OneToN::constructorCall {
                    _deposit_contract: user_deposit,
                    _chain_id: U256::from(chain_id),
                    _service_registry_contract: service_registry,
                },
            )?,
            "OneToN",
        )
        .await?;

    chain
        .transact(
            deployer,
            user_deposit,
            UserDeposit::initCall { _msc_address: monitoring_service, _one_to_n_address: one_to_n },
        )
        .await?;

    let (token_network, token_network_block) =
        create_token_network(chain, deployer, token_network_registry, token).await?;

    Ok(Deployment {
        chain_id,
        deployer,
        secret_registry,
        token_network_registry,
        token,
        service_registry,
        user_deposit,
        monitoring_service,
        one_to_n,
        token_network,
        deployment_block,
        token_network_block,
        settle_timeout: config.settle_timeout,
    })
}

/// Deploys one more CustomToken (`config`'s supply and decimals, the given name and symbol)
/// and creates its token network in the registry of `deployment`. Returns the deployment with
/// `token`, `token_network` and `token_network_block` of the new network, for operations on it
/// through a [`crate::Raiden`].
///
/// # Errors
/// The token's constructor differs from the shipped ABI, or a transaction fails.
pub async fn deploy_token_network(
    chain: &Chain,
    contracts: &CompiledContracts,
    config: &DeployConfig,
    deployment: &Deployment,
    token_name: &str,
    token_symbol: &str,
) -> Result<Deployment, DeployError> {
    let token = deploy_token(chain, contracts, config, token_name, token_symbol).await?;
    let (token_network, token_network_block) =
        create_token_network(chain, deployment.deployer, deployment.token_network_registry, token).await?;
    Ok(Deployment { token, token_network, token_network_block, ..*deployment })
}

async fn deploy_token(
    chain: &Chain,
    contracts: &CompiledContracts,
    config: &DeployConfig,
    token_name: &str,
    token_symbol: &str,
) -> Result<Address, DeployError> {
    let constructor = CustomToken::constructorCall {
        initial_supply: config.token_supply,
        decimal_units: config.token_decimals,
        token_name: token_name.to_owned(),
        token_symbol: token_symbol.to_owned(),
    };
    let (token, _) = chain
        .deploy(config.deployer, contracts.creation_code("CustomToken", &constructor)?, "CustomToken")
        .await?;
    Ok(token)
}

/// `createERC20TokenNetwork(token, MAX, MAX)`; returns the network's address (from the
/// `TokenNetworkCreated` event) and the block.
async fn create_token_network(
    chain: &Chain,
    deployer: Address,
    registry: Address,
    token: Address,
) -> Result<(Address, u64), DeployError> {
    let call = TokenNetworkRegistry::createERC20TokenNetworkCall {
        _token_address: token,
        _channel_participant_deposit_limit: U256::MAX,
        _token_network_deposit_limit: U256::MAX,
    };
    let receipt = chain.transact(deployer, registry, call).await?;
    let created = receipt
        .logs()
        .iter()
        .find_map(|log| TokenNetworkRegistry::TokenNetworkCreated::decode_log(&log.inner).ok())
        .ok_or_else(|| {
            ChainError::Unexpected("createERC20TokenNetwork emitted no TokenNetworkCreated".into())
        })?;
    Ok((created.token_network_address, receipt.block_number.unwrap_or_default()))
}
