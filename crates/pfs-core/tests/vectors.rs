//! Conformance against `shared/spec/vectors/raiden-vectors.json`, produced by the original Python
//! libraries (raiden-common 0.1.8, raiden-contracts 0.50.2): keys, EIP-191, Matrix identities,
//! capacity and fee updates, IOUs, IOU requests and contract event topics. Packed bytes, hashes
//! and signatures must match bit for bit; JSON is compared as parsed values (key order is not
//! significant, numbers are compared exactly). The `mediation_fees` section is checked by the
//! routing tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use alloy_primitives::{U256, hex, keccak256};
use pfs_core::contract_events::{ContractsVersion, event_topic, events};
use pfs_core::fee_schedule::{FeeSchedule, ImbalancePenalty};
use pfs_core::integer::{IntegerSyntax, parse_json_integer};
use pfs_core::iou::{IouError, UnsignedIou};
use pfs_core::matrix_identity::{self, Capabilities};
use pfs_core::messages::{UnsignedCapacityUpdate, UnsignedFeeUpdate};
use pfs_core::signature::{address_from_public_key_xy, eip191_hash};
use pfs_core::{
    Address, BlockTimeout, CanonicalIdentifier, CapacityUpdate, ChainId, ChannelId, FeeUpdate, Iou,
    IouRequest, Message, NaiveTimestamp, Nonce, PrivateKey, Signature,
};
use serde_json::value::RawValue;

/// A JSON tree that keeps number literals verbatim, so values beyond 2^64 compare exactly.
/// Object key order is not significant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Json {
    Object(BTreeMap<String, Json>),
    Array(Vec<Json>),
    String(String),
    /// A number, `true`, `false` or `null`, as written.
    Literal(String),
}

impl Json {
    fn parse(text: &str) -> Json {
        let raw: Box<RawValue> = serde_json::from_str(text).expect("valid JSON");
        Self::from_raw(raw.get())
    }

    fn from_raw(raw: &str) -> Json {
        match raw.trim_start().as_bytes().first() {
            Some(b'{') => {
                let map: BTreeMap<String, Box<RawValue>> = serde_json::from_str(raw).unwrap();
                Json::Object(map.into_iter().map(|(key, value)| (key, Self::from_raw(value.get()))).collect())
            }
            Some(b'[') => {
                let items: Vec<Box<RawValue>> = serde_json::from_str(raw).unwrap();
                Json::Array(items.iter().map(|item| Self::from_raw(item.get())).collect())
            }
            Some(b'"') => Json::String(serde_json::from_str(raw).unwrap()),
            _ => Json::Literal(raw.trim().to_owned()),
        }
    }

    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Object(map) => map.get(key).unwrap_or_else(|| panic!("vector has no key {key:?}")),
            other => panic!("not an object when looking up {key:?}: {other:?}"),
        }
    }

    fn items(&self) -> &[Json] {
        match self {
            Json::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            Json::String(text) => text,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Json::Literal(literal) if literal == "null")
    }

    /// The JSON text of this value (for feeding a parser under test).
    fn to_text(&self) -> String {
        match self {
            Json::Object(map) => {
                let entries: Vec<String> = map
                    .iter()
                    .map(|(key, value)| {
                        format!("{}:{}", serde_json::to_string(key).unwrap(), value.to_text())
                    })
                    .collect();
                format!("{{{}}}", entries.join(","))
            }
            Json::Array(items) => {
                format!("[{}]", items.iter().map(Json::to_text).collect::<Vec<_>>().join(","))
            }
            Json::String(text) => serde_json::to_string(text).unwrap(),
            Json::Literal(literal) => literal.clone(),
        }
    }

    /// An unsigned integer written as a number or a decimal string.
    fn u256(&self) -> U256 {
        parse_json_integer(&self.to_text(), IntegerSyntax::NumberOrDecimal).expect("an integer")
    }

    fn u64(&self) -> u64 {
        u64::try_from(self.u256()).expect("fits u64")
    }

    fn bool(&self) -> bool {
        match self {
            Json::Literal(literal) if literal == "true" => true,
            Json::Literal(literal) if literal == "false" => false,
            other => panic!("not a boolean: {other:?}"),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        hex::decode(self.str()).expect("hex")
    }

    fn address(&self) -> Address {
        self.str().parse().expect("an address")
    }

    fn key(&self) -> PrivateKey {
        PrivateKey::parse_hex(self.str()).expect("a private key")
    }

    fn signature(&self) -> Signature {
        Signature::parse_hex(self.str()).expect("a signature")
    }
}

