//! The devnet as one value: [`Devnet::builder`] installs the tools, starts anvil, deploys the
//! contracts, funds the node accounts and opens their channels; dropping the [`Devnet`] stops
//! everything it started and removes its folder if it made a temporary one.
//!
//! The builder is where later parts slot in (Matrix homeservers, the PFS, simulated nodes that
//! post updates): each is one more option and one more field of [`Devnet`], started after the
//! chain, and written into the same [`Manifest`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use pfs_client::PfsClient;
use pfs_core::{FeeSchedule, NaiveTimestamp};
use pfs_matrix::NodeSession;
use pfs_matrix::testing::{Homeserver, TestingError, free_port};

use crate::accounts::NodeAccount;
use crate::anvil::{Anvil, AnvilError};
use crate::chain::{Chain, ChainError};
use crate::contracts::{CompiledContracts, ContractsError};
use crate::deploy::{DeployConfig, DeployError, Deployment, deploy, deploy_token_network};
use crate::manifest::{Manifest, ManifestContracts, ManifestError, ManifestNode};
use crate::matrix::{PfsIdentity, start_homeservers};
use crate::nodes::{
    KeepOnline, UpdateReport, channel_updates, core_address, go_online, keep_online, post_updates,
};
use crate::pfs::{PfsEnvironment, PfsError, PfsOptions, PfsProcess};
use crate::raiden::{ChannelPlan, NodeFunding, OpenedChannel, Raiden};
use crate::tools::{Devtools, InstallError};
use crate::topology::{PlannedChannel, Topology};

