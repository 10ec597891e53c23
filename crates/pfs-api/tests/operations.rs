//! Rate limits, the `_debug` endpoints, the metrics added for operations, and the OpenAPI
//! document against the real router, all over real HTTP on 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::time::SystemTime;

use common::{
    Running, api_config, capacity_update, key, node, paths_body, paths_url, report_line, start_service,
    token_network,
};
use pfs_api::{ApiOptions, RateLimit, RateLimits};
use pfs_core::iou::UnsignedIou;
use pfs_core::{Address, ChainId, U256};
use serde_json::{Value, json};

async fn started(options: ApiOptions) -> (tempfile::TempDir, Running) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let service = start_service(&directory.path().join("pfs.db")).await;
    let running = Running::serve(service, api_config(), options).await;
    (directory, running)
}

/// A line 0 – 1 – 2 with both sides' capacities reported and everyone online.
async fn line(options: ApiOptions) -> (tempfile::TempDir, Running) {
    let (directory, running) = started(options).await;
    running.open_line(&[0, 1, 2], 1000).await;
    running.set_online(&[0, 1, 2]).await;
    report_line(&running, &[0, 1, 2], 1000).await;
    (directory, running)
}

fn limits(per_ip: Option<RateLimit>, signer: Option<RateLimit>, iou_sender: Option<RateLimit>) -> ApiOptions {
    ApiOptions {
        rate_limits: RateLimits {
            per_ip,
            per_update_signer: signer,
            per_iou_sender: iou_sender,
            max_tracked_clients: 1_000,
        },
        ..ApiOptions::default()
    }
}

fn debug_options() -> ApiOptions {
    ApiOptions { rate_limits: RateLimits::UNLIMITED, enable_debug: true, ..ApiOptions::default() }
}

async fn metrics_text(running: &Running) -> String {
    running.client.get(running.url("/metrics")).send().await.unwrap().text().await.unwrap()
}

/// An IOU of `sender` signed by `signer`, as request JSON.
fn iou_json(sender: u8, signer: u8) -> Value {
    let iou = UnsignedIou {
        sender: node(sender),
        receiver: Address::from_bytes([3; 20]),
        amount: U256::from(100),
        claimable_until: U256::from(4_000_000_000u64),
        one_to_n_address: Address::from_bytes([4; 20]),
        chain_id: ChainId(1337),
    }
    .sign(&key(signer));
    serde_json::from_str(&iou.to_json()).expect("IOU JSON")
}

#[tokio::test]
async fn requests_beyond_the_per_ip_limit_get_429_with_retry_after_and_cors() {
    let (_directory, running) = started(limits(RateLimit::new(1, 3), None, None)).await;
    for _ in 0..3 {
        assert_eq!(running.get("/api/v1/info").await.0, 200);
    }
    let response = running.client.get(running.url("/api/v1/online_addresses")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], json!(2312));
    assert_eq!(body["error_details"], json!({"limit": "ip", "retry_after": 1}));
    // The scraper is not limited, and the refusal is counted.
    let text = metrics_text(&running).await;
    assert!(text.contains("pfs_rate_limited_total{limit=\"ip\"} 1"), "{text}");
    running.stop().await;
}

