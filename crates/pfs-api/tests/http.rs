//! The API over real HTTP on 127.0.0.1, on a real service with a SQLite database.

mod common;

use common::{
    Running, api_config, capacity_update, capacity_update_on, node, open_channel_of, paths_body, paths_url,
    report_line, token_network,
};
use pfs_core::{Address, ChainId};
use serde_json::json;

async fn started() -> (tempfile::TempDir, Running) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let running = Running::start(&directory.path().join("pfs.db"), api_config()).await;
    (directory, running)
}

/// A line 0 – 1 – 2 with both sides' capacities reported and everyone online.
async fn line() -> (tempfile::TempDir, Running) {
    let (directory, running) = started().await;
    running.open_line(&[0, 1, 2], 1000).await;
    running.set_online(&[0, 1, 2]).await;
    report_line(&running, &[0, 1, 2], 1000).await;
    (directory, running)
}

#[tokio::test]
async fn info_v1_reports_configuration_and_confirmed_block_as_integers() {
    let (_directory, running) = started().await;
    running.open_line(&[0, 1], 100).await;
    let (status, body) = running.get("/api/v1/info").await;
    assert_eq!(status, 200);
    assert_eq!(body["price_info"], json!(0));
    assert_eq!(body["network_info"]["chain_id"], json!(1337));
    assert_eq!(body["network_info"]["confirmed_block"], json!({"number": 10}));
    assert_eq!(
        body["network_info"]["token_network_registry_address"],
        json!(Address::from_bytes([1; 20]).to_checksum())
    );
    assert_eq!(body["payment_address"], json!(Address::from_bytes([3; 20]).to_checksum()));
    assert_eq!(body["contracts_version"], json!("0.50.2"));
    assert_eq!(body["operator"], json!("Test Operator"));
    assert_eq!(body["matrix_server"], json!(null));
    assert_eq!(body["matrix_user_id"], json!(null));
    assert!(body["UTC"].as_str().is_some_and(|utc| utc.len() >= 19 && &utc[10..11] == "T"));
    running.stop().await;
}

#[tokio::test]
async fn info_v2_writes_price_and_block_as_decimal_strings() {
    let (_directory, running) = started().await;
    let (status, body) = running.get("/api/v2/info").await;
    assert_eq!(status, 200);
    assert_eq!(body["price_info"], json!("0"));
    assert_eq!(body["network_info"]["confirmed_block"], json!({"number": "0"}));
    assert_eq!(body["network_info"]["chain_id"], json!(1337));
    running.stop().await;
}

#[tokio::test]
async fn info_writes_a_large_service_fee_as_an_exact_integer() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut config = api_config();
    config.service_fee = pfs_core::U256::from(10u128.pow(20));
    let running = Running::start(&directory.path().join("pfs.db"), config).await;
    let text = running.client.get(running.url("/api/v1/info")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("\"price_info\":100000000000000000000"), "{text}");
    running.stop().await;
}

#[tokio::test]
async fn routes_appear_after_both_participants_report_capacity() {
    let (_directory, running) = started().await;
    running.open_line(&[0, 1, 2], 1000).await;
    running.set_online(&[0, 1, 2]).await;
    let (status, body) = running.post_json(&paths_url(), &paths_body(0, 2, 10)).await;
    assert_eq!(status, 404);
    assert_eq!(body["error_code"], json!(2201));
    report_line(&running, &[0, 1, 2], 1000).await;
    let (status, body) = running.post_json(&paths_url(), &paths_body(0, 2, 10)).await;
    assert_eq!(status, 200, "{body}");
    let expected_path = json!([node(0).to_checksum(), node(1).to_checksum(), node(2).to_checksum()]);
    assert_eq!(body["result"][0]["path"], expected_path);
    assert_eq!(body["result"][0]["estimated_fee"], json!(0));
    let metadata = &body["result"][0]["address_metadata"][node(1).to_checksum()];
    assert_eq!(metadata["user_id"], json!(format!("@{}:localhost", node(1).to_lower_hex())));
    assert_eq!(metadata["displayname"], json!("0xsignature1"));
    assert_eq!(body["result"][0]["address_metadata"].as_object().map(|map| map.len()), Some(3));
    let token = body["feedback_token"].as_str().expect("a token");
    assert!(
        token.len() == 32 && token.bytes().all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase())
    );
    running.stop().await;
}

