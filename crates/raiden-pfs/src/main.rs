//! `raiden-pfs`: the Raiden Pathfinding Service binary. One module per subcommand; this file only
//! parses the command line and dispatches.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The Raiden Pathfinding Service.
#[derive(Debug, Parser)]
#[command(name = "raiden-pfs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: the chain follower and the HTTP API over the stored state, with Matrix if configured.
    Serve(Box<commands::serve::ServeArgs>),
    /// Answer a list of path requests on a network snapshot, as the service would.
    Replay(commands::replay::ReplayArgs),
    /// Write one token network from the service's database as a `replay` snapshot.
    Export(commands::export::ExportArgs),
    /// Claim the service's unclaimed IOUs from the OneToN contract.
    ClaimFees(commands::claim_fees::ClaimFeesArgs),
    /// Write a seeded random network snapshot (and optionally requests) of realistic shape.
    GenerateNetwork(commands::generate_network::GenerateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(arguments) => commands::serve::run(&arguments),
        Command::Replay(arguments) => commands::replay::run(&arguments),
        Command::GenerateNetwork(arguments) => commands::generate_network::run(&arguments),
        Command::Export(arguments) => commands::export::run(&arguments),
        Command::ClaimFees(arguments) => commands::claim_fees::run(&arguments),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if error.downcast_ref::<commands::AlreadyLogged>().is_none() {
                eprintln!("raiden-pfs: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}
