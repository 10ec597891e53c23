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
//! # Payments
//!
//! With a service fee and [`ApiOptions::payments`], the router checks and stores the IOU of every `/paths`
//! request (the `payment` module: the reference's rules and codes 2101–2108, the deposit read
//! from UserDeposit at two confirmed blocks, the ledger updated in one write transaction) and
//! serves `GET …/payment/iou`. A request that finds no route is not charged.
//!
//! # Limits
//! * bodies: [`MAX_BODY_BYTES`] (64 KiB), [`MAX_UPDATES_BODY_BYTES`] (1 MiB) for `/updates`;
//! * at most [`MAX_UPDATES_PER_REQUEST`] (100) updates per request;
//! * every request ends after [`REQUEST_TIMEOUT`] (408 with the JSON error body, code 2313);
//! * rate limits per client IP, per update signer and per IOU sender ([`RateLimits`]), answered
//!   429 with `Retry-After`. The per-IP limit needs the peer address: serve the router with
//!   `into_make_service_with_connect_info::<SocketAddr>()`.
//!
//! # Routes and their documentation
//! The routes are one table ([`routes`] lists it); the OpenAPI 3 document served at
//! `GET /api/v1/openapi.json` ([`OPENAPI_JSON`]) is checked against that table and against the
//! running router by a test.
//!
//! # Deliberate differences from the reference
//! * a syntactically invalid JSON body answers 2000 with `{"json": ["Failed to decode JSON
//!   object: …"]}` instead of the reference's `{"message": …}` body, so there is one error shape;
//! * unknown routes and wrong methods answer JSON (404 `{"message": …}` and 405
//!   `{"message": …}` as flask-restful's 405), not HTML, also outside `/api` (the reference's
//!   werkzeug 404 there is HTML; `POST /metrics` is a JSON 405);
//! * a path parameter that is not UTF-8 once percent-decoded (`%80`) is read with the invalid
//!   bytes replaced, as werkzeug does, and then validated like any other (2003, 2006), instead
//!   of axum's plain-text 400.
#![deny(missing_docs)]

mod body;
mod cors;
mod debug;
mod deposits;
mod error;
mod feedback;
mod info;
mod metrics;
mod paths;
mod payment;
mod presence;
mod rate_limit;
mod segments;
mod updates;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router, middleware};
use pfs_chain::FollowerMetrics;
use pfs_core::{Address, U256};
use pfs_service::Service;
use serde_json::json;

pub use debug::MAX_FAILED_REQUESTS;
pub use error::{ApiError, codes};
pub use payment::PaymentConfig;
pub use rate_limit::{RateLimit, RateLimits};
pub use updates::MAX_UPDATES_PER_REQUEST;

/// The OpenAPI 3 document of the whole API, served at `GET /api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Largest accepted request body, except for `/updates`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest accepted `/updates` body.
pub const MAX_UPDATES_BODY_BYTES: usize = 1024 * 1024;
/// How long one request may take before it is answered 408 ([`codes::REQUEST_TIMEOUT`]).
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

/// How the API runs, beyond what `/info` reports.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// The rate limits.
    pub rate_limits: RateLimits,
    /// Serve the `_debug` endpoints (the reference's `--enable-debug`).
    pub enable_debug: bool,
    /// The chain follower's counters and gauges, exported on `/metrics` (head block, RPC errors,
    /// reorganisations, ...) when a follower runs.
    pub chain: Option<Arc<FollowerMetrics>>,
    /// How paid `/paths` requests are checked, needed when [`ApiConfig::service_fee`] is above
    /// zero; without it a request without an IOU answers 2101 and one with an IOU 2202.
    pub payments: Option<PaymentConfig>,
}

/// Shared by every handler.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) service: Service,
    pub(crate) config: ApiConfig,
    pub(crate) options: ApiOptions,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) limiters: rate_limit::Limiters,
    pub(crate) failed_requests: debug::FailedRequests,
    pub(crate) payments: payment::Payments,
}

/// The shared state handlers extract.
pub(crate) type State = axum::extract::State<Arc<AppState>>;

/// One route: its method and path template (axum's and OpenAPI's `{parameter}` syntax, from the
/// server root).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// The HTTP method (`GET` or `POST`).
    pub method: &'static str,
    /// The path template, e.g. `/api/v1/{token_network}/paths`.
    pub path: String,
}

