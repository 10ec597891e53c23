//! The PFS's Matrix client: [`MatrixClient::start`] logs in, publishes the PFS's identity and
//! spawns the sync loop, which yields [`SyncBatch`]es on a channel until shut down.
//!
//! The loop, one task:
//! 1. **Snapshot** when needed (at start with a persisted token, and when a homeserver that was
//!    unreachable answers again): a `/sync` without `since`, whose presence is the homeserver's
//!    full current view; its to-device events are left alone (the incremental `/sync` from the
//!    persisted token delivers them, exactly once).
//! 2. **Incremental** `/sync` long-poll from the last token, filter: presence and to-device only.
//! 3. Profiles the answer needs are fetched (bounded concurrency), then the
//!    [`Processor`](crate::processor) turns it into events, which go out as one batch; the loop
//!    waits until the consumer drops the batch before the next `/sync`.
//! 4. Errors: `M_UNKNOWN_TOKEN` → log in again; `M_LIMIT_EXCEEDED` → wait `retry_after_ms`;
//!    anything else → exponential backoff (5 s doubling to 60 s by default). The homeserver going
//!    away and coming back is just a run of such errors.
//! 5. **Probes** of remote homeservers, on a spawned task, after every (re)connection and every
//!    `probe_interval`: a profile lookup of one of its users through the PFS's homeserver, which
//!    makes that homeserver send a federation request (which also ends the remote's backoff towards
//!    it, spec/FEDERATED-PRESENCE.md §5.4). A server failing `probe_attempts` times in a row is
//!    reported as [`MatrixEvent::HomeserverUnreachable`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use pfs_core::PrivateKey;
use pfs_core::matrix_identity::CAPABILITIES_PREFIX;
use reqwest::Url;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::backoff::Backoff;
use crate::events::{MatrixEvent, SyncBatch};
use crate::http::{HomeserverApi, MatrixError};
use crate::login::{self, HomeserverAddress, LoginError, LoginMethod, PFS_DEVICE_ID, Session};
use crate::processor::Processor;
use crate::rate_limit;
use crate::wire::{self, SyncResponse};

/// Everything that tunes the client; [`MatrixConfig::new`] gives the reference's values.
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// The homeserver (`--matrix-server`) and its server name.
    pub homeserver: HomeserverAddress,
    /// The password scheme.
    pub login: LoginMethod,
    /// The device id; clients send updates to `PATH_FINDING`.
    pub device_id: String,
    /// The avatar URL published: the PFS's capabilities (`mxc://raiden.network/cap?`, none).
    pub avatar_url: String,
    /// Long-poll timeout of `/sync`.
    pub sync_timeout: Duration,
    /// Timeout of every other request.
    pub request_timeout: Duration,
    /// First retry delay after a failure.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long [`MatrixClient::start`] keeps retrying an unreachable homeserver.
    pub start_timeout: Duration,
    /// Byte budget per sender and window for to-device bodies.
    pub rate_limit_bytes: u64,
    /// The rate-limit window.
    pub rate_limit_window: Duration,
    /// Longest to-device body read, in characters.
    pub max_body_chars: usize,
    /// Users whose profile and verification are remembered.
    pub max_known_users: usize,
    /// Presence events per `/sync` (the filter's `presence.limit`).
    pub presence_limit: u32,
    /// Profile fetches in flight at once.
    pub profile_concurrency: usize,
    /// Longest one answer (or one retry round) waits for the profiles of users on other
    /// homeservers, which the PFS's homeserver asks over federation. A profile not fetched by
    /// then counts as unavailable (the user is `server_error`, its to-device events are dropped)
    /// and is fetched again after `profile_retry_interval`: homeservers that do not answer cannot
    /// hold up the sync loop longer. Profiles of users on the PFS's own homeserver (where the
    /// nodes that send it to-device updates are) are fetched first, without this budget.
    pub remote_profile_budget: Duration,
    /// Wait before fetching again the profiles that could not be fetched.
    pub profile_retry_interval: Duration,
    /// Period of the remote-homeserver probes.
    pub probe_interval: Duration,
    /// Failed probes in a row that make a homeserver unreachable.
    pub probe_attempts: u32,
    /// Wait between two probes of a failing homeserver.
    pub probe_retry_delay: Duration,
    /// Batches buffered for the consumer.
    pub channel_capacity: usize,
}

