//! Paying a charging PFS the way the light client does (spec/LIGHT-CLIENT.md §5): one IOU per
//! token network and PFS, cumulative, re-signed with `amount += price` for every request, its
//! `claimable_until` never renewed; without a cached IOU the last one is asked for with a signed
//! `GET /payment/iou`, and a 404 starts a new session expiring in 30 days.
//!
//! [`Payer`] holds the cache; the rules that do not need the network ([`Payer::next_iou`],
//! [`Payer::settle`]) are separate from the HTTP calls so they can be tested alone.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pfs_core::iou::UnsignedIou;
use pfs_core::{Address, ChainId, Iou, NaiveTimestamp, PrivateKey, U256};

use crate::error::{ClientError, codes};

/// How long a new IOU session can be claimed: the light client's `pfsIouTimeout`, 30 days.
pub const DEFAULT_IOU_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// A payer's key, contracts and cached IOUs (the light client's `state.iou[tokenNetwork][pfs]`).
#[derive(Debug, Clone)]
pub struct Payer {
    key: PrivateKey,
    one_to_n_address: Address,
    chain_id: ChainId,
    iou_timeout: Duration,
    cache: HashMap<(Address, Address), Iou>,
}

impl Payer {
    /// A payer signing with `key`, paying through the OneToN contract `one_to_n_address` on
    /// `chain_id`, with new sessions claimable for [`DEFAULT_IOU_TIMEOUT`].
    pub fn new(key: PrivateKey, one_to_n_address: Address, chain_id: ChainId) -> Self {
        Self { key, one_to_n_address, chain_id, iou_timeout: DEFAULT_IOU_TIMEOUT, cache: HashMap::new() }
    }

    /// Uses `timeout` for the `claimable_until` of new sessions.
    pub fn with_iou_timeout(mut self, timeout: Duration) -> Self {
        self.iou_timeout = timeout;
        self
    }

    /// The payer's key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The payer's address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// The cached IOU for `token_network` and the PFS `receiver`, if any.
    pub fn cached(&self, token_network: Address, receiver: Address) -> Option<&Iou> {
        self.cache.get(&(token_network, receiver))
    }

    /// The IOU to send with the next request: `base` (the cached IOU, or the PFS's last one, or
    /// `None` for a new session claimable until `now + timeout`) with `price` added, signed.
    ///
    /// # Errors
    /// [`ClientError::IouSignatureMismatch`] if `base` was not signed by this payer;
    /// [`ClientError::IouAmountOverflow`] if the amount would overflow.
    pub fn next_iou(
        &self,
        base: Option<&Iou>,
        receiver: Address,
        price: U256,
        now: SystemTime,
    ) -> Result<Iou, ClientError> {
        let fields = match base {
            Some(base) => {
                let recovered = base.signer().ok();
                if recovered != Some(self.address()) {
                    return Err(ClientError::IouSignatureMismatch { expected: self.address(), recovered });
                }
                *base.fields()
            }
            None => {
                let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default() + self.iou_timeout;
                // `round(now_s + timeout)` as the light client computes it.
                let claimable_until = since_epoch.as_secs() + u64::from(since_epoch.subsec_millis() >= 500);
                UnsignedIou {
                    sender: self.address(),
                    receiver,
                    amount: U256::ZERO,
                    claimable_until: U256::from(claimable_until),
                    one_to_n_address: self.one_to_n_address,
                    chain_id: self.chain_id,
                }
            }
        };
        let amount = fields.amount.checked_add(price).ok_or(ClientError::IouAmountOverflow)?;
        Ok(UnsignedIou { amount, ..fields }.sign(&self.key))
    }

    /// Records the PFS's answer to a request that carried `sent`: after a success or a 2201
    /// ("no route", which the PFS charges for) the IOU is kept for the next request; after any
    /// other answer it is dropped, so the next request asks the PFS for its last IOU again.
    pub fn settle(&mut self, token_network: Address, sent: Iou, answer_code: Option<u32>) {
        let key = (token_network, sent.fields().receiver);
        match answer_code {
            None | Some(codes::NO_ROUTE_FOUND) => {
                self.cache.insert(key, sent);
            }
            Some(_) => {
                self.cache.remove(&key);
            }
        }
    }

