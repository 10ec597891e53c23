//! Reading request bodies as the reference's marshmallow schemas do: a JSON object whose fields
//! are checked one by one, every failure collected as `{"field": ["message"]}` (2000), unknown
//! keys rejected.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};
use pfs_core::integer::{IntegerSyntax, parse_json_integer};
use pfs_core::{Address, U256};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The raw fields of a JSON object body, with the validation messages collected so far.
pub(crate) struct Fields<'a> {
    raw: BTreeMap<String, &'a RawValue>,
    known: &'static [&'static str],
    errors: Map<String, Value>,
}

/// Whether the request says its body is JSON (`application/json` or `+json`), as Flask checks.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|mime| {
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// Parses the body as a JSON value, with the reference's errors: not JSON-typed, empty, or a
/// falsy value (`{}`, `[]`, `null`, `0`, `""`, `false`) → 0; invalid JSON → 2000.
///
/// # Errors
/// [`ApiError`] as above.
pub(crate) fn json_body<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<&'a RawValue, ApiError> {
    if !is_json(headers) || body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::json_payload_expected());
    }
    let raw: &RawValue = serde_json::from_slice(body).map_err(|error| {
        let mut details = Map::new();
        details
            .insert("json".to_owned(), Value::from(vec![format!("Failed to decode JSON object: {error}")]));
        ApiError::invalid_request(details)
    })?;
    // Flask treats a falsy payload like a missing one; falsy values are short texts.
    if raw.get().len() <= MAX_FALSY_TEXT
        && serde_json::from_str::<Value>(raw.get()).is_ok_and(|value| is_falsy(&value))
    {
        return Err(ApiError::json_payload_expected());
    }
    Ok(raw)
}

/// Longest text of a falsy JSON value worth parsing to check (`{}` with some whitespace).
const MAX_FALSY_TEXT: usize = 64;

/// Python's truthiness of a decoded JSON value.
fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
    }
}

/// 2000 `{"_schema": ["Invalid input type."]}`: the body is JSON but not an object.
pub(crate) fn not_an_object() -> ApiError {
    let mut details = Map::new();
    details.insert("_schema".to_owned(), Value::from(vec!["Invalid input type."]));
    ApiError::invalid_request(details)
}

impl<'a> Fields<'a> {
    /// The fields of a JSON object; keys outside `known` are reported as "Unknown field.".
    ///
    /// # Errors
    /// 2000 if `raw` is not an object.
    pub(crate) fn new(raw: &'a RawValue, known: &'static [&'static str]) -> Result<Self, ApiError> {
        let raw: BTreeMap<String, &'a RawValue> =
            serde_json::from_str(raw.get()).map_err(|_| not_an_object())?;
        let mut errors = Map::new();
        for key in raw.keys() {
            if !known.contains(&key.as_str()) {
                errors.insert(key.clone(), Value::from(vec!["Unknown field."]));
            }
        }
        Ok(Self { raw, known, errors })
    }

    fn fail(&mut self, key: &str, message: String) {
        self.errors.insert(key.to_owned(), Value::from(vec![message]));
    }

    /// The raw value of `key`, `None` if absent or `null`.
    fn present(&self, key: &str) -> Option<&'a RawValue> {
        debug_assert!(self.known.contains(&key), "field {key} is not declared");
        self.raw.get(key).copied().filter(|value| value.get().trim() != "null")
    }

