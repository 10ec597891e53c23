//! `raiden-pfs serve`: opens the store, starts the service (writer and snapshots), the chain
//! follower, optionally the Matrix client, and serves the HTTP API until SIGINT or SIGTERM.
//!
//! Configuration: flags, `PFS_*` environment variables and an optional `--config` TOML file
//! (see [`super::serve_config`]). Without `--chain-id`, `serve` asks the node first (retrying
//! while it is unreachable) and opens the database and listens only then; with it, `serve`
//! listens at once and the follower checks the node's chain when it answers.
//!
//! One service per database: `serve` takes the store's service lease before it migrates or loads
//! anything, and exits with "another raiden-pfs service is using the database" while another
//! `serve` holds it (after waiting 5 s for one that was just stopped or killed to let go).
//!
//! The chain follower resumes from the cursor in the database (on an empty one, from
//! `--start-block`, by default the registry's deployment block, which it finds on the node; a
//! registry address without code there stops the process), applies only blocks
//! `--confirmations` deep, and commits every batch's state, cursor and undo records in one
//! transaction through the service's writer (see
//! [`raiden_pfs::follow`]). `/api/v1/info` reports the last confirmed block processed;
//! `/metrics` has the chain head (`pfs_chain_head_block`) and the confirmed block
//! (`pfs_confirmed_block`). RPC outages are retried forever (logged, `pfs_chain_rpc_errors`).
//! The process exits non-zero if the node is on another chain than `--chain-id` (or the
//! database's), or if a reorganisation goes deeper than the 128 kept blocks (then the state
//! cannot be reverted: start on a new database to resync).
//!
//! Without `--matrix-server` the service runs without Matrix: no presence arrives, so every
//! node is offline and `/paths` answers "Source not online"; `/info` reports `matrix_server` and
//! `matrix_user_id` as `null`. Updates still arrive through `POST /api/v1/updates`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, bail};
use pfs_api::{ApiConfig, ApiOptions};
use pfs_chain::{ChainFollower, FollowerConfig, UndoLog};
use pfs_core::routing::SearchLimits;
use pfs_core::{Address, BlockNumber, ChainId};
use pfs_matrix::{HomeserverAddress, MatrixClient, MatrixConfig};
use pfs_service::{Service, ServiceConfig};
use pfs_store::{Deployment, LEASE_WAIT, Store, StoreConfig};

use super::AlreadyLogged;
pub use super::serve_config::ServeArgs;
use super::serve_config::{LogFormat, ServeConfig};

/// Blocks whose hashes and undo records are kept for reorganisations, in memory and in the
/// database alike (so a reorganisation crossing a restart is reverted like any other).
const RECENT_BLOCKS: u64 = 128;

/// Runs the command.
///
/// # Errors
/// For invalid configuration, an unopenable database, a node on another chain, a failed Matrix
/// login, a port in use, or a chain follower that cannot go on.
pub fn run(arguments: &ServeArgs) -> anyhow::Result<()> {
    let config = arguments.resolve()?;
    let format = config.log_format;
    init_logging(format);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    let outcome = runtime.block_on(serve(config));
    match outcome {
        Err(error) if format == LogFormat::Json => {
            tracing::error!(error = format!("{error:#}"), "raiden-pfs stopped");
            Err(AlreadyLogged.into())
        }
        outcome => outcome,
    }
}

/// Logs to standard error in `format`; `PFS_LOG` (e.g. `debug`, `pfs_chain=debug`) sets the
/// filter.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PFS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => subscriber.try_init(),
        LogFormat::Json => subscriber.json().try_init(),
    };
}

