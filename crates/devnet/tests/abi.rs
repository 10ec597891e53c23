//! The hand-written `sol!` interfaces match the ABI shipped in raiden-contracts 0.50.2's
//! `contracts.json`, and the event topics match spec/PROTOCOL.md §8.1 and the vector file.

use std::path::PathBuf;

use alloy::primitives::B256;
use alloy::sol_types::{SolEvent, TopicList};
use devnet::contracts::abi::{
    CustomToken, OneToN, SecretRegistry, ServiceRegistry, TokenNetwork, TokenNetworkRegistry, UserDeposit,
};
use devnet::{CompiledContracts, Devtools};

fn contracts() -> CompiledContracts {
    let devtools = Devtools::from_env();
    devtools.install().expect("installing the devnet tools");
    CompiledContracts::load(&devtools.contracts_json_path()).expect("loading contracts.json")
}

fn assert_declared_in_abi(contracts: &CompiledContracts, contract: &str, kind: &str, declared: &[&str]) {
    let in_abi = contracts.contract(contract).unwrap().signatures(kind);
    for signature in declared {
        assert!(
            in_abi.iter().any(|shipped| shipped == signature),
            "{contract}: {kind} {signature} is not in the ABI"
        );
    }
}

#[test]
fn every_declared_function_is_in_the_shipped_abi() {
    let contracts = contracts();
    assert_declared_in_abi(
        &contracts,
        "SecretRegistry",
        "function",
        SecretRegistry::SecretRegistryCalls::SIGNATURES,
    );
    assert_declared_in_abi(
        &contracts,
        "TokenNetworkRegistry",
        "function",
        TokenNetworkRegistry::TokenNetworkRegistryCalls::SIGNATURES,
    );
    assert_declared_in_abi(&contracts, "CustomToken", "function", CustomToken::CustomTokenCalls::SIGNATURES);
    assert_declared_in_abi(
        &contracts,
        "ServiceRegistry",
        "function",
        ServiceRegistry::ServiceRegistryCalls::SIGNATURES,
    );
    assert_declared_in_abi(&contracts, "UserDeposit", "function", UserDeposit::UserDepositCalls::SIGNATURES);
    assert_declared_in_abi(&contracts, "OneToN", "function", OneToN::OneToNCalls::SIGNATURES);
    assert_declared_in_abi(
        &contracts,
        "TokenNetwork",
        "function",
        TokenNetwork::TokenNetworkCalls::SIGNATURES,
    );
}

#[test]
fn every_declared_event_is_in_the_shipped_abi() {
    let contracts = contracts();
    assert_declared_in_abi(
        &contracts,
        "TokenNetworkRegistry",
        "event",
        TokenNetworkRegistry::TokenNetworkRegistryEvents::SIGNATURES,
    );
    assert_declared_in_abi(&contracts, "CustomToken", "event", CustomToken::CustomTokenEvents::SIGNATURES);
    assert_declared_in_abi(
        &contracts,
        "ServiceRegistry",
        "event",
        ServiceRegistry::ServiceRegistryEvents::SIGNATURES,
    );
    assert_declared_in_abi(&contracts, "UserDeposit", "event", UserDeposit::UserDepositEvents::SIGNATURES);
    assert_declared_in_abi(&contracts, "OneToN", "event", OneToN::OneToNEvents::SIGNATURES);
    assert_declared_in_abi(&contracts, "TokenNetwork", "event", TokenNetwork::TokenNetworkEvents::SIGNATURES);
}

#[test]
fn every_deployed_constructor_matches_the_shipped_abi() {
    let contracts = contracts();
    let expected = [
        ("SecretRegistry", "()"),
        ("TokenNetworkRegistry", "(address,uint256,uint256)"),
        ("CustomToken", "(uint256,uint8,string,string)"),
        ("ServiceRegistry", "(address,address,uint256,uint256,uint256,uint256,uint256,uint256)"),
        ("UserDeposit", "(address,uint256,uint256)"),
        ("MonitoringService", "(address,address,address,address)"),
        ("OneToN", "(address,uint256,address)"),
    ];
    for (contract, signature) in expected {
        assert_eq!(contracts.contract(contract).unwrap().constructor_signature(), signature, "{contract}");
    }
}

