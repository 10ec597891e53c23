//! `GET /api/v1/online_addresses` (§1.4.5) and `GET /api/v1/address/<address>/metadata`
//! (§1.4.7), read from the presence book of the latest snapshot.

use std::time::SystemTime;

use axum::Json;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pfs_core::Address;

use crate::State;
use crate::error::{ApiError, codes};
use crate::paths::metadata_json;
use crate::segments::Segments;

pub(crate) async fn online_addresses(Extract(state): State) -> Json<Vec<String>> {
    let snapshot = state.service.snapshot();
    Json(snapshot.presence.reachable_addresses().iter().map(Address::to_checksum).collect())
}

pub(crate) async fn metadata(
    Extract(state): State,
    Segments([given]): Segments<1>,
) -> Result<Response, ApiError> {
    let address = Address::parse_checksummed(&given).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_ADDRESS,
            "The address needs to be a valid checksummed Ethereum address",
        )
        .detail("address", &given)
    })?;
    let snapshot = state.service.snapshot();
    match snapshot.presence.metadata(&address) {
        Some(metadata) => Ok(Json(metadata_json(&metadata)).into_response()),
        None => {
            let offline = snapshot.presence.seen_offline_since(&address, SystemTime::now());
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                codes::ADDRESS_NOT_ONLINE,
                "There is no user found online for given address.",
            )
            .detail("address", &given)
            .detail("seen_offline_since", offline.as_secs_f64()))
        }
    }
}

/// `GET /api/v1/<tn>/suggest_partner` (§2.12): computed on the latest snapshot on the blocking
/// pool (one BFS per node); not cached, unlike the reference's one-minute cache.
pub(crate) async fn suggest_partner(
    Extract(state): State,
    Segments([token_network]): Segments<1>,
) -> Result<Json<Vec<SuggestionJson>>, ApiError> {
    let token_network = crate::followed_token_network(&state.service, &token_network)?;
    let snapshot = state.service.snapshot();
    let network = snapshot
        .networks
        .get(&token_network)
        .cloned()
        .ok_or_else(|| ApiError::token_network(&token_network.to_checksum(), true))?;
    let presence = std::sync::Arc::clone(&snapshot.presence);
    let suggestions = tokio::task::spawn_blocking(move || {
        pfs_service::suggest_partners(&network, &presence, SystemTime::now())
    })
    .await
    .map_err(|_| ApiError::internal())?;
    Ok(Json(
        suggestions
            .iter()
            .map(|suggestion| SuggestionJson {
                address: suggestion.address.to_checksum(),
                score: suggestion.score,
                centrality: suggestion.centrality,
                uptime: suggestion.uptime,
                capacity: pfs_core::integer::to_json_number(&suggestion.capacity),
            })
            .collect(),
    ))
}

/// One suggestion on the wire; `capacity` an exact JSON integer.
#[derive(serde::Serialize)]
pub(crate) struct SuggestionJson {
    address: String,
    score: f64,
    centrality: f64,
    uptime: f64,
    capacity: Box<serde_json::value::RawValue>,
}