/// The routes under `/api`, with their handlers and body limits: the one table the router is
/// built from and [`routes`] lists.
fn api_routes(enable_debug: bool) -> Vec<(Method, &'static str, MethodRouter<Arc<AppState>>)> {
    let small = DefaultBodyLimit::max(MAX_BODY_BYTES);
    let mut routes = vec![
        (Method::GET, "/v1/info", get(info::info_v1)),
        (Method::GET, "/v2/info", get(info::info_v2)),
        (Method::GET, "/v1/openapi.json", get(openapi)),
        (Method::GET, "/v1/online_addresses", get(presence::online_addresses)),
        (Method::GET, "/v1/address/{address}/metadata", get(presence::metadata)),
        (
            Method::POST,
            "/v1/updates",
            post(updates::post_updates).layer(DefaultBodyLimit::max(MAX_UPDATES_BODY_BYTES)),
        ),
        (Method::POST, "/v1/{token_network}/paths", post(paths::post_paths).layer(small)),
        (Method::GET, "/v1/{token_network}/payment/iou", get(payment::get_last_iou)),
        (Method::GET, "/v1/{token_network}/suggest_partner", get(presence::suggest_partner)),
        (Method::POST, "/v1/{token_network}/feedback", post(feedback::post_feedback).layer(small)),
    ];
    if enable_debug {
        routes.extend([
            (Method::GET, "/v1/_debug/routes/{token_network}/{source}", get(debug::routes_from_source)),
            (Method::GET, "/v1/_debug/routes/{token_network}/{source}/{target}", get(debug::routes_between)),
            (Method::GET, "/v1/_debug/ious/{source}", get(debug::ious)),
            (Method::GET, "/v1/_debug/stats", get(debug::stats)),
        ]);
    }
    routes
}

/// Every route the router built with `options` serves (`OPTIONS` preflights aside), sorted.
pub fn routes(options: &ApiOptions) -> Vec<Route> {
    let mut routes: Vec<Route> = api_routes(options.enable_debug)
        .into_iter()
        .map(|(method, path, _)| Route { method: method_name(&method), path: format!("/api{path}") })
        .collect();
    routes.push(Route { method: "GET", path: "/metrics".to_owned() });
    routes.sort();
    routes
}

fn method_name(method: &Method) -> &'static str {
    if method == Method::POST { "POST" } else { "GET" }
}

/// The full application with the default options ([`ApiOptions::default`]: default rate
/// limits, no `_debug` endpoints).
pub fn router(service: Service, config: ApiConfig) -> Router {
    router_with(service, config, ApiOptions::default())
}

/// The full application: `/api/...` with CORS, JSON 404/405, rate limits, body limits and
/// timeout, and `/metrics`.
pub fn router_with(service: Service, config: ApiConfig, options: ApiOptions) -> Router {
    let payments = payment::Payments::new(
        config.service_fee,
        config.payment_address,
        service.chain_id(),
        options.payments.clone(),
    );
    let state = Arc::new(AppState {
        service,
        config,
        limiters: rate_limit::Limiters::new(&options.rate_limits),
        metrics: metrics::Metrics::new(),
        failed_requests: debug::FailedRequests::default(),
        payments,
        options,
    });
    let mut api = Router::new();
    for (_, path, handler) in api_routes(state.options.enable_debug) {
        api = api.route(path, handler);
    }
    let api = api
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), metrics::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::clone(&state))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), rate_limit::per_ip))
        .layer(middleware::from_fn(cors::cors));
    Router::new()
        .nest("/api", api)
        .route("/metrics", get(metrics::metrics))
        // Outside `/api` too: JSON 404 and 405 (e.g. `POST /metrics`), never an empty body.
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn(request_timeout))
}

/// Middleware: a request not answered within [`REQUEST_TIMEOUT`] (a slow handler, or a client
/// sending its body too slowly) gets 408 with the JSON error body.
async fn request_timeout(request: axum::extract::Request, next: middleware::Next) -> Response {
    answer_within(REQUEST_TIMEOUT, next.run(request)).await
}

/// `response`, or 408 ([`codes::REQUEST_TIMEOUT`]) if it takes longer than `limit`.
async fn answer_within(limit: Duration, response: impl Future<Output = Response>) -> Response {
    tokio::time::timeout(limit, response).await.unwrap_or_else(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::REQUEST_TIMEOUT,
            "The request took too long to arrive or to answer; try again.",
        )
        .into_response()
    })
}

/// `GET /api/v1/openapi.json`.
async fn openapi() -> Response {
    let mut response = OPENAPI_JSON.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_not_answered_in_time_gets_408_with_the_json_error_body() {
        let response = answer_within(Duration::from_millis(10), std::future::pending()).await;
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()),
            Some("application/json")
        );
        let body = axum::body::to_bytes(response.into_body(), 1024).await.expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["error_code"], 2313);
        assert_eq!(body["error_details"], json!({}));
    }

    #[tokio::test]
    async fn a_request_answered_in_time_is_passed_through() {
        let response =
            answer_within(Duration::from_secs(5), async { StatusCode::IM_A_TEAPOT.into_response() }).await;
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    }
}
