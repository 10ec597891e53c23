//! The one error type of the API, rendered as the reference renders `ApiException`s:
//! `{"errors": <message>, "error_code": <int>, "error_details": {...}}` — details never `null`,
//! addresses in them checksummed.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pfs_core::{Address, U256};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// `error_details`: keys in order, values as exact JSON (big integers stay exact).
pub type Details = std::collections::BTreeMap<String, Box<RawValue>>;

/// An error answer: status, code, message and details.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The numeric `error_code`.
    pub code: u16,
    /// The human message (`errors`).
    pub message: String,
    /// `error_details`, possibly empty.
    pub details: Details,
}

/// Error codes of the reference (§1.2) and of `POST /api/v1/updates` (2300–2399, this service's
/// own range).
pub mod codes {
    /// "JSON payload expected".
    pub const JSON_PAYLOAD_EXPECTED: u16 = 0;
    /// Schema validation failed.
    pub const INVALID_REQUEST: u16 = 2000;
    /// The token network in the URL is not checksummed.
    pub const INVALID_TOKEN_NETWORK: u16 = 2003;
    /// The token network is not followed.
    pub const UNSUPPORTED_TOKEN_NETWORK: u16 = 2004;
    /// The address in the URL is not checksummed.
    pub const INVALID_ADDRESS: u16 = 2006;
    /// The IOU-request signature does not recover the sender, or the IOU's does not.
    pub const INVALID_SIGNATURE: u16 = 2001;
    /// The IOU request's timestamp is more than an hour old.
    pub const REQUEST_OUTDATED: u16 = 2002;
    /// The IOU is for another chain.
    pub const UNSUPPORTED_CHAIN_ID: u16 = 2005;
    /// Fee > 0 and no IOU.
    pub const MISSING_IOU: u16 = 2101;
    /// The IOU pays another receiver.
    pub const WRONG_IOU_RECIPIENT: u16 = 2102;
    /// A new session whose `claimable_until` is less than 7 days away.
    pub const IOU_EXPIRED_TOO_EARLY: u16 = 2103;
    /// The IOU does not add the fee to the session's amount.
    pub const INSUFFICIENT_SERVICE_PAYMENT: u16 = 2104;
    /// The session was claimed; start a new one.
    pub const IOU_ALREADY_CLAIMED: u16 = 2105;
    /// Another session of the sender is active; raise its IOU.
    pub const USE_THIS_IOU: u16 = 2106;
    /// The sender's UserDeposit balance is below twice the expected amount.
    pub const DEPOSIT_TOO_LOW: u16 = 2107;
    /// The IOU names another OneToN contract.
    pub const WRONG_ONE_TO_N_ADDRESS: u16 = 2108;
    /// No route.
    pub const NO_ROUTE_FOUND: u16 = 2201;
    /// The service failed internally.
    pub const INCONSISTENT_INTERNAL_STATE: u16 = 2202;
    /// The address has no online Matrix user.
    pub const ADDRESS_NOT_ONLINE: u16 = 2203;
    /// An update that is not a readable `PFSCapacityUpdate`/`PFSFeeUpdate`.
    pub const MALFORMED_UPDATE: u16 = 2300;
    /// The signature does not recover the updating participant.
    pub const UPDATE_INVALID_SIGNATURE: u16 = 2301;
    /// The update is for another chain.
    pub const UPDATE_WRONG_CHAIN: u16 = 2302;
    /// The update's token network is not followed.
    pub const UPDATE_UNKNOWN_TOKEN_NETWORK: u16 = 2303;
    /// The updating participant is not in the channel.
    pub const UPDATE_NOT_PARTICIPANT: u16 = 2304;
    /// The other participant is not the updating participant's partner.
    pub const UPDATE_OTHER_NOT_PARTICIPANT: u16 = 2305;
    /// A capacity update with a lower nonce than the stored one.
    pub const UPDATE_STALE_NONCE: u16 = 2306;
    /// A fee update not newer than the stored schedule.
    pub const UPDATE_STALE_TIMESTAMP: u16 = 2307;
    /// A fee update more than an hour in the future.
    pub const UPDATE_TIMESTAMP_IN_FUTURE: u16 = 2308;
    /// More updates in one request than allowed.
    pub const TOO_MANY_UPDATES: u16 = 2309;
    /// The update could not be made durable (try again).
    pub const UPDATE_NOT_COMMITTED: u16 = 2310;
    /// The request body exceeds the endpoint's size limit (HTTP 413).
    pub const BODY_TOO_LARGE: u16 = 2311;
    /// A rate limit is exceeded (HTTP 429 with `Retry-After`; in an update batch, the entry of
    /// each refused update). Details: `limit` (`ip`, `update_signer`, `iou_sender`) and
    /// `retry_after` (seconds).
    pub const RATE_LIMITED: u16 = 2312;
    /// The request was not answered within [`crate::REQUEST_TIMEOUT`] (HTTP 408), e.g. a body
    /// sent too slowly.
    pub const REQUEST_TIMEOUT: u16 = 2313;
}

