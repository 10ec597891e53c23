//! The HTTP layer: one typed method per Matrix endpoint the crate calls, and [`MatrixError`],
//! which keeps what the retry logic needs (status, `errcode`, `retry_after_ms`).
//!
//! Requests carry the access token as a bearer header; user ids in paths are percent-encoded as
//! path segments. Bodies of error answers are read at most [`MAX_ERROR_BODY_BYTES`] far.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{
    AvatarUrlBody, DisplaynameBody, DummyAuth, ErrorBody, LoginRequest, LoginResponse, PresenceBody, Profile,
    RegisterRequest, SendToDeviceBody, SyncResponse, UserIdentifier,
};

/// Longest error body kept for the error message.
const MAX_ERROR_BODY_BYTES: usize = 2_000;

/// Extra time a long-polling `/sync` may take beyond its `timeout` before the client gives up
/// (the reference's sync latency budget is 15 s).
pub const SYNC_LATENCY_ALLOWANCE: Duration = Duration::from_secs(15);

/// A failed call to the homeserver.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// No answer: connection refused or reset, timeout, TLS failure.
    #[error("{endpoint}: homeserver unreachable: {source}")]
    Transport {
        /// The endpoint called, e.g. `sync`.
        endpoint: &'static str,
        /// The HTTP client's error.
        source: reqwest::Error,
    },
    /// The homeserver answered with an error status.
    #[error("{endpoint}: HTTP {status} {}: {}", errcode.as_deref().unwrap_or("-"), message.as_deref().unwrap_or(""))]
    Status {
        /// The endpoint called.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// The Matrix `errcode`, e.g. `M_LIMIT_EXCEEDED`, if the body had one.
        errcode: Option<String>,
        /// The Matrix `error` text (or the start of a non-Matrix body).
        message: Option<String>,
        /// `retry_after_ms` of an `M_LIMIT_EXCEEDED` answer.
        retry_after: Option<Duration>,
    },
    /// A success status whose body is not the expected JSON.
    #[error("{endpoint}: unexpected answer: {source}")]
    Decode {
        /// The endpoint called.
        endpoint: &'static str,
        /// Why the body did not parse.
        source: serde_json::Error,
    },
}

impl MatrixError {
    /// The Matrix `errcode`, if the homeserver sent one.
    pub fn errcode(&self) -> Option<&str> {
        match self {
            Self::Status { errcode, .. } => errcode.as_deref(),
            _ => None,
        }
    }

    /// Whether the access token is no longer valid (`M_UNKNOWN_TOKEN`): log in again.
    pub fn is_unknown_token(&self) -> bool {
        self.errcode() == Some("M_UNKNOWN_TOKEN")
    }

    /// How long the homeserver asked to wait (`M_LIMIT_EXCEEDED` with `retry_after_ms`, or a
    /// 429 without it, which gets `None` here and the caller's own backoff).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the homeserver refused the request for good (a 4xx other than 429 and
    /// `M_UNKNOWN_TOKEN`): retrying the same request cannot help.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Status { status, .. } => {
                (400..500).contains(status) && *status != 429 && !self.is_unknown_token()
            }
            _ => false,
        }
    }

    /// The HTTP status, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The client-server API of one homeserver.
#[derive(Debug, Clone)]
pub(crate) struct HomeserverApi {
    client: reqwest::Client,
    base: Url,
    request_timeout: Duration,
}

impl HomeserverApi {
    /// A client for the homeserver at `base` (e.g. `https://transport.example.org`).
    pub fn new(base: Url, request_timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build()?;
        Ok(Self { client, base, request_timeout })
    }