#[tokio::test]
async fn updates_beyond_their_signer_limit_are_refused_one_by_one() {
    let (_directory, running) = started(limits(None, RateLimit::new(1, 2), None)).await;
    running.open_line(&[0, 1], 1000).await;
    let batch = format!(
        "[{}, {}, {}, {}]",
        capacity_update(1, 0, 1, 1, 10, 10),
        capacity_update(1, 0, 1, 2, 20, 10),
        capacity_update(1, 0, 1, 3, 30, 10),
        capacity_update(1, 1, 0, 1, 10, 10),
    );
    let (status, body) = running.post_json("/api/v1/updates", &batch).await;
    assert_eq!(status, 200);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0], json!({"status": "accepted"}));
    assert_eq!(results[1], json!({"status": "accepted"}));
    assert_eq!(results[2]["error_code"], json!(2312));
    assert_eq!(results[2]["error_details"]["limit"], json!("update_signer"));
    assert_eq!(results[3], json!({"status": "accepted"}), "another signer has its own budget");
    let response = running
        .client
        .post(running.url("/api/v1/updates"))
        .header("content-type", "application/json")
        .body(capacity_update(1, 0, 1, 4, 40, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let text = metrics_text(&running).await;
    assert!(text.contains("pfs_updates_total{source=\"http\",outcome=\"rate_limited\"} 2"), "{text}");
    running.stop().await;
}

#[tokio::test]
async fn path_requests_are_limited_per_proven_iou_sender() {
    let (_directory, running) = line(limits(None, None, RateLimit::new(1, 1))).await;
    let with_iou = |sender: u8, signer: u8| {
        json!({
            "from": node(0).to_checksum(), "to": node(2).to_checksum(), "value": 10,
            "iou": iou_json(sender, signer),
        })
        .to_string()
    };
    assert_eq!(running.post_json(&paths_url(), &with_iou(0, 0)).await.0, 200);
    let (status, body) = running.post_json(&paths_url(), &with_iou(0, 0)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error_details"]["limit"], json!("iou_sender"));
    // An IOU naming sender 0 but signed by node 1 proves nothing: it does not spend 0's budget
    // (and is not limited as 0's).
    assert_eq!(running.post_json(&paths_url(), &with_iou(0, 1)).await.0, 200);
    // Requests without an IOU are not limited per sender.
    assert_eq!(running.post_json(&paths_url(), &paths_body(0, 2, 10)).await.0, 200);
    running.stop().await;
}

#[tokio::test]
async fn debug_endpoints_are_not_served_without_enable_debug() {
    let (_directory, running) = started(ApiOptions::default()).await;
    let (status, body) = running.get("/api/v1/_debug/stats").await;
    assert_eq!(status, 404);
    assert!(body["message"].as_str().is_some_and(|message| message.contains("not found")), "{body}");
    running.stop().await;
}

#[tokio::test]
async fn debug_routes_list_failed_requests_and_the_routes_of_each_token() {
    let (_directory, running) = line(debug_options()).await;
    let (status, _) = running.post_json(&paths_url(), &paths_body(0, 2, 10)).await;
    assert_eq!(status, 200);
    let (status, _) = running.post_json(&paths_url(), &paths_body(0, 2, 1_000_000)).await;
    assert_eq!(status, 404);
    let (status, _) = running.post_json(&paths_url(), &paths_body(0, 1, 10)).await;
    assert_eq!(status, 200);

    let source = node(0).to_checksum();
    let tn = token_network().to_checksum();
    let (status, body) = running.get(&format!("/api/v1/_debug/routes/{tn}/{source}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["request_count"], json!(3));
    let responses = body["responses"].as_array().unwrap();
    assert_eq!(
        responses[0],
        json!({"source": source, "target": node(2).to_checksum(), "routes": []}),
        "the failed request comes first"
    );
    assert_eq!(responses[1]["target"], json!(node(2).to_checksum()));
    assert_eq!(
        responses[1]["routes"][0],
        json!({"path": [source, node(1).to_checksum(), node(2).to_checksum()], "estimated_fee": 0})
    );
    // Any case, and only the one target.
    let lower = node(0).to_lower_hex();
    let (status, body) = running
        .get(&format!(
            "/api/v1/_debug/routes/{}/{lower}/{}",
            token_network().to_lower_hex(),
            node(1).to_checksum()
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["request_count"], json!(1));
    assert_eq!(body["responses"][0]["target"], json!(node(1).to_checksum()));
    let (status, body) = running.get(&format!("/api/v1/_debug/routes/{tn}/0xnothex")).await;
    assert_eq!((status, &body["error_code"]), (400, &json!(2006)));
    running.stop().await;
}

#[tokio::test]
async fn debug_ious_show_the_first_iou_of_a_sender_or_an_empty_object() {
    let (_directory, running) = started(debug_options()).await;
    let url = format!("/api/v1/_debug/ious/{}", node(0).to_checksum());
    assert_eq!(running.get(&url).await, (200, json!({})));
    let iou: pfs_core::Iou = pfs_core::Iou::from_json(&iou_json(0, 0).to_string()).unwrap();
    let stored = running
        .service
        .store()
        .check_and_store_iou(&iou, SystemTime::now(), |_| Ok::<(), ()>(()))
        .await
        .expect("the IOU is stored");
    assert_eq!(stored, Ok(()));
    let text = running.client.get(running.url(&url)).send().await.unwrap().text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"sender": node(0).to_checksum(), "amount": 100, "claimable_until": 4_000_000_000u64})
    );
    let metrics = metrics_text(&running).await;
    assert!(metrics.contains("pfs_ious{state=\"unclaimed\"} 1"), "{metrics}");
    assert!(metrics.contains("pfs_iou_amount{state=\"unclaimed\"} 100"), "{metrics}");
    assert!(metrics.contains("economics_iou_claims_total{iou_status=\"successful\"} 0"), "{metrics}");
    running.stop().await;
}

#[tokio::test]
async fn debug_stats_count_routes_feedback_and_online_users() {
    let (_directory, running) = line(debug_options()).await;
    let (status, body) = running.post_json(&paths_url(), &paths_body(0, 2, 10)).await;
    assert_eq!(status, 200);
    let feedback = json!({
        "token": body["feedback_token"],
        "success": true,
        "path": body["result"][0]["path"],
    });
    let feedback_url = format!("/api/v1/{}/feedback", token_network().to_checksum());
    assert_eq!(running.post_json(&feedback_url, &feedback.to_string()).await.0, 200);
    let (status, stats) = running.get("/api/v1/_debug/stats").await;
    assert_eq!(status, 200);
    let routes = body["result"].as_array().unwrap().len();
    assert_eq!(
        stats,
        json!({
            "total_calculated_routes": routes,
            "total_feedback_received": 1,
            "total_successful_routes": 1,
            "online_nodes": 3,
        })
    );
    running.stop().await;
}

/// The document's operations as (method, path).
fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

/// A concrete URL for a documented path: token networks and addresses filled in.
fn concrete(path: &str) -> String {
    path.replace("{token_network}", &token_network().to_checksum())
        .replace("{address}", &node(0).to_checksum())
        .replace("{source}", &node(0).to_checksum())
        .replace("{target}", &node(1).to_checksum())
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_the_router_serves() {
    let (_directory, running) = line(debug_options()).await;
    let response = running.client.get(running.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document, serde_json::from_str::<Value>(pfs_api::OPENAPI_JSON).unwrap());

    let table: BTreeSet<(String, String)> = pfs_api::routes(&debug_options())
        .into_iter()
        .map(|route| (route.method.to_owned(), route.path))
        .collect();
    assert_eq!(documented(&document), table, "documented routes = the router's route table");

    // And the running router answers each documented operation (no fallback 404, no 405).
    for (method, path) in documented(&document) {
        let url = running.url(&concrete(&path));
        let request = if method == "POST" {
            running.client.post(url).header("content-type", "application/json").body("{}")
        } else {
            running.client.get(url)
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}: {text}");
        assert!(!text.contains("The requested URL was not found"), "{method} {path} is not routed: {text}");
    }
    running.stop().await;
}

#[test]
fn the_openapi_document_is_openapi_3_and_every_reference_resolves() {
    let document: Value = serde_json::from_str(pfs_api::OPENAPI_JSON).expect("valid JSON");
    assert!(document["openapi"].as_str().is_some_and(|version| version.starts_with("3.")));
    assert!(document["info"]["title"].is_string() && document["info"]["version"].is_string());
    for (method, path) in documented(&document) {
        let operation = &document["paths"][&path][method.to_lowercase()];
        assert!(operation["operationId"].is_string(), "{method} {path} has an operationId");
        let responses = operation["responses"].as_object().expect("responses");
        assert!(responses.keys().any(|status| status.starts_with('2')), "{method} {path} has a 2xx answer");
        let parameters: BTreeSet<String> = operation["parameters"]
            .as_array()
            .map(|parameters| {
                parameters.iter().map(|parameter| parameter["name"].as_str().unwrap().to_owned()).collect()
            })
            .unwrap_or_default();
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(parameters, in_path, "{method} {path}: every path parameter is described");
    }
    let mut references = Vec::new();
    collect_references(&document, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        assert!(document.pointer(pointer).is_some(), "{reference} resolves");
    }
}

fn collect_references(value: &Value, references: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    references.extend(value.as_str().map(str::to_owned));
                } else {
                    collect_references(value, references);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_references(item, references)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_path_answers_are_stored_before_they_are_sent() {
    let (_directory, running) =
        line(ApiOptions { rate_limits: RateLimits::UNLIMITED, ..ApiOptions::default() }).await;
    let running = std::sync::Arc::new(running);
    let mut requests = Vec::new();
    for _ in 0..64 {
        let running = std::sync::Arc::clone(&running);
        requests
            .push(tokio::spawn(async move { running.post_json(&paths_url(), &paths_body(0, 2, 10)).await }));
    }
    let feedback_url = format!("/api/v1/{}/feedback", token_network().to_checksum());
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200, "{body}");
        // The answer's token is usable at once: its routes were committed before the answer.
        let feedback =
            json!({"token": body["feedback_token"], "success": true, "path": body["result"][0]["path"]});
        assert_eq!(running.post_json(&feedback_url, &feedback.to_string()).await, (200, json!({})));
    }
    let stats = running.service.store().feedback_stats(None).await.unwrap();
    assert_eq!(stats.successful, 64);
}
