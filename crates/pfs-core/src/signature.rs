//! EIP-191 signatures as Raiden makes and checks them: the hash, signing with a private key,
//! recovering the signer, and the 65-byte `r ‖ s ‖ v` signature with its `0x`-hex spelling.
//!
//! Raiden never signs a raw hash: every signed item (capacity and fee updates, IOUs, IOU
//! requests, Matrix passwords and display names) is hashed as
//! `keccak256("\x19Ethereum Signed Message:\n" ‖ decimal(len(data)) ‖ data)` ([`eip191_hash`]).
//! Recovery accepts exactly what the Python reference accepts (`eth_keys.ecdsa_recover` behind
//! `raiden.utils.signer.recover`): `v ∈ {0, 1, 27, 28}` and high-`s` signatures; anything else is
//! an error value. Signing is deterministic (RFC 6979, low-`s`, `v ∈ {27, 28}`), so signatures
//! made here are bit-identical to those of the Python libraries.
//!
//! The curve arithmetic is libsecp256k1 through the `secp256k1` crate (≈ 40 µs per recovery on one
//! core); its global context is used, so no context is threaded through the API.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::{Keccak256, keccak256};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::Address;
use alloy_primitives::hex;

/// The fixed prefix of an EIP-191 "personal_sign" (version `0x45`) preimage.
const EIP191_PREFIX: &[u8] = b"\x19Ethereum Signed Message:\n";

/// Why a signature cannot be read or does not recover a signer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The text is not `0x` followed by hex digits.
    #[error("signature is not 0x-prefixed hex")]
    NotHex,
    /// The signature is not 65 bytes long (the length found is given).
    #[error("signature must be 65 bytes, got {0}")]
    WrongLength(usize),
    /// The last byte is not one of 0, 1, 27, 28.
    #[error("signature recovery byte v must be 0, 1, 27 or 28, got {0}")]
    InvalidRecoveryByte(u8),
    /// `r` or `s` is zero or not below the curve order, or no public key matches.
    #[error("signature does not recover a public key")]
    Unrecoverable,
}

/// A 65-byte ECDSA signature `r(32) ‖ s(32) ‖ v(1)`.
///
/// Any 65 bytes can be held; whether they recover a signer is decided by [`Signature::recover`].
/// Written as `0x` + 130 lower-case hex digits (what Python's `to_hex` writes); read from `0x` +
/// 130 hex digits in any case.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 65]);

