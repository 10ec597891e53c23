//! `POST /api/v1/<token_network>/feedback` (§1.4.3): a client's report on a returned route,
//! stored and applied to the routing penalties (see `pfs_service::Service::record_feedback`).
//! Unknown or expired tokens answer a deliberately uninformative 400 `{}`.

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pfs_store::{FeedbackOutcome, FeedbackToken};
use serde_json::json;

use crate::body::{Fields, json_body};
use crate::error::ApiError;
use crate::segments::Segments;
use crate::{State, followed_token_network};

const FIELDS: &[&str] = &["token", "success", "path"];

/// Most nodes accepted in a reported path (the reference has no bound; longer paths are never
/// returned by the search).
const MAX_FEEDBACK_PATH_NODES: usize = 256;

/// The 16 bytes of a UUID in any of the forms Python's `uuid.UUID` reads.
fn parse_token(text: &str) -> Option<FeedbackToken> {
    let trimmed = text.trim().trim_start_matches("urn:uuid:").trim_start_matches('{').trim_end_matches('}');
    uuid::Uuid::parse_str(trimmed).ok().map(|uuid| FeedbackToken(*uuid.as_bytes()))
}

pub(crate) async fn post_feedback(
    Extract(state): State,
    Segments([token_network]): Segments<1>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let token_network = followed_token_network(&state.service, &token_network)?;
    let body = body?;
    let raw = json_body(&headers, &body)?;
    let mut fields = Fields::new(raw, FIELDS)?;
    let token = fields.string("token").and_then(|text| {
        let token = parse_token(&text);
        if token.is_none() {
            fields.reject("token", "Not a valid UUID.");
        }
        token
    });
    let success = fields.boolean("success");
    let path = fields.address_list("path", MAX_FEEDBACK_PATH_NODES);
    fields.finish()?;
    let (Some(token), Some(success), Some(path)) = (token, success, path) else {
        // Invariant: `finish` fails whenever a field is missing or invalid.
        return Err(ApiError::internal());
    };
    let outcome = state
        .service
        .record_feedback(token, &token_network, &path, success, SystemTime::now())
        .await
        .map_err(|error| {
            tracing::error!(%error, "feedback not recorded");
            ApiError::internal()
        })?;
    let status = match outcome {
        FeedbackOutcome::Recorded | FeedbackOutcome::AlreadyRecorded => StatusCode::OK,
        FeedbackOutcome::Invalid => StatusCode::BAD_REQUEST,
    };
    Ok((status, Json(json!({}))).into_response())
}
