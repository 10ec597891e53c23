//! `devnet`: installs the devnet's tools, brings a devnet up in the foreground, or stops one.
//!
//! ```text
//! devnet install
//! devnet up --dir D [--nodes N] [--seed S] [--no-channels]
//! devnet down --dir D
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use devnet::anvil::{process_running, stop_process};
use devnet::{Devnet, Devtools, PidFile, Topology};
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
        Command::Up { dir, nodes, seed, no_channels } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
            .and_then(|runtime| runtime.block_on(up(&dir, nodes, &seed, !no_channels))),
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

async fn up(dir: &Path, nodes: usize, seed: &str, channels: bool) -> anyhow::Result<()> {
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
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let started = Instant::now();
    let mut builder = Devnet::builder().dir(dir).nodes(nodes).node_seed(seed.as_bytes());
    if channels {
        builder = builder.channels(Topology { seed: seed_number(seed), ..Topology::default() });
    }
    let mut devnet = builder.start().await?;
    let anvil_pid = devnet.anvil().pid();
    PidFile { devnet: std::process::id(), anvil: anvil_pid }.write(dir)?;
    let manifest = devnet.write_manifest()?;
    println!(
        "devnet up in {:.2?}: {} on chain {}, {} nodes, {} channels; token network {}\nwrote {}\nCtrl-C or `devnet down --dir {}` stops it",
        started.elapsed(),
        devnet.eth_rpc(),
        devnet.deployment().chain_id,
        devnet.nodes().len(),
        devnet.channels().len(),
        devnet.deployment().token_network,
        manifest.display(),
        dir.display(),
    );

    let mut health = tokio::time::interval(Duration::from_millis(200));
    let outcome = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break Ok("Ctrl-C"),
            _ = terminate.recv() => break Ok("SIGTERM"),
            _ = health.tick() => {
                if let Some(status) = devnet.anvil().exit_status()? {
                    let log = devnet.anvil().log_file();
                    break Err(anyhow::anyhow!("anvil exited unexpectedly ({status}); its log is {}", log.display()));
                }
            }
        }
    };
    drop(devnet);
    PidFile::remove(dir)?;
    let reason = outcome?;
    println!("devnet stopped ({reason})");
    Ok(())
}

fn down(dir: &Path) -> anyhow::Result<()> {
    let Some(pids) = PidFile::read(dir)? else {
        bail!("no devnet runs in {} (no {})", dir.display(), devnet::manifest::PID_FILE);
    };
    let stopped_devnet = stop_process(pids.devnet, "devnet")?;
    // If `devnet up` was killed hard, its anvil is still running: stop it directly.
    let stopped_anvil = match pids.anvil {
        Some(pid) => stop_process(pid, "anvil")?,
        None => false,
    };
    PidFile::remove(dir)?;
    if stopped_devnet || stopped_anvil {
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
