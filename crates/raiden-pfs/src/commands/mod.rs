//! The subcommands, one module each.

pub mod generate_network;
pub mod replay;
pub mod serve;
