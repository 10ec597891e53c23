//! `POST /api/v1/updates` (this service's addition): capacity and fee updates over HTTP, one
//! message or an array of at most [`MAX_UPDATES_PER_REQUEST`], each the JSON a node sends over
//! Matrix. Messages are parsed, their signatures recovered in parallel on the blocking pool, and
//! the verified ones applied by the writer in one group commit; nothing is answered "accepted"
//! before it is durable.
//!
//! Answers: a single message gets 200 `{"status": "accepted"}`, 202 `{"status": "deferred"}`
//! (its channel is not open yet) or an error body with a code in 2300–2399 ([`crate::codes`]);
//! an array gets 200 `{"results": [...]}` with one such object per message, in order.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pfs_core::Message;
use pfs_core::token_network::{UpdateOutcome, UpdateRejection, VerifiedUpdate};
use pfs_service::{UpdateResult, UpdateSource, WriterError};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::State;
use crate::body::{json_body, not_an_object};
use crate::error::{ApiError, codes};
use crate::rate_limit::too_many_requests;

/// Most updates in one request.
pub const MAX_UPDATES_PER_REQUEST: usize = 100;

/// Updates verified per blocking task: small enough to spread a full request over the cores.
const VERIFY_CHUNK: usize = 16;

/// What became of one message before or after the writer.
type Answer = Result<UpdateOutcome, ApiError>;

pub(crate) async fn post_updates(
    Extract(state): State,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let raw = json_body(&headers, &body)?;
    let is_array = raw.get().trim_start().starts_with('[');
    let items: Vec<&RawValue> =
        if is_array { serde_json::from_str(raw.get()).map_err(|_| not_an_object())? } else { vec![raw] };
    if items.len() > MAX_UPDATES_PER_REQUEST {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::TOO_MANY_UPDATES,
            format!("At most {MAX_UPDATES_PER_REQUEST} updates per request."),
        )
        .detail("count", items.len()));
    }
    let parsed: Vec<Result<Message, ApiError>> = items
        .iter()
        .map(|item| {
            Message::parse(item.get()).map_err(|error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    codes::MALFORMED_UPDATE,
                    "The update is not a valid PFSCapacityUpdate or PFSFeeUpdate.",
                )
                .detail("reason", error.to_string())
            })
        })
        .collect();
    let mut verified = verify_all(parsed).await?;
    limit_signers(&state, &mut verified);
    let answers = apply(&state.service, verified).await?;
    let counters = state.service.service_counters();
    for answer in &answers {
        let reason = match answer {
            Ok(UpdateOutcome::Applied) => "accepted",
            Ok(UpdateOutcome::Deferred) => "deferred",
            Err(error) => error_reason(error.code),
        };
        counters.count_updates(UpdateSource::Http, reason, 1);
    }
    if is_array {
        let results: Vec<Value> = answers.iter().map(answer_json).collect();
        Ok(Json(json!({ "results": results })).into_response())
    } else {
        let answer = answers.into_iter().next().ok_or_else(ApiError::internal)?;
        match answer {
            Ok(UpdateOutcome::Applied) => Ok(Json(json!({"status": "accepted"})).into_response()),
            Ok(UpdateOutcome::Deferred) => {
                Ok((StatusCode::ACCEPTED, Json(json!({"status": "deferred"}))).into_response())
            }
            Err(error) => Err(error),
        }
    }
}

/// Refuses, one by one, the updates beyond their signer's rate limit. Counted after signature
/// recovery, so the signer is proven and nobody can spend another address's budget.
fn limit_signers(state: &crate::AppState, verified: &mut [Result<VerifiedUpdate, ApiError>]) {
    let now = Instant::now();
    for item in verified.iter_mut() {
        let Ok(update) = item else { continue };
        if let Err(wait) = state.limiters.per_update_signer.check(&update.updating_participant(), 1, now) {
            state.metrics.count_rate_limited("update_signer");
            *item = Err(too_many_requests("update_signer", wait));
        }
    }
}

/// The `outcome` label of an update refused by the API (the same names as the service's
/// [`pfs_service::rejection_reason`]).
fn error_reason(code: u16) -> &'static str {
    match code {
        codes::MALFORMED_UPDATE => "malformed",
        codes::UPDATE_INVALID_SIGNATURE => "invalid_signature",
        codes::UPDATE_WRONG_CHAIN => "wrong_chain",
        codes::UPDATE_UNKNOWN_TOKEN_NETWORK => "unknown_token_network",
        codes::UPDATE_NOT_PARTICIPANT => "not_participant",
        codes::UPDATE_OTHER_NOT_PARTICIPANT => "other_not_participant",
        codes::UPDATE_STALE_NONCE => "stale_nonce",
        codes::UPDATE_STALE_TIMESTAMP => "stale_timestamp",
        codes::UPDATE_TIMESTAMP_IN_FUTURE => "timestamp_in_future",
        codes::RATE_LIMITED => "rate_limited",
        _ => "other",
    }
}

