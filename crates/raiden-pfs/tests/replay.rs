//! `raiden-pfs replay` end to end: the real binary on generated files.

use std::path::PathBuf;
use std::process::Command;

use raiden_pfs::generate::{NetworkShape, generate_network, generate_requests};
use raiden_pfs::snapshot::ResultRecord;

fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("raiden-pfs-replay-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    directory.join(name)
}

fn replay(arguments: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_raiden-pfs")).arg("replay").args(arguments).output().unwrap()
}

#[test]
fn replay_answers_every_request_in_order_and_deterministically() {
    let snapshot = generate_network(&NetworkShape::new(200, 700), 3);
    let requests = generate_requests(&snapshot, 30, 5, 3);
    let (network, request_file) = (scratch("network.json"), scratch("requests.json"));
    std::fs::write(&network, serde_json::to_vec(&snapshot).unwrap()).unwrap();
    std::fs::write(&request_file, serde_json::to_vec(&requests).unwrap()).unwrap();
    let out = scratch("results.json");
    // A time budget far above any request's need: only the deterministic candidate limit may cut
    // a search, so the two runs below must agree even on a loaded machine.
    let arguments = [
        "--network",
        network.to_str().unwrap(),
        "--requests",
        request_file.to_str().unwrap(),
        "--time-budget-ms",
        "600000",
        "--max-candidates",
        "500",
    ];
    let first = replay(&[&arguments[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let results: Vec<ResultRecord> = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(results.len(), requests.len());
    assert!(results.iter().any(|result| !result.paths.is_empty()), "some request finds a path");
    for (result, request) in results.iter().zip(&requests) {
        assert!(result.paths.len() <= request.max_paths);
        for path in &result.paths {
            assert_eq!(path.path.first(), Some(&request.from));
            assert_eq!(path.path.last(), Some(&request.to));
        }
        assert_eq!(result.error.is_some(), result.paths.is_empty());
    }
    // Standard output when no --out is given, with the same paths.
    let second = replay(&arguments);
    assert!(second.status.success());
    let again: Vec<ResultRecord> = serde_json::from_slice(&second.stdout).unwrap();
    let strip = |results: &[ResultRecord]| -> Vec<_> {
        results.iter().map(|result| (result.paths.clone(), result.error.clone())).collect()
    };
    assert_eq!(strip(&again), strip(&results));
}

#[test]
fn malformed_files_get_a_clear_error() {
    let network = scratch("broken-network.json");
    std::fs::write(&network, br#"{"token_network_address": "0x12", "channels": [], "online": []}"#).unwrap();
    let requests = scratch("empty-requests.json");
    std::fs::write(&requests, b"[]").unwrap();
    let output = replay(&["--network", network.to_str().unwrap(), "--requests", requests.to_str().unwrap()]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("broken-network.json") && message.contains("line 1"), "{message}");

    let missing =
        replay(&["--network", "/nonexistent/network.json", "--requests", requests.to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/network.json"));
}

#[test]
fn invalid_requests_are_answered_with_an_error_not_a_crash() {
    let snapshot = generate_network(&NetworkShape::new(50, 120), 5);
    let mut requests = generate_requests(&snapshot, 2, 5, 5);
    requests[0].max_paths = 26;
    requests[1].fee_penalty = Some(-1.0);
    let (network, request_file) = (scratch("small-network.json"), scratch("invalid-requests.json"));
    std::fs::write(&network, serde_json::to_vec(&snapshot).unwrap()).unwrap();
    std::fs::write(&request_file, serde_json::to_vec(&requests).unwrap()).unwrap();
    let output =
        replay(&["--network", network.to_str().unwrap(), "--requests", request_file.to_str().unwrap()]);
    assert!(output.status.success());
    let results: Vec<ResultRecord> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results[0].error.as_deref(), Some("max_paths must be between 1 and 25, got 26"));
    assert!(results[1].error.as_deref().unwrap().starts_with("fee_penalty must be"));
}
