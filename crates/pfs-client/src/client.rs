//! [`PfsClient`]: one method per endpoint, each sending what the light client sends and reading
//! the answer into the types of [`crate::types`], or into a [`ClientError`] that keeps the PFS's
//! `error_code`.

use std::time::{Duration, SystemTime};

use pfs_core::{Address, IouRequest, Message};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ClientError, PfsError};
use crate::iou::{Payer, light_client_timestamp};
use crate::types::{AddressMetadata, PathsAnswer, PathsRequest, PfsInfo, UpdateOutcome};

/// Most updates `POST /api/v1/updates` takes in one request.
pub const MAX_UPDATES_PER_REQUEST: usize = 100;

/// Timeout of every request (the light client's `httpTimeout`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest body excerpt kept in an error.
const BODY_EXCERPT: usize = 500;

/// A client of one PFS. Cloning is cheap (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct PfsClient {
    base_url: String,
    http: reqwest::Client,
}

/// An answer: status and body.
struct Answer {
    url: String,
    status: u16,
    body: String,
}

impl Answer {
    fn unexpected(&self, reason: impl std::fmt::Display) -> ClientError {
        ClientError::UnexpectedAnswer {
            url: self.url.clone(),
            status: self.status,
            reason: reason.to_string(),
            body: self.body.chars().take(BODY_EXCERPT).collect(),
        }
    }

    /// The body as `T` on a 2xx status, the PFS's error on its error JSON, else unexpected.
    fn json<T: DeserializeOwned>(self) -> Result<T, ClientError> {
        if (200..300).contains(&self.status) {
            serde_json::from_str(&self.body).map_err(|error| self.unexpected(error))
        } else {
            Err(self.error())
        }
    }

    fn error(self) -> ClientError {
        match serde_json::from_str::<PfsError>(&self.body) {
            Ok(error) => ClientError::Pfs { url: self.url, status: self.status, error },
            Err(_) => self.unexpected("not the PFS's error JSON"),
        }
    }
}