/// The answer `service_config` gives on a line 0 – 1 – 2 – 3 for 0 → 3, without its token.
async fn line_answer_with(service_config: pfs_service::ServiceConfig) -> serde_json::Value {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = pfs_store::Store::open(
        &pfs_store::StoreConfig::new(directory.path().join("pfs.db").to_str().expect("utf-8 path")),
        &common::deployment(),
    )
    .await
    .expect("store opens");
    let service = pfs_service::Service::start(store, service_config).await.expect("service starts");
    let running = Running::serve(service, api_config(), pfs_api::ApiOptions::default()).await;
    running.open_line(&[0, 1, 2, 3], 1000).await;
    running.set_online(&[0, 1, 2, 3]).await;
    report_line(&running, &[0, 1, 2, 3], 1000).await;
    let (status, mut body) = running.post_json(&paths_url(), &paths_body(0, 3, 10)).await;
    assert_eq!(status, 200, "{body}");
    body.as_object_mut().expect("an object").remove("feedback_token");
    running.stop().await;
    body
}

#[tokio::test]
async fn a_search_cut_by_the_inline_budget_is_answered_by_the_full_search() {
    let inline = line_answer_with(pfs_service::ServiceConfig::default()).await;
    let cut = pfs_service::ServiceConfig {
        inline_search_budget: std::time::Duration::ZERO,
        ..pfs_service::ServiceConfig::default()
    };
    let on_the_pool = line_answer_with(cut).await;
    let never_inline =
        pfs_service::ServiceConfig { inline_search_max_channels: 0, ..pfs_service::ServiceConfig::default() };
    assert_eq!(inline["result"][0]["path"].as_array().map(Vec::len), Some(4));
    assert_eq!(on_the_pool, inline);
    assert_eq!(line_answer_with(never_inline).await, inline);
}

#[tokio::test]
async fn paths_skips_routes_through_nodes_without_metadata() {
    let (_directory, running) = started().await;
    running.open_line(&[0, 1, 2], 1000).await;
    // Node 1 is not online on Matrix, so it has no metadata and the pre-check passes for 0 and 2
    // only if they are online; node 1 offline makes the search find nothing.
    running.set_online(&[0, 2]).await;
    report_line(&running, &[0, 1, 2], 1000).await;
    let (status, body) = running.post_json(&paths_url(), &paths_body(0, 2, 10)).await;
    assert_eq!(status, 404);
    assert_eq!(body["error_code"], json!(2201));
    running.stop().await;
}

#[tokio::test]
async fn pre_check_failure_names_the_reason_and_the_block() {
    let (_directory, running) = line().await;
    let (status, body) = running.post_json(&paths_url(), &paths_body(0, 2, 5000)).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["errors"],
        json!(
            "Source does not have a channel with sufficient capacity (current capacities: [1000] < requested amount:  5000). Approximate block at the time of the request 10"
        )
    );
    assert_eq!(
        body["error_details"],
        json!({"from_": node(0).to_checksum(), "to": node(2).to_checksum(), "value": 5000})
    );
    running.stop().await;
}

#[tokio::test]
async fn target_offline_is_a_pre_check_failure() {
    let (_directory, running) = line().await;
    let stranger = Address::from_bytes([0x99; 20]).to_checksum();
    let body = json!({"from": node(0).to_checksum(), "to": stranger, "value": 1}).to_string();
    let (status, body) = running.post_json(&paths_url(), &body).await;
    assert_eq!(status, 404);
    assert_eq!(body["errors"], json!("Target not online. Approximate block at the time of the request 10"));
    running.stop().await;
}

