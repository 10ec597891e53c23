//! Real Synapse homeservers on loopback, for integration tests and the devnet (feature
//! `testing`).
//!
//! A [`Homeserver`] is one Synapse process with a config written by `contrib/synapse/make_config.py`
//! in a temporary data directory (deleted on drop), listening on 127.0.0.1 only: plain HTTP for
//! clients, TLS for federation; its server name is `127.0.0.1:<federation port>`. The Python
//! environment comes from `contrib/synapse/install.sh` (idempotent; run once per process). The
//! process gets SIGTERM when the thread that started it ends (Linux `PR_SET_PDEATHSIG`, set by a
//! tiny launcher inside the child, as the presence router's harness does), and is killed on drop,
//! so a test run that dies leaves no homeserver behind. Stop and start again keep the data
//! directory and ports: that is how tests make a homeserver go away and come back.
//!
//! Nothing here depends on the rest of the crate but [`HomeserverAddress`], so it can move to a
//! crate of its own once the devnet needs it too — except [`SyncReader`], the client's reading
//! of `/sync` answers without a homeserver (profiles from a table), for tests that feed it
//! hostile answers.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::login::HomeserverAddress;
pub use sync_reader::{Remembered, SyncReader};

#[cfg(feature = "hostile")]
pub mod hostile;
mod sync_reader;

/// Starts Synapse after asking Linux for SIGTERM when the launching thread ends.
const LINUX_LAUNCHER: &str = "import ctypes, os, signal, sys; \
    ctypes.CDLL(None).prctl(1, signal.SIGTERM); \
    os.getppid() == 1 and sys.exit('parent gone'); \
    os.execv(sys.executable, [sys.executable, '-m', 'synapse.app.homeserver', *sys.argv[1:]])";

/// How long a homeserver may take to answer after its start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping homeserver gets before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a homeserver could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TestingError {
    /// `contrib/synapse/install.sh` failed.
    #[error("installing Synapse (contrib/synapse/install.sh) failed: {0}")]
    Install(String),
    /// Writing the config or starting the process failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// `make_config.py` refused the options.
    #[error("make_config.py failed: {0}")]
    Config(String),
    /// The process exited or did not answer in time.
    #[error("homeserver {server_name} did not start: {reason}\n{log}")]
    Start {
        /// Its server name.
        server_name: String,
        /// What happened.
        reason: String,
        /// The end of its logs.
        log: String,
    },
}

/// What differs between homeservers.
#[derive(Debug, Clone, Default)]
pub struct HomeserverOptions {
    /// Client port; a free one if `None`.
    pub client_port: Option<u16>,
    /// Federation port (the server name's port); a free one if `None`. Reserve it with
    /// [`free_port`] to know the server name before the homeserver exists.
    pub federation_port: Option<u16>,
    /// PFS user ids the presence router routes to; no router if this and `pfs_info_urls` are
    /// empty.
    pub pfs_user_ids: Vec<String>,
    /// PFS base URLs whose `/api/v1/info` names the `matrix_user_id` to route to (refreshed
    /// every `--refresh-seconds`, given in `extra_arguments`).
    pub pfs_info_urls: Vec<String>,
    /// Load Raiden's signature login module (`contrib/eth-auth-provider`).
    pub eth_auth: bool,
    /// Open registration, cheap hashing, no rate limits (`--testing`).
    pub testing: bool,
    /// Further `make_config.py` arguments, e.g. `["--repush-seconds", "2"]`.
    pub extra_arguments: Vec<String>,
    /// Keep the data (database, config, logs) in this directory, created if missing and left in
    /// place on drop; a temporary directory, deleted on drop, if `None`.
    pub data_dir: Option<PathBuf>,
}

/// Where a homeserver's data lives.
#[derive(Debug)]
enum DataDir {
    /// Deleted on drop.
    Temporary(tempfile::TempDir),
    /// Kept.
    Kept(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            Self::Temporary(dir) => dir.path(),
            Self::Kept(path) => path,
        }
    }
}

