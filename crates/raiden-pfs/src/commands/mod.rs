//! The subcommands, one module each.

pub mod claim_fees;
pub mod export;
pub mod generate_network;
pub mod key;
pub mod replay;
pub mod serve;
pub mod serve_config;
