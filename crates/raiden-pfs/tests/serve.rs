//! `raiden-pfs serve` as a process: it serves /info on 127.0.0.1 and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A free loopback port (bound and released; the race with other processes is acceptable here).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("bound address").port()
}

#[tokio::test]
async fn serve_answers_info_and_stops_on_sigterm() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_raiden-pfs"))
        .arg("serve")
        .env("PFS_CHAIN_ID", "1337")
        .env("PFS_TOKEN_NETWORK_REGISTRY_ADDRESS", "0x0101010101010101010101010101010101010101")
        .env("PFS_USER_DEPOSIT_ADDRESS", "0x0202020202020202020202020202020202020202")
        .env("PFS_PRIVATE_KEY", "0x0101010101010101010101010101010101010101010101010101010101010101")
        .env("PFS_DB", directory.path().join("pfs.db"))
        .env("PFS_PORT", port.to_string())
        .env("PFS_OPERATOR", "Operator")
        .stderr(Stdio::piped())
        .spawn()
        .expect("raiden-pfs starts");
    let url = format!("http://127.0.0.1:{port}/api/v1/info");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let info: serde_json::Value = loop {
        if let Ok(response) = client.get(&url).send().await {
            break response.json().await.expect("JSON body");
        }
        assert!(Instant::now() < deadline, "serve did not answer within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(info["network_info"]["chain_id"], serde_json::json!(1337));
    assert_eq!(info["operator"], serde_json::json!("Operator"));
    assert_eq!(info["matrix_user_id"], serde_json::json!(null));
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
    kill(pid, Signal::SIGTERM).expect("signal sent");
    let status = child.wait().expect("child exits");
    assert!(status.success(), "exit status {status}");
}
