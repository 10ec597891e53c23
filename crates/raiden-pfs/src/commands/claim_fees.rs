//! `raiden-pfs claim-fees`: claims the service's unclaimed IOUs from the OneToN contract
//! (spec/REFERENCE-PFS.md §6.5 and §9.2), to be run periodically against the service's
//! database. The selection, the `eth_call` check and the signed claim transactions are
//! `pfs_chain::claims`; this command opens the database and reports.
//!
//! The database must exist and belong to this key's service on this chain (the reference
//! compares the chain id and the receiver). Exit status 1 if any claim failed.

use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::Args;
use pfs_chain::claims::{ClaimOutcome, ClaimPolicy, claim_fees};
use pfs_chain::one_to_n::OneToNClient;
use pfs_core::Address;
use pfs_store::{Store, StoreConfig};

use super::key::KeyArgs;

/// Arguments of `claim-fees` (each also from a `PFS_*` environment variable).
#[derive(Debug, Args)]
pub struct ClaimFeesArgs {
    /// Ethereum JSON-RPC URL.
    #[arg(long, env = "PFS_ETH_RPC", default_value = "http://127.0.0.1:8545")]
    eth_rpc: String,
    /// The OneToN contract the IOUs are claimable from.
    #[arg(long, env = "PFS_ONE_TO_N_ADDRESS")]
    one_to_n_address: String,
    /// The service's key (the IOUs' receiver; it signs and pays the claims).
    #[command(flatten)]
    key: KeyArgs,
    /// The service's database: a SQLite file path or a `postgres://` URL. It must exist.
    #[arg(long, env = "PFS_DB", default_value = "raiden-pfs.db")]
    db: String,
    /// The service token's price in ETH, to convert the claim's gas cost (the reference's
    /// `--rdn-per-eth`).
    #[arg(long, env = "PFS_TOKEN_PRICE_IN_ETH", alias = "rdn-per-eth", default_value_t = 0.0025)]
    token_price_in_eth: f64,
    /// Claim IOUs whose `claimable_until` is at most this many seconds away (≥ 1).
    #[arg(long, env = "PFS_EXPIRE_WITHIN", default_value_t = 604_800,
          value_parser = clap::value_parser!(u64).range(1..))]
    expire_within: u64,
}

/// Runs the command.
///
/// # Errors
/// For invalid arguments, a missing or foreign database, an unreachable RPC endpoint, or if any
/// claim failed.
pub fn run(arguments: &ClaimFeesArgs) -> anyhow::Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(claim(arguments))
}

async fn claim(arguments: &ClaimFeesArgs) -> anyhow::Result<()> {
    let key = arguments.key.load()?;
    let one_to_n = Address::parse_any_case(&arguments.one_to_n_address)
        .with_context(|| format!("--one-to-n-address is not an address: {}", arguments.one_to_n_address))?;
    let client = OneToNClient::connect(&arguments.eth_rpc, one_to_n, &key).context("--eth-rpc")?;
    let stored = Store::open_read_only(&arguments.db)
        .await
        .with_context(|| format!("cannot open the database {}", arguments.db))?;
    let deployment = *stored.deployment();
    stored.close().await;
    if deployment.receiver != key.address() {
        bail!("the database belongs to service {}, not to this key's {}", deployment.receiver, key.address());
    }
    let chain_id = client.chain_id().await.context("cannot read the chain id")?;
    if deployment.chain_id.0 != chain_id {
        bail!(
            "the database is for chain {}, the RPC endpoint serves chain {chain_id}",
            deployment.chain_id.0
        );
    }
    let store = Store::open(&StoreConfig::new(arguments.db.clone()), &deployment)
        .await
        .with_context(|| format!("cannot open the database {}", arguments.db))?;
    let policy = ClaimPolicy {
        expire_within: Duration::from_secs(arguments.expire_within),
        eth_per_token: arguments.token_price_in_eth,
    };
    let report = claim_fees(&store, &client, &policy, SystemTime::now()).await;
    store.close().await;
    let report = report?;
    println!("Found {} claimable IOUs (claim cost {} tokens)", report.outcomes.len(), report.claim_cost);
    for (iou, outcome) in &report.outcomes {
        let fields = iou.fields();
        let what = match outcome {
            ClaimOutcome::Claimed { transaction, transferred } => {
                format!("claimed {transferred} in {transaction}")
            }
            ClaimOutcome::AlreadySettled => "already settled on chain, marked claimed".to_owned(),
            ClaimOutcome::NotWorthClaiming { transferable, claim_cost } => {
                format!("skipped: the deposit yields {transferable}, the claim costs {claim_cost}")
            }
            ClaimOutcome::OtherReceiver => "skipped: addressed to another receiver".to_owned(),
            ClaimOutcome::Failed(reason) => format!("FAILED: {reason}"),
        };
        println!(
            "{} amount {} claimable until {}: {what}",
            fields.sender, fields.amount, fields.claimable_until
        );
    }
    println!(
        "{} claimed ({} tokens), {} skipped, {} failed",
        report.claimed(),
        report.transferred(),
        report.skipped(),
        report.failures()
    );
    if report.failures() > 0 {
        bail!("{} claims failed", report.failures());
    }
    Ok(())
}
