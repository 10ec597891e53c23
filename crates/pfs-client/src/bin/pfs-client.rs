//! `pfs-client`: the PFS HTTP API from a shell. Every answer is printed as JSON; errors print the
//! PFS's `error_code` and message and exit non-zero.
//!
//! ```text
//! pfs-client --url http://127.0.0.1:6000 info
//! pfs-client --url … paths --token-network TN --from A --to B --value 100 [--private-key K --one-to-n X]
//! pfs-client --url … last-iou --token-network TN --private-key K
//! pfs-client --url … metadata ADDRESS | online
//! pfs-client --url … feedback --token-network TN --token T --success true --path A,B,C
//! pfs-client --url … post-updates FILE             (one message JSON per line; - for stdin)
//! pfs-client --url … capacity-update --private-key K --chain-id C --token-network TN --channel-id I \
//!     --partner P --own-capacity X --partner-capacity Y [--nonce N] [--post]
//! pfs-client --url … fee-update --private-key K --chain-id C --token-network TN --channel-id I \
//!     [--flat F] [--proportional P] [--post]
//! ```

use std::io::Read;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use pfs_client::{
    ChannelState, ParticipantState, PathsRequest, Payer, PfsClient, fee_update, light_client_timestamp,
};
use pfs_core::{
    Address, BlockTimeout, CanonicalIdentifier, ChainId, ChannelId, FeeSchedule, Message, NaiveTimestamp,
    Nonce, PrivateKey, U256,
};

/// A client of a raiden-pfs (or any Raiden PFS) HTTP API.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The PFS base URL.
    #[arg(long, env = "PFS_URL", default_value = "http://127.0.0.1:6000")]
    url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// GET /api/v1/info.
    Info,
    /// POST /api/v1/<token network>/paths (paying with an IOU when the PFS charges).
    Paths {
        #[arg(long)]
        token_network: Address,
        #[arg(long)]
        from: Address,
        #[arg(long)]
        to: Address,
        #[arg(long)]
        value: U256,
        #[arg(long)]
        max_paths: Option<u32>,
        /// The payer's key (hex), needed when the PFS charges.
        #[arg(long, env = "PFS_CLIENT_PRIVATE_KEY", hide_env_values = true)]
        private_key: Option<String>,
        /// The OneToN contract, needed when the PFS charges.
        #[arg(long)]
        one_to_n: Option<Address>,
    },
    /// GET /api/v1/<token network>/payment/iou, signed now.
    LastIou {
        #[arg(long)]
        token_network: Address,
        #[arg(long, env = "PFS_CLIENT_PRIVATE_KEY", hide_env_values = true)]
        private_key: String,
        /// The PFS's payment address (default: from /info).
        #[arg(long)]
        receiver: Option<Address>,
    },
    /// GET /api/v1/address/<address>/metadata.
    Metadata { address: Address },
    /// GET /api/v1/online_addresses.
    Online,
    /// POST /api/v1/<token network>/feedback.
    Feedback {
        #[arg(long)]
        token_network: Address,
        #[arg(long)]
        token: String,
        #[arg(long)]
        success: bool,
        /// The route, comma-separated.
        #[arg(long, value_delimiter = ',')]
        path: Vec<Address>,
    },
    /// POST /api/v1/updates with messages read from FILE (one JSON per line; `-` is stdin).
    PostUpdates { file: String },
    /// Signs a PFSCapacityUpdate (prints it; --post sends it).
    CapacityUpdate {
        #[command(flatten)]
        channel: ChannelArgs,
        #[arg(long)]
        partner: Address,
        #[arg(long)]
        own_capacity: U256,
        #[arg(long)]
        partner_capacity: U256,
        #[arg(long, default_value_t = 0)]
        nonce: u64,
        #[arg(long, default_value_t = 50)]
        reveal_timeout: u64,
        #[arg(long)]
        post: bool,
    },
    /// Signs a PFSFeeUpdate timestamped now (prints it; --post sends it).
    FeeUpdate {
        #[command(flatten)]
        channel: ChannelArgs,
        #[arg(long, default_value = "0")]
        flat: U256,
        /// Parts per million.
        #[arg(long, default_value = "0")]
        proportional: U256,
        #[arg(long)]
        post: bool,
    },
}

#[derive(Debug, clap::Args)]
struct ChannelArgs {
    #[arg(long, env = "PFS_CLIENT_PRIVATE_KEY", hide_env_values = true)]
    private_key: String,
    #[arg(long)]
    chain_id: u64,
    #[arg(long)]
    token_network: Address,
    #[arg(long)]
    channel_id: U256,
}