    /// Drops the cached IOU for `token_network` and `receiver`.
    pub fn forget(&mut self, token_network: Address, receiver: Address) {
        self.cache.remove(&(token_network, receiver));
    }
}

/// The light client's `makeTimestamp()`: naive UTC with milliseconds and three zeros,
/// e.g. `2024-01-02T03:04:05.678000`.
pub fn light_client_timestamp(now: SystemTime) -> String {
    let millis = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let micros = i64::try_from(millis).unwrap_or(i64::MAX / 1000) * 1000;
    let timestamp = NaiveTimestamp::from_unix_micros(micros).unwrap_or(NaiveTimestamp::EPOCH_2000);
    let text = timestamp.to_isoformat();
    // isoformat() drops a zero fraction; the light client always writes it.
    if text.len() == 19 { format!("{text}.000000") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payer() -> Payer {
        Payer::new(PrivateKey::from_bytes([7; 32]).unwrap(), Address::from_bytes([0x11; 20]), ChainId(5))
    }

    const PFS: Address = Address::from_bytes([0x22; 20]);
    const TOKEN_NETWORK: Address = Address::from_bytes([0x33; 20]);

    #[test]
    fn a_new_session_starts_at_the_price_and_expires_after_the_timeout() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let iou = payer().next_iou(None, PFS, U256::from(5), now).unwrap();
        assert_eq!(iou.fields().amount, U256::from(5));
        assert_eq!(iou.fields().claimable_until, U256::from(1_700_000_000u64 + 2_592_000));
        assert_eq!(iou.fields().receiver, PFS);
        assert_eq!(iou.signer().unwrap(), payer().address());
    }

    #[test]
    fn a_cached_iou_grows_by_the_price_and_keeps_its_expiry() {
        let payer = payer();
        let first = payer.next_iou(None, PFS, U256::from(5), UNIX_EPOCH + Duration::from_secs(100)).unwrap();
        let later = UNIX_EPOCH + Duration::from_secs(10_000);
        let second = payer.next_iou(Some(&first), PFS, U256::from(5), later).unwrap();
        assert_eq!(second.fields().amount, U256::from(10));
        assert_eq!(second.fields().claimable_until, first.fields().claimable_until);
        assert_eq!(second.signer().unwrap(), payer.address());
    }

    #[test]
    fn an_iou_signed_by_someone_else_is_refused() {
        let other =
            Payer::new(PrivateKey::from_bytes([8; 32]).unwrap(), Address::from_bytes([0x11; 20]), ChainId(5));
        let foreign = other.next_iou(None, PFS, U256::from(5), UNIX_EPOCH).unwrap();
        let error = payer().next_iou(Some(&foreign), PFS, U256::from(5), UNIX_EPOCH).unwrap_err();
        assert!(
            matches!(error, ClientError::IouSignatureMismatch { recovered: Some(signer), .. } if signer == other.address())
        );
    }

    #[test]
    fn the_iou_is_kept_after_success_and_no_route_and_dropped_after_other_errors() {
        let mut payer = payer();
        let iou = payer.next_iou(None, PFS, U256::from(5), UNIX_EPOCH).unwrap();
        payer.settle(TOKEN_NETWORK, iou, None);
        assert_eq!(payer.cached(TOKEN_NETWORK, PFS), Some(&iou));
        payer.settle(TOKEN_NETWORK, iou, Some(codes::NO_ROUTE_FOUND));
        assert_eq!(payer.cached(TOKEN_NETWORK, PFS), Some(&iou));
        payer.settle(TOKEN_NETWORK, iou, Some(2104));
        assert_eq!(payer.cached(TOKEN_NETWORK, PFS), None);
    }

    #[test]
    fn the_light_client_timestamp_has_milliseconds_and_three_zeros() {
        let at = UNIX_EPOCH + Duration::from_millis(1_704_164_645_678);
        assert_eq!(light_client_timestamp(at), "2024-01-02T03:04:05.678000");
        let whole_second = UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        assert_eq!(light_client_timestamp(whole_second), "2024-01-02T03:04:05.000000");
    }
}