#[tokio::test]
async fn token_network_must_be_checksummed_then_followed() {
    let (_directory, running) = line().await;
    let lower = token_network().to_lower_hex();
    let (status, body) = running.post_json(&format!("/api/v1/{lower}/paths"), &paths_body(0, 2, 1)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error_code"], json!(2003));
    assert_eq!(body["error_details"], json!({"token_network": lower}));
    let unknown = Address::from_bytes([0xcd; 20]).to_checksum();
    // The path parameter is checked before the body.
    let (status, body) = running.post_json(&format!("/api/v1/{unknown}/paths"), "not json").await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2004)));
    running.stop().await;
}

#[tokio::test]
async fn missing_or_falsy_payload_is_error_code_zero() {
    let (_directory, running) = line().await;
    for body in ["", "{}", "[]", "null", "0"] {
        let (status, answer) = running.post_json(&paths_url(), body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer, json!({"errors": "JSON payload expected", "error_code": 0, "error_details": {}}));
    }
    let response =
        running.client.post(running.url(&paths_url())).body(paths_body(0, 2, 1)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["error_code"], json!(0));
    running.stop().await;
}

#[tokio::test]
async fn malformed_path_requests_are_2000_with_field_messages() {
    let (_directory, running) = line().await;
    let from = node(0).to_checksum();
    let to = node(2).to_checksum();
    let lower = node(0).to_lower_hex();
    let cases = [
        (
            json!({"from": lower, "to": to, "value": 1}),
            json!({"from": [format!("Not a checksummed address: {lower}")]}),
        ),
        (json!({"to": to, "value": 1}), json!({"from": ["Missing data for required field."]})),
        (json!({"from": from, "to": to, "value": 1, "colour": "red"}), json!({"colour": ["Unknown field."]})),
        (
            json!({"from": from, "to": to, "value": 0}),
            json!({"value": ["Must be greater than or equal to 1."]}),
        ),
        (json!({"from": from, "to": to, "value": true}), json!({"value": ["Not a valid integer."]})),
        (json!({"from": from, "to": to, "value": "0x10"}), json!({"value": ["Not a valid integer."]})),
        (
            json!({"from": from, "to": to, "value": 1, "max_paths": 26}),
            json!({"max_paths": ["Must be greater than or equal to 1 and less than or equal to 25."]}),
        ),
        (
            json!({"from": from, "to": to, "value": 1, "max_paths": null}),
            json!({"max_paths": ["Field may not be null."]}),
        ),
        (
            json!({"from": from, "to": to, "value": 1, "fee_penalty": "abc"}),
            json!({"fee_penalty": ["Not a valid number."]}),
        ),
        (json!({"from": 12, "to": to, "value": 1}), json!({"from": ["Not a valid string."]})),
    ];
    for (body, details) in cases {
        let (status, answer) = running.post_json(&paths_url(), &body.to_string()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error_code"], json!(2000), "{body}");
        assert_eq!(answer["error_details"], details, "{body}");
    }
    let huge = format!(r#"{{"from": "{from}", "to": "{to}", "value": 1{}}}"#, "0".repeat(100));
    let (status, answer) = running.post_json(&paths_url(), &huge).await;
    assert_eq!((status, answer["error_details"].clone()), (400, json!({"value": ["Not a valid integer."]})));
    let (status, answer) = running.post_json(&paths_url(), "{\"from\": ").await;
    assert_eq!((status, answer["error_code"].clone()), (400, json!(2000)));
    let (status, answer) = running.post_json(&paths_url(), "[1, 2]").await;
    assert_eq!((status, answer["error_details"].clone()), (400, json!({"_schema": ["Invalid input type."]})));
    running.stop().await;
}

#[tokio::test]
async fn value_as_decimal_string_and_float_are_accepted() {
    let (_directory, running) = line().await;
    let from = node(0).to_checksum();
    let to = node(2).to_checksum();
    for value in [json!(" 10 "), json!(10.7)] {
        let body = json!({"from": from, "to": to, "value": value, "max_paths": "2", "fee_penalty": null});
        let (status, answer) = running.post_json(&paths_url(), &body.to_string()).await;
        assert_eq!(status, 200, "{answer}");
    }
    running.stop().await;
}

#[tokio::test]
async fn service_fee_without_iou_is_2101() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut config = api_config();
    config.service_fee = pfs_core::U256::from(5);
    let running = Running::start(&directory.path().join("pfs.db"), config).await;
    running.open_line(&[0, 1], 100).await;
    let (status, answer) = running.post_json(&paths_url(), &paths_body(0, 1, 1)).await;
    assert_eq!((status, answer["error_code"].clone()), (400, json!(2101)));
    running.stop().await;
}

#[tokio::test]
async fn update_for_an_unopened_channel_is_deferred() {
    let (_directory, running) = started().await;
    running.open_line(&[0, 1], 1000).await;
    let (status, body) = running.post_json("/api/v1/updates", &capacity_update(9, 0, 1, 1, 10, 10)).await;
    assert_eq!((status, body), (202, json!({"status": "deferred"})));
    running.stop().await;
}

#[tokio::test]
async fn tampered_update_is_rejected_and_changes_nothing() {
    let (_directory, running) = started().await;
    running.open_line(&[0, 1], 1000).await;
    running.set_online(&[0, 1]).await;
    let genuine = capacity_update(1, 0, 1, 1, 1000, 1000);
    let tampered = genuine.replace("\"updating_capacity\":\"1000\"", "\"updating_capacity\":\"999\"");
    assert_ne!(genuine, tampered, "the capacity field was rewritten");
    let (status, body) = running.post_json("/api/v1/updates", &tampered).await;
    assert_eq!(status, 400);
    assert_eq!(body["error_code"], json!(2301));
    assert_eq!(body["error_details"]["updating_participant"], json!(node(0).to_checksum()));
    // Only the other side's report arrives: no capacity in either direction, so no route.
    let (status, _) = running.post_json("/api/v1/updates", &capacity_update(1, 1, 0, 1, 1000, 1000)).await;
    assert_eq!(status, 200);
    let (status, body) = running.post_json(&paths_url(), &paths_body(0, 1, 1)).await;
    assert_eq!((status, body["error_code"].clone()), (404, json!(2201)));
    running.stop().await;
}

#[tokio::test]
async fn update_rejections_have_specific_codes() {
    let (_directory, running) = line().await;
    let cases = [
        (capacity_update_on(token_network(), ChainId(5), 1, 0, 1, 2, 10, 10), 2302),
        (capacity_update_on(Address::from_bytes([0xcd; 20]), common::CHAIN_ID, 1, 0, 1, 2, 10, 10), 2303),
        (capacity_update(1, 2, 1, 2, 10, 10), 2304),
        (capacity_update(1, 0, 1, 0, 10, 10), 2306),
    ];
    for (update, code) in cases {
        let (status, body) = running.post_json("/api/v1/updates", &update).await;
        assert_eq!((status, body["error_code"].clone()), (400, json!(code)), "{body}");
    }
    let (status, body) = running.post_json("/api/v1/updates", r#"{"type": "PFSCapacityUpdate"}"#).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2300)));
    running.stop().await;
}

#[tokio::test]
async fn update_arrays_answer_each_message_in_order() {
    let (_directory, running) = started().await;
    running.open_line(&[0, 1], 1000).await;
    let batch = format!(
        "[{}, {}, {}]",
        capacity_update(1, 0, 1, 1, 10, 10),
        capacity_update(9, 0, 1, 1, 10, 10),
        capacity_update_on(token_network(), ChainId(5), 1, 0, 1, 2, 10, 10)
    );
    let (status, body) = running.post_json("/api/v1/updates", &batch).await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0], json!({"status": "accepted"}));
    assert_eq!(body["results"][1], json!({"status": "deferred"}));
    assert_eq!(body["results"][2]["error_code"], json!(2302));
    let too_many = format!("[{}]", vec![capacity_update(1, 0, 1, 1, 10, 10); 101].join(","));
    let (status, body) = running.post_json("/api/v1/updates", &too_many).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2309)));
    running.stop().await;
}

