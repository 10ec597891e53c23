//! The compiled Raiden contracts 0.50.2 (`contracts.json`) and the typed interfaces used to call
//! them.
//!
//! The interfaces in [`abi`] are written by hand with `sol!` (only what the devnet calls or
//! decodes), and are checked against the ABI shipped in `contracts.json`: every function and
//! event signature by the tests, and every constructor signature at deployment time, before any
//! creation code is sent ([`CompiledContracts::creation_code`]). A contract that does not match
//! is an error value, never a silently wrong deployment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use alloy::primitives::Bytes;
use alloy::sol_types::{SolConstructor, SolType};
use serde::Deserialize;

/// `overall_checksum` of raiden-contracts 0.50.2's `data/contracts.json`.
pub const OVERALL_CHECKSUM: &str = "0fcdab16b2349a962ec26724b9155c02faf6b1462b0c6b5163eb3c64598a2f3b";

/// Hand-written interfaces of the Raiden contracts (a subset of the 0.50 ABI), with their
/// constructors, the functions the devnet calls and the events it decodes.
#[allow(missing_docs)]
pub mod abi {
    alloy::sol! {
        #![sol(all_derives)]
        /// Registers secrets on chain (no constructor arguments).
        contract SecretRegistry {
            constructor();
            function registerSecret(bytes32 secret) external returns (bool);
        }

        /// Creates and lists the token networks.
        contract TokenNetworkRegistry {
            constructor(address _secret_registry_address, uint256 _settle_timeout, uint256 _max_token_networks);
            event TokenNetworkCreated(address indexed token_address, address indexed token_network_address, uint256 settle_timeout);
            function createERC20TokenNetwork(address _token_address, uint256 _channel_participant_deposit_limit, uint256 _token_network_deposit_limit) external returns (address token_network_address);
            function token_to_token_networks(address token) external view returns (address);
            function settle_timeout() external view returns (uint256);
            function secret_registry_address() external view returns (address);
        }

        /// The test token with public minting.
        contract CustomToken {
            constructor(uint256 initial_supply, uint8 decimal_units, string token_name, string token_symbol);
            event Transfer(address indexed _from, address indexed _to, uint256 _value);
            function mintFor(uint256 num, address target) external;
            function approve(address _spender, uint256 _value) external returns (bool);
            function transfer(address _to, uint256 _value) external returns (bool);
            function balanceOf(address _owner) external view returns (uint256);
            function allowance(address _owner, address _spender) external view returns (uint256);
            function totalSupply() external view returns (uint256);
            function decimals() external view returns (uint8);
        }

        /// Where services (the PFS) register with a deposit and publish their URL.
        contract ServiceRegistry {
            constructor(address _token_for_registration, address _controller, uint256 _initial_price, uint256 _price_bump_numerator, uint256 _price_bump_denominator, uint256 _decay_constant, uint256 _min_price, uint256 _registration_duration);
            event RegisteredService(address indexed service, uint256 valid_till, uint256 deposit_amount, address deposit_contract);
            function deposit(uint256 _limit_amount) external returns (bool _success);
            function setURL(string new_url) external returns (bool _success);
            function urls(address service) external view returns (string);
            function hasValidRegistration(address _address) external view returns (bool);
            function service_valid_till(address service) external view returns (uint256);
            function currentPrice() external view returns (uint256);
            function token() external view returns (address);
        }

        /// The users' deposits that pay services (IOUs are claimed from it through OneToN).
        contract UserDeposit {
            constructor(address _token_address, uint256 _whole_balance_limit, uint256 _withdraw_timeout);
            event BalanceReduced(address indexed owner, uint256 newBalance);
            event WithdrawPlanned(address indexed withdrawer, uint256 plannedBalance);
            function init(address _msc_address, address _one_to_n_address) external;
            function deposit(address beneficiary, uint256 new_total_deposit) external;
            function balances(address owner) external view returns (uint256);
            function total_deposit(address owner) external view returns (uint256);
            function effectiveBalance(address owner) external view returns (uint256);
            function one_to_n_address() external view returns (address);
            function msc_address() external view returns (address);
            function token() external view returns (address);
        }

        /// The monitoring service contract; deployed because `UserDeposit.init` needs one.
        contract MonitoringService {
            constructor(address _token_address, address _service_registry_address, address _udc_address, address _token_network_registry_address);
        }

        /// Pays services from user deposits against signed IOUs.
        contract OneToN {
            constructor(address _deposit_contract, uint256 _chain_id, address _service_registry_contract);
            event Claimed(address sender, address indexed receiver, uint256 claimable_until, uint256 transferred);
            function claim(address sender, address receiver, uint256 amount, uint256 claimable_until, bytes signature) external returns (uint256);
            function chain_id() external view returns (uint256);
            function settled_sessions(bytes32 session) external view returns (uint256);
        }

        /// The payment channels of one token.
        contract TokenNetwork {
            event ChannelOpened(uint256 indexed channel_identifier, address indexed participant1, address indexed participant2);
            event ChannelNewDeposit(uint256 indexed channel_identifier, address indexed participant, uint256 total_deposit);
            event ChannelWithdraw(uint256 indexed channel_identifier, address indexed participant, uint256 total_withdraw);
            event ChannelClosed(uint256 indexed channel_identifier, address indexed closing_participant, uint256 indexed nonce, bytes32 balance_hash);
            event NonClosingBalanceProofUpdated(uint256 indexed channel_identifier, address indexed closing_participant, uint256 indexed nonce, bytes32 balance_hash);
            event ChannelSettled(uint256 indexed channel_identifier, address participant1, uint256 participant1_amount, bytes32 participant1_locksroot, address participant2, uint256 participant2_amount, bytes32 participant2_locksroot);
            event ChannelUnlocked(uint256 indexed channel_identifier, address indexed receiver, address indexed sender, bytes32 locksroot, uint256 unlocked_amount, uint256 returned_tokens);
            function openChannel(address participant1, address participant2) external returns (uint256);
            function openChannelWithDeposit(address participant1, address participant2, uint256 participant1_total_deposit) external returns (uint256);
            function setTotalDeposit(uint256 channel_identifier, address participant, uint256 total_deposit, address partner) external;
            function setTotalWithdraw(uint256 channel_identifier, address participant, uint256 total_withdraw, uint256 withdrawable_until, bytes participant_signature, bytes partner_signature) external;
            function closeChannel(uint256 channel_identifier, address non_closing_participant, address closing_participant, bytes32 balance_hash, uint256 nonce, bytes32 additional_hash, bytes non_closing_signature, bytes closing_signature) external;
            function settleChannel(uint256 channel_identifier, address participant1, uint256 participant1_transferred_amount, uint256 participant1_locked_amount, bytes32 participant1_locksroot, address participant2, uint256 participant2_transferred_amount, uint256 participant2_locked_amount, bytes32 participant2_locksroot) external;
            function getChannelIdentifier(address participant, address partner) external view returns (uint256);
            function getChannelParticipantInfo(uint256 channel_identifier, address participant, address partner) external view returns (uint256 deposit, uint256 withdrawn_amount, bool is_the_closer, bytes32 balance_hash, uint256 nonce, bytes32 locksroot, uint256 locked_amount);
            function getChannelState(uint256 channel_identifier, address participant1, address participant2) external view returns (uint8);
            function channel_counter() external view returns (uint256);
            function settle_timeout() external view returns (uint256);
            function settleable_after(uint256 channel_identifier) external view returns (uint256);
            function token() external view returns (address);
        }
    }
}

