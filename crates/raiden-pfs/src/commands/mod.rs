//! The subcommands, one module each.

pub mod claim_fees;
pub mod export;
pub mod generate_network;
pub mod key;
pub mod replay;
pub mod serve;
pub mod serve_config;

/// A command's failure that it has already written to its log (as JSON, see
/// [`serve_config::LogFormat::Json`]): the process exits with a failure without printing it
/// again as text.
#[derive(Debug, thiserror::Error)]
#[error("stopped (the reason is in the log)")]
pub struct AlreadyLogged;