#[tokio::test]
async fn every_api_response_carries_cors_headers_and_options_is_answered() {
    let (_directory, running) = started().await;
    let response = running
        .client
        .request(reqwest::Method::OPTIONS, running.url(&paths_url()))
        .header("origin", "http://example.test")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["access-control-allow-headers"], "Origin, Content-Type, Accept");
    assert_eq!(headers["access-control-allow-methods"], "GET,POST,OPTIONS");
    for path in ["/api/v1/info", "/api/v1/nothing/here"] {
        let response = running.client.get(running.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["access-control-allow-origin"], "*", "{path}");
    }
    running.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let (_directory, running) = started().await;
    let (status, body) = running.get("/api/v1/nothing/here").await;
    assert_eq!(status, 404);
    assert!(body["message"].is_string());
    let (status, body) = running.get("/api/v1/updates").await;
    assert_eq!(status, 405);
    assert_eq!(body, json!({"message": "The method is not allowed for the requested URL."}));
    running.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_outside_api_answer_json_too() {
    let (_directory, running) = started().await;
    let (status, body) = running.get("/nothing/here").await;
    assert_eq!(status, 404);
    assert!(body["message"].is_string(), "{body}");
    let (status, body) = running.post_json("/metrics", "{}").await;
    assert_eq!(status, 405);
    assert_eq!(body, json!({"message": "The method is not allowed for the requested URL."}));
    running.stop().await;
}