impl MatrixConfig {
    /// The reference's settings on `homeserver`: signature login, device `PATH_FINDING`, 5 s → 60 s
    /// backoff, 240 s start timeout, 5,000,000 bytes per 5 minutes per sender, 50,000-character
    /// bodies; and this client's own: 30 s long-poll, probes every 60 s, 3 failures in a row.
    pub fn new(homeserver: HomeserverAddress) -> Self {
        Self {
            homeserver,
            login: LoginMethod::RaidenSignature,
            device_id: PFS_DEVICE_ID.to_owned(),
            avatar_url: CAPABILITIES_PREFIX.to_owned(),
            sync_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            backoff_initial: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
            start_timeout: Duration::from_secs(240),
            rate_limit_bytes: rate_limit::DEFAULT_ALLOWED_BYTES,
            rate_limit_window: rate_limit::DEFAULT_WINDOW,
            max_body_chars: 50_000,
            max_known_users: 1_000_000,
            presence_limit: 100_000,
            profile_concurrency: 8,
            remote_profile_budget: Duration::from_secs(10),
            profile_retry_interval: Duration::from_secs(10),
            probe_interval: Duration::from_secs(60),
            probe_attempts: 3,
            probe_retry_delay: Duration::from_secs(2),
            channel_capacity: 16,
        }
    }
}

