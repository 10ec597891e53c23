//! `raiden-pfs generate-network`: writes a seeded snapshot and request list for benchmarks.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use raiden_pfs::generate::{NetworkShape, generate_network, generate_requests};

/// Arguments of `generate-network`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Number of channels.
    #[arg(long, default_value_t = 4000)]
    channels: usize,
    /// Seed of the generator (same seed, same files).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the snapshot.
    #[arg(long)]
    out: PathBuf,
    /// Where to write a request list (optional).
    #[arg(long)]
    requests: Option<PathBuf>,
    /// Number of requests.
    #[arg(long, default_value_t = 1000)]
    request_count: usize,
    /// `max_paths` of every request.
    #[arg(long, default_value_t = 5)]
    max_paths: usize,
}

/// Runs the command.
///
/// # Errors
/// When a file cannot be written.
pub fn run(arguments: &GenerateArgs) -> anyhow::Result<()> {
    if arguments.nodes < 2 || arguments.channels == 0 {
        anyhow::bail!("need at least 2 nodes and 1 channel");
    }
    let snapshot = generate_network(&NetworkShape::new(arguments.nodes, arguments.channels), arguments.seed);
    let file = std::fs::File::create(&arguments.out)
        .with_context(|| format!("cannot create {}", arguments.out.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(file), &snapshot)?;
    if let Some(path) = &arguments.requests {
        let requests =
            generate_requests(&snapshot, arguments.request_count, arguments.max_paths, arguments.seed);
        let file =
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        serde_json::to_writer(std::io::BufWriter::new(file), &requests)?;
    }
    Ok(())
}
