//! Path parameters read as the reference's werkzeug reads them: percent-decoded, with bytes that
//! do not decode to UTF-8 replaced by U+FFFD. A segment such as `%80` thus reaches the handler's
//! own validation (2003 for a token network, 2006 for an address, ignored where the reference
//! ignores it) instead of axum's plain-text 400 "Invalid URL".

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;

use crate::error::ApiError;

/// The `N` parameters of the matched route, in the order of its path template.
#[derive(Debug)]
pub(crate) struct Segments<const N: usize>(pub(crate) [String; N]);

impl<S: Send + Sync, const N: usize> FromRequestParts<S> for Segments<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let values: Vec<String> = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params.iter().map(|(_, value)| value.to_owned()).collect(),
            // The only other failure: a parameter that is not UTF-8 once decoded.
            Err(_) => lossy_parameters(parts),
        };
        // Invariant: every route using `Segments<N>` has `N` parameters.
        <[String; N]>::try_from(values).map(Self).map_err(|_| ApiError::internal())
    }
}

/// The matched route's parameters decoded lossily from the request path. The template and the
/// path are aligned from their ends: a nested router sees the path without its prefix, and the
/// routes have no wildcards, so the two have as many segments after the prefix.
fn lossy_parameters(parts: &Parts) -> Vec<String> {
    let Some(template) = parts.extensions.get::<MatchedPath>() else { return Vec::new() };
    let mut values: Vec<String> = template
        .as_str()
        .rsplit('/')
        .zip(parts.uri.path().rsplit('/'))
        .filter(|(name, _)| name.starts_with('{'))
        .map(|(_, given)| percent_decode_lossy(given))
        .collect();
    values.reverse();
    values
}

/// `%XX` escapes decoded (a `%` not followed by two hex digits stays as it is), then the bytes
/// read as UTF-8 with invalid sequences replaced.
fn percent_decode_lossy(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_and_invalid_utf8_replaced() {
        assert_eq!(percent_decode_lossy("0xAb%43"), "0xAbC");
        assert_eq!(percent_decode_lossy("%80"), "\u{fffd}");
        assert_eq!(percent_decode_lossy("a%c3%28"), "a\u{fffd}(");
        assert_eq!(percent_decode_lossy("%F0%9F%98%80"), "\u{1f600}");
    }

    #[test]
    fn broken_escapes_stay_as_they_are() {
        assert_eq!(percent_decode_lossy("%"), "%");
        assert_eq!(percent_decode_lossy("%4"), "%4");
        assert_eq!(percent_decode_lossy("%zz%41"), "%zzA");
        assert_eq!(percent_decode_lossy("%+1"), "%+1");
    }
}