impl ChannelArgs {
    fn key(&self) -> anyhow::Result<PrivateKey> {
        parse_key(&self.private_key)
    }

    fn identifier(&self) -> CanonicalIdentifier {
        CanonicalIdentifier {
            chain_identifier: ChainId(self.chain_id),
            token_network_address: self.token_network,
            channel_identifier: ChannelId(self.channel_id),
        }
    }
}

fn parse_key(text: &str) -> anyhow::Result<PrivateKey> {
    PrivateKey::parse_hex(text.trim()).context("the private key is not 32 bytes of hex")
}

fn print(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pfs-client: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let pfs = PfsClient::new(&cli.url)?;
    match cli.command {
        Command::Info => print(&pfs.info().await?),
        Command::Paths { token_network, from, to, value, max_paths, private_key, one_to_n } => {
            let mut request = PathsRequest::new(from, to, value);
            request.max_paths = max_paths;
            let info = pfs.info().await?;
            let answer = if info.price_info.is_zero() {
                pfs.paths(token_network, &request).await?
            } else {
                let (Some(key), Some(one_to_n)) = (private_key, one_to_n) else {
                    bail!(
                        "the PFS charges {} per request: give --private-key and --one-to-n",
                        info.price_info
                    );
                };
                let mut payer = Payer::new(parse_key(&key)?, one_to_n, info.network_info.chain_id);
                pfs.paths_paying(token_network, &request, &info, &mut payer).await?
            };
            print(&answer)
        }
        Command::LastIou { token_network, private_key, receiver } => {
            let receiver = match receiver {
                Some(receiver) => receiver,
                None => pfs.info().await?.payment_address,
            };
            let timestamp = light_client_timestamp(SystemTime::now());
            let iou = pfs.last_iou(token_network, &parse_key(&private_key)?, receiver, &timestamp).await?;
            print(&serde_json::json!({ "last_iou": iou }))
        }
        Command::Metadata { address } => print(&pfs.metadata(address).await?),
        Command::Online => print(&pfs.online_addresses().await?),
        Command::Feedback { token_network, token, success, path } => {
            let accepted = pfs.feedback(token_network, &token, success, &path).await?;
            print(&serde_json::json!({ "accepted": accepted }))
        }
        Command::PostUpdates { file } => {
            let mut text = String::new();
            if file == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {file}"))?;
            }
            let messages = text
                .lines()
                .filter(|line| !line.trim().is_empty())
                .enumerate()
                .map(|(index, line)| Message::parse(line).with_context(|| format!("message {}", index + 1)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let results = pfs.post_all_updates(&messages).await?;
            let report: Vec<serde_json::Value> = results
                .iter()
                .map(|result| match result {
                    Ok(outcome) => serde_json::json!({ "status": outcome.to_string() }),
                    Err(error) => serde_json::json!({
                        "error_code": error.error_code, "errors": error.errors, "error_details": error.error_details
                    }),
                })
                .collect();
            print(&report)
        }
        Command::CapacityUpdate {
            channel,
            partner,
            own_capacity,
            partner_capacity,
            nonce,
            reveal_timeout,
            post,
        } => {
            let key = channel.key()?;
            let state = ChannelState {
                canonical_identifier: channel.identifier(),
                own_address: key.address(),
                own: ParticipantState {
                    deposit: own_capacity,
                    nonce: Nonce(nonce),
                    ..ParticipantState::default()
                },
                partner_address: partner,
                partner: ParticipantState { deposit: partner_capacity, ..ParticipantState::default() },
                reveal_timeout: BlockTimeout(U256::from(reveal_timeout)),
            };
            let message = Message::CapacityUpdate(state.capacity_update(&key)?);
            send_or_print(&pfs, message, post).await
        }
        Command::FeeUpdate { channel, flat, proportional, post } => {
            let key = channel.key()?;
            let schedule = FeeSchedule { flat, proportional, ..FeeSchedule::default() };
            let message = Message::FeeUpdate(fee_update(&key, channel.identifier(), schedule, now()?));
            send_or_print(&pfs, message, post).await
        }
    }
}

async fn send_or_print(pfs: &PfsClient, message: Message, post: bool) -> anyhow::Result<()> {
    if post {
        let outcome = pfs.post_update(&message).await?;
        print(&serde_json::json!({ "status": outcome.to_string() }))
    } else {
        println!("{}", message.to_json());
        Ok(())
    }
}

fn now() -> anyhow::Result<NaiveTimestamp> {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).context("clock before 1970")?.as_micros();
    NaiveTimestamp::from_unix_micros(i64::try_from(micros)?).context("clock out of range")
}
