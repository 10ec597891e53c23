//! The subcommands, one module each.

pub mod export;
pub mod generate_network;
pub mod replay;
pub mod serve;
pub mod serve_config;