/// Errors while loading `contracts.json` or building creation code from it.
#[derive(Debug, thiserror::Error)]
pub enum ContractsError {
    /// The file could not be read.
    #[error("read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not the expected JSON.
    #[error("parse {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The file is valid JSON but not raiden-contracts 0.50.2's.
    #[error("{path} has overall_checksum {found}, expected {OVERALL_CHECKSUM} (raiden-contracts 0.50.2)")]
    WrongRelease {
        /// The file.
        path: PathBuf,
        /// The checksum it carries.
        found: String,
    },
    /// A contract is not in the file.
    #[error("contract {0} is not in contracts.json")]
    MissingContract(String),
    /// A contract's creation code is not hex.
    #[error("contract {0} has creation code that is not hex")]
    BadBytecode(String),
    /// A constructor in the ABI differs from the one the devnet encodes for.
    #[error("constructor of {contract} is {in_abi} in contracts.json, but the devnet encodes {expected}")]
    ConstructorMismatch {
        /// The contract.
        contract: String,
        /// The parameter types in the shipped ABI.
        in_abi: String,
        /// The parameter types the devnet would encode.
        expected: String,
    },
}

/// `contracts.json` of raiden-contracts 0.50.2, parsed.
#[derive(Debug, Clone)]
pub struct CompiledContracts {
    contracts: HashMap<String, CompiledContract>,
}

/// One compiled contract: its ABI and creation code.
#[derive(Debug, Clone, Deserialize)]
pub struct CompiledContract {
    /// The ABI entries.
    pub abi: Vec<AbiEntry>,
    /// The creation code (hex, without `0x`), as shipped.
    #[serde(rename = "bin")]
    pub creation_code_hex: String,
}

/// One ABI entry (function, event, constructor, ...), reduced to what the checks need.
#[derive(Debug, Clone, Deserialize)]
pub struct AbiEntry {
    /// `function`, `event`, `constructor`, `fallback`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The name (absent for constructors).
    #[serde(default)]
    pub name: Option<String>,
    /// The parameters.
    #[serde(default)]
    pub inputs: Vec<AbiParameter>,
}

