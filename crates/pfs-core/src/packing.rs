//! Solidity-style tight packing (`abi.encodePacked`) of the fields Raiden signs, and the minimal
//! RLP encoding of an imbalance penalty.
//!
//! Every signed Raiden item is a fixed sequence of big-endian fields with no length prefixes;
//! this module owns those byte layouts' building blocks so each message states only its order.

use alloy_primitives::U256;

use crate::address::Address;

/// Builds the byte string a Raiden item is signed over.
#[derive(Debug, Default)]
pub(crate) struct Packer {
    bytes: Vec<u8>,
}

impl Packer {
    /// A packer with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self { bytes: Vec::with_capacity(capacity) }
    }

    /// Appends a `uint256` (32 bytes, big-endian).
    pub(crate) fn uint256(mut self, value: &U256) -> Self {
        self.bytes.extend_from_slice(&value.to_be_bytes::<32>());
        self
    }

    /// Appends a `uint64` (8 bytes, big-endian).
    pub(crate) fn uint64(mut self, value: u64) -> Self {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Appends an address (20 bytes).
    pub(crate) fn address(mut self, address: &Address) -> Self {
        self.bytes.extend_from_slice(address.as_bytes());
        self
    }

    /// Appends raw bytes.
    pub(crate) fn bytes(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// The packed bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// RLP of an unsigned integer: minimal big-endian bytes, `0` as the empty string (`0x80`).
fn rlp_integer(value: &U256, out: &mut Vec<u8>) {
    let bytes = value.to_be_bytes::<32>();
    let significant = &bytes[bytes.iter().take_while(|byte| **byte == 0).count()..];
    match significant {
        [single] if *single < 0x80 => out.push(*single),
        _ => {
            // Invariant: at most 32 bytes, so the short-string form applies.
            out.push(0x80 + significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
}

/// Appends an RLP list header for a payload of `length` bytes.
fn rlp_list_header(length: usize, out: &mut Vec<u8>) {
    if length < 56 {
        out.push(0xc0 + length as u8);
    } else {
        let length_bytes = length.to_be_bytes();
        let significant = &length_bytes[length_bytes.iter().take_while(|byte| **byte == 0).count()..];
        out.push(0xf7 + significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// `rlp.encode(imbalance_penalty or 0)` as Python's `rlp` package computes it: a list of
/// two-item lists of integers, and for no penalty the encoding of the integer 0 (`0x80`).
pub(crate) fn rlp_imbalance_penalty(points: Option<&[(U256, U256)]>) -> Vec<u8> {
    let Some(points) = points.filter(|points| !points.is_empty()) else {
        return vec![0x80];
    };
    let mut payload = Vec::with_capacity(points.len() * 20);
    let mut pair = Vec::with_capacity(70);
    for (x, y) in points {
        pair.clear();
        rlp_integer(x, &mut pair);
        rlp_integer(y, &mut pair);
        rlp_list_header(pair.len(), &mut payload);
        payload.extend_from_slice(&pair);
    }
    let mut encoded = Vec::with_capacity(payload.len() + 9);
    rlp_list_header(payload.len(), &mut encoded);
    encoded.extend_from_slice(&payload);
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[(u64, u64)]) -> Vec<(U256, U256)> {
        values.iter().map(|(x, y)| (U256::from(*x), U256::from(*y))).collect()
    }

    #[test]
    fn no_penalty_encodes_as_integer_zero() {
        assert_eq!(rlp_imbalance_penalty(None), [0x80]);
        assert_eq!(rlp_imbalance_penalty(Some(&[])), [0x80]);
    }

    #[test]
    fn small_penalty_matches_python_rlp() {
        // rlp.encode([[0, 10], [50, 0], [100, 20]])
        let encoded = rlp_imbalance_penalty(Some(&points(&[(0, 10), (50, 0), (100, 20)])));
        assert_eq!(alloy_primitives::hex::encode(encoded), "c9c2800ac23280c26414");
    }

    #[test]
    fn integers_at_and_above_0x80_get_a_length_prefix() {
        let encoded = rlp_imbalance_penalty(Some(&points(&[(0x7f, 0x80)])));
        assert_eq!(encoded, [0xc4, 0xc3, 0x7f, 0x81, 0x80]);
    }

    #[test]
    fn long_lists_use_the_long_header() {
        let many = points(&(0..30).map(|x| (x, x)).collect::<Vec<_>>());
        let encoded = rlp_imbalance_penalty(Some(&many));
        assert_eq!(encoded[0], 0xf8);
        assert_eq!(encoded[1] as usize, encoded.len() - 2);
    }
}