fn vectors() -> &'static Json {
    static VECTORS: OnceLock<Json> = OnceLock::new();
    VECTORS.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/spec/vectors/raiden-vectors.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read the Raiden test vectors at {} ({error}); the conformance tests need \
                 <workspace root>/../shared/spec/vectors/raiden-vectors.json",
                path.display()
            )
        });
        Json::parse(&text)
    })
}

fn section(name: &str) -> &'static Json {
    vectors().get(name)
}

fn assert_same_json(actual: &str, expected: &Json, context: &str) {
    assert_eq!(&Json::parse(actual), expected, "JSON differs for {context}");
}

fn canonical_identifier(fields: &Json) -> CanonicalIdentifier {
    CanonicalIdentifier {
        chain_identifier: ChainId(fields.get("chain_identifier").u64()),
        token_network_address: fields.get("token_network_address").address(),
        channel_identifier: ChannelId(fields.get("channel_identifier").u256()),
    }
}

#[test]
fn keys_give_the_reference_public_keys_and_addresses() {
    let mut checked = 0;
    for vector in section("keys").items() {
        let key = vector.get("private_key").key();
        let public_key = vector.get("public_key_uncompressed_xy").bytes();
        assert_eq!(key.public_key_xy().as_slice(), public_key.as_slice());
        let xy: [u8; 64] = public_key.try_into().unwrap();
        assert_eq!(address_from_public_key_xy(&xy), key.address());
        assert_eq!(key.address().to_checksum(), vector.get("address_checksum").str());
        assert_eq!(key.address().to_lower_hex(), vector.get("address_lower").str());
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn eip191_hashes_signatures_and_recovery_match() {
    let mut checked = 0;
    for vector in section("eip191").items() {
        let key = vector.get("signer_private_key").key();
        let data = vector.get("data").bytes();
        let mut preimage = b"\x19Ethereum Signed Message:\n".to_vec();
        preimage.extend_from_slice(data.len().to_string().as_bytes());
        preimage.extend_from_slice(&data);
        assert_eq!(preimage, vector.get("prefixed_preimage").bytes());
        let hash = vector.get("hash").bytes();
        assert_eq!(keccak256(&preimage).as_slice(), hash.as_slice());
        assert_eq!(eip191_hash(&data).as_slice(), hash.as_slice());
        let signature = vector.get("signature").signature();
        assert_eq!(key.sign(&data), signature);
        let recovered = vector.get("recovered").address();
        assert_eq!(signature.recover(&data), Ok(recovered));
        assert_eq!(vector.get("signature_v01_also_recovers").signature().recover(&data), Ok(recovered));
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn matrix_identities_match() {
    let matrix = section("matrix");
    let mut checked = 0;
    for vector in matrix.get("users").items() {
        let key = vector.get("private_key").key();
        let address = vector.get("address").address();
        assert_eq!(key.address(), address);
        let server_name = vector.get("server_name").str();
        let user_id = matrix_identity::user_id(&address, server_name);
        assert_eq!(user_id, vector.get("user_id").str());
        assert_eq!(
            matrix_identity::login_password(&key, server_name),
            vector.get("login_password_sign_server_name").str()
        );
        let displayname = matrix_identity::displayname(&key, &user_id);
        assert_eq!(displayname, vector.get("displayname_sign_user_id").str());
        assert_eq!(matrix_identity::validate_displayname(&user_id, &displayname), Ok(address));
        let parsed = matrix_identity::parse_user_id(&user_id).unwrap();
        assert_eq!((parsed.address, parsed.server_name), (address, Some(server_name)));
        let metadata = vector.get("address_metadata");
        assert_eq!(metadata.get("user_id").str(), user_id);
        assert_eq!(metadata.get("displayname").str(), displayname);
        assert_eq!(metadata.get("capabilities").str(), Capabilities::raiden_default().to_avatar_url());
        checked += 1;
    }
    assert_eq!(checked, 4);

    let capabilities = matrix.get("capabilities");
    let default = capabilities.get("raiden_default_all_true").str();
    assert_eq!(Capabilities::raiden_default().to_avatar_url(), default);
    assert_eq!(capabilities.get("pfs_default_when_unknown").str(), matrix_identity::UNKNOWN_CAPABILITIES);
    assert_same_json(
        &serde_json::to_string(&Capabilities::parse(default)).unwrap(),
        capabilities.get("parsed_back"),
        "parsed capabilities",
    );
    assert_eq!(matrix.get("userid_regex").str(), matrix_identity::USER_ID_PATTERN);
    assert_eq!(matrix.get("displayname_regex").str(), matrix_identity::DISPLAYNAME_PATTERN);
}

#[test]
fn capacity_updates_pack_sign_serialize_and_recover_like_python() {
    let mut checked = 0;
    for vector in section("pfs_capacity_update").items() {
        let fields = vector.get("fields");
        let unsigned = UnsignedCapacityUpdate {
            canonical_identifier: canonical_identifier(fields),
            updating_participant: fields.get("updating_participant").address(),
            other_participant: fields.get("other_participant").address(),
            updating_nonce: Nonce(fields.get("updating_nonce").u64()),
            other_nonce: Nonce(fields.get("other_nonce").u64()),
            updating_capacity: fields.get("updating_capacity").u256(),
            other_capacity: fields.get("other_capacity").u256(),
            reveal_timeout: BlockTimeout(fields.get("reveal_timeout").u256()),
        };
        let packed = unsigned.packed();
        assert_eq!(packed, vector.get("packed").bytes());
        assert_eq!(packed.len() as u64, vector.get("packed_len").u64());
        assert_eq!(eip191_hash(&packed).to_vec(), vector.get("eip191_hash").bytes());

        let signed = unsigned.sign(&vector.get("signer_private_key").key()).unwrap();
        assert_eq!(*signed.signature(), vector.get("signature").signature());
        let json = vector.get("json").str();
        assert_same_json(&signed.to_json(), &Json::parse(json), "capacity update");

        let parsed = CapacityUpdate::from_json(json).unwrap();
        assert_eq!(parsed, signed);
        assert_eq!(parsed.signer(), Ok(vector.get("recovered_sender").address()));
        assert!(matches!(Message::parse(json), Ok(Message::CapacityUpdate(update)) if update == signed));
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn tampered_capacity_update_recovers_another_address() {
    let vector = section("pfs_capacity_update_tampered");
    let update = CapacityUpdate::from_json(vector.get("json").str()).unwrap();
    let recovered = update.signer().unwrap();
    assert_eq!(recovered, vector.get("recovered_sender").address());
    assert_ne!(recovered, update.fields().updating_participant);
}

fn fee_schedule(fields: &Json) -> FeeSchedule {
    let penalty = fields.get("imbalance_penalty");
    let imbalance_penalty = (!penalty.is_null()).then(|| {
        let points =
            penalty.items().iter().map(|pair| (pair.items()[0].u256(), pair.items()[1].u256())).collect();
        ImbalancePenalty::new(points).unwrap()
    });
    FeeSchedule {
        cap_fees: fields.get("cap_fees").bool(),
        flat: fields.get("flat").u256(),
        proportional: fields.get("proportional").u256(),
        imbalance_penalty,
    }
}

#[test]
fn fee_updates_pack_sign_serialize_and_recover_like_python() {
    let mut checked = 0;
    for vector in section("pfs_fee_update").items() {
        let fields = vector.get("fields");
        let timestamp_text = fields.get("timestamp_serialized").str();
        let unsigned = UnsignedFeeUpdate {
            canonical_identifier: canonical_identifier(fields),
            updating_participant: fields.get("updating_participant").address(),
            fee_schedule: fee_schedule(fields),
            timestamp: NaiveTimestamp::parse(timestamp_text).unwrap(),
        };
        assert_eq!(unsigned.timestamp.to_isoformat(), timestamp_text);
        let packed = unsigned.packed();
        assert_eq!(packed, vector.get("packed").bytes());
        assert_eq!(packed.len() as u64, vector.get("packed_len").u64());
        let rlp = vector.get("rlp_imbalance_penalty").bytes();
        assert_eq!(&packed[169..169 + rlp.len()], rlp.as_slice(), "RLP of the penalty");
        assert_eq!(eip191_hash(&packed).to_vec(), vector.get("eip191_hash").bytes());

        let signed = unsigned.sign(&vector.get("signer_private_key").key());
        assert_eq!(*signed.signature(), vector.get("signature").signature());
        let json = vector.get("json").str();
        assert_same_json(&signed.to_json(), &Json::parse(json), "fee update");

        let parsed = FeeUpdate::from_json(json).unwrap();
        assert_eq!(parsed, signed);
        let sender = vector.get("recovered_sender").address();
        assert_eq!(parsed.signer(), Ok(sender));
        assert_eq!(parsed.recover_canonical(), Ok(sender));
        assert!(matches!(Message::parse(json), Ok(Message::FeeUpdate(update)) if update == signed));
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn fee_update_signed_over_a_non_canonical_timestamp_is_accepted() {
    let vector = section("pfs_fee_update_noncanonical_timestamp");
    let update = FeeUpdate::from_json(vector.get("json").str()).unwrap();
    assert_eq!(update.packed_as_sent(), vector.get("packed_as_signed_by_client").bytes());
    assert_eq!(update.packed_canonical(), vector.get("packed_as_recomputed_by_python_pfs").bytes());
    assert_eq!(update.recover_canonical(), Ok(vector.get("python_pfs_recovered_sender").address()));
    let signer = vector.get("actual_signer").address();
    assert_eq!(update.fields().updating_participant, signer);
    assert_eq!(update.signer(), Ok(signer));
}

fn unsigned_iou(fields: &Json, expiry_key: &str) -> UnsignedIou {
    UnsignedIou {
        sender: fields.get("sender").address(),
        receiver: fields.get("receiver").address(),
        amount: fields.get("amount").u256(),
        claimable_until: fields.get(expiry_key).u256(),
        one_to_n_address: fields.get("one_to_n_address").address(),
        chain_id: ChainId(fields.get("chain_id").u64()),
    }
}

#[test]
fn ious_pack_sign_and_serialize_like_the_contracts_and_the_pfs() {
    let mut checked = 0;
    for vector in section("iou").items() {
        let unsigned = unsigned_iou(vector.get("fields"), "claimable_until");
        let packed = unsigned.packed();
        assert_eq!(packed, vector.get("packed").bytes());
        assert_eq!(packed.len() as u64, vector.get("packed_len").u64());
        let hash = eip191_hash(&packed).to_vec();
        assert_eq!(hash, vector.get("eip191_hash").bytes());
        assert_eq!(hash, vector.get("solidity_hash_check").bytes());
        assert_eq!(
            unsigned.session_id().to_vec(),
            vector.get("session_id_keccak_receiver_sender_claimable_until").bytes()
        );

        let signed = unsigned.sign(&vector.get("signer_private_key").key());
        assert_eq!(*signed.signature(), vector.get("signature").signature());
        let pfs_json = vector.get("pfs_json");
        assert_same_json(&signed.to_json(), pfs_json, "IOU");
        let parsed = Iou::from_json(&pfs_json.to_text()).unwrap();
        assert_eq!(parsed, signed);
        assert_eq!(parsed.signer(), Ok(unsigned.sender));
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn iou_from_the_raiden_common_client_parses_and_verifies() {
    let as_json = section("iou_raiden_common_client").get("as_json");
    let iou = Iou::from_json(&as_json.to_text()).unwrap();
    assert_eq!(iou.signer(), Ok(as_json.get("sender").address()));
    assert_same_json(&iou.to_json(), as_json, "raiden-common IOU");
}

#[test]
fn iou_in_contracts_0_40_style_is_refused_with_its_own_error() {
    let vector = section("iou_contracts_0_40_style");
    let sent = vector.get("json_sent_by_client");
    assert!(matches!(Iou::from_json(&sent.to_text()), Err(IouError::ExpirationBlock)));
    let unsigned = unsigned_iou(sent, "expiration_block");
    assert_eq!(unsigned.packed(), vector.get("packed").bytes());
    let signature = sent.get("signature").signature();
    assert_eq!(signature.recover(&unsigned.packed()), Ok(unsigned.sender));
}

#[test]
fn iou_requests_sign_and_parse_like_the_clients() {
    let mut checked = 0;
    for vector in section("iou_request").items() {
        let key = vector.get("signer_private_key").key();
        let params = vector.get("query_params");
        let timestamp = params.get("timestamp").str();
        let request = IouRequest::sign(&key, params.get("receiver").address(), timestamp).unwrap();
        assert_eq!(request.signed_data(), vector.get("signed_data").bytes());
        assert_eq!(*request.signature(), vector.get("signature").signature());
        assert_eq!(params.get("signature").str(), request.signature().to_hex());
        let query_string = vector.get("query_string").str();
        assert_eq!(request.to_query_string(), query_string);

        let from_params = IouRequest::from_query_pairs(
            ["sender", "receiver", "timestamp", "signature"].map(|name| (name, params.get(name).str())),
        )
        .unwrap();
        let from_query = IouRequest::from_query_string(query_string).unwrap();
        assert_eq!(from_params, request);
        assert_eq!(from_query, request);
        assert_eq!(from_query.signer(), Ok(key.address()));
        assert_eq!(from_query.timestamp_as_sent(), timestamp);
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn contract_event_topics_match_the_shipped_abis() {
    let Json::Object(versions) = section("contract_events") else {
        panic!("contract_events is not an object")
    };
    let mut checked = 0;
    for (version, contracts) in versions {
        let ours: Vec<_> = if version.starts_with("0.50") {
            events(ContractsVersion::V0_50).collect()
        } else if version.starts_with("0.40") {
            events(ContractsVersion::V0_40).collect()
        } else {
            panic!("unexpected contracts version {version}")
        };
        let Json::Object(contracts) = contracts else { panic!("{version} is not an object") };
        let mut found = 0;
        for (contract, events) in contracts {
            for event in events.items() {
                let signature = event.get("signature").str();
                let topic0 = event.get("topic0").bytes();
                assert_eq!(event_topic(signature).as_slice(), topic0.as_slice(), "{signature}");
                if let Some(known) = ours.iter().find(|known| known.signature == signature) {
                    assert_eq!(known.contract, contract);
                    assert_eq!(known.topic0.as_slice(), topic0.as_slice());
                    found += 1;
                }
                checked += 1;
            }
        }
        assert_eq!(found, ours.len(), "every event the PFS follows is in the {version} ABI");
    }
    assert_eq!(checked, 29);
}
