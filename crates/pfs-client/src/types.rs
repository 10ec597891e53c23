//! The request and answer bodies of the PFS API, typed: `/info`, `/paths`, metadata and the
//! per-message outcome of `POST /api/v1/updates`.
//!
//! Reading is as lenient as the light client (integers as JSON numbers or decimal strings,
//! addresses in either case); writing is what the light client sends (checksummed addresses,
//! `value` as a decimal string, `max_paths` as a number).

use std::collections::BTreeMap;

use alloy_primitives::I256;
use pfs_core::{Address, ChainId, Iou, U256, integer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

pub use pfs_core::presence::AddressMetadata;

/// `GET /api/v1/info` (spec/REFERENCE-PFS.md §1.4.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PfsInfo {
    /// The fee per path request, in service-token units; 0 for a free service.
    #[serde(with = "integer::as_number")]
    pub price_info: U256,
    /// Chain and contracts.
    pub network_info: NetworkInfo,
    /// The PFS's version.
    pub version: String,
    /// The Raiden contracts version it serves.
    pub contracts_version: String,
    /// Who runs it.
    pub operator: String,
    /// The operator's message.
    pub message: String,
    /// The address IOUs are made out to.
    pub payment_address: Address,
    /// The PFS's clock (naive UTC ISO 8601).
    #[serde(rename = "UTC")]
    pub utc: String,
    /// The PFS's Matrix homeserver, if it uses Matrix.
    pub matrix_server: Option<String>,
    /// The PFS's Matrix user id (this service's addition), if it uses Matrix.
    #[serde(default)]
    pub matrix_user_id: Option<String>,
}

/// `network_info` of `/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// The chain id.
    pub chain_id: ChainId,
    /// The TokenNetworkRegistry followed.
    pub token_network_registry_address: Address,
    /// The UserDeposit contract.
    pub user_deposit_address: Address,
    /// The token IOUs are paid in.
    pub service_token_address: Address,
    /// The last block whose events the PFS has processed.
    pub confirmed_block: ConfirmedBlock,
}

/// `confirmed_block` of `/info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmedBlock {
    /// The block number.
    #[serde(with = "integer::as_number")]
    pub number: U256,
}

/// The body of `POST /api/v1/<token network>/paths`, as the light client writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathsRequest {
    /// The payer.
    pub from: Address,
    /// The payee.
    pub to: Address,
    /// The amount to transfer.
    #[serde(with = "integer::as_decimal_string")]
    pub value: U256,
    /// At most this many routes (the PFS's default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_paths: Option<u32>,
    /// How strongly reused edges are penalised (the PFS's default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diversity_penalty: Option<f64>,
    /// How strongly fees weigh against hops (the PFS's default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_penalty: Option<f64>,
    /// The payment for a charging PFS; set by [`crate::PfsClient::paths_paying`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iou: Option<Iou>,
}

impl PathsRequest {
    /// A request for routes from `from` to `to` for `value`, with the PFS's defaults otherwise.
    pub fn new(from: Address, to: Address, value: U256) -> Self {
        Self { from, to, value, max_paths: None, diversity_penalty: None, fee_penalty: None, iou: None }
    }
}

/// A successful `/paths` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathsAnswer {
    /// The routes, best first.
    pub result: Vec<Route>,
    /// The token for `POST /feedback` about these routes.
    pub feedback_token: String,
}

/// One route of a `/paths` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Every node from payer to payee.
    pub path: Vec<Address>,
    /// How to reach each node, keyed by its checksummed address.
    #[serde(default)]
    pub address_metadata: BTreeMap<String, AddressMetadata>,
    /// The mediation fees along the route; negative when imbalance fees pay the payer.
    #[serde(serialize_with = "write_signed_integer", deserialize_with = "signed_integer")]
    pub estimated_fee: I256,
}

/// What became of one accepted update of `POST /api/v1/updates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Applied and stored (200 `{"status": "accepted"}`).
    Accepted,
    /// Kept until its channel is opened on chain (202 `{"status": "deferred"}`).
    Deferred,
}

/// Writes an `I256` as an exact JSON number.
fn write_signed_integer<S: Serializer>(value: &I256, serializer: S) -> Result<S::Ok, S::Error> {
    RawValue::from_string(value.to_string()).map_err(serde::ser::Error::custom)?.serialize(serializer)
}

impl std::fmt::Display for UpdateOutcome {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Accepted => "accepted",
            Self::Deferred => "deferred",
        })
    }
}

/// Reads an `I256` from a JSON number or a decimal string of any size.
fn signed_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<I256, D::Error> {
    let raw = <Box<RawValue>>::deserialize(deserializer)?;
    let text = raw.get().trim();
    let digits = text.strip_prefix('"').and_then(|text| text.strip_suffix('"')).unwrap_or(text);
    I256::from_dec_str(digits).map_err(|error| serde::de::Error::custom(format!("{digits}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_reads_a_negative_fee_beyond_64_bits() {
        let route: Route = serde_json::from_str(
            r#"{"path": ["0x0000000000000000000000000000000000000001"], "estimated_fee": -100000000000000000000000}"#,
        )
        .unwrap();
        assert_eq!(route.estimated_fee, I256::from_dec_str("-100000000000000000000000").unwrap());
    }

    #[test]
    fn a_paths_request_is_written_as_the_light_client_writes_it() {
        let from = Address::from_bytes([0xaa; 20]);
        let to = Address::from_bytes([0xbb; 20]);
        let mut request = PathsRequest::new(from, to, U256::from(1000));
        request.max_paths = Some(3);
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"from": from.to_checksum(), "to": to.to_checksum(), "value": "1000", "max_paths": 3})
        );
    }
}