/// One Synapse process on loopback.
#[derive(Debug)]
pub struct Homeserver {
    data_dir: DataDir,
    config_path: PathBuf,
    client_port: u16,
    federation_port: u16,
    process: Option<Child>,
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// # Panics
/// If the OS cannot bind any loopback port (the machine is unusable for these tests).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("binding a loopback port");
    listener.local_addr().expect("a bound socket has an address").port()
}

/// The root of this repository (where `contrib/` is).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the Synapse venv; runs `contrib/synapse/install.sh` the first time.
///
/// # Errors
/// [`TestingError::Install`] with the script's output if it fails.
pub fn synapse_python() -> Result<PathBuf, TestingError> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let output = std::process::Command::new(repo_root().join("contrib/synapse/install.sh"))
                .stderr(Stdio::inherit())
                .output()
                .map_err(|error| error.to_string())?;
            if !output.status.success() {
                return Err(format!("exit status {}", output.status));
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            let venv = stdout.lines().last().unwrap_or_default().trim().to_owned();
            Ok(Path::new(&venv).join("bin/python"))
        })
        .clone()
        .map_err(TestingError::Install)
}

impl Homeserver {
    /// Writes the config of a new homeserver in a fresh temporary directory, without starting it.
    ///
    /// # Errors
    /// [`TestingError`] if Synapse cannot be installed or the config not written.
    pub fn create(options: &HomeserverOptions) -> Result<Self, TestingError> {
        let python = synapse_python()?;
        let data_dir = match &options.data_dir {
            Some(path) => {
                std::fs::create_dir_all(path).map_err(|source| TestingError::Io {
                    context: format!("creating {}", path.display()),
                    source,
                })?;
                DataDir::Kept(path.clone())
            }
            None => DataDir::Temporary(
                tempfile::Builder::new()
                    .prefix("pfs-matrix-synapse-")
                    .tempdir()
                    .map_err(|source| TestingError::Io { context: "temporary directory".into(), source })?,
            ),
        };
        let client_port = options.client_port.unwrap_or_else(free_port);
        let federation_port = options.federation_port.unwrap_or_else(free_port);
        let mut command = std::process::Command::new(python);
        command
            .arg(repo_root().join("contrib/synapse/make_config.py"))
            .arg("--data-dir")
            .arg(data_dir.path())
            .args([
                "--client-port",
                &client_port.to_string(),
                "--federation-port",
                &federation_port.to_string(),
            ]);
        if options.pfs_user_ids.is_empty() && options.pfs_info_urls.is_empty() {
            command.arg("--no-router");
        }
        for user_id in &options.pfs_user_ids {
            command.args(["--pfs-user-id", user_id]);
        }
        for url in &options.pfs_info_urls {
            command.args(["--pfs-info-url", url]);
        }
        if options.eth_auth {
            command.arg("--eth-auth");
        }
        if options.testing {
            command.arg("--testing");
        }
        command.args(&options.extra_arguments);
        let output = command
            .output()
            .map_err(|source| TestingError::Io { context: "running make_config.py".into(), source })?;
        if !output.status.success() {
            return Err(TestingError::Config(String::from_utf8_lossy(&output.stderr).into_owned()));
        }
        let config_path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        Ok(Self { data_dir, config_path, client_port, federation_port, process: None })
    }

    /// [`Homeserver::create`] and [`Homeserver::start`].
    ///
    /// # Errors
    /// See both.
    pub async fn launch(options: &HomeserverOptions) -> Result<Self, TestingError> {
        let mut homeserver = Self::create(options)?;
        homeserver.start().await?;
        Ok(homeserver)
    }

