//! Who is who on Raiden's Matrix homeservers: user ids derived from addresses, the signed login
//! password and display name, their validation, and the capability string kept in the avatar URL
//! (`spec/PROTOCOL.md` §6.1, `REFERENCE-PFS.md` §8.1).
//!
//! An account is `@<lower-case 0x address>:<server name>`; its password is the `0x` hex EIP-191
//! signature of the server name, and its display name the signature of the full user id. A peer's
//! identity is accepted only if its display name recovers the address in its user id
//! ([`validate_displayname`]), with the reference's exact patterns: user id
//! `^@(0x[0-9a-f]{40})(?:\.[0-9a-f]{8})?(?::.+)?$`, display name `^0x[0-9a-fA-F]{130}$`. They are
//! matched by hand rather than with a regex engine; unlike Python's `$`, a trailing newline is not
//! accepted (Matrix user ids cannot contain one).

use std::fmt::Write as _;

use serde::{Serialize, Serializer};

use crate::address::Address;
use crate::form_urlencoded;
use crate::signature::{PrivateKey, Signature, SignatureError};

/// The avatar URL the reference PFS reports when it knows no capabilities for a user.
pub const UNKNOWN_CAPABILITIES: &str = "mxc://";

/// The reference's user-id pattern (`USERID_RE`), which [`parse_user_id`] implements.
pub const USER_ID_PATTERN: &str = r"^@(0x[0-9a-f]{40})(?:\.[0-9a-f]{8})?(?::.+)?$";

/// The reference's display-name pattern, which [`validate_displayname`] implements.
pub const DISPLAYNAME_PATTERN: &str = r"^0x[0-9a-fA-F]{130}$";

/// The prefix of every capability string Raiden writes.
pub const CAPABILITIES_PREFIX: &str = "mxc://raiden.network/cap?";

/// Why a Matrix identity is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixIdentityError {
    /// The user id does not match `^@(0x[0-9a-f]{40})(?:\.[0-9a-f]{8})?(?::.+)?$`.
    #[error("not a Raiden user id: {0:?}")]
    InvalidUserId(String),
    /// The display name does not match `^0x[0-9a-fA-F]{130}$`.
    #[error("display name is not a 65-byte hex signature")]
    InvalidDisplayname,
    /// The display name's signature does not recover any address.
    #[error("display name signature: {0}")]
    Signature(#[from] SignatureError),
    /// The display name was signed by another key than the user id's address.
    #[error("display name signed by {recovered}, not by {expected}")]
    SignerMismatch {
        /// The address in the user id.
        expected: Address,
        /// The address that signed the display name.
        recovered: Address,
    },
    /// The homeserver URL has no `scheme://host` part.
    #[error("homeserver URL has no host: {0:?}")]
    InvalidHomeserverUrl(String),
}

/// Longest input echoed back in an error message.
const MAX_ECHOED_CHARS: usize = 80;

fn echo(text: &str) -> String {
    text.chars().take(MAX_ECHOED_CHARS).collect()
}

/// The Matrix user id of `address` on `server_name`: `@0x<lower-case hex>:<server_name>`.
///
/// # Examples
/// ```
/// use pfs_core::{Address, matrix_identity::user_id};
///
/// let address: Address = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1".parse().unwrap();
/// assert_eq!(user_id(&address, "localhost:8008"), "@0x1a642f0e3c3af545e7acbd38b07251b3990914f1:localhost:8008");
/// ```
pub fn user_id(address: &Address, server_name: &str) -> String {
    format!("@{}:{server_name}", address.to_lower_hex())
}

/// The server name clients use for a homeserver URL: Python's `urlparse(url).netloc`, i.e. the
/// host with its port if one is given (`https://localhost:8008/` → `localhost:8008`).
///
/// # Errors
/// [`MatrixIdentityError::InvalidHomeserverUrl`] if there is no `scheme://` or the host is empty.
pub fn server_name_from_url(url: &str) -> Result<&str, MatrixIdentityError> {
    let invalid = || MatrixIdentityError::InvalidHomeserverUrl(echo(url));
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme_is_valid = scheme.chars().next().is_some_and(|first| first.is_ascii_alphabetic())
        && scheme.chars().all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let netloc = &rest[..end];
    if !scheme_is_valid || netloc.is_empty() {
        return Err(invalid());
    }
    Ok(netloc)
}