    /// `base` + `/_matrix/client/v3/` + the segments, each percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            // A base URL that cannot be a base was refused by `crate::config::parse_homeserver_url`.
            let Ok(mut path) = url.path_segments_mut() else { return url };
            path.pop_if_empty().extend(["_matrix", "client", "v3"]).extend(segments);
        }
        url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<T, MatrixError> {
        let response = request
            .timeout(timeout)
            .send()
            .await
            .map_err(|source| MatrixError::Transport { endpoint, source })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|source| MatrixError::Transport { endpoint, source })?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|source| MatrixError::Decode { endpoint, source });
        }
        Err(status_error(endpoint, status, &body))
    }

    async fn json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        method: Method,
        url: Url,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, MatrixError> {
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.call(endpoint, request, self.request_timeout).await
    }

    /// `GET /_matrix/client/versions`: whether the homeserver answers at all.
    pub async fn versions(&self) -> Result<serde_json::Value, MatrixError> {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["_matrix", "client", "versions"]);
        }
        self.json::<(), _>("versions", Method::GET, url, None, None).await
    }

    /// `POST /login` with `m.login.password`.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        device_id: &str,
    ) -> Result<LoginResponse, MatrixError> {
        let body = LoginRequest {
            login_type: "m.login.password",
            identifier: UserIdentifier { identifier_type: "m.id.user", user },
            password,
            device_id,
            initial_device_display_name: device_id,
        };
        self.json("login", Method::POST, self.url(&["login"]), None, Some(&body)).await
    }

    /// `POST /register` with the dummy stage (homeservers with open registration).
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        device_id: &str,
    ) -> Result<LoginResponse, MatrixError> {
        let body = RegisterRequest {
            username,
            password,
            device_id,
            initial_device_display_name: device_id,
            auth: DummyAuth { auth_type: "m.login.dummy" },
        };
        self.json("register", Method::POST, self.url(&["register"]), None, Some(&body)).await
    }

    /// `GET /profile/{user_id}`.
    pub async fn profile(&self, token: &str, user_id: &str) -> Result<Profile, MatrixError> {
        self.json::<(), _>("profile", Method::GET, self.url(&["profile", user_id]), Some(token), None).await
    }

    /// `PUT /profile/{user_id}/displayname`.
    pub async fn set_displayname(
        &self,
        token: &str,
        user_id: &str,
        displayname: &str,
    ) -> Result<(), MatrixError> {
        let url = self.url(&["profile", user_id, "displayname"]);
        let body = DisplaynameBody { displayname };
        self.json::<_, serde_json::Value>("set displayname", Method::PUT, url, Some(token), Some(&body))
            .await?;
        Ok(())
    }

    /// `PUT /profile/{user_id}/avatar_url`.
    pub async fn set_avatar_url(
        &self,
        token: &str,
        user_id: &str,
        avatar_url: &str,
    ) -> Result<(), MatrixError> {
        let url = self.url(&["profile", user_id, "avatar_url"]);
        let body = AvatarUrlBody { avatar_url };
        self.json::<_, serde_json::Value>("set avatar_url", Method::PUT, url, Some(token), Some(&body))
            .await?;
        Ok(())
    }

    /// `PUT /presence/{user_id}/status`.
    pub async fn set_presence(&self, token: &str, user_id: &str, presence: &str) -> Result<(), MatrixError> {
        let url = self.url(&["presence", user_id, "status"]);
        let body = PresenceBody { presence };
        self.json::<_, serde_json::Value>("set presence", Method::PUT, url, Some(token), Some(&body)).await?;
        Ok(())
    }

    /// `PUT /sendToDevice/{event_type}/{txn_id}`.
    pub async fn send_to_device(
        &self,
        token: &str,
        event_type: &str,
        txn_id: &str,
        body: &SendToDeviceBody<'_>,
    ) -> Result<(), MatrixError> {
        let url = self.url(&["sendToDevice", event_type, txn_id]);
        self.json::<_, serde_json::Value>("sendToDevice", Method::PUT, url, Some(token), Some(body)).await?;
        Ok(())
    }

    /// `GET /sync`, long-polling up to `timeout` for news after `since`.
    pub async fn sync(
        &self,
        token: &str,
        filter: &str,
        since: Option<&str>,
        timeout: Duration,
    ) -> Result<SyncResponse, MatrixError> {
        let mut url = self.url(&["sync"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("filter", filter).append_pair("timeout", &timeout.as_millis().to_string());
            if let Some(since) = since {
                query.append_pair("since", since);
            }
        }
        let request = self.client.get(url).bearer_auth(token);
        self.call("sync", request, timeout + SYNC_LATENCY_ALLOWANCE).await
    }
}

fn status_error(endpoint: &'static str, status: StatusCode, body: &[u8]) -> MatrixError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed.error.or_else(|| {
        let end = body.len().min(MAX_ERROR_BODY_BYTES);
        Some(String::from_utf8_lossy(&body[..end]).into_owned()).filter(|text| !text.is_empty())
    });
    MatrixError::Status {
        endpoint,
        status: status.as_u16(),
        errcode: parsed.errcode,
        message,
        retry_after: parsed.retry_after_ms.map(Duration::from_millis),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_exceeded_carries_retry_after() {
        let error = status_error(
            "sync",
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 1500}"#,
        );
        assert_eq!(error.retry_after(), Some(Duration::from_millis(1500)));
        assert!(!error.is_permanent());
    }

    #[test]
    fn unknown_token_is_recognised_and_not_permanent() {
        let error = status_error(
            "sync",
            StatusCode::UNAUTHORIZED,
            br#"{"errcode": "M_UNKNOWN_TOKEN", "error": "x"}"#,
        );
        assert!(error.is_unknown_token());
        assert!(!error.is_permanent());
    }

    #[test]
    fn forbidden_is_permanent_and_a_non_json_body_is_kept_as_message() {
        let error = status_error("login", StatusCode::FORBIDDEN, b"<html>no</html>");
        assert!(error.is_permanent());
        assert!(error.to_string().contains("<html>no</html>"));
        assert!(!status_error("sync", StatusCode::BAD_GATEWAY, b"").is_permanent());
    }

    #[test]
    fn user_ids_are_encoded_as_path_segments() {
        let api = HomeserverApi::new(Url::parse("http://127.0.0.1:8008/").unwrap(), Duration::from_secs(1))
            .unwrap();
        let url = api.url(&["profile", "@0xab:127.0.0.1:8448/x?y"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8008/_matrix/client/v3/profile/@0xab:127.0.0.1:8448%2Fx%3Fy"
        );
    }
}
