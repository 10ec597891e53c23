//! End to end on the real stack: anvil with the Raiden contracts, a Synapse homeserver with the
//! presence router, `raiden-pfs serve` as a process, and simulated nodes that open channels on
//! chain, post signed capacity and fee updates over HTTP and come online on Matrix. A path
//! request through the running PFS must return the routes and the fees computed here, from the
//! fee schedules the nodes posted.

use alloy_primitives::I256;
use devnet::topology::PlannedChannel;
use devnet::{Devnet, PfsOptions};
use pfs_client::PathsRequest;
use pfs_core::{Address, FeeSchedule, U256};

const DEPOSIT: u64 = 1_000;

fn channel(participant1: usize, participant2: usize) -> PlannedChannel {
    PlannedChannel {
        participant1,
        participant2,
        deposit1: U256::from(DEPOSIT),
        deposit2: U256::from(DEPOSIT),
    }
}

/// Node `i`'s flat fee per channel (the initiator's and the target's never count).
const FLAT_FEES: [u64; 5] = [1_000, 3, 5, 1_000, 100];

/// The fee of `path` (node indices): each mediator charges its flat fee on the channel the
/// payment comes in through and on the one it leaves through.
fn expected_fee(path: &[usize]) -> I256 {
    let mediators = &path[1..path.len() - 1];
    let total: u64 = mediators.iter().map(|node| 2 * FLAT_FEES[*node]).sum();
    I256::try_from(total).expect("small")
}

fn is_running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_request_through_the_running_pfs_returns_the_routes_and_fees_the_nodes_announced() {
    // 0 – 1 – 2 – 3 and 0 – 4 – 3: a cheap long route and an expensive short one.
    let mut devnet = Devnet::builder()
        .nodes(5)
        .planned_channels(vec![channel(0, 1), channel(1, 2), channel(2, 3), channel(0, 4), channel(4, 3)])
        .fee_schedules(
            FLAT_FEES
                .iter()
                .map(|fee| FeeSchedule { flat: U256::from(*fee), ..FeeSchedule::default() })
                .collect(),
        )
        .homeservers(1)
        .pfs(PfsOptions::new(env!("CARGO_BIN_EXE_raiden-pfs")))
        .start()
        .await
        .expect("the devnet starts, the PFS syncs, takes every update and sees every node online");

    let address = |index: usize| Address::from_bytes(devnet.nodes()[index].address().into_array());
    let token_network = Address::from_bytes(devnet.deployment().token_network.into_array());
    let pfs = devnet.pfs_client().expect("a PFS runs");
    let mut request = PathsRequest::new(address(0), address(3), U256::from(100));
    request.max_paths = Some(5);
    let answer = pfs.paths(token_network, &request).await.expect("routes");

    let mut found: Vec<(Vec<Address>, I256)> =
        answer.result.iter().map(|route| (route.path.clone(), route.estimated_fee)).collect();
    found.sort();
    let mut expected: Vec<(Vec<Address>, I256)> = [vec![0, 1, 2, 3], vec![0, 4, 3]]
        .iter()
        .map(|path| (path.iter().map(|node| address(*node)).collect(), expected_fee(path)))
        .collect();
    expected.sort();
    assert_eq!(found, expected);

    // Every node of a route is reachable through the Matrix user it logged in with.
    for route in &answer.result {
        for node in &route.path {
            let index = (0..5).find(|index| address(*index) == *node).expect("a devnet node");
            let metadata = &route.address_metadata[&node.to_checksum()];
            assert_eq!(metadata.user_id, devnet.sessions()[index].user_id());
        }
    }

    let pids = devnet.pids();
    assert_eq!(pids.len(), 3, "anvil, one homeserver, the PFS");
    devnet.shutdown().await;
    for pid in pids {
        assert!(!is_running(pid), "process {pid} outlived the devnet");
    }
}
