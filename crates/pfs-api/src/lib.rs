//! The HTTP API of raiden-pfs: the reference PFS's endpoints under `/api` (same paths, JSON
//! shapes, error codes, statuses and CORS headers, spec/REFERENCE-PFS.md §1) plus
//! `POST /api/v1/updates`, which takes capacity and fee updates over HTTP.
//!
//! # Design: thin handlers over `pfs-service`
//!
//! Handlers only translate: they validate the request the way the reference's marshmallow
//! schemas do ([`body`](crate) parsing through exact integer and checksummed-address readers),
//! call the [`pfs_service::Service`], and render the answer. Every failure is one [`ApiError`],
//! rendered as `{"errors", "error_code", "error_details"}`. Path searches run on the blocking
//! pool inside the service; signature recovery for updates runs there too, in parallel chunks.
//!
//! # Limits
//! * bodies: [`MAX_BODY_BYTES`] (64 KiB), [`MAX_UPDATES_BODY_BYTES`] (1 MiB) for `/updates`;
//! * at most [`MAX_UPDATES_PER_REQUEST`] (100) updates per request;
//! * every request ends after [`REQUEST_TIMEOUT`] (408).
//!
//! # Deliberate differences from the reference
//! * a syntactically invalid JSON body answers 2000 with `{"json": ["Failed to decode JSON
//!   object: …"]}` instead of the reference's `{"message": …}` body, so there is one error shape;
//! * unknown routes and wrong methods under `/api` answer JSON (404 `{"message": …}` and 405
//!   `{"message": …}` as flask-restful's 405), not HTML.
#![deny(missing_docs)]

mod body;
mod cors;
mod error;
mod feedback;
mod info;
mod metrics;
mod paths;
mod presence;
mod updates;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use pfs_chain::FollowerMetrics;
use pfs_core::{Address, U256};
use pfs_service::Service;
use serde_json::json;
use tower_http::timeout::TimeoutLayer;

pub use error::{ApiError, codes};
pub use updates::MAX_UPDATES_PER_REQUEST;

/// Largest accepted request body, except for `/updates`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest accepted `/updates` body.
pub const MAX_UPDATES_BODY_BYTES: usize = 1024 * 1024;
/// How long one request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What `/info` reports and how payments are configured.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `network_info.token_network_registry_address`.
    pub token_network_registry: Address,
    /// `network_info.user_deposit_address`.
    pub user_deposit: Address,
    /// `network_info.service_token_address`.
    pub service_token: Address,
    /// `payment_address`: the PFS's account.
    pub payment_address: Address,
    /// `price_info`: the fee per path request.
    pub service_fee: U256,
    /// `operator`.
    pub operator: String,
    /// `message`.
    pub message: String,
    /// `matrix_server`: the homeserver's base URL, `null` when running without Matrix.
    pub matrix_server: Option<String>,
    /// `matrix_user_id`: the PFS's Matrix user, `null` when running without Matrix.
    pub matrix_user_id: Option<String>,
}

/// Shared by every handler.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) service: Service,
    pub(crate) config: ApiConfig,
    pub(crate) metrics: metrics::Metrics,
    /// The chain follower's counters and gauges, when one runs.
    pub(crate) chain: Option<Arc<FollowerMetrics>>,
}

/// The shared state handlers extract.
pub(crate) type State = axum::extract::State<Arc<AppState>>;

/// The full application: `/api/...` with CORS, JSON 404/405, limits and timeout.
pub fn router(service: Service, config: ApiConfig) -> Router {
    router_with_chain(service, config, None)
}

/// As [`router`], with the chain follower's metrics (chain head, RPC errors, reorganisations,
/// ...) exported on `/metrics` too.
pub fn router_with_chain(service: Service, config: ApiConfig, chain: Option<Arc<FollowerMetrics>>) -> Router {
    let state = Arc::new(AppState { service, config, metrics: metrics::Metrics::new(), chain });
    let small = DefaultBodyLimit::max(MAX_BODY_BYTES);
    let api = Router::new()
        .route("/v1/info", get(info::info_v1))
        .route("/v2/info", get(info::info_v2))
        .route("/v1/online_addresses", get(presence::online_addresses))
        .route("/v1/address/{address}/metadata", get(presence::metadata))
        .route(
            "/v1/updates",
            post(updates::post_updates).layer(DefaultBodyLimit::max(MAX_UPDATES_BODY_BYTES)),
        )
        .route("/v1/{token_network}/paths", post(paths::post_paths).layer(small))
        .route("/v1/{token_network}/suggest_partner", get(presence::suggest_partner))
        .route("/v1/{token_network}/feedback", post(feedback::post_feedback).layer(small))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), metrics::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::clone(&state))
        .layer(middleware::from_fn(cors::cors));
    Router::new()
        .nest("/api", api)
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
}

async fn not_found() -> Response {
    let message = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
    (StatusCode::NOT_FOUND, Json(json!({ "message": message }))).into_response()
}

async fn method_not_allowed() -> Response {
    let message = "The method is not allowed for the requested URL.";
    (StatusCode::METHOD_NOT_ALLOWED, Json(json!({ "message": message }))).into_response()
}

/// The checksummed token network of a path segment, if the service follows it (2003/2004).
pub(crate) fn followed_token_network(service: &Service, given: &str) -> Result<Address, ApiError> {
    let address = Address::parse_checksummed(given).map_err(|_| ApiError::token_network(given, false))?;
    if service.snapshot().networks.contains_key(&address) {
        Ok(address)
    } else {
        Err(ApiError::token_network(given, true))
    }
}
