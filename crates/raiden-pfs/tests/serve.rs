//! `raiden-pfs serve` as a process: it serves /info on 127.0.0.1 while the Ethereum node is
//! unreachable, stops cleanly on SIGTERM, keeps a second service off its database, takes its key
//! from a keystore, and refuses a node on another chain and a registry address without a
//! contract.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

mod common;

use common::free_port;

/// `/api/v1/info` of the service on `port`, once it answers (20 s at most).
async fn wait_for_info(port: u16) -> serde_json::Value {
    let url = format!("http://127.0.0.1:{port}/api/v1/info");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = client.get(&url).send().await {
            return response.json().await.expect("JSON body");
        }
        assert!(Instant::now() < deadline, "serve did not answer on port {port} within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `serve` on the database `db` and `port`, with its chain id given and no Ethereum node
/// listening: it serves `/info` at once.
fn serve_without_node(db: &Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_raiden-pfs"));
    command
        .arg("serve")
        .env("PFS_ETH_RPC", format!("http://127.0.0.1:{}", free_port()))
        .env("PFS_CHAIN_ID", "1337")
        .env("PFS_TOKEN_NETWORK_REGISTRY_ADDRESS", "0x0101010101010101010101010101010101010101")
        .env("PFS_USER_DEPOSIT_ADDRESS", "0x0202020202020202020202020202020202020202")
        .env("PFS_PRIVATE_KEY", "0x0101010101010101010101010101010101010101010101010101010101010101")
        .env("PFS_DB", db)
        .env("PFS_PORT", port.to_string())
        .env("PFS_OPERATOR", "Operator");
    command
}

/// Sends SIGTERM to `child` and asserts that it stops cleanly.
fn stop(mut child: Child) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
    kill(pid, Signal::SIGTERM).expect("signal sent");
    let status = child.wait().expect("child exits");
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn serve_answers_info_and_stops_on_sigterm() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let child = serve_without_node(&directory.path().join("pfs.db"), port)
        .stderr(Stdio::null())
        .spawn()
        .expect("raiden-pfs starts");
    let info = wait_for_info(port).await;
    assert_eq!(info["network_info"]["chain_id"], serde_json::json!(1337));
    assert_eq!(info["operator"], serde_json::json!("Operator"));
    assert_eq!(info["matrix_user_id"], serde_json::json!(null));
    stop(child);
}

#[tokio::test]
async fn a_second_serve_on_the_same_database_is_refused_while_the_first_runs() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let db = directory.path().join("pfs.db");
    let port = free_port();
    let first = serve_without_node(&db, port).stderr(Stdio::null()).spawn().expect("raiden-pfs starts");
    wait_for_info(port).await;
    let second = serve_without_node(&db, free_port()).output().expect("raiden-pfs runs");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another raiden-pfs service is using the database"), "{stderr}");
    wait_for_info(port).await;
    stop(first);
    let port = free_port();
    let third = serve_without_node(&db, port).stderr(Stdio::null()).spawn().expect("raiden-pfs starts");
    wait_for_info(port).await;
    stop(third);
}

