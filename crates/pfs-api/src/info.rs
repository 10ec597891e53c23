//! `GET /api/v1/info` and `/api/v2/info` (§1.4.6): v2 writes `price_info` and the confirmed
//! block as decimal strings.

use std::time::SystemTime;

use axum::Json;
use axum::extract::State as Extract;
use pfs_core::NaiveTimestamp;
use pfs_core::integer::to_json_number;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::State;

/// The Raiden contracts version this service is built against.
pub const CONTRACTS_VERSION: &str = "0.50.2";

fn info(state: &crate::AppState, numbers_as_strings: bool) -> Info {
    let config = &state.config;
    let block = state.service.confirmed_block().0;
    let (price, block): (Box<RawValue>, Value) = if numbers_as_strings {
        (string_value(&config.service_fee.to_string()), Value::from(block.to_string()))
    } else {
        (to_json_number(&config.service_fee), Value::from(block))
    };
    // Exact big integers: `price_info` stays a raw JSON number (a `Value` would go through f64).
    let rest = json!({
        "network_info": {
            "chain_id": state.service.chain_id().0,
            "token_network_registry_address": config.token_network_registry.to_checksum(),
            "user_deposit_address": config.user_deposit.to_checksum(),
            "service_token_address": config.service_token.to_checksum(),
            "confirmed_block": {"number": block},
        },
        "version": env!("CARGO_PKG_VERSION"),
        "contracts_version": CONTRACTS_VERSION,
        "operator": config.operator,
        "message": config.message,
        "payment_address": config.payment_address.to_checksum(),
        "UTC": utc_now(),
        "matrix_server": config.matrix_server,
        "matrix_user_id": config.matrix_user_id,
    });
    Info { price_info: price, rest }
}

/// A JSON string literal as a raw value.
fn string_value(text: &str) -> Box<RawValue> {
    // Invariant: a serialised `&str` is valid JSON.
    RawValue::from_string(Value::from(text).to_string()).expect("a JSON string literal is valid JSON")
}

/// The `/info` body: `price_info` first, as the reference orders it.
#[derive(Serialize)]
pub(crate) struct Info {
    price_info: Box<RawValue>,
    #[serde(flatten)]
    rest: Value,
}

/// Python's `datetime.utcnow().isoformat()`.
fn utc_now() -> String {
    let micros = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX));
    NaiveTimestamp::from_unix_micros(micros).map_or_else(String::new, |timestamp| timestamp.to_isoformat())
}

pub(crate) async fn info_v1(Extract(state): State) -> Json<Info> {
    Json(info(&state, false))
}

pub(crate) async fn info_v2(Extract(state): State) -> Json<Info> {
    Json(info(&state, true))
}
