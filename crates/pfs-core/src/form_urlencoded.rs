//! `application/x-www-form-urlencoded` text as Python writes and reads it (`urllib.parse`'s
//! `quote_plus`/`unquote_plus`, werkzeug's `url_encode`): used for IOU-request query strings and
//! the capability strings in Matrix avatar URLs.
//!
//! Encoding keeps ASCII letters, digits and `-._~`, writes a space as `+` and every other UTF-8
//! byte as `%XX` (upper-case hex). Decoding turns `+` into a space and `%XX` into its byte; the
//! result must be UTF-8.

use std::fmt::Write as _;

/// Why a form-encoded component cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormDecodeError {
    /// The decoded bytes are not UTF-8.
    #[error("percent-encoded text is not UTF-8")]
    NotUtf8,
}

/// Encodes one key or value.
pub(crate) fn encode_component(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => {
                // Invariant: writing to a String cannot fail.
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
}

/// Encodes `key=value` pairs joined by `&`.
pub(crate) fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (index, (key, value)) in pairs.into_iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        encode_component(key, &mut out);
        out.push('=');
        encode_component(value, &mut out);
    }
    out
}

/// Decodes one key or value like Python's `unquote_plus`: `+` is a space, `%XX` a byte, and a `%`
/// not followed by two hex digits stays as it is.
///
/// # Errors
/// [`FormDecodeError::NotUtf8`] if the decoded bytes are not UTF-8.
pub(crate) fn decode_component(text: &str) -> Result<String, FormDecodeError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' if index + 2 < bytes.len() && hex_pair(bytes[index + 1], bytes[index + 2]).is_some() => {
                decoded.extend(hex_pair(bytes[index + 1], bytes[index + 2]));
                index += 2;
            }
            other => decoded.push(other),
        }
        index += 1;
    }
    String::from_utf8(decoded).map_err(|_| FormDecodeError::NotUtf8)
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let value = |digit: u8| (digit as char).to_digit(16);
    Some((value(high)? * 16 + value(low)?) as u8)
}

/// Splits a query string into decoded `(key, value)` pairs the way Python's `parse_qsl` does by
/// default: `&`-separated, entries without `=` or with an empty value dropped.
///
/// # Errors
/// [`FormDecodeError`] if a component does not decode.
pub(crate) fn decode_pairs(query: &str) -> Result<Vec<(String, String)>, FormDecodeError> {
    let mut pairs = Vec::new();
    for entry in query.split('&') {
        let Some((key, value)) = entry.split_once('=') else { continue };
        if value.is_empty() {
            continue;
        }
        pairs.push((decode_component(key)?, decode_component(value)?));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colons_and_spaces_are_encoded_like_quote_plus() {
        assert_eq!(
            encode_pairs([("timestamp", "2022-10-01T12:00:00.5"), ("a b", "+")]),
            "timestamp=2022-10-01T12%3A00%3A00.5&a+b=%2B"
        );
    }

    #[test]
    fn decoding_reverses_encoding_and_keeps_stray_percent_signs() {
        assert_eq!(decode_component("12%3A00+x").unwrap(), "12:00 x");
        assert_eq!(decode_component("100%").unwrap(), "100%");
        assert_eq!(decode_component("%zz").unwrap(), "%zz");
        assert_eq!(decode_component("%FF"), Err(FormDecodeError::NotUtf8));
    }

    #[test]
    fn empty_values_and_bare_keys_are_dropped() {
        assert_eq!(
            decode_pairs("a=1&b=&c&d=2").unwrap(),
            [("a".into(), "1".into()), ("d".into(), "2".into())]
        );
    }

    proptest::proptest! {
        #[test]
        fn encode_then_decode_is_identity(text in ".{0,40}") {
            let mut encoded = String::new();
            encode_component(&text, &mut encoded);
            proptest::prop_assert_eq!(decode_component(&encoded).unwrap(), text);
        }

        #[test]
        fn arbitrary_queries_never_panic(text in ".{0,80}") {
            let _ = decode_pairs(&text);
        }
    }
}
