//! `raiden-pfs serve`: opens the store, starts the service (writer and snapshots), optionally the
//! Matrix client, and serves the HTTP API until SIGINT or SIGTERM.
//!
//! Without `--matrix-server` the service runs without Matrix: no presence arrives, so every
//! node is offline and `/paths` answers "Source not online"; `/info` reports `matrix_server` and
//! `matrix_user_id` as `null`. Updates still arrive through `POST /api/v1/updates`.
//! The chain follower is not wired in yet: `--eth-rpc` and the contract addresses are checked
//! and reported, and the confirmed block is the one stored in the database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use pfs_api::ApiConfig;
use pfs_core::routing::SearchLimits;
use pfs_core::{Address, ChainId, PrivateKey, U256};
use pfs_matrix::{HomeserverAddress, MatrixClient, MatrixConfig};
use pfs_service::{Service, ServiceConfig};
use pfs_store::{Deployment, Store, StoreConfig};

/// Arguments of `serve` (each also from a `PFS_*` environment variable).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Ethereum JSON-RPC URL (for the chain follower).
    #[arg(long, env = "PFS_ETH_RPC", default_value = "http://127.0.0.1:8545")]
    eth_rpc: String,
    /// Chain id of the followed chain.
    #[arg(long, env = "PFS_CHAIN_ID")]
    chain_id: u64,
    /// TokenNetworkRegistry contract (checksummed or lower-case).
    #[arg(long, env = "PFS_TOKEN_NETWORK_REGISTRY_ADDRESS")]
    token_network_registry_address: String,
    /// UserDeposit contract.
    #[arg(long, env = "PFS_USER_DEPOSIT_ADDRESS")]
    user_deposit_address: String,
    /// The service token (UserDeposit.token()); read from the chain once the follower lands.
    #[arg(
        long,
        env = "PFS_SERVICE_TOKEN_ADDRESS",
        default_value = "0x0000000000000000000000000000000000000000"
    )]
    service_token_address: String,
    /// The service's private key as hex.
    #[arg(long, env = "PFS_PRIVATE_KEY", conflicts_with = "private_key_file", hide_env_values = true)]
    private_key: Option<String>,
    /// A file holding the service's private key as hex.
    #[arg(long, env = "PFS_PRIVATE_KEY_FILE")]
    private_key_file: Option<PathBuf>,
    /// Database: a SQLite file path or a `postgres://` URL.
    #[arg(long, env = "PFS_DB", default_value = "raiden-pfs.db")]
    db: String,
    /// Address to listen on.
    #[arg(long, env = "PFS_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, env = "PFS_PORT", default_value_t = 6000)]
    port: u16,
    /// Blocks to wait before a block's events count as confirmed.
    #[arg(long, env = "PFS_CONFIRMATIONS", default_value_t = 5)]
    confirmations: u64,
    /// Fee per path request, in service-token units.
    #[arg(long, env = "PFS_SERVICE_FEE", default_value = "0")]
    service_fee: String,
    /// `operator` in /info.
    #[arg(long, env = "PFS_OPERATOR", default_value = "")]
    operator: String,
    /// `message` in /info.
    #[arg(long, env = "PFS_INFO_MESSAGE", default_value = "")]
    info_message: String,
    /// Matrix homeserver URL; without it the service runs without Matrix.
    #[arg(long, env = "PFS_MATRIX_SERVER")]
    matrix_server: Option<String>,
    /// The homeserver's Matrix server name, when it differs from the URL's `host[:port]`
    /// (delegation, or loopback homeservers named by their federation port).
    #[arg(long, env = "PFS_MATRIX_SERVER_NAME")]
    matrix_server_name: Option<String>,
    /// Enable the `_debug` endpoints (not implemented yet: accepted for compatibility).
    #[arg(long, env = "PFS_ENABLE_DEBUG")]
    enable_debug: bool,
    /// Time budget of one path search, in milliseconds.
    #[arg(long, env = "PFS_SEARCH_BUDGET_MS", default_value_t = SearchLimits::default().time_budget.as_millis() as u64)]
    search_budget_ms: u64,
}

