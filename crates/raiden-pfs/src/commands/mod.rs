//! The subcommands, one module each.

pub mod api_limits;
pub mod generate_network;
pub mod replay;
pub mod serve;
