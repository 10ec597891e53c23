//! A whole PFS with Matrix for the tests: the service on a temporary SQLite file, its Matrix
//! client on a real Synapse homeserver forwarding sync batches to the writer
//! (`Service::forward_matrix`, as `raiden-pfs serve` does), and the HTTP API on 127.0.0.1.

use std::time::{Duration, Instant};

use pfs_api::ApiOptions;
use pfs_core::matrix_identity;
use pfs_core::{Address, PrivateKey};
use pfs_matrix::testing::{Homeserver, HomeserverOptions, fast_config, free_port, log_in_nodes};
use pfs_matrix::{MatrixClient, NodeSession};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::{Running, api_config, key, paths_body, paths_url};

/// The longest one presence change may take to reach the API (measured: tens of ms).
pub const DELIVERY: Duration = Duration::from_secs(15);

pub fn pfs_key() -> PrivateKey {
    PrivateKey::from_bytes([0x77; 32]).expect("a constant valid key")
}

/// The PFS's homeserver "A": routes every local user's presence to the PFS user.
pub async fn pfs_homeserver() -> Homeserver {
    let port = free_port();
    let pfs_user = matrix_identity::user_id(&pfs_key().address(), &format!("127.0.0.1:{port}"));
    let options =
        HomeserverOptions { federation_port: Some(port), ..HomeserverOptions::routing_to(vec![pfs_user]) };
    Homeserver::launch(&options).await.expect("homeserver A starts")
}

/// A running PFS: service, Matrix client on `homeserver`, batches forwarded, HTTP API.
pub struct Pfs {
    pub running: Running,
    pub client: MatrixClient,
    forwarder: JoinHandle<()>,
    _directory: tempfile::TempDir,
}

impl Pfs {
    /// With the default API options (rate limits on).
    pub async fn start(homeserver: &Homeserver) -> Self {
        Self::start_with(homeserver, ApiOptions::default()).await
    }

    pub async fn start_with(homeserver: &Homeserver, options: ApiOptions) -> Self {
        let directory = tempfile::tempdir().expect("temporary directory");
        let service = super::start_service(&directory.path().join("pfs.db")).await;
        let token = service.store().sync_token().await.expect("token reads");
        let (client, batches) = MatrixClient::start(pfs_key(), fast_config(homeserver.address()), token)
            .await
            .expect("the PFS logs in");
        let forwarder = service.forward_matrix(batches);
        let mut config = api_config();
        config.payment_address = pfs_key().address();
        config.matrix_server = Some(client.homeserver_url().as_str().trim_end_matches('/').to_owned());
        config.matrix_user_id = Some(client.matrix_user_id().to_owned());
        let running = Running::serve(service, config, options).await;
        Self { running, client, forwarder, _directory: directory }
    }

    pub async fn online_addresses(&self) -> Vec<String> {
        let (status, body) = self.running.get("/api/v1/online_addresses").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body).expect("a list of addresses")
    }

    pub async fn is_online(&self, address: Address) -> bool {
        self.online_addresses().await.contains(&address.to_checksum())
    }

    /// Polls `condition` every 50 ms (well within the default per-IP limit) until it holds;
    /// panics after `timeout`.
    pub async fn wait_for<F, Fut>(&self, what: &str, timeout: Duration, condition: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        while !condition().await {
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_online(&self, address: Address, online: bool) {
        let what = format!("{address} {}", if online { "online" } else { "offline" });
        self.wait_for(&what, DELIVERY, || async move { self.is_online(address).await == online }).await;
    }

    pub async fn paths(&self, from: u8, to: u8, value: u64) -> (u16, Value) {
        self.running.post_json(&paths_url(), &paths_body(from, to, value)).await
    }

    pub async fn stop(self) {
        self.client.shutdown().await;
        let _ = self.forwarder.await;
        self.running.stop().await;
    }
}

/// Node `index` (key `[index + 1; 32]`, as in `common`) logged in on `homeserver` with its
/// identity published.
pub async fn matrix_node(homeserver: &Homeserver, index: u8) -> NodeSession {
    let mut nodes = log_in_nodes(&homeserver.address(), vec![key(index)], 1).await.expect("the node logs in");
    nodes.pop().expect("one node")
}
