//! What can go wrong talking to a PFS: the PFS's own error answers ([`PfsError`], with its
//! `error_code`) and everything around them (transport, unreadable answers, bad IOUs).

use pfs_core::{Address, MessageError};
use serde::Deserialize;

/// The error codes a client acts on (spec/REFERENCE-PFS.md §1.2 and the pfs-api README).
pub mod codes {
    /// `MissingIOU`: the service charges and no IOU was sent.
    pub const MISSING_IOU: u32 = 2101;
    /// `NoRouteFound`: the only code after which the light client keeps its IOU.
    pub const NO_ROUTE_FOUND: u32 = 2201;
    /// `AddressNotOnline` (metadata).
    pub const ADDRESS_NOT_ONLINE: u32 = 2203;
    /// `POST /api/v1/updates`: the token network is not followed (yet).
    pub const UPDATE_UNKNOWN_TOKEN_NETWORK: u32 = 2303;
    /// `POST /api/v1/updates`: more than 100 updates in one request.
    pub const TOO_MANY_UPDATES: u32 = 2309;
}

/// An error answer of the PFS: `{"errors": <message>, "error_code": <int>, "error_details": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PfsError {
    /// The numeric code, e.g. 2201 for "no route".
    pub error_code: u32,
    /// The human-readable message.
    pub errors: String,
    /// Facts explaining the error; `{}` when there are none.
    #[serde(default)]
    pub error_details: serde_json::Value,
}

impl std::fmt::Display for PfsError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} (error_code {}", self.errors, self.error_code)?;
        match &self.error_details {
            serde_json::Value::Object(details) if !details.is_empty() => {
                write!(formatter, ", details {}", self.error_details)?;
            }
            _ => {}
        }
        write!(formatter, ")")
    }
}

/// Why a call to the PFS failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not an absolute `http(s)://` URL.
    #[error("not an http(s) base URL: {0}")]
    InvalidUrl(String),
    /// The request did not get an answer (refused, timed out, broken connection).
    #[error("{method} {url}: {source}")]
    Transport {
        /// The HTTP method.
        method: &'static str,
        /// The URL.
        url: String,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// The PFS answered with its error JSON.
    #[error("{url} answered {status}: {error}")]
    Pfs {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error as the PFS wrote it.
        error: PfsError,
    },
    /// The answer is not the JSON the endpoint documents.
    #[error("{url} answered {status} with an unexpected body ({reason}): {body}")]
    UnexpectedAnswer {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Why it was not accepted.
        reason: String,
        /// The first 500 characters of the body.
        body: String,
    },
    /// More updates than one request may carry.
    #[error("{0} updates exceed the limit of {MAX} per request", MAX = crate::MAX_UPDATES_PER_REQUEST)]
    TooManyUpdates(usize),
    /// The stored IOU the PFS returned was not signed by this client (the light client's
    /// `PFS_IOU_SIGNATURE_MISMATCH`).
    #[error("the PFS returned an IOU signed by {recovered:?}, not by {expected}")]
    IouSignatureMismatch {
        /// This client's address.
        expected: Address,
        /// Who signed it, if anyone.
        recovered: Option<Address>,
    },
    /// The IOU amount would exceed 2^256 − 1.
    #[error("the IOU amount overflows")]
    IouAmountOverflow,
    /// A message could not be built or signed.
    #[error("message: {0}")]
    Message(#[from] MessageError),
    /// A channel's amounts are inconsistent (e.g. more withdrawn than deposited).
    #[error("channel state: {0}")]
    ChannelState(String),
}

impl ClientError {
    /// The PFS's `error_code`, if the PFS answered with its error JSON.
    pub fn error_code(&self) -> Option<u32> {
        match self {
            Self::Pfs { error, .. } => Some(error.error_code),
            _ => None,
        }
    }
}