impl Signature {
    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 65]) -> Self {
        Self(bytes)
    }

    /// The raw `r ‖ s ‖ v` bytes.
    pub const fn as_bytes(&self) -> &[u8; 65] {
        &self.0
    }

    /// Reads `0x` followed by exactly 130 hex digits (any letter case).
    ///
    /// # Errors
    /// [`SignatureError::NotHex`] without the prefix or with a non-hex digit,
    /// [`SignatureError::WrongLength`] if the digits are not 65 bytes.
    pub fn parse_hex(text: &str) -> Result<Self, SignatureError> {
        let digits = text.strip_prefix("0x").ok_or(SignatureError::NotHex)?;
        if digits.len() != 130 {
            return Err(if digits.len() % 2 == 0 && digits.bytes().all(|d| d.is_ascii_hexdigit()) {
                SignatureError::WrongLength(digits.len() / 2)
            } else {
                SignatureError::NotHex
            });
        }
        let mut bytes = [0u8; 65];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| SignatureError::NotHex)?;
        Ok(Self(bytes))
    }

    /// Takes a signature from a byte slice.
    ///
    /// # Errors
    /// [`SignatureError::WrongLength`] unless the slice has 65 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SignatureError> {
        <[u8; 65]>::try_from(bytes).map(Self).map_err(|_| SignatureError::WrongLength(bytes.len()))
    }

    /// `0x` + 130 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode_prefixed(self.0)
    }

    /// Recovers the address that signed `data` (EIP-191 hashed, see [`eip191_hash`]).
    ///
    /// # Errors
    /// [`SignatureError::InvalidRecoveryByte`] if `v ∉ {0, 1, 27, 28}`,
    /// [`SignatureError::Unrecoverable`] if no public key matches.
    pub fn recover(&self, data: &[u8]) -> Result<Address, SignatureError> {
        self.recover_hash(&eip191_hash(data))
    }

    /// Recovers the address whose key signed the 32-byte `hash` directly.
    ///
    /// High-`s` signatures are accepted, as by the Python reference and by Solidity's `ecrecover`
    /// (libsecp256k1's recovery does not reject them).
    ///
    /// # Errors
    /// As for [`Signature::recover`].
    pub fn recover_hash(&self, hash: &[u8; 32]) -> Result<Address, SignatureError> {
        let recovery_id = match self.0[64] {
            0 | 27 => RecoveryId::Zero,
            1 | 28 => RecoveryId::One,
            other => return Err(SignatureError::InvalidRecoveryByte(other)),
        };
        let signature = RecoverableSignature::from_compact(&self.0[..64], recovery_id)
            .map_err(|_| SignatureError::Unrecoverable)?;
        let public_key = signature
            .recover_ecdsa(Message::from_digest(*hash))
            .map_err(|_| SignatureError::Unrecoverable)?;
        Ok(address_of_public_key(&public_key))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Signature({})", self.to_hex())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl FromStr for Signature {
    type Err = SignatureError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_hex(text)
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// The EIP-191 "personal_sign" hash of `data`:
/// `keccak256("\x19Ethereum Signed Message:\n" ‖ decimal(len(data)) ‖ data)`.
///
/// # Examples
/// ```
/// let hash = pfs_core::signature::eip191_hash(b"hello");
/// assert_eq!(
///     alloy_primitives::hex::encode(hash),
///     "50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750"
/// );
/// ```
pub fn eip191_hash(data: &[u8]) -> [u8; 32] {
    // The decimal length, written backwards into a stack buffer (a usize has at most 20 digits).
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut remaining = data.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (remaining % 10) as u8;
        remaining /= 10;
        if remaining == 0 {
            break;
        }
    }
    let mut hasher = Keccak256::new();
    hasher.update(EIP191_PREFIX);
    hasher.update(&digits[start..]);
    hasher.update(data);
    hasher.finalize().0
}

/// The Ethereum address of a public key: the last 20 bytes of `keccak256(X ‖ Y)`.
pub fn address_from_public_key_xy(xy: &[u8; 64]) -> Address {
    let hash = keccak256(xy);
    let mut bytes = [0u8; 20];
    bytes.copy_from_slice(&hash[12..]);
    Address::from_bytes(bytes)
}

fn address_of_public_key(public_key: &PublicKey) -> Address {
    let uncompressed = public_key.serialize_uncompressed();
    let mut xy = [0u8; 64];
    xy.copy_from_slice(&uncompressed[1..]);
    address_from_public_key_xy(&xy)
}

/// Why bytes or text are not a private key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateKeyError {
    /// The text is not `0x` (optional) followed by 64 hex digits.
    #[error("private key must be 32 bytes of hex")]
    Malformed,
    /// The 32 bytes are zero or not below the secp256k1 group order.
    #[error("private key is out of range for secp256k1")]
    OutOfRange,
}

/// A secp256k1 private key that signs Raiden messages.
///
/// `Debug` never shows the key material.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    secret: SecretKey,
    address: Address,
}