#[tokio::test]
async fn serve_takes_its_key_from_a_keystore_and_its_settings_from_a_config_file() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let key = [0x42_u8; 32];
    eth_keystore::encrypt_key(directory.path(), &mut rand::thread_rng(), key, "pass", Some("key.json"))
        .expect("keystore written");
    std::fs::write(directory.path().join("password"), "pass\n").expect("written");
    let port = free_port();
    let config = directory.path().join("pfs.toml");
    std::fs::write(
        &config,
        format!(
            "chain_id = 1337\ntoken_network_registry_address = \"0x0101010101010101010101010101010101010101\"\n\
             user_deposit_address = \"0x0202020202020202020202020202020202020202\"\nport = {}\noperator = \"From the file\"\n\
             keystore_file = \"{}\"\npassword_file = \"{}\"\ndb = \"{}\"\neth_rpc = \"http://127.0.0.1:{}\"\n",
            free_port(),
            directory.path().join("key.json").display(),
            directory.path().join("password").display(),
            directory.path().join("pfs.db").display(),
            free_port(),
        ),
    )
    .expect("written");
    let mut child = Command::new(env!("CARGO_BIN_EXE_raiden-pfs"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("PFS_PORT", port.to_string())
        .env("PFS_INFO_MESSAGE", "From the environment")
        .stderr(Stdio::null())
        .spawn()
        .expect("raiden-pfs starts");
    let info = wait_for_info(port).await;
    let expected = pfs_core::PrivateKey::from_bytes(key).expect("valid key").address().to_checksum();
    assert_eq!(info["payment_address"], serde_json::json!(expected));
    assert_eq!(info["operator"], serde_json::json!("From the file"));
    assert_eq!(info["message"], serde_json::json!("From the environment"));
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
    kill(pid, Signal::SIGTERM).expect("signal sent");
    assert!(child.wait().expect("child exits").success());
}

#[tokio::test]
async fn serve_rejects_an_unknown_config_key() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let config = directory.path().join("pfs.toml");
    std::fs::write(&config, "eth_rcp = \"http://127.0.0.1:1\"\n").expect("written");
    let output = Command::new(env!("CARGO_BIN_EXE_raiden-pfs"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("raiden-pfs runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `eth_rcp`"), "{stderr}");
}

/// Runs `serve` on `devnet` with `registry`, `chain_id` (`None`: asked of the node) and the
/// `environment` until it exits by itself (30 s at most); returns whether it succeeded and its
/// standard error.
async fn serve_until_it_exits(
    devnet: &devnet::Devnet,
    registry: &str,
    chain_id: Option<&str>,
    environment: &[(&str, &str)],
) -> (bool, String) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_raiden-pfs"));
    command
        .arg("serve")
        .env("PFS_ETH_RPC", devnet.eth_rpc())
        .env("PFS_TOKEN_NETWORK_REGISTRY_ADDRESS", registry)
        .env("PFS_USER_DEPOSIT_ADDRESS", devnet.deployment().user_deposit.to_string())
        .env("PFS_PRIVATE_KEY", "0x0101010101010101010101010101010101010101010101010101010101010101")
        .env("PFS_DB", directory.path().join("pfs.db"))
        .env("PFS_PORT", free_port().to_string())
        .stderr(Stdio::piped());
    if let Some(chain_id) = chain_id {
        command.env("PFS_CHAIN_ID", chain_id);
    }
    command.envs(environment.iter().copied());
    let mut child = command.spawn().expect("raiden-pfs starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("waitable").is_none() {
        assert!(Instant::now() < deadline, "serve did not exit within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = child.wait_with_output().expect("output read");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn serve_exits_when_the_node_is_on_another_chain() {
    let devnet = devnet::Devnet::builder().nodes(1).start().await.expect("the devnet starts");
    let registry = devnet.deployment().token_network_registry.to_string();
    let (success, stderr) = serve_until_it_exits(&devnet, &registry, Some("1"), &[]).await;
    assert!(!success);
    assert!(
        stderr.contains(&format!(
            "the Ethereum node is on chain {}, but the service follows chain 1",
            devnet.chain().chain_id()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_exits_when_the_registry_address_has_no_contract() {
    let devnet = devnet::Devnet::builder().nodes(1).start().await.expect("the devnet starts");
    let wrong = "0x5A5a5A5a5A5a5A5a5A5a5A5a5A5a5A5a5A5a5A5a";
    let (success, stderr) = serve_until_it_exits(&devnet, wrong, None, &[]).await;
    assert!(!success);
    let expected = format!("no TokenNetworkRegistry at {wrong} on this chain").to_lowercase();
    assert!(stderr.to_lowercase().contains(&expected), "{stderr}");
    assert!(stderr.contains("check --token-network-registry-address and --eth-rpc"), "{stderr}");
}

/// The JSON objects of a JSON log, one per line; fails on a line that is not one.
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}\n{log}")))
        .collect()
}

#[tokio::test]
async fn a_json_log_holds_nothing_but_json_lines_up_to_the_reason_it_stopped() {
    let devnet = devnet::Devnet::builder().nodes(1).start().await.expect("the devnet starts");
    let wrong = "0x5A5a5A5a5A5a5A5a5A5a5A5a5A5a5A5a5A5a5A5a";
    let (success, stderr) = serve_until_it_exits(&devnet, wrong, None, &[("PFS_LOG_FORMAT", "json")]).await;
    assert!(!success);
    let lines = json_lines(&stderr);
    let message =
        |line: &serde_json::Value| line["fields"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(lines.iter().any(|line| message(line).starts_with("serving on http://127.0.0.1:")), "{stderr}");
    let last = lines.last().expect("a log");
    assert_eq!(last["level"], "ERROR", "{stderr}");
    assert_eq!(message(last), "raiden-pfs stopped");
    let reason = last["fields"]["error"].as_str().expect("the reason").to_lowercase();
    assert!(reason.contains("no tokennetworkregistry"), "{reason}");
}
