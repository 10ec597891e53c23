//! The devnet as one value: [`Devnet::builder`] installs the tools, starts anvil, deploys the
//! contracts, funds the node accounts and opens their channels; dropping the [`Devnet`] stops
//! everything it started and removes its folder if it made a temporary one.
//!
//! The builder is where later parts slot in (Matrix homeservers, the PFS, simulated nodes that
//! post updates): each is one more option and one more field of [`Devnet`], started after the
//! chain, and written into the same [`Manifest`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use alloy::primitives::Address;

use crate::accounts::NodeAccount;
use crate::anvil::{Anvil, AnvilError};
use crate::chain::{Chain, ChainError};
use crate::contracts::{CompiledContracts, ContractsError};
use crate::deploy::{DeployConfig, DeployError, Deployment, deploy, deploy_token_network};
use crate::manifest::{Manifest, ManifestContracts, ManifestError, ManifestNode};
use crate::raiden::{NodeFunding, OpenedChannel, Raiden};
use crate::tools::{Devtools, InstallError};
use crate::topology::Topology;

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
    topology: Option<Topology>,
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
        self.topology = Some(topology);
        self
    }

    /// Brings the devnet up: installs the tools if needed, starts a fresh anvil (an earlier
    /// chain state in the folder is discarded), deploys, funds the nodes and opens the channels.
    ///
    /// # Errors
    /// Any step fails; what was started so far is stopped again.
    pub async fn start(self) -> Result<Devnet, DevnetError> {
        let (dir, owns_dir) = match self.dir {
            Some(dir) => (dir, false),
            None => (temporary_dir(), true),
        };
        std::fs::create_dir_all(&dir).map_err(|source| DevnetError::Folder { path: dir.clone(), source })?;
        let folder = DevnetFolder { path: dir, owns: owns_dir };
        let devtools = self.devtools;
        let install = tokio::task::spawn_blocking(move || devtools.install().map(|_| devtools));
        let devtools = install.await.map_err(|join| DevnetError::Folder {
            path: folder.path.clone(),
            source: std::io::Error::other(join.to_string()),
        })??;

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
        let channels = match self.topology {
            Some(topology) => raiden.open_channels_bulk(&topology.channel_plans(&addresses)).await?,
            None => Vec::new(),
        };
        Ok(Devnet { raiden, nodes, channels, contracts, deploy_config: self.deploy, anvil, folder })
    }
}

/// A running devnet. Dropping it stops anvil and removes a temporary folder.
#[derive(Debug)]
pub struct Devnet {
    raiden: Raiden,
    nodes: Vec<NodeAccount>,
    channels: Vec<OpenedChannel>,
    contracts: CompiledContracts,
    deploy_config: DeployConfig,
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
            topology: None,
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
            matrix_servers: Vec::new(),
            pfs_url: None,
            pfs_address: None,
            pfs_db: None,
            nodes: self
                .nodes
                .iter()
                .map(|node| ManifestNode {
                    address: node.address(),
                    private_key: node.secret_key_hex(),
                    matrix_server: None,
                    user_id: None,
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