    /// Starts the process (again) and returns once its client and federation listeners answer.
    ///
    /// # Errors
    /// [`TestingError::Start`] with the end of the logs if it exits or does not answer in 60 s.
    pub async fn start(&mut self) -> Result<(), TestingError> {
        if self.process.is_some() {
            return Ok(());
        }
        let python = synapse_python()?;
        let output_path = self.data_dir.path().join("process-output.log");
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&output_path)
            .map_err(|source| TestingError::Io { context: "process log".into(), source })?;
        let errors = output
            .try_clone()
            .map_err(|source| TestingError::Io { context: "process log".into(), source })?;
        let launcher: Vec<&str> = if cfg!(target_os = "linux") {
            vec!["-c", LINUX_LAUNCHER]
        } else {
            vec!["-m", "synapse.app.homeserver"]
        };
        let child = Command::new(python)
            .args(launcher)
            .arg("-c")
            .arg(&self.config_path)
            .current_dir(self.data_dir.path())
            .stdout(output)
            .stderr(errors)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| TestingError::Io { context: "starting Synapse".into(), source })?;
        self.process = Some(child);
        self.wait_until_ready().await
    }

    async fn wait_until_ready(&mut self) -> Result<(), TestingError> {
        let client = reqwest::Client::new();
        let versions = format!("{}/_matrix/client/versions", self.url());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(process) = self.process.as_mut()
                && let Ok(Some(status)) = process.try_wait()
            {
                self.process = None;
                return Err(self.start_error(format!("exited with {status}")));
            }
            let client_answers = client
                .get(&versions)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            let federation_listens = TcpStream::connect(("127.0.0.1", self.federation_port)).is_ok();
            if client_answers && federation_listens {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop().await;
                return Err(self.start_error(format!("no answer within {START_TIMEOUT:?}")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn start_error(&self, reason: String) -> TestingError {
        TestingError::Start { server_name: self.server_name(), reason, log: self.log_tail(40) }
    }

    /// Stops the process: SIGTERM, then SIGKILL after 10 s. The data directory stays.
    pub async fn stop(&mut self) {
        let Some(mut process) = self.process.take() else { return };
        if let Some(pid) = process.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
        if tokio::time::timeout(STOP_TIMEOUT, process.wait()).await.is_err() {
            let _ = process.kill().await;
        }
    }

    /// Kills the process at once (SIGKILL), like a crash. The data directory stays.
    pub async fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill().await;
        }
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// The process id while it runs (of the launcher, which `exec`s Synapse in place).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Child::id)
    }

    /// `Some(status)` if the process has exited since it was started, `None` while it runs or
    /// when it was stopped on purpose.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.process.as_mut().and_then(|process| process.try_wait().ok().flatten())
    }

    /// The client-server base URL, `http://127.0.0.1:<client port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The server name, `127.0.0.1:<federation port>`.
    pub fn server_name(&self) -> String {
        format!("127.0.0.1:{}", self.federation_port)
    }

    /// URL and server name, for logging in.
    ///
    /// # Panics
    /// Never: the URL and server name are well-formed by construction.
    pub fn address(&self) -> HomeserverAddress {
        HomeserverAddress::new(&self.url(), Some(&self.server_name())).expect("loopback URL and server name")
    }

    /// The data directory (database, logs).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The last `lines` lines of the process output and of `homeserver.log`.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        for name in ["process-output.log", "homeserver.log"] {
            if let Ok(content) = std::fs::read_to_string(self.data_dir.path().join(name)) {
                let all: Vec<&str> = content.lines().collect();
                text.push_str(&format!(
                    "--- {name}\n{}\n",
                    all[all.len().saturating_sub(lines)..].join("\n")
                ));
            }
        }
        text
    }
}

impl HomeserverOptions {
    /// A node homeserver as the tests use it: Raiden's signature login, open registration and no
    /// rate limits (`testing`), fast federation retries (2 s, as recommended for node
    /// homeservers), and a presence router to `pfs_user_ids`.
    pub fn routing_to(pfs_user_ids: Vec<String>) -> Self {
        Self {
            pfs_user_ids,
            eth_auth: true,
            testing: true,
            extra_arguments: vec!["--min-retry-interval".into(), "2s".into()],
            ..Self::default()
        }
    }
}