/// The login password Raiden's Synapse auth provider checks: `0x` + lower-case hex of the EIP-191
/// signature of the server name.
pub fn login_password(key: &PrivateKey, server_name: &str) -> String {
    key.sign(server_name.as_bytes()).to_hex()
}

/// The display name that proves ownership of a user id: `0x` + lower-case hex of the EIP-191
/// signature of the whole user id.
pub fn displayname(key: &PrivateKey, user_id: &str) -> String {
    key.sign(user_id.as_bytes()).to_hex()
}

/// A user id split by the Raiden user-id pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaidenUserId<'a> {
    /// The address the user id claims.
    pub address: Address,
    /// The text after `:`, if any (the homeserver's server name).
    pub server_name: Option<&'a str>,
}

/// Matches `user_id` against `^@(0x[0-9a-f]{40})(?:\.[0-9a-f]{8})?(?::.+)?$`.
///
/// # Errors
/// [`MatrixIdentityError::InvalidUserId`] if it does not match.
pub fn parse_user_id(user_id: &str) -> Result<RaidenUserId<'_>, MatrixIdentityError> {
    let invalid = || MatrixIdentityError::InvalidUserId(echo(user_id));
    let is_lower_hex = |text: &str| text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
    let rest = user_id.strip_prefix("@0x").ok_or_else(invalid)?;
    rest.get(..40).filter(|digits| is_lower_hex(digits)).ok_or_else(invalid)?;
    let mut rest = &rest[40..];
    if let Some(suffix) = rest.strip_prefix('.') {
        let legacy = suffix.get(..8).filter(|digits| is_lower_hex(digits)).ok_or_else(invalid)?;
        rest = &suffix[legacy.len()..];
    }
    let server_name = match rest.strip_prefix(':') {
        None if rest.is_empty() => None,
        Some(server) if !server.is_empty() && !server.contains('\n') => Some(server),
        _ => return Err(invalid()),
    };
    // `user_id[1..43]` is the `0x` and the 40 hex digits checked above.
    let address = Address::parse_any_case(&user_id[1..43]).map_err(|_| invalid())?;
    Ok(RaidenUserId { address, server_name })
}

/// Checks a peer's display name as the reference's `validate_user_id_signature` does and returns
/// the address it proves.
///
/// # Errors
/// [`MatrixIdentityError`] saying which check failed.
pub fn validate_displayname(user_id: &str, displayname: &str) -> Result<Address, MatrixIdentityError> {
    let claimed = parse_user_id(user_id)?.address;
    let digits = displayname.strip_prefix("0x").ok_or(MatrixIdentityError::InvalidDisplayname)?;
    if digits.len() != 130 || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(MatrixIdentityError::InvalidDisplayname);
    }
    let signature = Signature::parse_hex(displayname).map_err(|_| MatrixIdentityError::InvalidDisplayname)?;
    let recovered = signature.recover(user_id.as_bytes())?;
    if recovered == claimed {
        Ok(claimed)
    } else {
        Err(MatrixIdentityError::SignerMismatch { expected: claimed, recovered })
    }
}

/// One capability's value as Raiden's `CapabilitiesField` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapabilityValue {
    /// A value Python's `int()` reads as 0 or 1 (`"1"`, `"0"`, `" 01 "`, …).
    Flag(bool),
    /// Any other single value, verbatim.
    Text(String),
    /// A key given more than once: all its values, verbatim, in order.
    List(Vec<String>),
}

/// The capabilities a Raiden node announces in its avatar URL, in the order given.
///
/// The string form is `mxc://raiden.network/cap?` + the form-encoded pairs (flags as `1`/`0`, a
/// list as a repeated key), as werkzeug's `url_encode` writes it. Reading takes the URL's query
/// like Python's `parse_qs` (pairs without a value are dropped), so any avatar URL parses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities(Vec<(String, CapabilityValue)>);

/// The capabilities a Raiden node with default settings announces.
const RAIDEN_DEFAULT_CAPABILITIES: [&str; 6] =
    ["Receive", "Mediate", "Delivery", "webRTC", "toDevice", "immutableMetadata"];

impl Capabilities {
    /// The capabilities of a current Raiden node: `Receive`, `Mediate`, `Delivery`, `webRTC`,
    /// `toDevice` and `immutableMetadata`, all on.
    pub fn raiden_default() -> Self {
        Self(
            RAIDEN_DEFAULT_CAPABILITIES
                .iter()
                .map(|name| ((*name).to_owned(), CapabilityValue::Flag(true)))
                .collect(),
        )
    }