#[tokio::test]
async fn a_path_parameter_that_is_not_utf8_is_validated_like_any_other() {
    let (_directory, running) = line().await;
    let (status, body) = running.get("/api/v1/%80/suggest_partner").await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2003)), "{body}");
    assert_eq!(body["error_details"], json!({"token_network": "\u{fffd}"}));
    let (status, body) = running.post_json("/api/v1/0x%ff%fe/paths", &paths_body(0, 2, 1)).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2003)), "{body}");
    assert_eq!(body["error_details"], json!({"token_network": "0x\u{fffd}\u{fffd}"}));
    let (status, body) = running.get("/api/v1/address/%c3%28/metadata").await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2006)), "{body}");
    assert_eq!(body["error_details"], json!({"address": "\u{fffd}("}));
    running.stop().await;
}

#[tokio::test]
async fn metadata_of_online_offline_and_invalid_addresses() {
    let (_directory, running) = line().await;
    let (status, body) = running.get(&format!("/api/v1/address/{}/metadata", node(1).to_checksum())).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "user_id": format!("@{}:localhost", node(1).to_lower_hex()),
            "capabilities": "mxc://raiden.network/cap?Receive=1&Mediate=1",
            "displayname": "0xsignature1",
        })
    );
    let lower = node(1).to_lower_hex();
    let (status, body) = running.get(&format!("/api/v1/address/{lower}/metadata")).await;
    assert_eq!(
        (status, body["error_code"].clone(), body["error_details"].clone()),
        (400, json!(2006), json!({"address": lower}))
    );
    let stranger = Address::from_bytes([0x99; 20]).to_checksum();
    let (status, body) = running.get(&format!("/api/v1/address/{stranger}/metadata")).await;
    assert_eq!((status, body["error_code"].clone()), (404, json!(2203)));
    assert!(body["error_details"]["seen_offline_since"].is_f64());
    running.stop().await;
}

#[tokio::test]
async fn online_addresses_lists_reachable_nodes_checksummed() {
    let (_directory, running) = line().await;
    let (status, body) = running.get("/api/v1/online_addresses").await;
    assert_eq!(status, 200);
    let mut expected: Vec<String> = (0..3).map(|index| node(index).to_checksum()).collect();
    let mut listed: Vec<String> = serde_json::from_value(body).unwrap();
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected);
    running.stop().await;
}

