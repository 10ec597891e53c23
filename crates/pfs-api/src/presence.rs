//! `GET /api/v1/online_addresses` (§1.4.5) and `GET /api/v1/address/<address>/metadata`
//! (§1.4.7), read from the presence book of the latest snapshot.

use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path as UrlPath, State as Extract};
use axum::http::StatusCode;
use pfs_core::Address;
use serde_json::Value;

use crate::State;
use crate::error::{ApiError, codes};
use crate::paths::metadata_json;

pub(crate) async fn online_addresses(Extract(state): State) -> Json<Vec<String>> {
    let snapshot = state.service.snapshot();
    Json(snapshot.presence.reachable_addresses().iter().map(Address::to_checksum).collect())
}

pub(crate) async fn metadata(
    Extract(state): State,
    UrlPath(given): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
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
        Some(metadata) => Ok(Json(metadata_json(&metadata))),
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
