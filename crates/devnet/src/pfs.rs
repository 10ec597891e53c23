//! The PFS of a devnet: `raiden-pfs serve` as a child process, configured through its `PFS_*`
//! environment variables, with its SQLite database and log in the devnet folder.
//!
//! The binary is given (tests pass `env!("CARGO_BIN_EXE_raiden-pfs")`, the `devnet` binary
//! looks next to itself), so the devnet runs exactly the build under test. The port is reserved
//! before the start because the presence router's config and the ServiceRegistry entry need the
//! URL before the PFS exists. On Linux the process is started through `setpriv --pdeathsig TERM`,
//! so it stops even if the devnet is killed hard; the handle stops it (SIGTERM, then SIGKILL) on
//! drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};

use crate::accounts::NodeAccount;

/// How long the PFS may take to answer `/api/v1/info` after its start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping PFS gets before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the PFS process.
#[derive(Debug, thiserror::Error)]
pub enum PfsError {
    /// A file could not be made or the process not spawned.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path it was done on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The binary does not exist.
    #[error("the raiden-pfs binary {0} does not exist; build it with `cargo build -p raiden-pfs`")]
    MissingBinary(PathBuf),
    /// The process exited during its start.
    #[error("raiden-pfs exited during start-up ({status}); last log lines:\n{log_tail}")]
    ExitedDuringStart {
        /// Its exit status.
        status: ExitStatus,
        /// The end of its log.
        log_tail: String,
    },
    /// The process did not answer in time.
    #[error("raiden-pfs did not answer /api/v1/info within {timeout:?}; last log lines:\n{log_tail}")]
    StartTimeout {
        /// The timeout.
        timeout: Duration,
        /// The end of its log.
        log_tail: String,
    },
}

/// How to run the PFS.
#[derive(Debug, Clone)]
pub struct PfsOptions {
    /// The `raiden-pfs` binary.
    pub binary: PathBuf,
    /// Fee per path request (`PFS_SERVICE_FEE`), in service-token units.
    pub service_fee: U256,
    /// Blocks before events count (`PFS_CONFIRMATIONS`).
    pub confirmations: u64,
    /// The PFS's account.
    pub account: NodeAccount,
}

impl PfsOptions {
    /// Runs `binary` with no service fee, 1 confirmation and the devnet's deterministic PFS key.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            service_fee: U256::ZERO,
            confirmations: 1,
            account: NodeAccount::derive(b"raiden-pfs devnet pfs", 0),
        }
    }
}

/// Where the PFS connects to.
#[derive(Debug, Clone)]
pub struct PfsEnvironment {
    /// anvil's JSON-RPC URL.
    pub eth_rpc: String,
    /// The chain id.
    pub chain_id: u64,
    /// TokenNetworkRegistry.
    pub token_network_registry: Address,
    /// UserDeposit.
    pub user_deposit: Address,
    /// OneToN.
    pub one_to_n: Address,
    /// The block to start following at.
    pub start_block: u64,
    /// The Matrix homeserver's URL and server name, if Matrix runs.
    pub matrix_server: Option<(String, String)>,
}

/// A running `raiden-pfs serve`. Dropping it stops the process.
#[derive(Debug)]
pub struct PfsProcess {
    child: Option<Child>,
    port: u16,
    address: Address,
    database: PathBuf,
    log: PathBuf,
}

impl PfsProcess {
    /// Starts the PFS on 127.0.0.1:`port` with its database and log in `dir`, and waits until
    /// `/api/v1/info` answers.
    ///
    /// # Errors
    /// The binary is missing, the process cannot be spawned, exits, or does not answer in 60 s.
    pub async fn start(
        options: &PfsOptions,
        environment: &PfsEnvironment,
        dir: &Path,
        port: u16,
    ) -> Result<Self, PfsError> {
        if !options.binary.is_file() {
            return Err(PfsError::MissingBinary(options.binary.clone()));
        }
        std::fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        let log = dir.join("pfs.log");
        let database = dir.join("pfs.db");
        let log_file = File::create(&log).map_err(io_error("create", &log))?;
        let log_errors = log_file.try_clone().map_err(io_error("clone", &log))?;
        let mut command = launcher(&options.binary);
        command
            .arg("serve")
            .env("PFS_ETH_RPC", &environment.eth_rpc)
            .env("PFS_CHAIN_ID", environment.chain_id.to_string())
            .env("PFS_TOKEN_NETWORK_REGISTRY_ADDRESS", environment.token_network_registry.to_checksum(None))
            .env("PFS_USER_DEPOSIT_ADDRESS", environment.user_deposit.to_checksum(None))
            .env("PFS_ONE_TO_N_ADDRESS", environment.one_to_n.to_checksum(None))
            .env("PFS_START_BLOCK", environment.start_block.to_string())
            .env("PFS_CONFIRMATIONS", options.confirmations.to_string())
            .env("PFS_PRIVATE_KEY", options.account.secret_key_hex())
            .env("PFS_DB", &database)
            .env("PFS_HOST", "127.0.0.1")
            .env("PFS_PORT", port.to_string())
            .env("PFS_SERVICE_FEE", options.service_fee.to_string())
            .env("PFS_OPERATOR", "raiden-pfs devnet")
            .env("PFS_INFO_MESSAGE", "a PFS on a local devnet")
            .env_remove("PFS_MATRIX_SERVER")
            .env_remove("PFS_MATRIX_SERVER_NAME")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_errors);
        if let Some((url, server_name)) = &environment.matrix_server {
            command.env("PFS_MATRIX_SERVER", url).env("PFS_MATRIX_SERVER_NAME", server_name);
        }
        let child = command.spawn().map_err(io_error("spawn", &options.binary))?;
        let mut pfs = Self { child: Some(child), port, address: options.account.address(), database, log };
        pfs.wait_until_ready().await?;
        Ok(pfs)
    }

    async fn wait_until_ready(&mut self) -> Result<(), PfsError> {
        let info = format!("{}/api/v1/info", self.url());
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Err(PfsError::ExitedDuringStart { status, log_tail: self.log_tail(30) });
            }
            let answered = http
                .get(&info)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if answered {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                self.stop();
                return Err(PfsError::StartTimeout { timeout: START_TIMEOUT, log_tail: self.log_tail(30) });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The PFS's address (its payment address and Matrix identity).
    pub fn address(&self) -> Address {
        self.address
    }

    /// The SQLite database file.
    pub fn database(&self) -> &Path {
        &self.database
    }

    /// The database as a URL, `sqlite:///abs/path/pfs.db`.
    pub fn database_url(&self) -> String {
        let absolute = std::path::absolute(&self.database).unwrap_or_else(|_| self.database.clone());
        format!("sqlite://{}", absolute.display())
    }

    /// The log file (standard output and error).
    pub fn log_file(&self) -> &Path {
        &self.log
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(status)` once the process has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|child| child.try_wait().ok().flatten())
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops the process: SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        crate::process::terminate(&mut child, STOP_TIMEOUT);
    }
}

impl Drop for PfsProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `setpriv --pdeathsig TERM -- binary` where `setpriv` exists (Linux), else `binary`.
fn launcher(binary: &Path) -> Command {
    const SETPRIV: &str = "/usr/bin/setpriv";
    if cfg!(target_os = "linux") && Path::new(SETPRIV).is_file() {
        let mut command = Command::new(SETPRIV);
        command.args(["--pdeathsig", "TERM", "--"]).arg(binary);
        command
    } else {
        Command::new(binary)
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PfsError {
    let path = path.to_path_buf();
    move |source| PfsError::Io { action, path, source }
}