/// A PFS client configuration for tests: short sync timeout, quick retries and probes.
pub fn fast_config(homeserver: HomeserverAddress) -> crate::MatrixConfig {
    let mut config = crate::MatrixConfig::new(homeserver);
    config.sync_timeout = Duration::from_secs(5);
    config.backoff_initial = Duration::from_millis(200);
    config.backoff_max = Duration::from_secs(1);
    config.start_timeout = Duration::from_secs(30);
    config.probe_interval = Duration::from_secs(2);
    config.probe_retry_delay = Duration::from_millis(300);
    config.request_timeout = Duration::from_secs(10);
    config.profile_retry_interval = Duration::from_secs(1);
    config
}

/// Logs in one node per key on `homeserver` (Raiden's signature login) and publishes each
/// one's identity with Raiden's default capabilities, `concurrency` at a time; in key order.
///
/// # Errors
/// The first [`crate::NodeError`] of any node.
pub async fn log_in_nodes(
    homeserver: &HomeserverAddress,
    keys: Vec<pfs_core::PrivateKey>,
    concurrency: usize,
) -> Result<Vec<crate::NodeSession>, crate::NodeError> {
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(keys.len());
    for key in keys {
        let (limit, homeserver) = (std::sync::Arc::clone(&limit), homeserver.clone());
        tasks.push(tokio::spawn(async move {
            // Invariant: the semaphore is never closed.
            let _permit = limit.acquire().await.expect("semaphore open");
            let node = crate::NodeSession::log_in(
                &homeserver,
                key,
                &crate::LoginMethod::RaidenSignature,
                crate::NODE_DEVICE_ID,
            )
            .await?;
            node.publish_identity(&pfs_core::matrix_identity::Capabilities::raiden_default()).await?;
            Ok::<_, crate::NodeError>(node)
        }));
    }
    let mut nodes = Vec::with_capacity(tasks.len());
    for task in tasks {
        // Invariant: the tasks do not panic (errors are values).
        nodes.push(task.await.expect("login task")?);
    }
    Ok(nodes)
}

/// Sets `presence` for every node, `concurrency` `PUT`s in flight; returns when all were sent.
///
/// # Errors
/// The first [`crate::NodeError`] of any node.
pub async fn set_presences(
    nodes: &[std::sync::Arc<crate::NodeSession>],
    presence: pfs_core::presence::UserPresence,
    concurrency: usize,
) -> Result<(), crate::NodeError> {
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(nodes.len());
    for node in nodes {
        let (limit, node) = (std::sync::Arc::clone(&limit), std::sync::Arc::clone(node));
        tasks.push(tokio::spawn(async move {
            // Invariant: the semaphore is never closed.
            let _permit = limit.acquire().await.expect("semaphore open");
            node.set_presence(presence).await
        }));
    }
    for task in tasks {
        // Invariant: the tasks do not panic (errors are values).
        task.await.expect("presence task")?;
    }
    Ok(())
}

/// Median and 95th percentile of `samples`, in milliseconds (nearest rank); `(NaN, NaN)` for
/// no samples.
pub fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort_unstable();
    let at = |fraction: f64| {
        let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
        samples[index].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.95))
}

/// Prints `label: n=… median … ms, p95 … ms` for a measurement's samples.
pub fn print_percentiles(label: &str, samples: &mut [Duration]) {
    let (median, p95) = percentiles(samples);
    println!("{label}: n={} median {median:.1} ms, p95 {p95:.1} ms", samples.len());
}

/// Whether long measurements are asked for (`RAIDEN_PFS_LONG_MEASUREMENTS=1`); says how to ask
/// when they are not.
pub fn long_measurements_enabled() -> bool {
    let enabled = std::env::var("RAIDEN_PFS_LONG_MEASUREMENTS").is_ok_and(|value| value == "1");
    if !enabled {
        eprintln!("skipped: set RAIDEN_PFS_LONG_MEASUREMENTS=1");
    }
    enabled
}
