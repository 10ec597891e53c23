//! The payment side of the binary as processes: `claim-fees` claims a stored IOU from the real
//! OneToN contract on anvil (through the devnet) and marks it, and `serve` refuses a service fee
//! without a OneToN contract.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use devnet::Devnet;
use pfs_core::iou::UnsignedIou;
use pfs_core::{ChainId, PrivateKey, U256};
use pfs_store::{Deployment, Store, StoreConfig};

const PFS_KEY: [u8; 32] = [0x77; 32];
const AMOUNT: u128 = 300_000_000_000_000_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn claim_fees(devnet: &Devnet, database: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_raiden-pfs"))
        .arg("claim-fees")
        .env("PFS_ETH_RPC", devnet.eth_rpc())
        .env("PFS_ONE_TO_N_ADDRESS", devnet.deployment().one_to_n.to_string())
        .env("PFS_PRIVATE_KEY", hex(&PFS_KEY))
        .env("PFS_DB", database)
        .env("PFS_TOKEN_PRICE_IN_ETH", "1")
        .output()
        .expect("raiden-pfs runs")
}

#[tokio::test]
async fn claim_fees_claims_a_stored_iou_once_and_marks_it() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let devnet = Devnet::builder().nodes(1).start().await.expect("devnet starts");
    let raiden = devnet.raiden();
    let pfs = PrivateKey::from_bytes(PFS_KEY).expect("a valid key");
    raiden.register_service(pfs.address().into(), "http://127.0.0.1").await.expect("registered");
    let contracts = *devnet.deployment();
    let deployment = Deployment {
        chain_id: ChainId(contracts.chain_id),
        token_network_registry: contracts.token_network_registry.into(),
        user_deposit: contracts.user_deposit.into(),
        receiver: pfs.address(),
    };
    let database = directory.path().join("pfs.db").to_str().expect("utf-8 path").to_owned();
    let store = Store::open(&StoreConfig::new(database.clone()), &deployment).await.expect("store opens");
    let sender = PrivateKey::from_bytes(devnet.nodes()[0].secret_key().0).expect("a valid key");
    let claimable_until =
        SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() + 86_400;
    let iou = UnsignedIou {
        sender: sender.address(),
        receiver: pfs.address(),
        amount: U256::from(AMOUNT),
        claimable_until: U256::from(claimable_until),
        one_to_n_address: contracts.one_to_n.into(),
        chain_id: ChainId(contracts.chain_id),
    }
    .sign(&sender);
    store
        .check_and_store_iou(&iou, SystemTime::now(), |_| Ok::<(), ()>(()))
        .await
        .expect("stored")
        .expect("kept");
    store.close().await;
    let before = raiden.user_deposit_balance(pfs.address().into()).await.expect("balance");

    let output = claim_fees(&devnet, &database);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Found 1 claimable IOUs"), "{stdout}");
    assert!(stdout.contains(&format!("1 claimed ({AMOUNT} tokens), 0 skipped, 0 failed")), "{stdout}");
    let after = raiden.user_deposit_balance(pfs.address().into()).await.expect("balance");
    assert_eq!(after - before, U256::from(AMOUNT));

    let output = claim_fees(&devnet, &database);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("Found 0 claimable IOUs"), "{stdout}");
    let store = Store::open_read_only(&database).await.expect("store opens");
    let stored =
        store.iou(&sender.address(), &U256::from(claimable_until)).await.expect("read").expect("row");
    assert!(stored.claimed);
    store.close().await;
}

#[tokio::test]
async fn claim_fees_refuses_a_database_of_another_service() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let devnet = Devnet::builder().nodes(1).start().await.expect("devnet starts");
    let contracts = *devnet.deployment();
    let deployment = Deployment {
        chain_id: ChainId(contracts.chain_id),
        token_network_registry: contracts.token_network_registry.into(),
        user_deposit: contracts.user_deposit.into(),
        receiver: PrivateKey::from_bytes([0x11; 32]).expect("a valid key").address(),
    };
    let database = directory.path().join("pfs.db").to_str().expect("utf-8 path").to_owned();
    Store::open(&StoreConfig::new(database.clone()), &deployment).await.expect("store opens").close().await;
    let output = claim_fees(&devnet, &database);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("belongs to service"));
}

#[test]
fn serve_with_a_service_fee_needs_a_one_to_n_address() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_raiden-pfs"))
        .arg("serve")
        .env("PFS_CHAIN_ID", "1337")
        .env("PFS_TOKEN_NETWORK_REGISTRY_ADDRESS", "0x0101010101010101010101010101010101010101")
        .env("PFS_USER_DEPOSIT_ADDRESS", "0x0202020202020202020202020202020202020202")
        .env("PFS_PRIVATE_KEY", hex(&PFS_KEY))
        .env("PFS_DB", directory.path().join("pfs.db"))
        .env("PFS_PORT", "0")
        .env("PFS_SERVICE_FEE", "5")
        .env_remove("PFS_ONE_TO_N_ADDRESS")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("raiden-pfs starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("piped"), &mut stderr).expect("stderr");
    assert!(!status.success());
    assert!(stderr.contains("--one-to-n-address"), "{stderr}");
}