fn address(name: &str, text: &str) -> anyhow::Result<Address> {
    Address::parse_any_case(text).with_context(|| format!("--{name} is not an address: {text}"))
}

fn private_key(arguments: &ServeArgs) -> anyhow::Result<PrivateKey> {
    let text = match (&arguments.private_key, &arguments.private_key_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, None) => {
            bail!("a private key is required (--private-key, PFS_PRIVATE_KEY or --private-key-file)")
        }
    };
    PrivateKey::parse_hex(text.trim()).context("the private key is not 32 bytes of hex")
}

/// Runs the command.
///
/// # Errors
/// For invalid arguments, an unopenable database, a failed Matrix login or a port in use.
pub fn run(arguments: &ServeArgs) -> anyhow::Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(serve(arguments))
}

async fn serve(arguments: &ServeArgs) -> anyhow::Result<()> {
    let key = private_key(arguments)?;
    let service_fee = U256::from_str_radix(arguments.service_fee.trim(), 10)
        .with_context(|| format!("--service-fee is not an integer: {}", arguments.service_fee))?;
    let deployment = Deployment {
        chain_id: ChainId(arguments.chain_id),
        token_network_registry: address(
            "token-network-registry-address",
            &arguments.token_network_registry_address,
        )?,
        user_deposit: address("user-deposit-address", &arguments.user_deposit_address)?,
        receiver: key.address(),
    };
    let store = Store::open(&StoreConfig::new(arguments.db.clone()), &deployment)
        .await
        .with_context(|| format!("cannot open the database {}", arguments.db))?;
    let config = ServiceConfig {
        search_limits: SearchLimits {
            time_budget: Duration::from_millis(arguments.search_budget_ms),
            ..SearchLimits::default()
        },
        ..ServiceConfig::default()
    };
    let service = Service::start(store.clone(), config).await.context("cannot load the state")?;
    let mut api_config = ApiConfig {
        token_network_registry: deployment.token_network_registry,
        user_deposit: deployment.user_deposit,
        service_token: address("service-token-address", &arguments.service_token_address)?,
        payment_address: key.address(),
        service_fee,
        operator: arguments.operator.clone(),
        message: arguments.info_message.clone(),
        matrix_server: None,
        matrix_user_id: None,
    };
    let mut matrix = None;
    if let Some(url) = &arguments.matrix_server {
        let homeserver = HomeserverAddress::new(url, arguments.matrix_server_name.as_deref())
            .context("--matrix-server / --matrix-server-name")?;
        let token = store.sync_token().await.context("cannot read the Matrix sync token")?;
        let (client, mut batches) = MatrixClient::start(key.clone(), MatrixConfig::new(homeserver), token)
            .await
            .context("Matrix login")?;
        api_config.matrix_server = Some(client.homeserver_url().as_str().trim_end_matches('/').to_owned());
        api_config.matrix_user_id = Some(client.matrix_user_id().to_owned());
        let forward = service.clone();
        let task = tokio::spawn(async move {
            while let Some(batch) = batches.recv().await {
                if forward.apply_matrix(batch).await.is_err() {
                    break;
                }
            }
        });
        matrix = Some((client, task));
    }
    let listen: SocketAddr = format!("{}:{}", arguments.host, arguments.port)
        .parse()
        .with_context(|| format!("invalid --host/--port {}:{}", arguments.host, arguments.port))?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    eprintln!(
        "raiden-pfs: serving on http://{listen} (chain {}, {} confirmations, eth rpc {}, matrix {})",
        arguments.chain_id,
        arguments.confirmations,
        arguments.eth_rpc,
        api_config.matrix_server.as_deref().unwrap_or("off")
    );
    if arguments.enable_debug {
        eprintln!("raiden-pfs: --enable-debug is accepted but the _debug endpoints are not implemented yet");
    }
    let app = pfs_api::router(service.clone(), api_config);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("HTTP server")?;
    if let Some((_client, task)) = matrix {
        task.abort();
    }
    service.shutdown().await;
    store.close().await;
    eprintln!("raiden-pfs: stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
