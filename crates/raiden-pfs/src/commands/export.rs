//! `raiden-pfs export --db URL --token-network ADDR [--out FILE] [--all-online]`: writes one
//! followed token network, as the service's database holds it, in the snapshot format of
//! `raiden-pfs replay`, so that live state can be replayed offline.
//!
//! The database is opened read-only (a running service is not disturbed). Each channel side's
//! capacity is the one the service routes with (its latest report, capped by the channel's
//! on-chain funds), and its fee schedule the latest announced. Presence is not stored, so
//! `online` is empty unless `--all-online` lists every channel participant.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use pfs_core::Address;
use raiden_pfs::snapshot::NetworkSnapshot;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The service's database: a SQLite file path or a `postgres://` URL.
    #[arg(long, env = "PFS_DB")]
    db: String,
    /// The token network to export (checksummed or lower-case).
    #[arg(long)]
    token_network: String,
    /// Where to write the snapshot (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// List every channel participant as online (presence is not stored).
    #[arg(long)]
    all_online: bool,
}

/// Runs the command.
///
/// # Errors
/// An invalid address, an unreadable database, a token network the database does not follow, or
/// an unwritable output.
pub fn run(arguments: &ExportArgs) -> anyhow::Result<()> {
    let address = Address::parse_any_case(&arguments.token_network)
        .with_context(|| format!("--token-network is not an address: {}", arguments.token_network))?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    let network = runtime
        .block_on(pfs_store::load_token_network(&arguments.db, &address))
        .with_context(|| format!("cannot read the database {}", arguments.db))?;
    let Some(network) = network else {
        bail!("the database does not follow token network {}", address.to_checksum());
    };
    let channels: Vec<_> = network.channels().map(|channel| pfs_service::describe(channel).into()).collect();
    let online = if arguments.all_online {
        let participants: BTreeSet<Address> =
            network.channels().flat_map(|channel| channel.participants()).collect();
        participants.into_iter().collect()
    } else {
        Vec::new()
    };
    let snapshot = NetworkSnapshot { token_network_address: address, channels, online };
    let text = serde_json::to_string(&snapshot).context("snapshot")?;
    match &arguments.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).context("standard output")?;
        }
    }
    Ok(())
}