    /// Builds capabilities from `(name, value)` pairs (a later duplicate name replaces an
    /// earlier one).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, CapabilityValue)>) -> Self {
        let mut capabilities = Self::default();
        for (name, value) in pairs {
            match capabilities.0.iter_mut().find(|(existing, _)| *existing == name) {
                Some(entry) => entry.1 = value,
                None => capabilities.0.push((name, value)),
            }
        }
        capabilities
    }

    /// Reads the capabilities from an avatar URL; never fails (unparseable parts are dropped, as
    /// the reference drops them).
    pub fn parse(avatar_url: &str) -> Self {
        let without_fragment = avatar_url.split_once('#').map_or(avatar_url, |(before, _)| before);
        let query = without_fragment.split_once('?').map_or("", |(_, query)| query);
        let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
        for entry in query.split('&') {
            let Some((name, value)) = entry.split_once('=') else { continue };
            if value.is_empty() {
                continue;
            }
            let (Ok(name), Ok(value)) =
                (form_urlencoded::decode_component(name), form_urlencoded::decode_component(value))
            else {
                continue;
            };
            match grouped.iter_mut().find(|(existing, _)| *existing == name) {
                Some((_, values)) => values.push(value),
                None => grouped.push((name, vec![value])),
            }
        }
        Self(
            grouped
                .into_iter()
                .map(|(name, mut values)| {
                    let value = if values.len() == 1 {
                        let single = values.remove(0);
                        python_int_bool(&single).map_or(CapabilityValue::Text(single), CapabilityValue::Flag)
                    } else {
                        CapabilityValue::List(values)
                    };
                    (name, value)
                })
                .collect(),
        )
    }

    /// The avatar URL string, e.g.
    /// `mxc://raiden.network/cap?Receive=1&Mediate=1&Delivery=1&webRTC=1&toDevice=1&immutableMetadata=1`.
    pub fn to_avatar_url(&self) -> String {
        let mut out = String::from(CAPABILITIES_PREFIX);
        let mut first = true;
        let mut pair = |name: &str, value: &str| {
            if !first {
                out.push('&');
            }
            first = false;
            form_urlencoded::encode_component(name, &mut out);
            out.push('=');
            form_urlencoded::encode_component(value, &mut out);
        };
        for (name, value) in &self.0 {
            match value {
                CapabilityValue::Flag(flag) => pair(name, if *flag { "1" } else { "0" }),
                CapabilityValue::Text(text) => pair(name, text),
                CapabilityValue::List(values) => values.iter().for_each(|value| pair(name, value)),
            }
        }
        out
    }

    /// The value of capability `name`.
    pub fn get(&self, name: &str) -> Option<&CapabilityValue> {
        self.0.iter().find(|(existing, _)| existing == name).map(|(_, value)| value)
    }

    /// Whether capability `name` is announced as on (`1`).
    pub fn is_enabled(&self, name: &str) -> bool {
        matches!(self.get(name), Some(CapabilityValue::Flag(true)))
    }

    /// The `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CapabilityValue)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value))
    }
}

/// Writes the capabilities as the JSON object Raiden's `CapabilitiesSchema` loads them into:
/// flags as booleans, text as strings, lists as arrays of strings.
impl Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            match value {
                CapabilityValue::Flag(flag) => map.serialize_entry(name, flag)?,
                CapabilityValue::Text(text) => map.serialize_entry(name, text)?,
                CapabilityValue::List(values) => map.serialize_entry(name, values)?,
            }
        }
        map.end()
    }
}

