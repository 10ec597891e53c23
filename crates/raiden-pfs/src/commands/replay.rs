//! `raiden-pfs replay`: answers a request list on a network snapshot with the service's routing
//! engine and writes the results (and, with `--summary`, timing statistics to stderr).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use pfs_core::routing::{
    ChannelDescription, ChannelGraph, NO_ROUTE_FOUND, OnlineSet, PathFinder, Routes, SearchLimits,
};
use raiden_pfs::snapshot::{PathRecord, ResultRecord, read_requests, read_snapshot};

/// Arguments of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The network snapshot (JSON).
    #[arg(long)]
    network: PathBuf,
    /// The request list (JSON).
    #[arg(long)]
    requests: PathBuf,
    /// Where to write the results; standard output when absent.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Most candidate paths examined per request.
    #[arg(long, default_value_t = SearchLimits::default().max_candidates)]
    max_candidates: u64,
    /// Time budget per request, in milliseconds.
    #[arg(long, default_value_t = SearchLimits::default().time_budget.as_millis() as u64)]
    time_budget_ms: u64,
    /// Print timing statistics (median, p99, build time, memory) to standard error.
    #[arg(long)]
    summary: bool,
}

/// Runs the command.
///
/// # Errors
/// For unreadable or malformed files, invalid channels, or an unwritable output.
pub fn run(arguments: &ReplayArgs) -> anyhow::Result<()> {
    let snapshot = read_snapshot(&arguments.network)?;
    let requests = read_requests(&arguments.requests)?;
    let address = snapshot.token_network_address;
    let channels: Vec<ChannelDescription> = snapshot.channels.into_iter().map(Into::into).collect();
    let build_started = Instant::now();
    let network = ChannelGraph::build(address, &channels)
        .with_context(|| format!("invalid channels in {}", arguments.network.display()))?;
    let build_time = build_started.elapsed();
    drop(channels);
    let online = OnlineSet::from_addresses(&network, &snapshot.online);
    let limits = SearchLimits {
        max_candidates: arguments.max_candidates,
        time_budget: Duration::from_millis(arguments.time_budget_ms),
    };

    let mut finder = PathFinder::new();
    let mut results = Vec::with_capacity(requests.len());
    let mut truncated = 0usize;
    let mut candidates = 0u64;
    let mut weighed = 0u64;
    let mut pops = 0u64;
    for record in &requests {
        let started = Instant::now();
        let deadline = started + limits.time_budget;
        let budget = move || Instant::now() >= deadline;
        let (paths, error) = match record.to_path_request() {
            Err(error) => (Vec::new(), Some(error.to_string())),
            Ok(request) => match finder.find_paths(&network, &online, &request, &limits, &budget) {
                Err(error) => (Vec::new(), Some(error.to_string())),
                Ok(Routes { paths, truncated: cut, candidates_examined, edges_weighed, queue_pops }) => {
                    truncated += usize::from(cut.is_some());
                    candidates += candidates_examined;
                    weighed += edges_weighed;
                    pops += queue_pops;
                    let error = paths.is_empty().then(|| NO_ROUTE_FOUND.to_owned());
                    let paths = paths
                        .into_iter()
                        .map(|path| PathRecord {
                            path: path.nodes,
                            estimated_fee: path.estimated_fee.to_string(),
                        })
                        .collect();
                    (paths, error)
                }
            },
        };
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        results.push(ResultRecord { paths, error, micros });
    }

    match &arguments.out {
        Some(path) => {
            let file =
                std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut writer = std::io::BufWriter::new(file);
            serde_json::to_writer(&mut writer, &results)?;
            writer.flush()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut writer = std::io::BufWriter::new(stdout.lock());
            serde_json::to_writer(&mut writer, &results)?;
            writeln!(writer)?;
        }
    }
    if arguments.summary {
        print_summary(&network, build_time, &results, truncated);
        eprintln!(
            "per request: {:.1} candidates examined, {:.0} edge weights computed, {:.0} queue pops",
            candidates as f64 / results.len().max(1) as f64,
            weighed as f64 / results.len().max(1) as f64,
            pops as f64 / results.len().max(1) as f64
        );
    }
    Ok(())
}

fn percentile(sorted: &[u64], fraction: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Peak resident set size of this process in KiB (Linux `VmHWM`), if known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn print_summary(network: &ChannelGraph, build_time: Duration, results: &[ResultRecord], truncated: usize) {
    let mut micros: Vec<u64> = results.iter().map(|result| result.micros).collect();
    micros.sort_unstable();
    let with_paths = results.iter().filter(|result| !result.paths.is_empty()).count();
    let paths: usize = results.iter().map(|result| result.paths.len()).sum();
    let memory = network.memory_bytes();
    let directions = network.channel_count() * 2;
    eprintln!(
        "nodes {} channels {} | graph build {:.2} ms, {} bytes ({:.0} per channel direction), peak RSS {} KiB",
        network.node_count(),
        network.channel_count(),
        build_time.as_secs_f64() * 1e3,
        memory,
        memory as f64 / directions.max(1) as f64,
        peak_rss_kib().map_or_else(|| "?".to_owned(), |kib| kib.to_string()),
    );
    eprintln!(
        "requests {} | with paths {} ({} paths) | truncated {} | micros p50 {} p90 {} p99 {} max {} mean {:.0}",
        results.len(),
        with_paths,
        paths,
        truncated,
        percentile(&micros, 0.5),
        percentile(&micros, 0.9),
        percentile(&micros, 0.99),
        micros.last().copied().unwrap_or(0),
        micros.iter().sum::<u64>() as f64 / micros.len().max(1) as f64,
    );
}
