//! `POST /api/v1/<token_network>/paths` (§1.4.1): validation in the reference's order, the
//! search on the service's snapshot, the response with every node's metadata and a feedback
//! token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use pfs_core::presence::AddressMetadata;
use pfs_core::routing::{MAX_PATHS_PER_REQUEST, PathRequest};
use pfs_core::{Address, U256};
use pfs_service::{FoundPath, PathQueryError};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;

use crate::body::{Fields, json_body};
use crate::error::ApiError;
use crate::payment;
use crate::segments::Segments;
use crate::{State, followed_token_network};

const FIELDS: &[&str] = &["from", "to", "value", "max_paths", "iou", "diversity_penalty", "fee_penalty"];

pub(crate) async fn post_paths(
    Extract(state): State,
    Segments([token_network]): Segments<1>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let token_network = followed_token_network(&state.service, &token_network)?;
    let body = body?;
    let raw = json_body(&headers, &body)?;
    let mut fields = Fields::new(raw, FIELDS)?;
    let from = fields.address("from");
    let to = fields.address("to");
    let value = fields.integer("value", None, U256::from(1), None);
    let max_paths = fields.integer(
        "max_paths",
        Some(U256::from(pfs_core::routing::DEFAULT_MAX_PATHS)),
        U256::from(1),
        Some(U256::from(MAX_PATHS_PER_REQUEST)),
    );
    let diversity_penalty = fields.float("diversity_penalty");
    let fee_penalty = fields.float("fee_penalty");
    let iou = payment::read_iou(&mut fields, "iou");
    fields.finish()?;
    let (Some(from), Some(to), Some(value), Some(max_paths)) = (from, to, value, max_paths) else {
        // Invariant: `finish` fails whenever a field is missing or invalid.
        return Err(ApiError::internal());
    };
    // Recovered once (it costs more than the rest of the request), for the rate limit and the
    // payment checks.
    let signer = iou.as_ref().and_then(|iou| iou.signer().ok());
    if let Some(sender) = iou.as_ref().and_then(|iou| proven_sender(iou, signer))
        && let Err(wait) = state.limiters.per_iou_sender.check(&sender, 1, std::time::Instant::now())
    {
        state.metrics.count_rate_limited("iou_sender");
        return Err(crate::rate_limit::too_many_requests("iou_sender", wait));
    }
    let payment = state.payments.precheck(&state, iou.as_ref(), signer).await?;
    let mut request = PathRequest::new(from, to, value);
    // Invariant: max_paths was checked to be within 1..=25.
    request.max_paths = max_paths.to::<usize>();
    if let Some(penalty) = diversity_penalty {
        request.diversity_penalty = penalty;
    }
    if let Some(penalty) = fee_penalty {
        request.fee_penalty = penalty;
    }
    match state.service.find_paths(token_network, request).await {
        Ok(answer) => {
            // Only a request that found routes is charged (see `payment`).
            if let Some(payment) = payment {
                payment.charge(&state).await?;
            }
            Ok(Json(PathsResponse {
                result: answer.paths.iter().map(PathResult).collect(),
                feedback_token: answer.feedback_token.to_hex(),
            })
            .into_response())
        }
        Err(PathQueryError::UnknownTokenNetwork(_)) => {
            Err(ApiError::token_network(&token_network.to_checksum(), true))
        }
        Err(PathQueryError::PreCheck { error, confirmed_block }) => {
            record_failure(&state, token_network, from, to);
            Err(ApiError::no_route(
                format!("{error}. Approximate block at the time of the request {}", confirmed_block.0),
                &from,
                &to,
                &value,
            ))
        }
        Err(PathQueryError::NoRoute) => {
            record_failure(&state, token_network, from, to);
            Err(ApiError::no_route(pfs_core::routing::NO_ROUTE_FOUND.to_owned(), &from, &to, &value))
        }
        Err(
            error @ (PathQueryError::SearchFailed(_)
            | PathQueryError::Store(_)
            | PathQueryError::RoutesNotStored(_)),
        ) => {
            tracing::error!(%error, "path request failed");
            Err(ApiError::internal())
        }
    }
}

/// Keeps a failed request for `_debug/routes` (only with the debug endpoints on, as the
/// reference does).
fn record_failure(state: &crate::AppState, token_network: Address, source: Address, target: Address) {
    if state.options.enable_debug {
        state.failed_requests.record(crate::debug::FailedRequest { token_network, source, target });
    }
}

/// The sender of a well-formed IOU whose signature recovers that sender (`signer`, recovered
/// from it): the key of the per-sender rate limit. Only a proven sender is limited, so nobody
/// can spend another address's budget; a malformed or forged IOU is refused later by the
/// payment processing.
fn proven_sender(iou: &pfs_core::Iou, signer: Option<Address>) -> Option<Address> {
    let sender = iou.fields().sender;
    (signer? == sender).then_some(sender)
}

#[derive(Serialize)]
struct PathsResponse<'a> {
    result: Vec<PathResult<'a>>,
    feedback_token: String,
}

/// One route as the reference writes it: `path`, `address_metadata` (one key per node, in path
/// order), `estimated_fee` as an exact JSON integer.
struct PathResult<'a>(&'a FoundPath);

impl Serialize for PathResult<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let found = self.0;
        let nodes: Vec<String> = found.path.nodes.iter().map(|node| node.to_checksum()).collect();
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("path", &nodes)?;
        map.serialize_entry("address_metadata", &MetadataMap(&nodes, &found.metadata))?;
        let fee =
            RawValue::from_string(found.path.estimated_fee.to_string()).map_err(serde::ser::Error::custom)?;
        map.serialize_entry("estimated_fee", &fee)?;
        map.end()
    }
}

struct MetadataMap<'a>(&'a [String], &'a [AddressMetadata]);

impl Serialize for MetadataMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (node, metadata) in self.0.iter().zip(self.1) {
            map.serialize_entry(node, &metadata_json(metadata))?;
        }
        map.end()
    }
}

/// `{"capabilities", "displayname", "user_id"}` as §1.4.7 writes it (keys in this order, as
/// the reference's sorted JSON writes them), borrowed from the metadata: a route answer writes
/// one per node of every route, and building a JSON value for each cost an allocation per field.
#[derive(Serialize)]
pub(crate) struct MetadataJson<'a> {
    capabilities: &'a str,
    displayname: Option<&'a str>,
    user_id: &'a str,
}

/// The JSON of `metadata` (see [`MetadataJson`]).
pub(crate) fn metadata_json(metadata: &AddressMetadata) -> MetadataJson<'_> {
    MetadataJson {
        capabilities: &metadata.capabilities,
        displayname: metadata.displayname.as_deref(),
        user_id: &metadata.user_id,
    }
}