/// Raiden's `int_bool`: `Some(bool)` if Python's `int(text)` is 0 or 1, else `None`.
///
/// Python's `int` accepts surrounding whitespace, a sign and single underscores between digits.
fn python_int_bool(text: &str) -> Option<bool> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first()? {
        b'-' => (true, &trimmed[1..]),
        b'+' => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|byte| byte.is_ascii_digit() || byte == b'_');
    if !well_formed {
        return None;
    }
    let mut significant = String::with_capacity(digits.len());
    for character in digits.chars().filter(|character| *character != '_') {
        if !(significant.is_empty() && character == '0') {
            let _ = significant.write_char(character);
        }
    }
    match significant.as_str() {
        "" => Some(false),
        "1" if !negative => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrivateKey {
        PrivateKey::from_bytes([1; 32]).unwrap()
    }

    #[test]
    fn own_displayname_validates() {
        let user = user_id(&key().address(), "localhost:8008");
        assert_eq!(validate_displayname(&user, &displayname(&key(), &user)), Ok(key().address()));
    }

    #[test]
    fn displayname_signed_by_another_key_is_a_mismatch() {
        let user = user_id(&key().address(), "localhost:8008");
        let other = PrivateKey::from_bytes([2; 32]).unwrap();
        assert!(matches!(
            validate_displayname(&user, &displayname(&other, &user)),
            Err(MatrixIdentityError::SignerMismatch { .. })
        ));
    }

    #[test]
    fn displayname_must_be_130_hex_digits_in_any_case() {
        let user = user_id(&key().address(), "localhost:8008");
        let name = displayname(&key(), &user);
        let upper = format!("0x{}", name[2..].to_uppercase());
        assert_eq!(validate_displayname(&user, &upper), Ok(key().address()));
        for bad in [&name[2..], &name[..130], "0x", "", &format!("{name}\n"), &format!("0X{}", &name[2..])] {
            assert_eq!(
                validate_displayname(&user, bad),
                Err(MatrixIdentityError::InvalidDisplayname),
                "{bad}"
            );
        }
    }

    #[test]
    fn user_id_pattern_is_exact() {
        let address = "0x1a642f0e3c3af545e7acbd38b07251b3990914f1";
        assert_eq!(parse_user_id(&format!("@{address}:server")).unwrap().server_name, Some("server"));
        assert_eq!(parse_user_id(&format!("@{address}")).unwrap().server_name, None);
        assert_eq!(
            parse_user_id(&format!("@{address}.0123abcd:server")).unwrap().server_name,
            Some("server")
        );
        for bad in [
            format!("@{}:server", address.to_uppercase().replace("0X", "0x")),
            format!("{address}:server"),
            format!("@{address}:"),
            format!("@{address}x"),
            format!("@{address}.0123abc:server"),
            format!("@{address}:server\n"),
            "@0x€".to_owned(),
        ] {
            assert!(matches!(parse_user_id(&bad), Err(MatrixIdentityError::InvalidUserId(_))), "{bad}");
        }
    }

    #[test]
    fn server_name_is_the_url_netloc() {
        assert_eq!(server_name_from_url("https://transport.example.org"), Ok("transport.example.org"));
        assert_eq!(server_name_from_url("http://localhost:8008/_matrix?x#y"), Ok("localhost:8008"));
        for bad in ["localhost:8008", "https://", "://host", "1http://host"] {
            assert!(server_name_from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn capabilities_parse_flags_text_and_lists() {
        let parsed = Capabilities::parse(
            "mxc://raiden.network/cap?Delivery=0&randomCap=test&a=1&a=2&Receive=+01+&empty=",
        );
        assert_eq!(parsed.get("Delivery"), Some(&CapabilityValue::Flag(false)));
        assert_eq!(parsed.get("randomCap"), Some(&CapabilityValue::Text("test".into())));
        assert_eq!(parsed.get("a"), Some(&CapabilityValue::List(vec!["1".into(), "2".into()])));
        assert!(parsed.is_enabled("Receive"));
        assert_eq!(parsed.get("empty"), None);
        assert_eq!(Capabilities::parse(UNKNOWN_CAPABILITIES), Capabilities::default());
    }

    #[test]
    fn capabilities_format_round_trips() {
        let capabilities = Capabilities::from_pairs([
            ("Receive".to_owned(), CapabilityValue::Flag(true)),
            ("note".to_owned(), CapabilityValue::Text("a b&c".into())),
            ("list".to_owned(), CapabilityValue::List(vec!["x".into(), "y".into()])),
        ]);
        let url = capabilities.to_avatar_url();
        assert_eq!(url, "mxc://raiden.network/cap?Receive=1&note=a+b%26c&list=x&list=y");
        assert_eq!(Capabilities::parse(&url), capabilities);
    }

    #[test]
    fn python_int_bool_follows_int() {
        for (text, expected) in [
            ("1", Some(true)),
            ("0", Some(false)),
            ("-0", Some(false)),
            ("0_1", Some(true)),
            ("-1", None),
            ("2", None),
            ("1_", None),
            ("x", None),
            ("", None),
        ] {
            assert_eq!(python_int_bool(text), expected, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_identities_never_panic(user in ".{0,80}", name in ".{0,140}") {
            let _ = validate_displayname(&user, &name);
            let _ = server_name_from_url(&user);
            let _ = Capabilities::parse(&name).to_avatar_url();
        }
    }
}