/// The routes from 0 to 2 around the ring 0 – 1 – 2 – 3 – 0 (two equal ways), best first, with
/// the feedback token they came with.
async fn routes_round_the_ring(running: &Running) -> (Vec<serde_json::Value>, serde_json::Value) {
    let body =
        json!({"from": node(0).to_checksum(), "to": node(2).to_checksum(), "value": 10, "max_paths": 2});
    let (status, paths) = running.post_json(&paths_url(), &body.to_string()).await;
    assert_eq!(status, 200, "{paths}");
    let routes =
        paths["result"].as_array().expect("routes").iter().map(|route| route["path"].clone()).collect();
    (routes, paths["feedback_token"].clone())
}

#[tokio::test]
async fn a_route_reported_as_failed_is_returned_after_its_equal_alternative_also_after_a_restart() {
    let (directory, running) = started().await;
    let ring = [0, 1, 2, 3, 0];
    running.open_line(&ring, 1000).await;
    running.set_online(&[0, 1, 2, 3]).await;
    report_line(&running, &ring, 1000).await;
    let (before, token) = routes_round_the_ring(&running).await;
    assert_eq!(before.len(), 2);
    assert_eq!(running.service.penalised_hops(&token_network()), 0);

    let feedback_url = format!("/api/v1/{}/feedback", token_network().to_checksum());
    let report = json!({"token": token, "success": false, "path": before[0]});
    assert_eq!(running.post_json(&feedback_url, &report.to_string()).await, (200, json!({})));
    assert_eq!(running.service.penalised_hops(&token_network()), 2);
    let metrics = running.client.get(running.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let gauge =
        format!("pfs_routing_penalised_hops{{token_network=\"{}\"}} 2", token_network().to_checksum());
    assert!(metrics.contains(&gauge), "{metrics}");
    let (after, _) = routes_round_the_ring(&running).await;
    assert_eq!(after, vec![before[1].clone(), before[0].clone()]);
    // A second report on the same route is answered as before, and the order stays.
    assert_eq!(running.post_json(&feedback_url, &report.to_string()).await, (200, json!({})));
    assert_eq!(routes_round_the_ring(&running).await.0, after);
    // A node whose address sorts first joins: every edge of the new snapshot has another index,
    // and the penalties follow the hops, not the old indices.
    let first =
        (4..40).find(|&index| (0..4).all(|ring| node(index) < node(ring))).expect("a smaller address");
    open_channel_of(&running.service, 5, [first, 0], 1000, 11).await;
    assert_eq!(routes_round_the_ring(&running).await.0, after);

    // The penalties are rebuilt from the stored reports.
    running.stop().await;
    let running = Running::start(&directory.path().join("pfs.db"), api_config()).await;
    running.set_online(&[0, 1, 2, 3]).await;
    assert_eq!(running.service.penalised_hops(&token_network()), 2);
    assert_eq!(routes_round_the_ring(&running).await.0, after);

    // A report right after a query updates the penalties that query worked out: the next query
    // sees both routes failed once, and the first comes back first.
    let (current, token) = routes_round_the_ring(&running).await;
    let report = json!({"token": token, "success": false, "path": current[0]});
    assert_eq!(running.post_json(&feedback_url, &report.to_string()).await, (200, json!({})));
    assert_eq!(running.service.penalised_hops(&token_network()), 4);
    assert_eq!(routes_round_the_ring(&running).await.0, before);
    running.stop().await;
}

#[tokio::test]
async fn feedback_for_a_returned_route_is_200_and_for_an_unknown_token_400_empty() {
    let (_directory, running) = line().await;
    let (_, paths) = running.post_json(&paths_url(), &paths_body(0, 2, 10)).await;
    let feedback_url = format!("/api/v1/{}/feedback", token_network().to_checksum());
    let report =
        json!({"token": paths["feedback_token"], "success": true, "path": paths["result"][0]["path"]});
    let (status, body) = running.post_json(&feedback_url, &report.to_string()).await;
    assert_eq!((status, body), (200, json!({})));
    let unknown = json!({"token": "0".repeat(32), "success": "yes", "path": paths["result"][0]["path"]});
    let (status, body) = running.post_json(&feedback_url, &unknown.to_string()).await;
    assert_eq!((status, body), (400, json!({})));
    let invalid = json!({"token": "nope", "success": true, "path": []});
    let (status, body) = running.post_json(&feedback_url, &invalid.to_string()).await;
    assert_eq!((status, body["error_details"].clone()), (400, json!({"token": ["Not a valid UUID."]})));
    running.stop().await;
}

#[tokio::test]
async fn a_restarted_service_answers_the_same_routes() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("pfs.db");
    let running = Running::start(&database, api_config()).await;
    running.open_line(&[0, 1, 2, 3], 1000).await;
    running.set_online(&[0, 1, 2, 3]).await;
    report_line(&running, &[0, 1, 2, 3], 1000).await;
    let (status, before) = running.post_json(&paths_url(), &paths_body(0, 3, 10)).await;
    assert_eq!(status, 200);
    running.stop().await;

    let running = Running::start(&database, api_config()).await;
    // Presence is not persisted (it comes from Matrix): the nodes announce themselves again.
    running.set_online(&[0, 1, 2, 3]).await;
    let (status, after) = running.post_json(&paths_url(), &paths_body(0, 3, 10)).await;
    assert_eq!(status, 200);
    assert_eq!(before["result"], after["result"]);
    let (_, info) = running.get("/api/v1/info").await;
    assert_eq!(info["network_info"]["confirmed_block"]["number"], json!(10));
    running.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_routes_and_updates() {
    let (_directory, running) = line().await;
    let (status, _) = running.post_json(&paths_url(), &paths_body(0, 2, 10)).await;
    assert_eq!(status, 200);
    let response = running.client.get(running.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().get("access-control-allow-origin").is_none(), "no CORS outside /api");
    let text = response.text().await.unwrap();
    assert!(text.contains("pfs_routes_computed_total 1"), "{text}");
    assert!(text.contains("pfs_updates_total{source=\"http\",outcome=\"accepted\"} 4"), "{text}");
    assert!(text.contains("pfs_confirmed_block 10"), "{text}");
    assert!(text.contains("pfs_online_addresses 3"), "{text}");
    assert!(
        text.contains("pfs_http_requests_total{endpoint=\"/api/v1/{token_network}/paths\",method=\"POST\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("pfs_http_request_duration_seconds_count{endpoint=\"/api/v1/updates\"} 4"),
        "{text}"
    );
    running.stop().await;
}

#[tokio::test]
async fn suggest_partner_ranks_the_central_node_first() {
    let (_directory, running) = line().await;
    let url = format!("/api/v1/{}/suggest_partner", token_network().to_checksum());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (status, body) = running.get(&url).await;
    assert_eq!(status, 200);
    let suggestions = body.as_array().expect("a list");
    assert_eq!(suggestions.len(), 3);
    assert_eq!(suggestions[0]["address"], json!(node(1).to_checksum()));
    assert_eq!(suggestions[0]["centrality"], json!(1.0));
    assert_eq!(suggestions[0]["capacity"], json!(2000));
    assert!(suggestions[0]["uptime"].as_f64().is_some_and(|uptime| uptime > 0.0));
    let lower = token_network().to_lower_hex();
    let (status, body) = running.get(&format!("/api/v1/{lower}/suggest_partner")).await;
    assert_eq!((status, body["error_code"].clone()), (400, json!(2003)));
    running.stop().await;
}

#[tokio::test]
async fn oversized_body_gets_the_json_error_body_with_413() {
    let (_directory, running) = line().await;
    let padding = "x".repeat(pfs_api::MAX_BODY_BYTES);
    let body = format!(r#"{{"from": "{padding}"}}"#);
    let (status, answer) = running.post_json(&paths_url(), &body).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error_code"], 2311);
    assert_eq!(answer["error_details"], json!({}));
    let updates = format!(r#"[{{"type": "{}"}}]"#, "x".repeat(pfs_api::MAX_UPDATES_BODY_BYTES));
    let (status, answer) = running.post_json("/api/v1/updates", &updates).await;
    assert_eq!(status, 413);
    assert_eq!(answer["error_code"], 2311);
    running.stop().await;
}