/// One ABI parameter.
#[derive(Debug, Clone, Deserialize)]
pub struct AbiParameter {
    /// The Solidity type (`tuple` and `tuple[]` for structs).
    #[serde(rename = "type")]
    pub kind: String,
    /// A struct's fields.
    #[serde(default)]
    pub components: Vec<AbiParameter>,
}

impl AbiParameter {
    /// The canonical type as used in signatures: structs become `(t1,t2)`.
    pub fn canonical_type(&self) -> String {
        match self.kind.strip_prefix("tuple") {
            Some(array_suffix) => format!("({}){array_suffix}", canonical_list(&self.components)),
            None => self.kind.clone(),
        }
    }
}

impl AbiEntry {
    /// The signature `name(type,...)` of a function or event, `(type,...)` of a constructor.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name.as_deref().unwrap_or(""), canonical_list(&self.inputs))
    }
}

fn canonical_list(parameters: &[AbiParameter]) -> String {
    parameters.iter().map(AbiParameter::canonical_type).collect::<Vec<_>>().join(",")
}

#[derive(Deserialize)]
struct ContractsFile {
    contracts: HashMap<String, CompiledContract>,
    overall_checksum: String,
}

impl CompiledContracts {
    /// Reads and checks `contracts.json` (it must be raiden-contracts 0.50.2's).
    ///
    /// # Errors
    /// The file cannot be read or parsed, or is another release.
    pub fn load(path: &Path) -> Result<Self, ContractsError> {
        let text = std::fs::read(path)
            .map_err(|source| ContractsError::Read { path: path.to_path_buf(), source })?;
        let file: ContractsFile = serde_json::from_slice(&text)
            .map_err(|source| ContractsError::Parse { path: path.to_path_buf(), source })?;
        if file.overall_checksum != OVERALL_CHECKSUM {
            return Err(ContractsError::WrongRelease {
                path: path.to_path_buf(),
                found: file.overall_checksum,
            });
        }
        Ok(Self { contracts: file.contracts })
    }

    /// The contract called `name`.
    ///
    /// # Errors
    /// [`ContractsError::MissingContract`].
    pub fn contract(&self, name: &str) -> Result<&CompiledContract, ContractsError> {
        self.contracts.get(name).ok_or_else(|| ContractsError::MissingContract(name.to_owned()))
    }

    /// Creation code of `name` followed by the ABI-encoded constructor arguments, after checking
    /// that the constructor in the shipped ABI has exactly the parameter types of `C`.
    ///
    /// # Errors
    /// The contract is missing, its code is not hex, or the constructor differs.
    pub fn creation_code<C: SolConstructor>(
        &self,
        name: &str,
        arguments: &C,
    ) -> Result<Bytes, ContractsError> {
        let contract = self.contract(name)?;
        let in_abi = contract.constructor_signature();
        let expected = <C::Parameters<'_> as SolType>::SOL_NAME.to_owned();
        if in_abi != expected {
            return Err(ContractsError::ConstructorMismatch { contract: name.to_owned(), in_abi, expected });
        }
        let mut code =
            contract.creation_code().ok_or_else(|| ContractsError::BadBytecode(name.to_owned()))?;
        code.extend_from_slice(&arguments.abi_encode());
        Ok(code.into())
    }
}

impl CompiledContract {
    /// The constructor's parameter types as `(type,...)`; `()` if the ABI has no constructor.
    pub fn constructor_signature(&self) -> String {
        self.abi
            .iter()
            .find(|entry| entry.kind == "constructor")
            .map_or_else(|| "()".to_owned(), AbiEntry::signature)
    }

    /// The signatures of all entries of `kind` (`function`, `event`).
    pub fn signatures(&self, kind: &str) -> Vec<String> {
        self.abi.iter().filter(|entry| entry.kind == kind).map(AbiEntry::signature).collect()
    }

    /// The creation code as bytes, or `None` if it is not hex.
    pub fn creation_code(&self) -> Option<Vec<u8>> {
        alloy::hex::decode(self.creation_code_hex.trim_start_matches("0x")).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_parameters_are_written_as_parenthesised_lists() {
        let parameter: AbiParameter = serde_json::from_str(
            r#"{"type": "tuple[]", "components": [{"type": "address"}, {"type": "uint256"}]}"#,
        )
        .unwrap();
        assert_eq!(parameter.canonical_type(), "(address,uint256)[]");
    }

    #[test]
    fn a_missing_constructor_means_no_arguments() {
        let contract = CompiledContract { abi: vec![], creation_code_hex: "6080".into() };
        assert_eq!(contract.constructor_signature(), "()");
        assert_eq!(contract.creation_code(), Some(vec![0x60, 0x80]));
    }
}
