//! `devnet`: installs the devnet's tools, brings a devnet up in the foreground, or stops one.
//!
//! ```text
//! devnet install
//! devnet up --dir D [--nodes N] [--homeservers H] [--service-fee F] [--seed S] [--no-channels]
//!           [--no-pfs] [--pfs-binary P]
//! devnet down --dir D
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use devnet::anvil::{process_running, stop_process};
use devnet::{ChildProcess, Devnet, Devtools, PfsOptions, PidFile, Topology};
use pfs_core::{FeeSchedule, U256};
use tokio::signal::unix::{SignalKind, signal};

/// The local real stack of raiden-pfs: anvil with the Raiden contracts, funded nodes, channels.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Installs anvil and the Raiden contracts into the tool folder (idempotent).
    Install,
    /// Starts a devnet, writes DIR/devnet.json and runs until Ctrl-C or SIGTERM.
    Up {
        /// Folder for devnet.json, the pid file and anvil's state and log.
        #[arg(long)]
        dir: PathBuf,
        /// Number of funded node accounts.
        #[arg(long, default_value_t = 10)]
        nodes: usize,
        /// Seed of the node keys and the channel graph.
        #[arg(long, default_value = "raiden-pfs devnet")]
        seed: String,
        /// Fund the nodes but open no channels.
        #[arg(long)]
        no_channels: bool,
        /// Number of federated Synapse homeservers (0: no Matrix).
        #[arg(long, default_value_t = 1)]
        homeservers: usize,
        /// The PFS's fee per path request, in token units.
        #[arg(long, default_value = "0")]
        service_fee: U256,
        /// Run no PFS.
        #[arg(long)]
        no_pfs: bool,
        /// The raiden-pfs binary (default: next to this one).
        #[arg(long)]
        pfs_binary: Option<PathBuf>,
    },
    /// Stops the devnet running in DIR.
    Down {
        /// The folder given to `devnet up`.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Install => install(),
        Command::Up { dir, nodes, seed, no_channels, homeservers, service_fee, no_pfs, pfs_binary } => {
            let options = UpOptions {
                nodes,
                seed,
                channels: !no_channels,
                homeservers,
                pfs: (!no_pfs).then_some((service_fee, pfs_binary)),
            };
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")
                .and_then(|runtime| runtime.block_on(up(&dir, options)))
        }
        Command::Down { dir } => down(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("devnet: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn install() -> anyhow::Result<()> {
    let devtools = Devtools::from_env();
    let started = Instant::now();
    let report = devtools.install()?;
    println!(
        "tools in {} ({} in {:.2?}): anvil {}, contracts {}",
        devtools.root().display(),
        if report.anvil_installed || report.contracts_installed { "installed" } else { "already installed" },
        started.elapsed(),
        devtools.anvil_path()?.display(),
        devtools.contracts_json_path().display(),
    );
    Ok(())
}

/// What `devnet up` starts.
struct UpOptions {
    nodes: usize,
    seed: String,
    channels: bool,
    homeservers: usize,
    /// The service fee and binary of the PFS, if one runs.
    pfs: Option<(U256, Option<PathBuf>)>,
}

async fn up(dir: &Path, options: UpOptions) -> anyhow::Result<()> {
    if let Some(running) = PidFile::read(dir)?
        && process_running(running.devnet, "devnet")
    {
        bail!(
            "a devnet (pid {}) already runs in {}; stop it with `devnet down --dir {}`",
            running.devnet,
            dir.display(),
            dir.display()
        );
    }
    // Both streams exist from here on: a signal that comes while nothing awaits it (between the
    // start-up and the loop below, or between two rounds of the loop) is kept for the next
    // `recv`. `tokio::signal::ctrl_c()` listens only while its future lives, and lost a
    // Ctrl-C sent right after the start.
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let started = Instant::now();
    let mut builder = Devnet::builder()
        .dir(dir)
        .nodes(options.nodes)
        .node_seed(options.seed.as_bytes())
        .homeservers(options.homeservers)
        .fee_schedules(demo_fee_schedules());
    if options.channels {
        builder = builder.channels(Topology { seed: seed_number(&options.seed), ..Topology::default() });
    }
    if let Some((service_fee, binary)) = options.pfs {
        let binary = match binary {
            Some(binary) => binary,
            None => sibling_binary("raiden-pfs")?,
        };
        builder = builder.pfs(PfsOptions { service_fee, ..PfsOptions::new(binary) });
    }
    // The start is interruptible: Ctrl-C or SIGTERM during it drops what was started so far.
    let mut devnet = tokio::select! {
        devnet = builder.start() => devnet?,
        _ = interrupt.recv() => bail!("interrupted during start-up (Ctrl-C)"),
        _ = terminate.recv() => bail!("interrupted during start-up (SIGTERM)"),
    };
    let anvil_pid = devnet.anvil().pid();
    let processes: Vec<ChildProcess> = devnet
        .pids()
        .into_iter()
        .filter(|pid| Some(*pid) != anvil_pid)
        .filter_map(ChildProcess::of)
        .collect();
    PidFile { devnet: std::process::id(), anvil: anvil_pid, processes }.write(dir)?;
    let manifest_path = devnet.write_manifest()?;
    let manifest = devnet.manifest();
    let times = devnet.start_times();
    println!(
        "devnet up in {:.2?} (chain {:.2?}, homeservers {:.2?}, PFS and node logins {:.2?}, PFS sync {:.2?}, updates {:.2?}, nodes online {:.2?})",
        started.elapsed(),
        times.chain,
        times.homeservers,
        times.pfs_and_nodes,
        times.pfs_synced,
        times.updates,
        times.nodes_online,
    );
    println!(
        "  chain      {} (chain id {}), {} nodes, {} channels, token network {}",
        manifest.eth_rpc,
        manifest.chain_id,
        manifest.nodes.len(),
        devnet.channels().len(),
        manifest.contracts.token_network,
    );
    for server in &manifest.matrix_servers {
        println!("  matrix     {server}");
    }
    if let (Some(url), Some(address)) = (&manifest.pfs_url, &manifest.pfs_address) {
        println!(
            "  pfs        {url} (address {address}, database {})",
            manifest.pfs_db.as_deref().unwrap_or("-")
        );
    }
    println!("wrote {}\nCtrl-C or `devnet down --dir {}` stops it", manifest_path.display(), dir.display());

    let mut health = tokio::time::interval(Duration::from_millis(200));
    let outcome = loop {
        tokio::select! {
            _ = interrupt.recv() => break Ok("Ctrl-C"),
            _ = terminate.recv() => break Ok("SIGTERM"),
            _ = health.tick() => {
                if let Some(crash) = devnet.crashed_part() {
                    break Err(anyhow::anyhow!("{crash}"));
                }
            }
        }
    };
    devnet.shutdown().await;
    PidFile::remove(dir)?;
    let reason = outcome?;
    println!("devnet stopped ({reason})");
    Ok(())
}

/// Fee schedules that make routes differ in price: flat fees of 0.01 to 0.04 tokens and 0 to
/// 2,000 ppm, cycling over the nodes.
fn demo_fee_schedules() -> Vec<FeeSchedule> {
    let centi_token = U256::from(10).pow(U256::from(16));
    (0..12u64)
        .map(|index| FeeSchedule {
            flat: centi_token * U256::from(1 + index % 4),
            proportional: U256::from(1000 * (index % 3)),
            ..FeeSchedule::default()
        })
        .collect()
}

/// `name` in the folder of this executable (cargo puts all workspace binaries there).
fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let own = std::env::current_exe().context("locating the devnet binary")?;
    let binary = own.with_file_name(name);
    if !binary.is_file() {
        bail!(
            "{} does not exist: build it (`cargo build -p raiden-pfs`, with --release for a release devnet) or pass --pfs-binary",
            binary.display()
        );
    }
    Ok(binary)
}

fn down(dir: &Path) -> anyhow::Result<()> {
    let Some(pids) = PidFile::read(dir)? else {
        bail!("no devnet runs in {} (no {})", dir.display(), devnet::manifest::PID_FILE);
    };
    let stopped_devnet = stop_process(pids.devnet, "devnet")?;
    // If `devnet up` was killed hard, its children may still run: stop them directly.
    let stopped_anvil = match pids.anvil {
        Some(pid) => stop_process(pid, "anvil")?,
        None => false,
    };
    let mut stopped_children = false;
    for child in &pids.processes {
        stopped_children |= stop_process(child.pid, &child.name)?;
    }
    PidFile::remove(dir)?;
    if stopped_devnet || stopped_anvil || stopped_children {
        println!("devnet in {} stopped", dir.display());
    } else {
        println!("devnet in {} was not running; removed its stale pid file", dir.display());
    }
    Ok(())
}

/// A number from the seed text for the channel graph (FNV-1a, stable across runs).
fn seed_number(seed: &str) -> u64 {
    seed.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}