    fn required(&mut self, key: &str) -> Option<&'a RawValue> {
        let value = self.raw.get(key).copied();
        match value {
            None => self.fail(key, "Missing data for required field.".to_owned()),
            Some(value) if value.get().trim() == "null" => {
                self.fail(key, "Field may not be null.".to_owned())
            }
            Some(_) => {}
        }
        value.filter(|value| value.get().trim() != "null")
    }

    /// A required checksummed address.
    pub(crate) fn address(&mut self, key: &str) -> Option<Address> {
        let value = self.required(key)?;
        match serde_json::from_str::<String>(value.get()) {
            Ok(text) => match Address::parse_checksummed(&text) {
                Ok(address) => Some(address),
                Err(_) => {
                    self.fail(key, format!("Not a checksummed address: {text}"));
                    None
                }
            },
            Err(_) => {
                self.fail(key, "Not a valid string.".to_owned());
                None
            }
        }
    }

    /// A required list of checksummed addresses.
    pub(crate) fn address_list(&mut self, key: &str, max_len: usize) -> Option<Vec<Address>> {
        let value = self.required(key)?;
        let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(value.get()) else {
            self.fail(key, "Not a valid list.".to_owned());
            return None;
        };
        if items.len() > max_len {
            self.fail(key, format!("Longer than maximum length {max_len}."));
            return None;
        }
        let mut addresses = Vec::with_capacity(items.len());
        let mut item_errors = Map::new();
        for (index, item) in items.iter().enumerate() {
            let parsed = serde_json::from_str::<String>(item.get())
                .ok()
                .and_then(|text| Address::parse_checksummed(&text).ok());
            match parsed {
                Some(address) => addresses.push(address),
                None => {
                    let message = format!("Not a checksummed address: {}", item.get());
                    item_errors.insert(index.to_string(), Value::from(vec![message]));
                }
            }
        }
        if item_errors.is_empty() {
            Some(addresses)
        } else {
            self.errors.insert(key.to_owned(), Value::Object(item_errors));
            None
        }
    }

    /// An integer (number or decimal string), required unless `default` is given, within
    /// `minimum..=maximum`.
    pub(crate) fn integer(
        &mut self,
        key: &str,
        default: Option<U256>,
        minimum: U256,
        maximum: Option<U256>,
    ) -> Option<U256> {
        let value = match default {
            Some(default) if !self.raw.contains_key(key) => return Some(default),
            _ => self.required(key)?,
        };
        let Ok(number) = parse_json_integer(value.get(), IntegerSyntax::NumberOrDecimal) else {
            self.fail(key, "Not a valid integer.".to_owned());
            return None;
        };
        let in_range = number >= minimum && maximum.is_none_or(|maximum| number <= maximum);
        if !in_range {
            let message = match maximum {
                Some(maximum) => {
                    format!("Must be greater than or equal to {minimum} and less than or equal to {maximum}.")
                }
                None => format!("Must be greater than or equal to {minimum}."),
            };
            self.fail(key, message);
            return None;
        }
        Some(number)
    }

    /// An optional finite float (number or numeric string); `None` when absent or `null`.
    pub(crate) fn float(&mut self, key: &str) -> Option<f64> {
        let value = self.present(key)?;
        let number = serde_json::from_str::<Value>(value.get()).ok().and_then(|value| match value {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.trim().parse::<f64>().ok(),
            _ => None,
        });
        match number {
            Some(number) if number.is_finite() => Some(number),
            Some(_) => {
                self.fail(key, "Special numeric values (nan or infinity) are not permitted.".to_owned());
                None
            }
            None => {
                self.fail(key, "Not a valid number.".to_owned());
                None
            }
        }
    }

    /// A required boolean, with marshmallow's truthy/falsy spellings.
    pub(crate) fn boolean(&mut self, key: &str) -> Option<bool> {
        let value = self.required(key)?;
        let parsed = match serde_json::from_str::<Value>(value.get()) {
            Ok(Value::Bool(flag)) => Some(flag),
            Ok(Value::Number(number)) if number.as_f64() == Some(1.0) => Some(true),
            Ok(Value::Number(number)) if number.as_f64() == Some(0.0) => Some(false),
            Ok(Value::String(text)) => match text.as_str() {
                "true" | "True" | "TRUE" | "t" | "T" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On"
                | "ON" | "1" => Some(true),
                "false" | "False" | "FALSE" | "f" | "F" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off"
                | "OFF" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.fail(key, "Not a valid boolean.".to_owned());
        }
        parsed
    }

    /// A required string.
    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        let value = self.required(key)?;
        let text = serde_json::from_str::<String>(value.get()).ok();
        if text.is_none() {
            self.fail(key, "Not a valid string.".to_owned());
        }
        text
    }

    /// Records a failure found by the caller.
    pub(crate) fn reject(&mut self, key: &str, message: &str) {
        self.fail(key, message.to_owned());
    }

    /// Whether `key` is present and not `null`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.present(key).is_some()
    }

    /// The raw value of an optional field (absent or `null` → `None`).
    pub(crate) fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.present(key)
    }

    /// Records the messages of a nested object's fields under `key` (`{"key": {"field": [...]}}`).
    pub(crate) fn reject_nested(&mut self, key: &str, errors: Map<String, Value>) {
        self.errors.insert(key.to_owned(), Value::Object(errors));
    }

    /// The messages collected so far (for a nested object, see [`Fields::reject_nested`]).
    pub(crate) fn into_errors(self) -> Map<String, Value> {
        self.errors
    }

    /// Ends validation: 2000 with every collected message, if any.
    ///
    /// # Errors
    /// [`ApiError`] 2000.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::invalid_request(self.errors)) }
    }
}
