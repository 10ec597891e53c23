//! Node accounts with deterministic keys: the same seed gives the same nodes on every run, so
//! a devnet, its `devnet.json` and a failing test can be reproduced.
//!
//! Key `i` of seed `s` is `keccak256("raiden-pfs devnet node" ‖ s ‖ i as 8 big-endian bytes)`,
//! hashed again until it is a valid secp256k1 secret key (all but a 2^-128 fraction are).

use alloy::primitives::{Address, B256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;

/// Domain separator of the key derivation.
const KEY_DOMAIN: &[u8] = b"raiden-pfs devnet node";

/// A node's account: its key and address.
#[derive(Debug, Clone)]
pub struct NodeAccount {
    signer: PrivateKeySigner,
}

impl NodeAccount {
    /// The account of `secret_key`, or `None` if it is not a valid secp256k1 secret key.
    pub fn from_secret_key(secret_key: B256) -> Option<Self> {
        PrivateKeySigner::from_bytes(&secret_key).ok().map(|signer| Self { signer })
    }

    /// The node account number `index` of `seed`.
    pub fn derive(seed: &[u8], index: u64) -> Self {
        let mut material = Vec::with_capacity(KEY_DOMAIN.len() + seed.len() + 8);
        material.extend_from_slice(KEY_DOMAIN);
        material.extend_from_slice(seed);
        material.extend_from_slice(&index.to_be_bytes());
        let mut candidate = keccak256(&material);
        loop {
            if let Some(account) = Self::from_secret_key(candidate) {
                return account;
            }
            candidate = keccak256(candidate);
        }
    }

    /// The first `count` node accounts of `seed`.
    pub fn derive_many(seed: &[u8], count: usize) -> Vec<Self> {
        (0..count as u64).map(|index| Self::derive(seed, index)).collect()
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The secret key.
    pub fn secret_key(&self) -> B256 {
        self.signer.to_bytes()
    }

    /// The secret key as `0x`-prefixed lower-case hex (the form `devnet.json` uses).
    pub fn secret_key_hex(&self) -> String {
        format!("{:#x}", self.secret_key())
    }

    /// Signs `message` the EIP-191 way (`"\x19Ethereum Signed Message:\n" ‖ len ‖ message`),
    /// as the Raiden contracts verify it, and returns the 65 bytes `r ‖ s ‖ v` with v ∈ {27, 28}.
    ///
    /// # Errors
    /// The signer fails (it does not for a valid key).
    pub fn sign_eip191(&self, message: &[u8]) -> Result<[u8; 65], alloy::signers::Error> {
        Ok(self.signer.sign_message_sync(message)?.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_accounts() {
        let first = NodeAccount::derive_many(b"seed", 3);
        let second = NodeAccount::derive_many(b"seed", 3);
        let addresses =
            |accounts: &[NodeAccount]| accounts.iter().map(NodeAccount::address).collect::<Vec<_>>();
        assert_eq!(addresses(&first), addresses(&second));
    }

    #[test]
    fn accounts_of_one_seed_are_distinct_and_differ_between_seeds() {
        let mut addresses: Vec<Address> =
            NodeAccount::derive_many(b"seed", 50).iter().map(NodeAccount::address).collect();
        addresses.push(NodeAccount::derive(b"other seed", 0).address());
        let count = addresses.len();
        addresses.sort();
        addresses.dedup();
        assert_eq!(addresses.len(), count);
    }

    #[test]
    fn the_secret_key_round_trips_to_the_same_address() {
        let account = NodeAccount::derive(b"seed", 7);
        let again = NodeAccount::from_secret_key(account.secret_key()).expect("a derived key is valid");
        assert_eq!(again.address(), account.address());
        assert_eq!(account.secret_key_hex().len(), 66);
    }

    #[test]
    fn eip191_signatures_recover_to_the_signer() {
        let account = NodeAccount::derive(b"seed", 1);
        let signature = account.sign_eip191(b"withdraw").unwrap();
        assert!(signature[64] == 27 || signature[64] == 28);
        let parsed = alloy::primitives::Signature::from_raw(&signature).unwrap();
        assert_eq!(parsed.recover_address_from_msg(b"withdraw").unwrap(), account.address());
    }
}