impl ApiError {
    /// An error with empty details.
    pub fn new(status: StatusCode, code: u16, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Details::new() }
    }

    /// Adds one detail.
    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Serialize) -> Self {
        // Invariant: the values given are plain data (strings, numbers, maps), which serialise.
        if let Ok(raw) = serde_json::value::to_raw_value(&value) {
            self.details.insert(key.to_owned(), raw);
        }
        self
    }

    /// Adds one detail given as exact JSON.
    #[must_use]
    pub fn raw_detail(mut self, key: &str, value: Box<RawValue>) -> Self {
        self.details.insert(key.to_owned(), value);
        self
    }

    /// 0: the body is missing, empty or not JSON.
    pub fn json_payload_expected() -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::JSON_PAYLOAD_EXPECTED, "JSON payload expected")
    }

    /// 2000 with marshmallow-style details (`{"field": ["message"]}`).
    pub fn invalid_request(details: Map<String, Value>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: codes::INVALID_REQUEST,
            message: "Request parameter failed validation. See `error_details`.".to_owned(),
            details: details
                .into_iter()
                .filter_map(|(key, value)| Some((key, serde_json::value::to_raw_value(&value).ok()?)))
                .collect(),
        }
    }

    /// 2003 or 2004 for a token network path segment.
    pub fn token_network(given: &str, checksummed: bool) -> Self {
        let error = if checksummed {
            Self::new(
                StatusCode::BAD_REQUEST,
                codes::UNSUPPORTED_TOKEN_NETWORK,
                "This service does not work on the given token network.",
            )
        } else {
            Self::new(
                StatusCode::BAD_REQUEST,
                codes::INVALID_TOKEN_NETWORK,
                "The token network needs to be given as a checksummed address",
            )
        };
        error.detail("token_network", given)
    }

    /// 2201 with the request's endpoints and value.
    pub fn no_route(message: String, from: &Address, to: &Address, value: &U256) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NO_ROUTE_FOUND, message)
            .detail("from_", from.to_checksum())
            .detail("to", to.to_checksum())
            .raw_detail("value", pfs_core::integer::to_json_number(value))
    }

    /// 2202: something failed inside the service.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INCONSISTENT_INTERNAL_STATE,
            "The pathfinding service is temporarily in an inconsistent state. Please try again.",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody { errors: &self.message, error_code: self.code, error_details: &self.details }
    }
}

/// The wire shape of an [`ApiError`].
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The message.
    pub errors: &'a str,
    /// The code.
    pub error_code: u16,
    /// The details, `{}` when none.
    pub error_details: &'a Details,
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    /// A body that could not be read: over the size limit (413, [`codes::BODY_TOO_LARGE`]), or
    /// broken off by the client (400, [`codes::JSON_PAYLOAD_EXPECTED`]). Rendered as the standard
    /// JSON error body instead of axum's plain text.
    fn from(rejection: axum::extract::rejection::BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(StatusCode::PAYLOAD_TOO_LARGE, codes::BODY_TOO_LARGE, "The request body is too large.")
        } else {
            Self::json_payload_expected()
        }
    }
}

impl IntoResponse for ApiError {
    /// The JSON body with the status; a 429 also gets `Retry-After` from its `retry_after`
    /// detail.
    fn into_response(self) -> Response {
        let retry_after = (self.status == StatusCode::TOO_MANY_REQUESTS)
            .then(|| self.details.get("retry_after"))
            .flatten()
            .and_then(|seconds| axum::http::HeaderValue::from_str(seconds.get()).ok());
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds);
        }
        response
    }
}
