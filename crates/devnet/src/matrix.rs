//! The devnet's Matrix homeservers: real Synapse processes from `contrib/synapse` (through
//! `pfs_matrix::testing`), each with Raiden's signature login and the presence router, which
//! routes every node's presence to the PFS's Matrix user on the first homeserver. With more than
//! one homeserver they federate with each other over loopback (no whitelist).
//!
//! The router is given both the PFS's user id (so presence flows from the first second) and the
//! PFS's info URL (as an operator would configure it; it confirms the id once the PFS answers).

use std::path::Path;

use futures_util::future::try_join_all;
use pfs_matrix::testing::{Homeserver, HomeserverOptions, TestingError, free_port};

/// How often the presence router reads the PFS's info URL, in seconds.
const INFO_REFRESH_SECONDS: &str = "10";

/// What the homeservers need to know about the PFS.
#[derive(Debug, Clone)]
pub struct PfsIdentity {
    /// The PFS's address, lower-case hex with `0x` (its Matrix localpart).
    pub localpart: String,
    /// The PFS's base URL (for `pfs_info_urls`).
    pub url: String,
}

/// Starts `count` federated homeservers at once, their data in `dir/synapse-<i>` (or temporary
/// folders), routing presence to `@<pfs localpart>:<first homeserver's server name>`.
///
/// # Errors
/// Synapse cannot be installed, configured or started.
pub async fn start_homeservers(
    count: usize,
    dir: Option<&Path>,
    pfs: &PfsIdentity,
) -> Result<Vec<Homeserver>, TestingError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let first_federation_port = free_port();
    let pfs_user_id = format!("@{}:127.0.0.1:{first_federation_port}", pfs.localpart);
    let launches = (0..count).map(|index| {
        let options = HomeserverOptions {
            federation_port: (index == 0).then_some(first_federation_port),
            pfs_user_ids: vec![pfs_user_id.clone()],
            eth_auth: true,
            testing: true,
            extra_arguments: vec![
                "--pfs-info-url".into(),
                pfs.url.clone(),
                "--refresh-seconds".into(),
                INFO_REFRESH_SECONDS.into(),
                // Fast federation retries after an outage, as recommended for node homeservers.
                "--min-retry-interval".into(),
                "2s".into(),
            ],
            data_dir: dir.map(|dir| dir.join(format!("synapse-{index}"))),
            ..HomeserverOptions::default()
        };
        async move { Homeserver::launch(&options).await }
    });
    try_join_all(launches).await
}
