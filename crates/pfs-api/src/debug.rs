//! The reference's `_debug` endpoints (spec/REFERENCE-PFS.md §1.4.8), served only with
//! `--enable-debug` ([`crate::ApiOptions::enable_debug`]):
//!
//! * `GET /api/v1/_debug/routes/<tn>/<source>[/<target>]`: the failed path requests kept in
//!   memory (the last [`MAX_FAILED_REQUESTS`]) and the routes returned with each feedback token;
//! * `GET /api/v1/_debug/ious/<source>`: the sender's first stored IOU, or `{}`;
//! * `GET /api/v1/_debug/stats`: counts of returned routes, reports, successes and online users.
//!
//! Deliberate difference: addresses are read in any case, and one that is not an address gets
//! 400 with code 2006 instead of the reference's 500.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::Json;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use pfs_core::Address;
use pfs_core::integer::to_json_number;
use pfs_core::presence::UserPresence;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::State;
use crate::error::{ApiError, codes};
use crate::segments::Segments;

/// Failed path requests kept for `_debug/routes` (the reference's deque length).
pub const MAX_FAILED_REQUESTS: usize = 200;

/// A path request that found no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FailedRequest {
    pub(crate) token_network: Address,
    pub(crate) source: Address,
    pub(crate) target: Address,
}

/// The last [`MAX_FAILED_REQUESTS`] failed path requests, oldest first.
#[derive(Debug, Default)]
pub(crate) struct FailedRequests(Mutex<VecDeque<FailedRequest>>);

impl FailedRequests {
    pub(crate) fn record(&self, request: FailedRequest) {
        // A poisoned lock only means a panic elsewhere while recording; the deque is intact.
        let mut requests = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if requests.len() == MAX_FAILED_REQUESTS {
            requests.pop_front();
        }
        requests.push_back(request);
    }

    fn matching(
        &self,
        token_network: &Address,
        source: &Address,
        target: Option<&Address>,
    ) -> Vec<FailedRequest> {
        let requests = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        requests
            .iter()
            .filter(|request| {
                request.token_network == *token_network
                    && request.source == *source
                    && target.is_none_or(|target| request.target == *target)
            })
            .copied()
            .collect()
    }
}

fn any_case_address(given: &str) -> Result<Address, ApiError> {
    Address::parse_any_case(given).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_ADDRESS,
            "The address needs to be a valid Ethereum address",
        )
        .detail("address", given)
    })
}

pub(crate) async fn routes_from_source(
    state: State,
    Segments([token_network, source]): Segments<2>,
) -> Result<Json<DebugRoutesJson>, ApiError> {
    debug_routes(state, &token_network, &source, None).await
}

pub(crate) async fn routes_between(
    state: State,
    Segments([token_network, source, target]): Segments<3>,
) -> Result<Json<DebugRoutesJson>, ApiError> {
    debug_routes(state, &token_network, &source, Some(&target)).await
}

/// `_debug/routes`: `{"request_count", "responses"}`.
#[derive(Serialize)]
pub(crate) struct DebugRoutesJson {
    request_count: usize,
    responses: Vec<DebugResponseJson>,
}

/// One failed request (no routes) or one feedback token's routes.
#[derive(Serialize)]
struct DebugResponseJson {
    source: String,
    target: String,
    routes: Vec<DebugRouteJson>,
}

/// A returned route; `estimated_fee` an exact JSON integer.
#[derive(Serialize)]
struct DebugRouteJson {
    path: Vec<String>,
    estimated_fee: Box<RawValue>,
}

async fn debug_routes(
    Extract(state): State,
    token_network: &str,
    source: &str,
    target: Option<&str>,
) -> Result<Json<DebugRoutesJson>, ApiError> {
    let token_network = any_case_address(token_network)?;
    let source = any_case_address(source)?;
    let target = target.map(any_case_address).transpose()?;
    let mut responses: Vec<DebugResponseJson> = state
        .failed_requests
        .matching(&token_network, &source, target.as_ref())
        .iter()
        .map(|request| DebugResponseJson {
            source: request.source.to_checksum(),
            target: request.target.to_checksum(),
            routes: Vec::new(),
        })
        .collect();
    let groups = state.service.store().debug_routes(&token_network, &source, target.as_ref()).await.map_err(
        |error| {
            tracing::error!(%error, "debug routes not read");
            ApiError::internal()
        },
    )?;
    for group in groups {
        let Some(first) = group.routes.first() else { continue };
        let (Some(from), Some(to)) = (first.path.first(), first.path.last()) else { continue };
        let mut routes = Vec::with_capacity(group.routes.len());
        for route in &group.routes {
            routes.push(DebugRouteJson {
                path: route.path.iter().map(Address::to_checksum).collect(),
                // Invariant: an integer's decimal text is valid JSON.
                estimated_fee: RawValue::from_string(route.estimated_fee.to_string())
                    .map_err(|_| ApiError::internal())?,
            });
        }
        responses.push(DebugResponseJson { source: from.to_checksum(), target: to.to_checksum(), routes });
    }
    Ok(Json(DebugRoutesJson { request_count: responses.len(), responses }))
}

pub(crate) async fn ious(
    Extract(state): State,
    Segments([source]): Segments<1>,
) -> Result<Json<Box<RawValue>>, ApiError> {
    let sender = any_case_address(&source)?;
    let stored = state.service.store().first_iou(&sender).await.map_err(|error| {
        tracing::error!(%error, "debug IOU not read");
        ApiError::internal()
    })?;
    let Some(stored) = stored else {
        return RawValue::from_string("{}".to_owned()).map(Json).map_err(|_| ApiError::internal());
    };
    let fields = stored.iou.fields();
    let body = DebugIouJson {
        sender: fields.sender.to_checksum(),
        amount: to_json_number(&fields.amount),
        claimable_until: to_json_number(&fields.claimable_until),
    };
    // Invariant: the struct holds strings and valid raw JSON numbers.
    Ok(Json(serde_json::value::to_raw_value(&body).map_err(|_| ApiError::internal())?))
}

/// `_debug/ious`: the amounts as exact JSON integers.
#[derive(Serialize)]
struct DebugIouJson {
    sender: String,
    amount: Box<RawValue>,
    claimable_until: Box<RawValue>,
}

pub(crate) async fn stats(Extract(state): State) -> Result<Json<Value>, ApiError> {
    let counts = state.service.store().feedback_stats(None).await.map_err(|error| {
        tracing::error!(%error, "feedback counts not read");
        ApiError::internal()
    })?;
    let online = state.service.snapshot().presence.count_users_with(UserPresence::Online);
    Ok(Json(json!({
        "total_calculated_routes": counts.routes,
        "total_feedback_received": counts.successful + counts.failed,
        "total_successful_routes": counts.successful,
        "online_nodes": online,
    })))
}