/// Tells the operator what the service does: a line `raiden-pfs: …` in text, or an `info`
/// event in JSON, so that a JSON log holds nothing but JSON.
fn announce(format: LogFormat, message: std::fmt::Arguments<'_>) {
    match format {
        LogFormat::Text => eprintln!("raiden-pfs: {message}"),
        LogFormat::Json => tracing::info!("{message}"),
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let key = config.key.load()?;
    let mut follower_config =
        FollowerConfig::new(config.token_network_registry, config.start_block.map(BlockNumber));
    follower_config.confirmations = config.confirmations;
    follower_config.poll_interval = config.poll_interval;
    follower_config.recent_blocks = RECENT_BLOCKS;
    let chain_id = match config.chain_id {
        Some(chain_id) => chain_id,
        None => {
            announce(config.log_format, format_args!("asking {} for the chain id", config.eth_rpc));
            ChainFollower::connect(&config.eth_rpc, follower_config.clone(), Vec::new(), [])
                .context("--eth-rpc")?
                .chain_id()
                .await
        }
    };
    let deployment = Deployment {
        chain_id: ChainId(chain_id),
        token_network_registry: config.token_network_registry,
        user_deposit: config.user_deposit,
        receiver: key.address(),
    };
    let mut store_config = StoreConfig::new(config.db.clone());
    store_config.recent_blocks = RECENT_BLOCKS;
    // The lease is held until the end: a second service on this database would overwrite this
    // one's state.
    let (store, lease) = Store::open_for_service(&store_config, &deployment, LEASE_WAIT)
        .await
        .with_context(|| format!("cannot open the database {}", config.db))?;
    let loaded = store.load_state().await.context("cannot load the state")?;
    let token_networks: Vec<Address> =
        loaded.registry.token_networks().map(|network| network.address).collect();
    let undo_log = UndoLog::restore(
        RECENT_BLOCKS,
        loaded.cursor.map(|cursor| cursor.block_number),
        loaded.undo_log.clone(),
    );
    let follower = ChainFollower::connect(
        &config.eth_rpc,
        follower_config,
        loaded.recent_blocks.clone(),
        token_networks,
    )
    .context("--eth-rpc")?;
    let chain_metrics = follower.metrics();
    let service_config = ServiceConfig {
        search_limits: SearchLimits { time_budget: config.search_budget, ..SearchLimits::default() },
        ..ServiceConfig::default()
    };
    let service = Service::start_loaded(store.clone(), loaded, service_config);
    service.restore_feedback(SystemTime::now()).await.context("cannot restore the routing feedback")?;
    let mut api_config = ApiConfig {
        token_network_registry: deployment.token_network_registry,
        user_deposit: deployment.user_deposit,
        service_token: config.service_token,
        payment_address: key.address(),
        service_fee: config.service_fee,
        operator: config.operator.clone(),
        message: config.info_message.clone(),
        matrix_server: None,
        matrix_user_id: None,
    };
    let mut matrix = None;
    if let Some(url) = &config.matrix_server {
        let homeserver = HomeserverAddress::new(url, config.matrix_server_name.as_deref())
            .context("--matrix-server / --matrix-server-name")?;
        let token = store.sync_token().await.context("cannot read the Matrix sync token")?;
        let (client, batches) = MatrixClient::start(key.clone(), MatrixConfig::new(homeserver), token)
            .await
            .context("Matrix login")?;
        api_config.matrix_server = Some(client.homeserver_url().as_str().trim_end_matches('/').to_owned());
        api_config.matrix_user_id = Some(client.matrix_user_id().to_owned());
        matrix = Some((client, service.forward_matrix(batches)));
    }
    let listen: SocketAddr = format!("{}:{}", config.host, config.port)
        .parse()
        .with_context(|| format!("invalid --host/--port {}:{}", config.host, config.port))?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr().unwrap_or(listen);
    announce(
        config.log_format,
        format_args!(
            "serving on http://{local} (chain {chain_id}, {} confirmations, eth rpc {}, matrix {}, one-to-n {})",
            config.confirmations,
            config.eth_rpc,
            api_config.matrix_server.as_deref().unwrap_or("off"),
            config.one_to_n_address.map_or_else(|| "unset".to_owned(), |address| address.to_checksum()),
        ),
    );
    let failure: Arc<Mutex<Option<String>>> = Arc::default();
    let (failed, mut on_failure) = tokio::sync::oneshot::channel::<String>();
    let follow_task = tokio::spawn(raiden_pfs::follow::follow(service.clone(), follower, undo_log));
    let stop_following = follow_task.abort_handle();
    let watch = tokio::spawn(async move {
        let message = match follow_task.await {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error.to_string(),
            Err(error) => format!("the chain follower task failed: {error}"),
        };
        let _ = failed.send(message);
    });
    let options = ApiOptions {
        rate_limits: config.rate_limits,
        enable_debug: config.enable_debug,
        chain: Some(chain_metrics),
        payments: payment_config(&config)?,
    };
    let app = pfs_api::router_with(service.clone(), api_config, options);
    let record = Arc::clone(&failure);
    let shutdown = async move {
        tokio::select! {
            () = shutdown_signal() => {}
            Ok(message) = &mut on_failure => {
                // Invariant: only this task locks the mutex while the server runs.
                if let Ok(mut slot) = record.lock() {
                    *slot = Some(message);
                }
            }
        }
    };
    // The peer address feeds the per-IP rate limit.
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .context("HTTP server")?;
    // The follower stops before the writer: a batch it has not handed over is simply read again
    // after the next start (the cursor moves only with a commit).
    stop_following.abort();
    watch.abort();
    if let Some((_client, task)) = matrix {
        task.abort();
    }
    service.shutdown().await;
    store.close().await;
    lease.release().await;
    let failure = failure.lock().ok().and_then(|mut slot| slot.take());
    if let Some(message) = failure {
        bail!("chain follower stopped: {message}");
    }
    announce(config.log_format, format_args!("stopped"));
    Ok(())
}

/// The payment checks, when requests cost a fee: IOUs must name `--one-to-n-address`, deposits
/// are read through `--eth-rpc` at the confirmed block and `--confirmations` blocks before it.
fn payment_config(config: &ServeConfig) -> anyhow::Result<Option<pfs_api::PaymentConfig>> {
    if config.service_fee.is_zero() {
        return Ok(None);
    }
    let Some(one_to_n) = config.one_to_n_address else {
        bail!("a service fee needs --one-to-n-address (PFS_ONE_TO_N_ADDRESS)");
    };
    Ok(Some(pfs_api::PaymentConfig {
        one_to_n,
        deposit_confirmations: config.confirmations,
        user_deposit: pfs_chain::user_deposit::UserDepositReader::connect(
            &config.eth_rpc,
            config.user_deposit,
        )
        .context("--eth-rpc")?,
    }))
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