/// How long the PFS may take to sync the chain, and to see every node online.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Errors while bringing a devnet up.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Installing the tools failed.
    #[error("installing tools: {0}")]
    Install(#[from] InstallError),
    /// Anvil failed.
    #[error("anvil: {0}")]
    Anvil(#[from] AnvilError),
    /// `contracts.json` is unusable.
    #[error("contracts: {0}")]
    Contracts(#[from] ContractsError),
    /// Deploying failed.
    #[error("deploying: {0}")]
    Deploy(#[from] DeployError),
    /// A chain operation failed.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// Writing the manifest failed.
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestError),
    /// A Matrix homeserver did not start.
    #[error("matrix homeserver: {0}")]
    Homeserver(#[from] TestingError),
    /// The PFS did not start.
    #[error("pfs: {0}")]
    Pfs(#[from] PfsError),
    /// A simulated node could not log in or go online.
    #[error("node on matrix: {0}")]
    Node(#[from] Box<pfs_matrix::NodeError>),
    /// The PFS refused a call of the devnet's client.
    #[error("pfs client: {0}")]
    Client(#[from] pfs_client::ClientError),
    /// The PFS refused some of the nodes' updates.
    #[error("the PFS refused {count} of the nodes' updates; first: {first}")]
    UpdatesRefused {
        /// How many.
        count: usize,
        /// The first refusal.
        first: pfs_client::PfsError,
    },
    /// A planned channel names a node index beyond the node count.
    #[error("a planned channel names a node that does not exist: {0:?}")]
    UnknownNode(PlannedChannel),
    /// The PFS did not get ready in time.
    #[error("the PFS did not {what} within {timeout:?}; its log: {log}")]
    NotReady {
        /// What it did not do.
        what: String,
        /// The timeout.
        timeout: Duration,
        /// Its log file.
        log: PathBuf,
    },
    /// The devnet folder could not be prepared.
    #[error("prepare {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Options of a devnet; see [`Devnet::builder`].
#[derive(Debug, Clone)]
pub struct DevnetBuilder {
    dir: Option<PathBuf>,
    devtools: Devtools,
    deploy: DeployConfig,
    node_count: usize,
    node_seed: Vec<u8>,
    funding: NodeFunding,
    channels: Option<ChannelLayout>,
    homeservers: usize,
    pfs: Option<PfsOptions>,
    fee_schedules: Vec<FeeSchedule>,
}

/// Where the channels come from.
#[derive(Debug, Clone)]
enum ChannelLayout {
    Topology(Topology),
    Planned(Vec<PlannedChannel>),
}

impl DevnetBuilder {
    /// Keeps the devnet's files (anvil state and log, `devnet.json`) in `dir` instead of a
    /// temporary folder that is removed when the devnet is dropped.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Uses the tools in `devtools` (default: [`Devtools::from_env`]).
    pub fn devtools(mut self, devtools: Devtools) -> Self {
        self.devtools = devtools;
        self
    }

    /// Deploys with `config` (default: [`DeployConfig::default`]).
    pub fn deploy_config(mut self, config: DeployConfig) -> Self {
        self.deploy = config;
        self
    }

    /// Creates and funds `count` node accounts (default 0).
    pub fn nodes(mut self, count: usize) -> Self {
        self.node_count = count;
        self
    }

    /// Derives the node keys from `seed` (default `b"raiden-pfs devnet"`).
    pub fn node_seed(mut self, seed: impl Into<Vec<u8>>) -> Self {
        self.node_seed = seed.into();
        self
    }

    /// Funds each node with `funding` (default [`NodeFunding::default`]).
    pub fn funding(mut self, funding: NodeFunding) -> Self {
        self.funding = funding;
        self
    }

    /// Opens channels among the nodes in `topology` (default: none).
    pub fn channels(mut self, topology: Topology) -> Self {
        self.channels = Some(ChannelLayout::Topology(topology));
        self
    }

    /// Opens exactly these channels, between node indices (instead of a topology).
    pub fn planned_channels(mut self, channels: Vec<PlannedChannel>) -> Self {
        self.channels = Some(ChannelLayout::Planned(channels));
        self
    }

    /// Starts `count` federated Synapse homeservers with the presence router and Raiden's login;
    /// the nodes log in round-robin and go online (default 0: no Matrix).
    pub fn homeservers(mut self, count: usize) -> Self {
        self.homeservers = count;
        self
    }

    /// Runs the PFS (`raiden-pfs serve`) as `options` say, registered in the ServiceRegistry;
    /// the nodes post their capacity and fee updates to it (default: no PFS).
    pub fn pfs(mut self, options: PfsOptions) -> Self {
        self.pfs = Some(options);
        self
    }

    /// The fee schedules the nodes announce: node `i` uses `schedules[i % len]` on all its
    /// channels (default: none, so no fee updates are sent).
    pub fn fee_schedules(mut self, schedules: Vec<FeeSchedule>) -> Self {
        self.fee_schedules = schedules;
        self
    }

    /// Brings the devnet up: installs the tools if needed, starts a fresh anvil (an earlier
    /// chain state in the folder is discarded), deploys, funds the nodes and opens the channels.
    ///
    /// # Errors
    /// Any step fails; what was started so far is stopped again.
    pub async fn start(self) -> Result<Devnet, DevnetError> {
        let started = Instant::now();
        let (dir, owns_dir) = match self.dir {
            Some(dir) => (dir, false),
            None => (temporary_dir(), true),
        };
        std::fs::create_dir_all(&dir).map_err(|source| DevnetError::Folder { path: dir.clone(), source })?;
        // Absolute, because the homeservers run with their data folder as working directory.
        let dir =
            std::path::absolute(&dir).map_err(|source| DevnetError::Folder { path: dir.clone(), source })?;
        let folder = DevnetFolder { path: dir, owns: owns_dir };
        let devtools = self.devtools;
        let install = tokio::task::spawn_blocking(move || devtools.install().map(|_| devtools));
        let devtools = install.await.map_err(|join| DevnetError::Folder {
            path: folder.path.clone(),
            source: std::io::Error::other(join.to_string()),
        })??;

        // A devnet always starts fresh: the PFS's database and the homeservers' data of an
        // earlier run in this folder belong to a chain and server names that are gone.
        remove_earlier_run(&folder.path)?;
        let anvil_dir = folder.path.join("anvil");
        let state = anvil_dir.join("state.json");
        if state.exists() {
            std::fs::remove_file(&state)
                .map_err(|source| DevnetError::Folder { path: state.clone(), source })?;
        }
        let anvil = Anvil::start(&devtools.anvil_path()?, &anvil_dir)?;
        let chain = Chain::connect(&anvil.endpoint()).await?;
        let contracts = CompiledContracts::load(&devtools.contracts_json_path())?;
        let deployment = deploy(&chain, &contracts, &self.deploy).await?;
        let raiden = Raiden::new(chain, deployment);

        let nodes = NodeAccount::derive_many(&self.node_seed, self.node_count);
        let addresses: Vec<Address> = nodes.iter().map(NodeAccount::address).collect();
        raiden.fund_accounts(&addresses, &self.funding).await?;
        let plans: Vec<ChannelPlan> = match &self.channels {
            Some(ChannelLayout::Topology(topology)) => topology.channel_plans(&addresses),
            Some(ChannelLayout::Planned(planned)) => planned
                .iter()
                .map(|channel| channel.plan(&addresses).ok_or(DevnetError::UnknownNode(*channel)))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let channels = raiden.open_channels_bulk(&plans).await?;
        let mut times = StartTimes { chain: started.elapsed(), ..StartTimes::default() };

        let mut devnet = Devnet {
            keep_online: None,
            sessions: Arc::new(Vec::new()),
            pfs: None,
            homeservers: Vec::new(),
            raiden,
            nodes,
            plans,
            channels,
            contracts,
            deploy_config: self.deploy,
            times: StartTimes::default(),
            anvil,
            folder,
        };
        let pfs_port = free_port();
        let pfs_url = format!("http://127.0.0.1:{pfs_port}");
        let identity = PfsIdentity {
            localpart: self.pfs.as_ref().map_or_else(
                || "0x".to_owned() + &"0".repeat(40),
                |pfs| format!("{:#x}", pfs.account.address()),
            ),
            url: pfs_url.clone(),
        };
        let phase = Instant::now();
        devnet.homeservers =
            start_homeservers(self.homeservers, Some(devnet.folder.path.as_path()), &identity).await?;
        times.homeservers = phase.elapsed();

        let homeserver_addresses: Vec<_> = devnet.homeservers.iter().map(Homeserver::address).collect();
        let phase = Instant::now();
        let online = go_online(&devnet.nodes, &homeserver_addresses);
        let Some(pfs_options) = self.pfs else {
            devnet.sessions = Arc::new(online.await.map_err(Box::new)?);
            times.nodes_online = phase.elapsed();
            devnet.keep_online = Some(keep_online(devnet.sessions.clone()));
            times.total = started.elapsed();
            devnet.times = times;
            return Ok(devnet);
        };
        let deployment = *devnet.deployment();
        devnet.raiden.register_service(pfs_options.account.address(), &pfs_url).await?;
        let synced_block = devnet.chain().block_number().await?;
        devnet.chain().mine(pfs_options.confirmations, 1).await?;
        let environment = PfsEnvironment {
            eth_rpc: devnet.eth_rpc().to_owned(),
            chain_id: deployment.chain_id,
            token_network_registry: deployment.token_network_registry,
            user_deposit: deployment.user_deposit,
            one_to_n: deployment.one_to_n,
            start_block: deployment.deployment_block,
            matrix_server: devnet
                .homeservers
                .first()
                .map(|homeserver| (homeserver.url(), homeserver.server_name())),
        };
        let pfs_dir = devnet.folder.path.join("pfs");
        let (pfs, sessions) =
            tokio::join!(PfsProcess::start(&pfs_options, &environment, &pfs_dir, pfs_port), online);
        devnet.pfs = Some(pfs?);
        devnet.sessions = Arc::new(sessions.map_err(Box::new)?);
        devnet.keep_online = Some(keep_online(devnet.sessions.clone()));
        times.pfs_and_nodes = phase.elapsed();

        let phase = Instant::now();
        devnet.wait_until_synced(synced_block).await?;
        times.pfs_synced = phase.elapsed();
        let phase = Instant::now();
        let report = devnet.post_channel_updates(&self.fee_schedules).await?;
        if let Some(first) = report.refused.first() {
            return Err(DevnetError::UpdatesRefused { count: report.refused.len(), first: first.clone() });
        }
        times.updates = phase.elapsed();
        let phase = Instant::now();
        if !devnet.homeservers.is_empty() {
            devnet.wait_until_online().await?;
        }
        times.nodes_online = phase.elapsed();
        times.total = started.elapsed();
        devnet.times = times;
        Ok(devnet)
    }
}

/// How long each phase of [`DevnetBuilder::start`] took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartTimes {
    /// Tools, anvil, deployment, funding, channels.
    pub chain: Duration,
    /// The homeservers, started together.
    pub homeservers: Duration,
    /// The PFS start and the nodes' logins, together.
    pub pfs_and_nodes: Duration,
    /// Until the PFS confirmed the last channel block.
    pub pfs_synced: Duration,
    /// Posting the nodes' updates.
    pub updates: Duration,
    /// Until the PFS saw every node online.
    pub nodes_online: Duration,
    /// All of it.
    pub total: Duration,
}

/// A running devnet. Dropping it stops anvil and removes a temporary folder.
#[derive(Debug)]
pub struct Devnet {
    // Dropped first: the presence refresher, the PFS, the homeservers, then anvil and the folder.
    keep_online: Option<KeepOnline>,
    sessions: Arc<Vec<NodeSession>>,
    pfs: Option<PfsProcess>,
    homeservers: Vec<Homeserver>,
    raiden: Raiden,
    nodes: Vec<NodeAccount>,
    plans: Vec<ChannelPlan>,
    channels: Vec<OpenedChannel>,
    contracts: CompiledContracts,
    deploy_config: DeployConfig,
    times: StartTimes,
    // Declared after the handles that use it, and dropped after them: anvil stops before its
    // folder is removed.
    anvil: Anvil,
    folder: DevnetFolder,
}

impl Devnet {
    /// A builder with the defaults: temporary folder, default deployment, no nodes, no channels.
    pub fn builder() -> DevnetBuilder {
        DevnetBuilder {
            dir: None,
            devtools: Devtools::from_env(),
            deploy: DeployConfig::default(),
            node_count: 0,
            node_seed: b"raiden-pfs devnet".to_vec(),
            funding: NodeFunding::default(),
            channels: None,
            homeservers: 0,
            pfs: None,
            fee_schedules: Vec::new(),
        }
    }

    /// The devnet's folder.
    pub fn dir(&self) -> &Path {
        &self.folder.path
    }

    /// Operations on the deployed contracts.
    pub fn raiden(&self) -> &Raiden {
        &self.raiden
    }

    /// The chain connection.
    pub fn chain(&self) -> &Chain {
        self.raiden.chain()
    }

    /// The contract addresses.
    pub fn deployment(&self) -> &Deployment {
        self.raiden.deployment()
    }

    /// The node accounts, funded.
    pub fn nodes(&self) -> &[NodeAccount] {
        &self.nodes
    }

    /// Deploys one more token and creates its token network in the devnet's registry (the
    /// registry emits `TokenNetworkCreated`); returns operations on the new network. The node
    /// accounts have not approved the new token: fund them with [`Raiden::fund_accounts`] on the
    /// returned value, with a `user_deposit` of 0 (UserDeposit holds the devnet's first token).
    ///
    /// # Errors
    /// A transaction fails.
    pub async fn add_token_network(
        &self,
        token_name: &str,
        token_symbol: &str,
    ) -> Result<Raiden, DevnetError> {
        let deployment = deploy_token_network(
            self.chain(),
            &self.contracts,
            &self.deploy_config,
            self.deployment(),
            token_name,
            token_symbol,
        )
        .await?;
        Ok(Raiden::new(self.chain().clone(), deployment))
    }

    /// The channels opened at start.
    pub fn channels(&self) -> &[OpenedChannel] {
        &self.channels
    }

    /// The anvil process (to stop and restart it, or check it is alive).
    pub fn anvil(&mut self) -> &mut Anvil {
        &mut self.anvil
    }

    /// The JSON-RPC endpoint.
    pub fn eth_rpc(&self) -> &str {
        self.raiden.chain().endpoint()
    }

    /// The planned channels, in the order of [`Devnet::channels`].
    pub fn channel_plans(&self) -> &[ChannelPlan] {
        &self.plans
    }

    /// The Matrix homeservers (empty without Matrix).
    pub fn homeservers(&mut self) -> &mut [Homeserver] {
        &mut self.homeservers
    }

    /// The nodes' Matrix sessions, in node order (empty without Matrix).
    pub fn sessions(&self) -> &[NodeSession] {
        &self.sessions
    }

    /// The PFS process, if one runs.
    pub fn pfs(&mut self) -> Option<&mut PfsProcess> {
        self.pfs.as_mut()
    }

    /// A client of the PFS, if one runs.
    ///
    /// # Panics
    /// Never: the PFS URL is a well-formed loopback URL.
    pub fn pfs_client(&self) -> Option<PfsClient> {
        self.pfs.as_ref().map(|pfs| PfsClient::new(&pfs.url()).expect("a loopback http URL"))
    }

    /// How long the start took, per phase.
    pub fn start_times(&self) -> StartTimes {
        self.times
    }

    /// The process ids of everything the devnet runs: anvil, the homeservers, the PFS.
    pub fn pids(&mut self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.anvil.pid().into_iter().collect();
        pids.extend(self.homeservers.iter().filter_map(Homeserver::pid));
        pids.extend(self.pfs.as_ref().and_then(PfsProcess::pid));
        pids
    }

    /// The first part that has exited although it should run, described with where to look.
    pub fn crashed_part(&mut self) -> Option<String> {
        if let Ok(Some(status)) = self.anvil.exit_status() {
            return Some(format!(
                "anvil exited unexpectedly ({status}); its log is {}",
                self.anvil.log_file().display()
            ));
        }
        for homeserver in &mut self.homeservers {
            if let Some(status) = homeserver.exit_status() {
                return Some(format!(
                    "the homeserver {} exited unexpectedly ({status}); its logs are in {}",
                    homeserver.url(),
                    homeserver.data_dir().display()
                ));
            }
        }
        if let Some(pfs) = &mut self.pfs
            && let Some(status) = pfs.exit_status()
        {
            return Some(format!(
                "the PFS exited unexpectedly ({status}); its log is {}",
                pfs.log_file().display()
            ));
        }
        None
    }

    /// Waits until the PFS has confirmed `block` (its `/info` `confirmed_block`).
    ///
    /// # Errors
    /// No PFS runs, or it did not get there within 120 s.
    pub async fn wait_until_synced(&self, block: u64) -> Result<(), DevnetError> {
        let client = self.require_pfs_client()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(info) = client.info().await
                && info.network_info.confirmed_block.number >= alloy::primitives::U256::from(block)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.not_ready(format!("confirm block {block}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the PFS reports every node online (`/api/v1/online_addresses`).
    ///
    /// # Errors
    /// No PFS runs, or not every node was online within 120 s.
    pub async fn wait_until_online(&self) -> Result<(), DevnetError> {
        let client = self.require_pfs_client()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(online) = client.online_addresses().await
                && self.nodes.iter().all(|node| online.contains(&core_address(node.address())))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.not_ready(format!("see all {} nodes online", self.nodes.len())));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every node posts a capacity update for each side of its channels and, with
    /// `fee_schedules`, a fee update (see [`crate::nodes::channel_updates`]), over HTTP.
    ///
    /// # Errors
    /// No PFS runs, or a batch fails as a whole.
    pub async fn post_channel_updates(
        &self,
        fee_schedules: &[FeeSchedule],
    ) -> Result<UpdateReport, DevnetError> {
        let client = self.require_pfs_client()?;
        let deployment = self.deployment();
        let messages = channel_updates(
            deployment.chain_id,
            deployment.token_network,
            &self.nodes,
            &self.plans,
            &self.channels,
            fee_schedules,
            now(),
        )?;
        Ok(post_updates(&client, &messages).await?)
    }

    /// Stops every process in order, waiting for each (the homeservers get SIGTERM and time to
    /// shut down, unlike on drop).
    pub async fn shutdown(mut self) {
        self.keep_online = None;
        if let Some(mut pfs) = self.pfs.take() {
            pfs.stop();
        }
        for homeserver in &mut self.homeservers {
            homeserver.stop().await;
        }
    }

    fn require_pfs_client(&self) -> Result<PfsClient, DevnetError> {
        self.pfs_client().ok_or_else(|| DevnetError::NotReady {
            what: "run (the devnet has no PFS)".to_owned(),
            timeout: Duration::ZERO,
            log: PathBuf::new(),
        })
    }

    fn not_ready(&self, what: String) -> DevnetError {
        let log = self.pfs.as_ref().map(|pfs| pfs.log_file().to_path_buf()).unwrap_or_default();
        DevnetError::NotReady { what, timeout: READY_TIMEOUT, log }
    }

    /// What `devnet.json` holds for this devnet.
    pub fn manifest(&self) -> Manifest {
        let deployment = self.deployment();
        Manifest {
            chain_id: deployment.chain_id,
            eth_rpc: self.eth_rpc().to_owned(),
            contracts: ManifestContracts {
                secret_registry: deployment.secret_registry,
                token_network_registry: deployment.token_network_registry,
                service_registry: deployment.service_registry,
                user_deposit: deployment.user_deposit,
                one_to_n: deployment.one_to_n,
                monitoring_service: deployment.monitoring_service,
                token: deployment.token,
                token_network: deployment.token_network,
            },
            deployment_block: deployment.deployment_block,
            settle_timeout: deployment.settle_timeout,
            matrix_servers: self.homeservers.iter().map(Homeserver::url).collect(),
            pfs_url: self.pfs.as_ref().map(PfsProcess::url),
            pfs_address: self.pfs.as_ref().map(PfsProcess::address),
            pfs_db: self.pfs.as_ref().map(PfsProcess::database_url),
            nodes: self
                .nodes
                .iter()
                .enumerate()
                .map(|(index, node)| ManifestNode {
                    address: node.address(),
                    private_key: node.secret_key_hex(),
                    matrix_server: (!self.homeservers.is_empty())
                        .then(|| self.homeservers[index % self.homeservers.len()].url()),
                    user_id: self.sessions.get(index).map(|session| session.user_id().to_owned()),
                })
                .collect(),
        }
    }

    /// Writes `devnet.json` into the devnet's folder and returns its path.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write_manifest(&self) -> Result<PathBuf, ManifestError> {
        self.manifest().write(self.dir())
    }
}

/// The devnet's folder; removed on drop if the devnet created it as a temporary folder.
#[derive(Debug)]
struct DevnetFolder {
    path: PathBuf,
    owns: bool,
}

impl Drop for DevnetFolder {
    fn drop(&mut self) {
        if self.owns {
            // A leftover temporary folder is harmless; nothing to report to in a destructor.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Removes `dir/pfs` and `dir/synapse-*` left by an earlier devnet in `dir`.
fn remove_earlier_run(dir: &Path) -> Result<(), DevnetError> {
    let entries =
        std::fs::read_dir(dir).map_err(|source| DevnetError::Folder { path: dir.to_path_buf(), source })?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "pfs" || name.starts_with("synapse-") {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(|source| DevnetError::Folder { path, source })?;
        }
    }
    Ok(())
}

/// The current time as a naive UTC timestamp (fee updates are stamped with it).
fn now() -> NaiveTimestamp {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros();
    NaiveTimestamp::from_unix_micros(i64::try_from(micros).unwrap_or(i64::MAX))
        .unwrap_or(NaiveTimestamp::EPOCH_2000)
}

fn temporary_dir() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |time| time.subsec_nanos());
    std::env::temp_dir().join(format!(
        "raiden-pfs-devnet-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}