/// Why the client did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Login failed for good, or the homeserver stayed unreachable for the whole start timeout.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// Setting the displayname or avatar URL failed.
    #[error("publishing the PFS's displayname and capabilities: {0}")]
    Profile(#[source] MatrixError),
    /// The HTTP client could not be built (TLS backend).
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// The running client. Dropping it stops the sync loop.
#[derive(Debug)]
pub struct MatrixClient {
    user_id: String,
    homeserver: HomeserverAddress,
    connected: watch::Receiver<bool>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MatrixClient {
    /// Logs `key`'s account in (retrying an unreachable homeserver up to `start_timeout`),
    /// publishes its displayname and capabilities, and starts the sync loop from
    /// `initial_sync_token` (the last persisted [`SyncBatch::sync_token`], if any).
    ///
    /// # Errors
    /// [`StartError`] if login is refused, the homeserver stays away, or the profile cannot be set.
    pub async fn start(
        key: PrivateKey,
        config: MatrixConfig,
        initial_sync_token: Option<String>,
    ) -> Result<(Self, mpsc::Receiver<SyncBatch>), StartError> {
        let api = HomeserverApi::new(config.homeserver.url().clone(), config.request_timeout)
            .map_err(StartError::HttpClient)?;
        let deadline = Instant::now() + config.start_timeout;
        let mut backoff = Backoff::new(config.backoff_initial, config.backoff_max);
        let session = loop {
            match login::log_in(&api, &config.homeserver, &key, &config.login, &config.device_id).await {
                Ok(session) => break session,
                Err(error) if error.is_transient() && Instant::now() < deadline => {
                    let retry_after = match &error {
                        LoginError::Unavailable(matrix) => matrix.retry_after(),
                        _ => None,
                    };
                    let delay = backoff.next_delay_honouring(retry_after);
                    tracing::warn!(%error, ?delay, "Matrix login failed, retrying");
                    tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        loop {
            match login::publish_identity(&api, &session, &key, &config.avatar_url).await {
                Ok(()) => break,
                Err(error) if !error.is_permanent() && Instant::now() < deadline => {
                    let delay = backoff.next_delay_honouring(error.retry_after());
                    tracing::warn!(%error, ?delay, "publishing the PFS's identity failed, retrying");
                    tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
                }
                Err(error) => return Err(StartError::Profile(error)),
            }
        }
        backoff.reset();
        tracing::info!(user_id = %session.user_id, homeserver = %config.homeserver, "Matrix client logged in");

        let (batches, receiver) = mpsc::channel(config.channel_capacity.max(1));
        let (connected_sender, connected) = watch::channel(true);
        let (shutdown, shutdown_receiver) = watch::channel(false);
        let runner = Runner {
            processor: Processor::from_config(session.user_id.clone(), &config),
            filter: wire::sync_filter(config.presence_limit),
            backoff,
            snapshot_pending: initial_sync_token.is_some(),
            since: initial_sync_token,
            api,
            key,
            session: session.clone(),
            batches,
            connected: connected_sender,
            shutdown: shutdown_receiver,
            probes: ProbeState::default(),
            profile_retry_at: None,
            config: Arc::new(config.clone()),
        };
        let task = tokio::spawn(runner.run());
        let client = Self {
            user_id: session.user_id,
            homeserver: config.homeserver,
            connected,
            shutdown,
            task: Some(task),
        };
        Ok((client, receiver))
    }

    /// The PFS's Matrix user id (`/api/v1/info`'s `matrix_user_id`).
    pub fn matrix_user_id(&self) -> &str {
        &self.user_id
    }

    /// The homeserver URL (`/api/v1/info`'s `matrix_server`).
    pub fn homeserver_url(&self) -> &Url {
        self.homeserver.url()
    }

    /// The homeserver's server name.
    pub fn server_name(&self) -> &str {
        self.homeserver.server_name()
    }

    /// Whether the last `/sync` succeeded.
    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Stops the sync loop and waits for it to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MatrixClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The result of a probe round: each server and whether it answered; `None` if the PFS's own
/// homeserver did not answer.
type ProbeOutcome = Option<Vec<(String, bool)>>;

/// Remote-homeserver probing state, owned by the loop.
#[derive(Debug, Default)]
struct ProbeState {
    /// The round in flight.
    round: Option<JoinHandle<ProbeOutcome>>,
    /// When the next periodic round is due; `None` = at the next (re)connection.
    next_round: Option<Instant>,
    /// Servers reported unreachable and not seen back yet.
    unreachable: std::collections::BTreeSet<String>,
}

enum Step {
    Synced(Result<SyncResponse, MatrixError>),
    RetryProfiles,
    ProbesDone(ProbeOutcome),
    Shutdown,
}

struct Runner {
    api: HomeserverApi,
    key: PrivateKey,
    config: Arc<MatrixConfig>,
    session: Session,
    processor: Processor,
    filter: String,
    since: Option<String>,
    snapshot_pending: bool,
    backoff: Backoff,
    batches: mpsc::Sender<SyncBatch>,
    connected: watch::Sender<bool>,
    shutdown: watch::Receiver<bool>,
    probes: ProbeState,
    /// When to fetch again the profiles that failed; `None` while none did.
    profile_retry_at: Option<tokio::time::Instant>,
}

impl Runner {
    async fn run(mut self) {
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            self.maybe_start_probes();
            let snapshot = self.snapshot_pending && self.since.is_some();
            let (since, timeout) = if snapshot {
                (None, Duration::ZERO)
            } else {
                (self.since.clone(), self.config.sync_timeout)
            };
            let sync = {
                let api = self.api.clone();
                let token = self.session.access_token.clone();
                let filter = self.filter.clone();
                async move { api.sync(&token, &filter, since.as_deref(), timeout).await }
            };
            let probing = self.probes.round.is_some();
            let retry_at = self.profile_retry_at;
            let round = &mut self.probes.round;
            let shutdown = &mut self.shutdown;
            let step = tokio::select! {
                result = sync => Step::Synced(result),
                // The branch is only polled while `probing`, i.e. while a round exists.
                outcome = async { round.as_mut().expect("a round is in flight").await }, if probing => {
                    Step::ProbesDone(outcome.unwrap_or(None))
                }
                _ = shutdown.changed() => Step::Shutdown,
                () = sleep_until_or_never(retry_at) => Step::RetryProfiles,
            };
            let keep_going = match step {
                Step::Shutdown => false,
                Step::ProbesDone(outcome) => {
                    self.probes.round = None;
                    self.probes_done(outcome).await
                }
                Step::Synced(Ok(response)) => self.synced(response, snapshot).await,
                Step::RetryProfiles => self.retry_profiles().await,
                Step::Synced(Err(error)) => self.failed(error).await,
            };
            if !keep_going {
                if let Some(round) = self.probes.round.take() {
                    round.abort();
                }
                return;
            }
        }
    }

    /// Handles a `/sync` answer; false when the consumer is gone or shutdown was asked.
    async fn synced(&mut self, response: SyncResponse, snapshot: bool) -> bool {
        self.backoff.reset();
        if !*self.connected.borrow() {
            tracing::info!("Matrix sync works again");
            // Reconnected: poke the remote homeservers now.
            self.probes.next_round = None;
        }
        self.connected.send_replace(true);
        self.fetch_profiles(self.processor.profiles_to_fetch(&response, snapshot)).await;
        let events = self.processor.process(&response, snapshot, Instant::now());
        self.schedule_profile_retry();
        for event in &events {
            // News from a server thought unreachable: it is back, and the presence of its other
            // users is re-read from a snapshot.
            if let MatrixEvent::PresenceChanged(changed) = event
                && let Some(server) = crate::processor::server_of(&changed.user_id)
                && self.probes.unreachable.remove(server)
            {
                tracing::info!(server_name = %server, "presence from a homeserver thought unreachable");
                self.snapshot_pending = true;
            }
        }
        let token = if snapshot {
            self.snapshot_pending = false;
            self.since.clone().unwrap_or_default()
        } else {
            self.since = Some(response.next_batch.clone());
            response.next_batch
        };
        self.deliver(token, events).await
    }

    /// Sends a batch and waits until the consumer dropped it.
    async fn deliver(&mut self, sync_token: String, events: Vec<MatrixEvent>) -> bool {
        let (processed, done) = oneshot::channel();
        let batch = SyncBatch { sync_token, events, _processed: Some(processed) };
        tokio::select! {
            sent = self.batches.send(batch) => if sent.is_err() { return false },
            _ = self.shutdown.changed() => return false,
        }
        tokio::select! {
            _ = done => true,
            _ = self.shutdown.changed() => false,
        }
    }

    /// Fetches the profiles again that failed before and reports the users that now verify.
    async fn retry_profiles(&mut self) -> bool {
        self.profile_retry_at = None;
        self.fetch_profiles(self.processor.profiles_to_retry()).await;
        let events = self.processor.process_retried();
        self.schedule_profile_retry();
        if events.is_empty() {
            return true;
        }
        let token = self.since.clone().unwrap_or_default();
        self.deliver(token, events).await
    }

    fn schedule_profile_retry(&mut self) {
        if self.profile_retry_at.is_none() && self.processor.has_unverified() {
            self.profile_retry_at = Some(tokio::time::Instant::now() + self.config.profile_retry_interval);
        }
    }

    async fn fetch_profiles(&mut self, wanted: Vec<String>) {
        let fetcher = ProfileFetcher {
            api: &self.api,
            token: &self.session.access_token,
            concurrency: self.config.profile_concurrency,
        };
        let own_server = crate::processor::server_of(&self.session.user_id).unwrap_or_default();
        fetcher.fetch(&mut self.processor, wanted, own_server, self.config.remote_profile_budget).await;
    }

    /// Handles a failed `/sync`; false when shutdown was asked while waiting.
    async fn failed(&mut self, error: MatrixError) -> bool {
        if *self.connected.borrow() {
            tracing::warn!(%error, "Matrix sync failed");
        } else {
            tracing::debug!(%error, "Matrix sync failed again");
        }
        self.connected.send_replace(false);
        let delay = if error.is_unknown_token() {
            match login::log_in(
                &self.api,
                &self.config.homeserver,
                &self.key,
                &self.config.login,
                &self.config.device_id,
            )
            .await
            {
                Ok(session) => {
                    tracing::info!("Matrix access token was invalid; logged in again");
                    self.session = session;
                    return true;
                }
                Err(login_error) => {
                    tracing::warn!(error = %login_error, "Matrix login again failed");
                    self.backoff.next_delay()
                }
            }
        } else {
            self.backoff.next_delay_honouring(error.retry_after())
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = self.shutdown.changed() => false,
        }
    }

    /// Starts a probe round if one is due and none is running.
    fn maybe_start_probes(&mut self) {
        let due = self.probes.next_round.is_none_or(|next| Instant::now() >= next);
        if self.probes.round.is_some() || !due || !*self.connected.borrow() || self.since.is_none() {
            return;
        }
        let servers = self.processor.remote_servers();
        if servers.is_empty() {
            return;
        }
        self.probes.next_round = Some(Instant::now() + self.config.probe_interval);
        let api = self.api.clone();
        let token = self.session.access_token.clone();
        let config = Arc::clone(&self.config);
        self.probes.round = Some(tokio::spawn(probe_round(api, token, config, servers)));
    }

    /// Applies a probe round's outcome; false when the consumer is gone.
    async fn probes_done(&mut self, outcome: ProbeOutcome) -> bool {
        let Some(outcome) = outcome else { return true };
        let mut events = Vec::new();
        for (server_name, reachable) in outcome {
            if reachable {
                if self.probes.unreachable.remove(&server_name) {
                    tracing::info!(%server_name, "homeserver reachable again; taking a presence snapshot");
                    self.snapshot_pending = true;
                }
            } else if self.probes.unreachable.insert(server_name.clone()) {
                tracing::warn!(%server_name, "homeserver unreachable; its users' presence is unknown");
                self.processor.mark_server_unknown(&server_name);
                events.push(MatrixEvent::HomeserverUnreachable { server_name });
            }
        }
        if events.is_empty() {
            return true;
        }
        let token = self.since.clone().unwrap_or_default();
        self.deliver(token, events).await
    }
}

/// Probes each `(server, user)` through the PFS's homeserver; `None` if the PFS's own homeserver
/// does not answer (then nothing can be said about the others).
async fn probe_round(
    api: HomeserverApi,
    token: String,
    config: Arc<MatrixConfig>,
    servers: Vec<(String, String)>,
) -> ProbeOutcome {
    api.versions().await.ok()?;
    let mut probes = JoinSet::new();
    for (server, user_id) in servers {
        let (api, token, config) = (api.clone(), token.clone(), Arc::clone(&config));
        probes.spawn(async move {
            for attempt in 1..=config.probe_attempts.max(1) {
                match api.profile(&token, &user_id).await {
                    // Any answer from the remote (a profile, or "no such user") shows it is up.
                    Ok(_) => return (server, true),
                    Err(error) if error.status().is_some_and(|status| status < 500 && status != 429) => {
                        return (server, true);
                    }
                    Err(error) => {
                        tracing::debug!(%server, attempt, %error, "homeserver probe failed");
                        if attempt < config.probe_attempts {
                            tokio::time::sleep(config.probe_retry_delay).await;
                        }
                    }
                }
            }
            (server, false)
        });
    }
    let mut outcome = Vec::new();
    while let Some(result) = probes.join_next().await {
        if let Ok(entry) = result {
            outcome.push(entry);
        }
    }
    Some(outcome)
}

/// Fetches profiles for the processor, a bounded number at a time.
struct ProfileFetcher<'a> {
    api: &'a HomeserverApi,
    token: &'a str,
    concurrency: usize,
}

impl ProfileFetcher<'_> {
    /// Records the profiles of `wanted` in `processor`: first those of users on `own_server`,
    /// then the others within `remote_budget`; a remote profile not fetched by then is recorded
    /// as unavailable (see [`MatrixConfig::remote_profile_budget`]).
    async fn fetch(
        &self,
        processor: &mut Processor,
        wanted: Vec<String>,
        own_server: &str,
        remote_budget: Duration,
    ) {
        let (local, remote): (Vec<String>, Vec<String>) =
            wanted.into_iter().partition(|user_id| crate::processor::server_of(user_id) == Some(own_server));
        self.fetch_until(processor, local, None).await;
        let deadline = tokio::time::Instant::now() + remote_budget;
        let unfetched = self.fetch_until(processor, remote, Some(deadline)).await;
        if !unfetched.is_empty() {
            tracing::debug!(count = unfetched.len(), "remote profiles not fetched within the budget");
        }
        for user_id in unfetched {
            processor.record_profile_unavailable(&user_id);
        }
    }

    /// Fetches `users`' profiles into `processor` until done or `deadline`; returns the users
    /// whose profile was not fetched by then (the fetches in flight are abandoned).
    async fn fetch_until(
        &self,
        processor: &mut Processor,
        users: Vec<String>,
        deadline: Option<tokio::time::Instant>,
    ) -> Vec<String> {
        let mut in_flight = JoinSet::new();
        let mut fetching = std::collections::HashSet::new();
        let mut queue = users.into_iter();
        loop {
            while in_flight.len() < self.concurrency.max(1) {
                let Some(user_id) = queue.next() else { break };
                let (api, token) = (self.api.clone(), self.token.to_owned());
                fetching.insert(user_id.clone());
                in_flight.spawn(async move {
                    let answer = api.profile(&token, &user_id).await;
                    (user_id, answer)
                });
            }
            let next = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, in_flight.join_next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
                None => in_flight.join_next().await,
            };
            match next {
                Some(Ok((user_id, answer))) => {
                    fetching.remove(&user_id);
                    processor.record_profile(&user_id, answer);
                }
                Some(Err(error)) => tracing::warn!(%error, "profile fetch task failed"),
                None => return Vec::new(),
            }
        }
        // Dropping the set aborts the fetches in flight.
        fetching.into_iter().chain(queue).collect()
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_or_never(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::ProcessorLimits;
    use crate::rate_limit::ByteRateLimiter;

    /// A "homeserver" that accepts connections and never answers.
    fn tarpit() -> Url {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a loopback port");
        let address = listener.local_addr().expect("bound");
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        Url::parse(&format!("http://{address}")).expect("a URL")
    }

    #[tokio::test]
    async fn homeservers_that_never_answer_hold_profile_fetches_only_for_the_budget() {
        let api = HomeserverApi::new(tarpit(), Duration::from_secs(30)).expect("a client");
        let own = "@0x0000000000000000000000000000000000000001:pfs.server";
        let limits = ProcessorLimits { max_body_chars: 50_000, max_known_users: 1_000 };
        let mut processor = Processor::new(
            own.to_owned(),
            limits,
            ByteRateLimiter::new(1_000_000, rate_limit::DEFAULT_WINDOW),
        );
        let remote: Vec<String> =
            (0..50).map(|index| format!("@0x{:040x}:tarpit{index}.example", index + 2)).collect();
        let fetcher = ProfileFetcher { api: &api, token: "token", concurrency: 8 };
        let started = Instant::now();
        fetcher.fetch(&mut processor, remote.clone(), "pfs.server", Duration::from_millis(300)).await;
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        let presence: Vec<serde_json::Value> = remote
            .iter()
            .map(|user_id| serde_json::json!({"type": "m.presence", "sender": user_id, "content": {"presence": "online"}}))
            .collect();
        let answer: SyncResponse =
            serde_json::from_value(serde_json::json!({"next_batch": "s", "presence": {"events": presence}}))
                .expect("an answer");
        let events = processor.process(&answer, false, Instant::now());
        assert_eq!(events.len(), 50);
        assert!(events.iter().all(|event| matches!(
            event,
            MatrixEvent::PresenceChanged(changed) if changed.presence == pfs_core::presence::UserPresence::ServerError
        )));
        assert_eq!(processor.profiles_to_retry().len(), 50, "fetched again later");
    }
}