impl PrivateKey {
    /// Takes 32 raw bytes.
    ///
    /// # Errors
    /// [`PrivateKeyError::OutOfRange`] for zero or a value not below the group order.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, PrivateKeyError> {
        let secret = SecretKey::from_secret_bytes(bytes).map_err(|_| PrivateKeyError::OutOfRange)?;
        let address = address_of_public_key(&PublicKey::from_secret_key(&secret));
        Ok(Self { secret, address })
    }

    /// Reads 64 hex digits, with or without a `0x` prefix (as key files and CLIs write them).
    ///
    /// # Errors
    /// [`PrivateKeyError::Malformed`] for anything but 64 hex digits,
    /// [`PrivateKeyError::OutOfRange`] as for [`PrivateKey::from_bytes`].
    pub fn parse_hex(text: &str) -> Result<Self, PrivateKeyError> {
        let digits = text.trim();
        let digits = digits.strip_prefix("0x").unwrap_or(digits);
        if digits.len() != 64 {
            return Err(PrivateKeyError::Malformed);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| PrivateKeyError::Malformed)?;
        Self::from_bytes(bytes)
    }

    /// The address this key signs for.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The 32 secret bytes, for handing the key to another signer (e.g. alloy's, which signs
    /// the service's transactions). Never log them.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_secret_bytes()
    }

    /// The uncompressed public key without its `0x04` prefix: `X(32) ‖ Y(32)`.
    pub fn public_key_xy(&self) -> [u8; 64] {
        let uncompressed = PublicKey::from_secret_key(&self.secret).serialize_uncompressed();
        let mut xy = [0u8; 64];
        xy.copy_from_slice(&uncompressed[1..]);
        xy
    }

    /// Signs `data` the Raiden way: EIP-191 hash, deterministic RFC 6979 nonce, low `s`,
    /// `v ∈ {27, 28}`.
    pub fn sign(&self, data: &[u8]) -> Signature {
        self.sign_hash(&eip191_hash(data))
    }

    /// Signs a 32-byte hash directly (RFC 6979, low `s`, `v ∈ {27, 28}`).
    pub fn sign_hash(&self, hash: &[u8; 32]) -> Signature {
        let signature =
            RecoverableSignature::sign_ecdsa_recoverable(Message::from_digest(*hash), &self.secret);
        let (recovery_id, compact) = signature.serialize_compact();
        let mut bytes = [0u8; 65];
        bytes[..64].copy_from_slice(&compact);
        bytes[64] = 27 + recovery_id.to_u8();
        Signature(bytes)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "PrivateKey(<redacted> for {})", self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// secp256k1 group order n.
    const ORDER: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba,
        0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
    ];

    fn key_one() -> PrivateKey {
        PrivateKey::from_bytes([1; 32]).unwrap()
    }

    /// `n − s`, big-endian.
    fn negate_modulo_order(s: &[u8]) -> [u8; 32] {
        let mut result = [0u8; 32];
        let mut borrow = 0i16;
        for index in (0..32).rev() {
            let mut difference = ORDER[index] as i16 - s[index] as i16 - borrow;
            borrow = i16::from(difference < 0);
            if difference < 0 {
                difference += 256;
            }
            result[index] = difference as u8;
        }
        result
    }

    #[test]
    fn eip191_hash_writes_the_decimal_length_of_any_size() {
        for length in [0usize, 1, 9, 10, 99, 100, 236, 1000] {
            let data = vec![0x42; length];
            let mut preimage = EIP191_PREFIX.to_vec();
            preimage.extend_from_slice(length.to_string().as_bytes());
            preimage.extend_from_slice(&data);
            assert_eq!(eip191_hash(&data), keccak256(&preimage).0, "length {length}");
        }
    }

    #[test]
    fn key_one_has_the_reference_address() {
        assert_eq!(key_one().address().to_checksum(), "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1");
    }

    #[test]
    fn signing_then_recovering_returns_the_signer() {
        let signature = key_one().sign(b"some data");
        assert!(matches!(signature.as_bytes()[64], 27 | 28));
        assert_eq!(signature.recover(b"some data"), Ok(key_one().address()));
        assert_ne!(signature.recover(b"other data"), Ok(key_one().address()));
    }

    #[test]
    fn recovery_accepts_v_zero_and_one() {
        let mut bytes = *key_one().sign(b"data").as_bytes();
        bytes[64] -= 27;
        assert_eq!(Signature::from_bytes(bytes).recover(b"data"), Ok(key_one().address()));
    }

    #[test]
    fn recovery_rejects_other_v_values() {
        let mut bytes = *key_one().sign(b"data").as_bytes();
        for v in [2u8, 26, 29, 30, 255] {
            bytes[64] = v;
            assert_eq!(
                Signature::from_bytes(bytes).recover(b"data"),
                Err(SignatureError::InvalidRecoveryByte(v))
            );
        }
    }

    #[test]
    fn high_s_signatures_recover_the_same_signer() {
        let bytes = *key_one().sign(b"data").as_bytes();
        let mut malleated = bytes;
        malleated[32..64].copy_from_slice(&negate_modulo_order(&bytes[32..64]));
        malleated[64] = if bytes[64] == 27 { 28 } else { 27 };
        assert_eq!(Signature::from_bytes(malleated).recover(b"data"), Ok(key_one().address()));
    }

    #[test]
    fn zero_or_overflowing_r_and_s_are_unrecoverable() {
        let mut zero = [0u8; 65];
        zero[64] = 27;
        assert_eq!(Signature::from_bytes(zero).recover(b"x"), Err(SignatureError::Unrecoverable));
        let mut overflowing = [0xffu8; 65];
        overflowing[64] = 28;
        assert_eq!(Signature::from_bytes(overflowing).recover(b"x"), Err(SignatureError::Unrecoverable));
    }

    #[test]
    fn hex_parsing_is_strict() {
        let text = key_one().sign(b"x").to_hex();
        assert_eq!(Signature::parse_hex(&text).unwrap().to_hex(), text);
        assert_eq!(
            Signature::parse_hex(&text.to_uppercase().replacen("0X", "0x", 1)).unwrap().to_hex(),
            text
        );
        assert_eq!(Signature::parse_hex(&text[2..]), Err(SignatureError::NotHex));
        assert_eq!(Signature::parse_hex(&text[..text.len() - 2]), Err(SignatureError::WrongLength(64)));
        assert_eq!(Signature::parse_hex(&format!("{text}00")), Err(SignatureError::WrongLength(66)));
        assert_eq!(Signature::parse_hex(&text.replace('a', "g")).err(), Some(SignatureError::NotHex));
        assert_eq!(Signature::parse_hex("0x€"), Err(SignatureError::NotHex));
        assert_eq!(Signature::from_slice(&[0; 64]), Err(SignatureError::WrongLength(64)));
    }

    #[test]
    fn private_key_parsing_and_range() {
        let hex_key = format!("0x{}", "01".repeat(32));
        assert_eq!(PrivateKey::parse_hex(&hex_key).unwrap().address(), key_one().address());
        assert_eq!(PrivateKey::parse_hex(&hex_key[2..]).unwrap().address(), key_one().address());
        assert_eq!(PrivateKey::parse_hex("0x01"), Err(PrivateKeyError::Malformed));
        assert_eq!(PrivateKey::parse_hex(&"zz".repeat(32)), Err(PrivateKeyError::Malformed));
        assert_eq!(PrivateKey::from_bytes([0; 32]), Err(PrivateKeyError::OutOfRange));
        assert_eq!(PrivateKey::from_bytes(ORDER), Err(PrivateKeyError::OutOfRange));
    }

    #[test]
    fn secret_bytes_are_the_bytes_the_key_was_made_from() {
        assert_eq!(key_one().secret_bytes(), [1; 32]);
    }

    #[test]
    fn private_key_debug_redacts_the_secret() {
        let shown = format!("{:?}", key_one());
        assert!(!shown.contains("0101"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_signature_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 65), data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = Signature::from_slice(&bytes).unwrap().recover(&data);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,140}") {
            let _ = Signature::parse_hex(&text);
            let _ = PrivateKey::parse_hex(&text);
        }
    }
}