#[test]
fn a_constructor_that_differs_from_the_abi_is_refused_before_deployment() {
    let contracts = contracts();
    // OneToN's arguments offered for the TokenNetworkRegistry.
    let wrong = OneToN::constructorCall {
        _deposit_contract: alloy::primitives::Address::ZERO,
        _chain_id: alloy::primitives::U256::from(1),
        _service_registry_contract: alloy::primitives::Address::ZERO,
    };
    let error = contracts.creation_code("TokenNetworkRegistry", &wrong).unwrap_err();
    assert!(matches!(error, devnet::ContractsError::ConstructorMismatch { .. }), "{error}");
}

#[test]
fn event_topics_are_those_of_the_protocol_spec() {
    // spec/PROTOCOL.md §8.1.
    let expected: [(B256, &str); 8] = [
        (
            TokenNetworkRegistry::TokenNetworkCreated::SIGNATURE_HASH,
            "0x16a2f408238dc0c22c8873be71a8ff6d7c731ee52e1955ffc4927a622b30f88f",
        ),
        (
            TokenNetwork::ChannelOpened::SIGNATURE_HASH,
            "0x55bc5cbdb280ba924235746821de33542a878e786d67a54fd0a95bd640193844",
        ),
        (
            TokenNetwork::ChannelNewDeposit::SIGNATURE_HASH,
            "0x2b55547a3b586ab51f65ee9ce4927fa6d25191388299988e89e059a02f9dd445",
        ),
        (
            TokenNetwork::ChannelWithdraw::SIGNATURE_HASH,
            "0x98ed0357b86b313fa9f968de5c9d2bcf591432355b34aa1ab7e3e9e92f428408",
        ),
        (
            TokenNetwork::ChannelClosed::SIGNATURE_HASH,
            "0x09d2f946e008c38931cd739dd20e35146deff8ab3134caee6d54fe50816a81b8",
        ),
        (
            TokenNetwork::ChannelSettled::SIGNATURE_HASH,
            "0x5e973099ee6bae497f110b6b50e988c2a10decca1eb93982a42af12f297fc91c",
        ),
        (
            ServiceRegistry::RegisteredService::SIGNATURE_HASH,
            "0x318a723b2ed9fac0536d971fcca40b4653a29e1956dd7b7b8972486947d86529",
        ),
        (
            OneToN::Claimed::SIGNATURE_HASH,
            "0x2f6639d24651730c7bf57c95ddbf96d66d11477e4ec626876f92c22e5f365e68",
        ),
    ];
    for (declared, spec) in expected {
        assert_eq!(format!("{declared:#x}"), spec);
    }
}

#[test]
fn events_match_the_vector_file_in_topic_and_indexed_fields() {
    let shared = devnet::tools::workspace_root().join("../shared");
    let path: PathBuf = shared.join("spec/vectors/raiden-vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("{} is needed (the project's shared/ folder): {error}", path.display())
    });
    let vectors: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = &vectors["contract_events"]["0.50.x (data/contracts.json)"];
    // (contract, signature, topic0, topics incl. topic0) for every event the devnet decodes.
    let declared: Vec<(&str, &str, B256, usize)> = vec![
        event::<TokenNetworkRegistry::TokenNetworkCreated>("TokenNetworkRegistry"),
        event::<TokenNetwork::ChannelOpened>("TokenNetwork"),
        event::<TokenNetwork::ChannelNewDeposit>("TokenNetwork"),
        event::<TokenNetwork::ChannelWithdraw>("TokenNetwork"),
        event::<TokenNetwork::ChannelClosed>("TokenNetwork"),
        event::<TokenNetwork::NonClosingBalanceProofUpdated>("TokenNetwork"),
        event::<TokenNetwork::ChannelSettled>("TokenNetwork"),
        event::<TokenNetwork::ChannelUnlocked>("TokenNetwork"),
    ];
    for (contract, signature, topic0, topics) in declared {
        let vector = events[contract]
            .as_array()
            .and_then(|list| list.iter().find(|entry| entry["signature"] == signature))
            .unwrap_or_else(|| panic!("{contract}.{signature} is not in the vectors"));
        assert_eq!(vector["topic0"], format!("{topic0:#x}"), "{signature}");
        let indexed =
            vector["inputs"].as_array().unwrap().iter().filter(|input| input["indexed"] == true).count();
        assert_eq!(indexed + 1, topics, "{signature}: indexed fields");
    }
}

fn event<E: SolEvent>(contract: &'static str) -> (&'static str, &'static str, B256, usize) {
    (contract, E::SIGNATURE, E::SIGNATURE_HASH, <E::TopicList as TopicList>::COUNT)
}
