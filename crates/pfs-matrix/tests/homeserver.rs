//! The PFS's Matrix client against real Synapse homeservers on loopback (contrib/synapse), with
//! Raiden's auth module and the presence router: login, presence → reachability, to-device
//! updates, and surviving homeservers that go away and come back.

mod common;

use std::time::Duration;

use common::*;
use pfs_core::matrix_identity::{self, CAPABILITIES_PREFIX, Capabilities};
use pfs_core::presence::{AddressReachability, UserPresence};
use pfs_matrix::testing::{Homeserver, HomeserverOptions, free_port};
use pfs_matrix::{
    LoginError, LoginMethod, MatrixClient, NODE_DEVICE_ID, NodeSession, StartError, ToDeviceRejection,
};

/// The longest a single presence change may take to be seen (measured medians are tens of ms).
const DELIVERY: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pfs_logs_in_with_the_raiden_signature_where_registration_is_closed() {
    let port = free_port();
    let options =
        HomeserverOptions { federation_port: Some(port), eth_auth: true, ..HomeserverOptions::default() };
    let homeserver = Homeserver::launch(&options).await.unwrap();
    let pfs = Pfs::start(fast_config(homeserver.address()), None).await;
    let expected = matrix_identity::user_id(&pfs_key().address(), &homeserver.server_name());
    assert_eq!(pfs.client.matrix_user_id(), expected);
    assert_eq!(pfs.client.homeserver_url().as_str(), format!("{}/", homeserver.url()));

    // A node (also by signature login) reads the PFS's published identity.
    let node = node(&homeserver, 1).await;
    let profile = reqwest::Client::new()
        .get(format!("{}/_matrix/client/v3/profile/{expected}", homeserver.url()))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let displayname = profile["displayname"].as_str().unwrap();
    assert_eq!(matrix_identity::validate_displayname(&expected, displayname), Ok(pfs_key().address()));
    assert_eq!(profile["avatar_url"], CAPABILITIES_PREFIX);
    assert_eq!(node.user_id(), matrix_identity::user_id(&node_key(1).address(), &homeserver.server_name()));
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pfs_registers_with_a_password_where_the_auth_module_is_missing() {
    let options = HomeserverOptions { testing: true, ..HomeserverOptions::default() };
    let homeserver = Homeserver::launch(&options).await.unwrap();
    let mut config = fast_config(homeserver.address());
    config.login = LoginMethod::Password("pfs password".into());
    let first = Pfs::start(config.clone(), None).await;
    let user_id = first.client.matrix_user_id().to_owned();
    first.stop().await;
    // The second start logs in to the account the first one registered.
    let again = Pfs::start(config.clone(), None).await;
    assert_eq!(again.client.matrix_user_id(), user_id);
    again.stop().await;
    // The same account with another password is refused, not retried.
    config.login = LoginMethod::Password("wrong".into());
    let refused = MatrixClient::start(pfs_key(), config, None).await;
    assert!(matches!(refused, Err(StartError::Login(LoginError::Refused { .. }))), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_homeserver_node_online_unavailable_offline_maps_to_reachability() {
    let homeserver = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(homeserver.address()), None).await;
    let node = node(&homeserver, 1).await;
    let address = node.address();

    set_presence(&node, UserPresence::Online).await;
    pfs.wait_for_reachability(address, AddressReachability::Reachable, DELIVERY).await;
    let metadata = pfs.seen.lock().unwrap().book.as_ref().unwrap().metadata(&address).unwrap();
    assert_eq!(metadata.user_id, node.user_id());
    assert_eq!(metadata.capabilities, Capabilities::raiden_default().to_avatar_url());
    assert_eq!(metadata.displayname, Some(node.displayname()));

    set_presence(&node, UserPresence::Unavailable).await;
    pfs.wait_until("unavailable", DELIVERY, |seen| {
        seen.presence.iter().any(|(_, event)| event.presence == UserPresence::Unavailable)
    })
    .await;
    assert_eq!(pfs.reachability(&address), AddressReachability::Reachable);

    set_presence(&node, UserPresence::Offline).await;
    pfs.wait_for_reachability(address, AddressReachability::Unreachable, DELIVERY).await;
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_displayname_is_not_its_signature_stays_unknown() {
    let homeserver = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(homeserver.address()), None).await;
    let impostor = node(&homeserver, 1).await;
    let forged = matrix_identity::displayname(&node_key(99), impostor.user_id());
    impostor.set_displayname(&forged).await.unwrap();
    set_presence(&impostor, UserPresence::Online).await;
    // An honest node going online afterwards shows the impostor's event was processed.
    let honest = node(&homeserver, 2).await;
    set_presence(&honest, UserPresence::Online).await;
    pfs.wait_for_reachability(honest.address(), AddressReachability::Reachable, DELIVERY).await;
    assert_eq!(pfs.reachability(&impostor.address()), AddressReachability::Unknown);
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_device_capacity_update_is_delivered_verified_and_a_forged_one_rejected() {
    let homeserver = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(homeserver.address()), None).await;
    let pfs_user = pfs.client.matrix_user_id().to_owned();
    let node = node(&homeserver, 1).await;
    let genuine = capacity_update(&node_key(1), node.address(), 1);
    // Signed correctly, but by another participant than the Matrix sender.
    let forged = capacity_update(&node_key(2), node_key(2).address(), 1);
    node.send_messages(&pfs_user, &[genuine.clone(), forged]).await.unwrap();

    pfs.wait_until("the to-device batch", DELIVERY, |seen| !seen.updates.is_empty()).await;
    {
        let seen = pfs.seen.lock().unwrap();
        let updates = &seen.updates[0];
        assert_eq!(updates.sender_user_id, node.user_id());
        assert_eq!(updates.sender_address, node.address());
        assert_eq!(updates.results.len(), 2);
        assert_eq!(updates.results[0].as_ref().unwrap().message(), &genuine);
        assert!(matches!(
            updates.results[1],
            Err(ToDeviceRejection::SignerNotSender { signer, sender }) if signer == node_key(2).address() && sender == node.address()
        ));
    }
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_the_persisted_token_gets_new_updates_once_and_presence_again() {
    let homeserver = start_pfs_homeserver().await;
    let node = node(&homeserver, 1).await;
    set_presence(&node, UserPresence::Online).await;
    let first = Pfs::start(fast_config(homeserver.address()), None).await;
    let pfs_user = first.client.matrix_user_id().to_owned();
    node.send_messages(&pfs_user, &[capacity_update(&node_key(1), node.address(), 1)]).await.unwrap();
    first.wait_until("the first update", DELIVERY, |seen| seen.updates.len() == 1).await;
    let token = first.stop().await.lock().unwrap().last_token.clone();

    // While the PFS is down, the node sends another update.
    node.send_messages(&pfs_user, &[capacity_update(&node_key(1), node.address(), 2)]).await.unwrap();
    let second = Pfs::start(fast_config(homeserver.address()), token).await;
    second.wait_for_reachability(node.address(), AddressReachability::Reachable, DELIVERY).await;
    second.wait_until("the second update", DELIVERY, |seen| !seen.updates.is_empty()).await;
    // One more sync round: nothing else may arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let nonces: Vec<u64> = {
        let seen = second.seen.lock().unwrap();
        seen.updates
            .iter()
            .flat_map(|updates| &updates.results)
            .map(|result| match result.as_ref().unwrap().message() {
                pfs_core::Message::CapacityUpdate(update) => update.fields().updating_nonce.0,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    };
    assert_eq!(nonces, vec![2]);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeserver_started_after_the_client_delivers_presence_without_restart() {
    let a = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(a.address()), None).await;
    let b = Homeserver::launch(&options_routing_to(&a.server_name(), None)).await.unwrap();
    let node = node(&b, 1).await;
    set_presence(&node, UserPresence::Online).await;
    pfs.wait_for_reachability(node.address(), AddressReachability::Reachable, DELIVERY).await;
    set_presence(&node, UserPresence::Offline).await;
    pfs.wait_for_reachability(node.address(), AddressReachability::Unreachable, DELIVERY).await;
    pfs.stop().await;
}

/// After a restart, Synapse gives every user that was online a pseudo-device holding that state
/// until its sync timeout (about 30–70 s), so a change that node makes in that time is masked
/// by Synapse itself; a node that had no presence before the restart shows each change at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_survives_its_homeserver_restarting() {
    let mut homeserver = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(homeserver.address()), None).await;
    let before = node(&homeserver, 1).await;
    set_presence(&before, UserPresence::Online).await;
    pfs.wait_for_reachability(before.address(), AddressReachability::Reachable, DELIVERY).await;

    homeserver.stop().await;
    pfs.wait_until("the client to notice", DELIVERY, |_| !pfs.client.is_connected()).await;
    homeserver.start().await.unwrap();
    pfs.wait_until("the client to reconnect", DELIVERY * 2, |_| pfs.client.is_connected()).await;

    let after = node(&homeserver, 2).await;
    set_presence(&after, UserPresence::Online).await;
    pfs.wait_for_reachability(after.address(), AddressReachability::Reachable, DELIVERY).await;
    set_presence(&after, UserPresence::Offline).await;
    pfs.wait_for_reachability(after.address(), AddressReachability::Unreachable, DELIVERY).await;
    assert_eq!(pfs.reachability(&before.address()), AddressReachability::Reachable);
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_of_a_homeserver_that_stays_unreachable_become_unknown_and_return_with_it() {
    let a = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(a.address()), None).await;
    let mut b = Homeserver::launch(&options_routing_to(&a.server_name(), None)).await.unwrap();
    let node = node(&b, 1).await;
    set_presence(&node, UserPresence::Online).await;
    pfs.wait_for_reachability(node.address(), AddressReachability::Reachable, DELIVERY).await;

    b.stop().await;
    pfs.wait_for_reachability(node.address(), AddressReachability::Unknown, DELIVERY * 2).await;
    assert_eq!(pfs.seen.lock().unwrap().unreachable_servers, vec![b.server_name()]);

    b.start().await.unwrap();
    pfs.wait_for_reachability(node.address(), AddressReachability::Reachable, DELIVERY * 3).await;
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_two_homeservers_is_reachable_while_either_user_is_online() {
    let a = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(a.address()), None).await;
    let b = Homeserver::launch(&options_routing_to(&a.server_name(), None)).await.unwrap();
    let on_a = node(&a, 1).await;
    let on_b = NodeSession::log_in(&b.address(), node_key(1), &LoginMethod::RaidenSignature, NODE_DEVICE_ID)
        .await
        .unwrap();
    on_b.publish_identity(&Capabilities::raiden_default()).await.unwrap();
    set_presence(&on_a, UserPresence::Online).await;
    set_presence(&on_b, UserPresence::Online).await;
    pfs.wait_until("both users", DELIVERY, |seen| {
        seen.book.as_ref().unwrap().user_ids(&on_a.address()).count() == 2
    })
    .await;
    set_presence(&on_a, UserPresence::Offline).await;
    pfs.wait_until("the offline user", DELIVERY, |seen| {
        seen.presence
            .iter()
            .any(|(_, event)| event.user_id == on_a.user_id() && event.presence == UserPresence::Offline)
    })
    .await;
    assert_eq!(pfs.reachability(&on_a.address()), AddressReachability::Reachable);
    set_presence(&on_b, UserPresence::Offline).await;
    pfs.wait_for_reachability(on_a.address(), AddressReachability::Unreachable, DELIVERY).await;
    pfs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_access_token_is_replaced_by_logging_in_again() {
    let homeserver = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(homeserver.address()), None).await;
    // Another device of the PFS account logs every device out, as an operator might.
    let http = reqwest::Client::new();
    let password = matrix_identity::login_password(&pfs_key(), &homeserver.server_name());
    let login: serde_json::Value = http
        .post(format!("{}/_matrix/client/v3/login", homeserver.url()))
        .json(&serde_json::json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": pfs_key().address().to_lower_hex()},
            "password": password,
            "device_id": "OPERATOR",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let logout = http
        .post(format!("{}/_matrix/client/v3/logout/all", homeserver.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success());

    let node = node(&homeserver, 1).await;
    set_presence(&node, UserPresence::Online).await;
    pfs.wait_for_reachability(node.address(), AddressReachability::Reachable, DELIVERY).await;
    pfs.stop().await;
}

/// Issue item 6: a node homeserver that gave up on the PFS's homeserver during its outage (a
/// 10-minute backoff here) delivers again within seconds of the restart, because the client's
/// probe makes the PFS's homeserver send it a federation request, which ends that backoff; the
/// router's re-push then carries the change made during the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_its_homeserver_restarts_the_client_pokes_node_homeservers_out_of_their_backoff() {
    let mut a = start_pfs_homeserver().await;
    let pfs = Pfs::start(fast_config(a.address()), None).await;
    let mut options = options_routing_to(&a.server_name(), None);
    options.extra_arguments =
        ["--min-retry-interval", "10m", "--max-long-retries", "1", "--repush-seconds", "2"]
            .map(String::from)
            .to_vec();
    let b = Homeserver::launch(&options).await.unwrap();
    let node = node(&b, 1).await;
    set_presence(&node, UserPresence::Online).await;
    pfs.wait_for_reachability(node.address(), AddressReachability::Reachable, DELIVERY).await;
    set_presence(&node, UserPresence::Offline).await;
    pfs.wait_for_reachability(node.address(), AddressReachability::Unreachable, DELIVERY).await;

    a.stop().await;
    // B fails to deliver this and backs off from A.
    set_presence(&node, UserPresence::Online).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    a.start().await.unwrap();
    pfs.wait_for_reachability(node.address(), AddressReachability::Reachable, Duration::from_secs(30)).await;
    pfs.stop().await;
}