/// Recovers signatures in parallel chunks on the blocking pool.
async fn verify_all(
    parsed: Vec<Result<Message, ApiError>>,
) -> Result<Vec<Result<VerifiedUpdate, ApiError>>, ApiError> {
    let mut tasks = Vec::new();
    let mut remaining = parsed.into_iter();
    loop {
        let chunk: Vec<_> = remaining.by_ref().take(VERIFY_CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        tasks.push(tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|message| {
                    message.and_then(|message| {
                        VerifiedUpdate::verify(message).map_err(|rejection| rejection_error(&rejection))
                    })
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut verified = Vec::new();
    for task in tasks {
        verified.extend(task.await.map_err(|_| ApiError::internal())?);
    }
    Ok(verified)
}

/// Sends the verified updates to the writer in one command and merges the answers back in order.
async fn apply(
    service: &pfs_service::Service,
    verified: Vec<Result<VerifiedUpdate, ApiError>>,
) -> Result<Vec<Answer>, ApiError> {
    let mut updates = Vec::new();
    let mut answers: Vec<Option<Answer>> = Vec::with_capacity(verified.len());
    for item in verified {
        match item {
            Ok(update) => {
                updates.push(update);
                answers.push(None);
            }
            Err(error) => answers.push(Some(Err(error))),
        }
    }
    let mut results: std::vec::IntoIter<UpdateResult> = if updates.is_empty() {
        Vec::new().into_iter()
    } else {
        service.apply_updates(updates).await.map_err(not_committed)?.into_iter()
    };
    Ok(answers
        .into_iter()
        .map(|answer| match answer {
            Some(answer) => answer,
            None => match results.next() {
                Some(result) => result.map_err(|rejection| rejection_error(&rejection)),
                None => Err(ApiError::internal()),
            },
        })
        .collect())
}

fn not_committed(error: WriterError) -> ApiError {
    tracing::error!(%error, "updates not committed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::UPDATE_NOT_COMMITTED,
        "The update could not be stored; try again.",
    )
}

fn answer_json(answer: &Answer) -> Value {
    match answer {
        Ok(UpdateOutcome::Applied) => json!({"status": "accepted"}),
        Ok(UpdateOutcome::Deferred) => json!({"status": "deferred"}),
        Err(error) => serde_json::to_value(error.body()).unwrap_or(Value::Null),
    }
}

/// The API error of a refused update, with the facts that explain it.
pub(crate) fn rejection_error(rejection: &UpdateRejection) -> ApiError {
    let error = |code, message: &str| ApiError::new(StatusCode::BAD_REQUEST, code, message);
    match rejection {
        UpdateRejection::InvalidSignature { expected, recovered } => {
            error(codes::UPDATE_INVALID_SIGNATURE, "The signature did not match the updating participant.")
                .detail("updating_participant", expected.to_checksum())
                .detail("recovered", recovered.map(|address| address.to_checksum()))
        }
        UpdateRejection::WrongChain { expected, received } => {
            error(codes::UPDATE_WRONG_CHAIN, "The update is for another chain.")
                .detail("expected", expected.0)
                .detail("received", received.0)
        }
        UpdateRejection::UnknownTokenNetwork(address) => error(
            codes::UPDATE_UNKNOWN_TOKEN_NETWORK,
            "This service does not work on the given token network.",
        )
        .detail("token_network", address.to_checksum()),
        UpdateRejection::NotParticipant { channel_id, participant } => error(
            codes::UPDATE_NOT_PARTICIPANT,
            "The updating participant is not a participant of the channel.",
        )
        .detail("channel_identifier", channel_id.to_string())
        .detail("participant", participant.to_checksum()),
        UpdateRejection::OtherNotParticipant { channel_id, participant } => error(
            codes::UPDATE_OTHER_NOT_PARTICIPANT,
            "The other participant is not the partner in the channel.",
        )
        .detail("channel_identifier", channel_id.to_string())
        .detail("participant", participant.to_checksum()),
        UpdateRejection::StaleNonce { field, stored, received } => {
            error(codes::UPDATE_STALE_NONCE, "The update's nonce is lower than the stored one.")
                .detail("field", field)
                .detail("stored", stored.0)
                .detail("received", received.0)
        }
        UpdateRejection::StaleTimestamp { stored, received } => {
            error(codes::UPDATE_STALE_TIMESTAMP, "The fee update is not newer than the stored one.")
                .detail("stored", stored.to_isoformat())
                .detail("received", received.to_isoformat())
        }
        UpdateRejection::TimestampInFuture { received, latest } => {
            error(codes::UPDATE_TIMESTAMP_IN_FUTURE, "The fee update's timestamp is too far in the future.")
                .detail("received", received.to_isoformat())
                .detail("latest", latest.to_isoformat())
        }
    }
}