impl PfsClient {
    /// A client of the PFS at `base_url` (e.g. `http://127.0.0.1:6000`, as registered in the
    /// ServiceRegistry; a trailing `/` is ignored).
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] unless the URL starts with `http://` or `https://`.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let base_url = base_url.trim_end_matches('/');
        let host = base_url.strip_prefix("http://").or_else(|| base_url.strip_prefix("https://"));
        if host.is_none_or(str::is_empty) {
            return Err(ClientError::InvalidUrl(base_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|source| ClientError::Transport { method: "build", url: base_url.to_owned(), source })?;
        Ok(Self { base_url: base_url.to_owned(), http })
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /api/v1/info`.
    ///
    /// # Errors
    /// Transport, an error answer, or a body that is not the info JSON.
    pub async fn info(&self) -> Result<PfsInfo, ClientError> {
        self.get("/api/v1/info").await?.json()
    }

    /// `POST /api/v1/<token network>/paths` without payment (for a free PFS).
    ///
    /// # Errors
    /// [`ClientError::Pfs`] with the PFS's code (2201 no route, 2101 payment required, …),
    /// transport, or an unreadable answer.
    pub async fn paths(
        &self,
        token_network: Address,
        request: &PathsRequest,
    ) -> Result<PathsAnswer, ClientError> {
        let body = serde_json::to_string(request).map_err(|error| ClientError::UnexpectedAnswer {
            url: self.base_url.clone(),
            status: 0,
            reason: format!("request not serialisable: {error}"),
            body: String::new(),
        })?;
        self.post(&format!("/api/v1/{}/paths", token_network.to_checksum()), body).await?.json()
    }

    /// `POST /paths` paid as the light client pays (spec/LIGHT-CLIENT.md §5): nothing when the
    /// PFS's `price_info` is 0; otherwise the cached IOU, or the PFS's last IOU (a signed
    /// `GET /payment/iou`), or a new session, with `amount += price`, signed and sent. The sent
    /// IOU is kept after a success or a 2201, and dropped after any other error.
    ///
    /// # Errors
    /// As [`PfsClient::paths`], plus those of [`PfsClient::last_iou`] and
    /// [`Payer::next_iou`].
    pub async fn paths_paying(
        &self,
        token_network: Address,
        request: &PathsRequest,
        info: &PfsInfo,
        payer: &mut Payer,
    ) -> Result<PathsAnswer, ClientError> {
        if info.price_info.is_zero() {
            return self.paths(token_network, request).await;
        }
        let receiver = info.payment_address;
        let now = SystemTime::now();
        let base = match payer.cached(token_network, receiver) {
            Some(cached) => Some(*cached),
            None => {
                let timestamp = light_client_timestamp(now);
                self.last_iou(token_network, payer.key(), receiver, &timestamp).await?
            }
        };
        let iou = payer.next_iou(base.as_ref(), receiver, info.price_info, now)?;
        let paid = PathsRequest { iou: Some(iou), ..request.clone() };
        let answer = self.paths(token_network, &paid).await;
        match &answer {
            Ok(_) => payer.settle(token_network, iou, None),
            Err(ClientError::Pfs { error, .. }) => payer.settle(token_network, iou, Some(error.error_code)),
            // No answer: the light client neither keeps nor drops the IOU.
            Err(_) => {}
        }
        answer
    }

    /// `GET /api/v1/<token network>/payment/iou`, signed by `key` at `timestamp` (naive UTC, e.g.
    /// [`light_client_timestamp`]): the sender's last unclaimed IOU to `receiver`, or `None` when
    /// the PFS answers 404 (with any body, as the light client reads it).
    ///
    /// # Errors
    /// [`ClientError::UnexpectedAnswer`] for a malformed timestamp or a 2xx without an IOU;
    /// [`ClientError::Pfs`] for the PFS's refusals (2001 bad signature, 2002 outdated).
    pub async fn last_iou(
        &self,
        token_network: Address,
        key: &pfs_core::PrivateKey,
        receiver: Address,
        timestamp: &str,
    ) -> Result<Option<pfs_core::Iou>, ClientError> {
        let request =
            IouRequest::sign(key, receiver, timestamp).map_err(|error| ClientError::UnexpectedAnswer {
                url: self.base_url.clone(),
                status: 0,
                reason: format!("timestamp {timestamp:?}: {error}"),
                body: String::new(),
            })?;
        let path =
            format!("/api/v1/{}/payment/iou?{}", token_network.to_checksum(), request.to_query_string());
        let answer = self.get(&path).await?;
        if answer.status == 404 {
            return Ok(None);
        }
        #[derive(serde::Deserialize)]
        struct LastIou {
            last_iou: pfs_core::Iou,
        }
        answer.json::<LastIou>().map(|body| Some(body.last_iou))
    }

    /// `POST /api/v1/<token network>/feedback`: whether a returned route worked. Returns
    /// whether the PFS accepted it (200); it answers 400 `{}` for unknown or expired tokens.
    ///
    /// # Errors
    /// Transport, or an answer other than 200 / 400 `{}` (e.g. 2004 for an unknown network).
    pub async fn feedback(
        &self,
        token_network: Address,
        token: &str,
        success: bool,
        path: &[Address],
    ) -> Result<bool, ClientError> {
        let body = serde_json::json!({"token": token, "success": success, "path": path}).to_string();
        let answer = self.post(&format!("/api/v1/{}/feedback", token_network.to_checksum()), body).await?;
        match answer.status {
            200 => Ok(true),
            400 if answer.body.trim() == "{}" => Ok(false),
            _ => Err(answer.error()),
        }
    }

    /// `GET /api/v1/address/<address>/metadata`: how to reach an online address.
    ///
    /// # Errors
    /// [`ClientError::Pfs`] with 2203 when the address is not online.
    pub async fn metadata(&self, address: Address) -> Result<AddressMetadata, ClientError> {
        self.get(&format!("/api/v1/address/{}/metadata", address.to_checksum())).await?.json()
    }

    /// `GET /api/v1/online_addresses`.
    ///
    /// # Errors
    /// Transport or an unreadable answer.
    pub async fn online_addresses(&self) -> Result<Vec<Address>, ClientError> {
        self.get("/api/v1/online_addresses").await?.json()
    }

    /// `POST /api/v1/updates` with one message: accepted (200) or deferred (202).
    ///
    /// # Errors
    /// [`ClientError::Pfs`] with the update's code (2300–2310).
    pub async fn post_update(&self, message: &Message) -> Result<UpdateOutcome, ClientError> {
        let answer = self.post("/api/v1/updates", message.to_json()).await?;
        if (200..300).contains(&answer.status) {
            outcome(&answer.body).ok_or_else(|| answer.unexpected("no accepted/deferred status"))
        } else {
            Err(answer.error())
        }
    }

    /// `POST /api/v1/updates` with a batch of at most [`MAX_UPDATES_PER_REQUEST`] messages:
    /// one result per message, in order (its outcome, or the PFS's error for it).
    ///
    /// # Errors
    /// [`ClientError::TooManyUpdates`] before sending; for the request as a whole, transport or an
    /// error answer (e.g. 413, 2310).
    pub async fn post_updates(
        &self,
        messages: &[Message],
    ) -> Result<Vec<Result<UpdateOutcome, PfsError>>, ClientError> {
        if messages.len() > MAX_UPDATES_PER_REQUEST {
            return Err(ClientError::TooManyUpdates(messages.len()));
        }
        let mut body = String::from("[");
        for (index, message) in messages.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            body.push_str(&message.to_json());
        }
        body.push(']');
        #[derive(serde::Deserialize)]
        struct Results {
            results: Vec<Value>,
        }
        let answer = self.post("/api/v1/updates", body).await?;
        let url = answer.url.clone();
        let status = answer.status;
        let results = answer.json::<Results>()?.results;
        if results.len() != messages.len() {
            return Err(ClientError::UnexpectedAnswer {
                url,
                status,
                reason: format!("{} results for {} updates", results.len(), messages.len()),
                body: String::new(),
            });
        }
        results
            .into_iter()
            .map(|result| match outcome(&result.to_string()) {
                Some(outcome) => Ok(Ok(outcome)),
                None => serde_json::from_value::<PfsError>(result.clone()).map(Err).map_err(|_| {
                    ClientError::UnexpectedAnswer {
                        url: url.clone(),
                        status,
                        reason: "a result is neither a status nor an error".to_owned(),
                        body: result.to_string(),
                    }
                }),
            })
            .collect()
    }

    /// Posts updates in batches of [`MAX_UPDATES_PER_REQUEST`] and returns all results in order.
    ///
    /// # Errors
    /// As [`PfsClient::post_updates`], for the first batch that fails as a whole.
    pub async fn post_all_updates(
        &self,
        messages: &[Message],
    ) -> Result<Vec<Result<UpdateOutcome, PfsError>>, ClientError> {
        let mut results = Vec::with_capacity(messages.len());
        for batch in messages.chunks(MAX_UPDATES_PER_REQUEST) {
            results.extend(self.post_updates(batch).await?);
        }
        Ok(results)
    }

    async fn get(&self, path: &str) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base_url);
        let request = self.http.get(&url);
        read(request, "GET", url).await
    }

    async fn post(&self, path: &str, body: String) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base_url);
        let request = self.http.post(&url).header("content-type", "application/json").body(body);
        read(request, "POST", url).await
    }
}

async fn read(
    request: reqwest::RequestBuilder,
    method: &'static str,
    url: String,
) -> Result<Answer, ClientError> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(source) => return Err(ClientError::Transport { method, url, source }),
    };
    let status = response.status().as_u16();
    match response.text().await {
        Ok(body) => Ok(Answer { url, status, body }),
        Err(source) => Err(ClientError::Transport { method, url, source }),
    }
}

/// `{"status": "accepted"}` or `{"status": "deferred"}`.
fn outcome(body: &str) -> Option<UpdateOutcome> {
    let value: Value = serde_json::from_str(body).ok()?;
    match value.get("status")?.as_str()? {
        "accepted" => Some(UpdateOutcome::Accepted),
        "deferred" => Some(UpdateOutcome::Deferred),
        _ => None,
    }
}
