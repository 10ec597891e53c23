//! The service-fee rules: what an IOU must satisfy to pay for a path request
//! (`process_payment`, spec/REFERENCE-PFS.md §6.3), when a request for the last IOU is genuine
//! (§1.4.2), and what a claim costs (§6.5).
//!
//! Every rule is a pure function of its inputs: the stored sessions, the deposit seen on chain
//! and the current time are arguments, so the order of the reference's checks (2101, 2102,
//! 2005, 2108, 2001, then 2106/2105/2103, 2104, 2107) is tested here without a database or a
//! chain. The service runs [`PaymentTerms::check_iou`] before it touches the database,
//! [`PaymentTerms::expected_amount`] inside the write transaction that stores the IOU, and
//! [`check_deposit`] with balances read at two confirmed blocks.

use alloy_primitives::U256;

use crate::address::Address;
use crate::ids::{BlockNumber, ChainId, TokenAmount};
use crate::iou::{Iou, IouRequest};
use crate::timestamp::NaiveTimestamp;

/// A new session's `claimable_until` must be at least this far in the future (7 days,
/// `MIN_IOU_EXPIRY`), so the service has time to claim it.
pub const MIN_IOU_EXPIRY_SECONDS: u64 = 7 * 24 * 3600;

/// The sender's UserDeposit balance must cover this many times the expected IOU amount
/// (`UDC_SECURITY_MARGIN_FACTOR_PFS`), computed exactly, not in floating point as the reference.
pub const DEPOSIT_MARGIN_FACTOR: u64 = 2;

/// A request for the last IOU older than this is refused (`MAX_AGE_OF_IOU_REQUESTS`, 1 hour).
pub const MAX_AGE_OF_IOU_REQUESTS_SECONDS: i64 = 3600;

/// `OneToN.claim` gas for contracts 0.50 (`gas.json`), used to price a claim.
pub const CLAIM_GAS: u64 = 103_552;

/// What the service charges and where IOUs must point: the terms an IOU is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentTerms {
    /// The service's payment address (the IOU's `receiver`).
    pub receiver: Address,
    /// The chain the service and its OneToN contract are on.
    pub chain_id: ChainId,
    /// The OneToN contract IOUs must be claimable from.
    pub one_to_n: Address,
    /// The fee per path request; 0 means requests are free and IOUs are ignored.
    pub service_fee: TokenAmount,
}

/// Why an IOU does not pay for a request, in the reference's terms (one variant per error code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// 2101: the fee is not zero and the request carries no IOU.
    #[error("No IOU for service fees has been provided.")]
    MissingIou,
    /// 2102: the IOU pays someone else.
    #[error("IOU not addressed to the correct receiver.")]
    WrongReceiver {
        /// The service's payment address.
        expected: Address,
    },
    /// 2005: the IOU is for another chain.
    #[error("This service does not work on the given blockchain.")]
    WrongChain {
        /// The service's chain.
        expected: ChainId,
    },
    /// 2108: the IOU names another OneToN contract.
    #[error("The IOU uses a different OneToN contract than the service")]
    WrongOneToN {
        /// The service's OneToN contract.
        expected: Address,
        /// The one in the IOU.
        got: Address,
    },
    /// 2001: the signature does not recover the sender.
    #[error("The signature did not match the signed content.")]
    InvalidSignature,
    /// 2106: the sender has an active session with another `claimable_until`; it must raise that
    /// IOU instead.
    #[error("Please increase the amount of the existing IOU instead of creating a new one.")]
    UseThisIou {
        /// The active session's IOU, as stored (boxed: it is by far the largest variant).
        active: Box<Iou>,
    },
    /// 2105: the session was claimed on chain; a new session needs another `claimable_until`.
    #[error("The IOU is already claimed. Please start new session with different `claimable_until`.")]
    AlreadyClaimed,
    /// 2103: a new session that can be claimed for less than [`MIN_IOU_EXPIRY_SECONDS`].
    #[error("Please use a higher `claimable_until`.")]
    ExpiresTooEarly {
        /// The earliest acceptable `claimable_until` (now + 7 days).
        min_expiry: U256,
        /// The IOU's `claimable_until`.
        claimable_until_received: U256,
    },
    /// 2104: the IOU does not add the fee to the session's amount.
    #[error("The provided payment is lower than service fee.")]
    InsufficientPayment {
        /// The amount the IOU must at least have.
        expected_amount: TokenAmount,
        /// The IOU's amount.
        actual_amount: TokenAmount,
    },
    /// 2107: the sender's UserDeposit balance does not cover the margin.
    #[error("Not enough deposit in UserDeposit contract.")]
    DepositTooLow {
        /// [`DEPOSIT_MARGIN_FACTOR`] × the expected amount.
        required_deposit: TokenAmount,
        /// The lower of the balances seen at the two blocks.
        seen_deposit: TokenAmount,
        /// The service's confirmed block the check was made at.
        block_number: BlockNumber,
    },
}

/// The sender's stored sessions relevant to a new IOU (read under the store's write lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderSessions<'a> {
    /// The sender's unclaimed IOU, if any (at most one per sender).
    pub active: Option<&'a Iou>,
    /// Whether a claimed session with the new IOU's `claimable_until` exists.
    pub claimed_same_session: bool,
}

impl PaymentTerms {
    /// Whether requests cost anything; with a zero fee every IOU (or none) is accepted unread.
    pub fn is_free(&self) -> bool {
        self.service_fee.is_zero()
    }

    /// The checks that need no stored data, in the reference's order: present (2101), receiver
    /// (2102), chain (2005), OneToN contract (2108), signature (2001).
    ///
    /// `signer` is what [`Iou::signer`] recovers from `iou` (`None` if it recovers nothing):
    /// the caller recovers it once, because the API also keys a rate limit on it and a recovery
    /// costs more than the rest of a path request.
    ///
    /// # Errors
    /// The first failing check's [`PaymentError`].
    pub fn check_iou<'a>(
        &self,
        iou: Option<&'a Iou>,
        signer: Option<Address>,
    ) -> Result<&'a Iou, PaymentError> {
        let iou = iou.ok_or(PaymentError::MissingIou)?;
        let fields = iou.fields();
        if fields.receiver != self.receiver {
            return Err(PaymentError::WrongReceiver { expected: self.receiver });
        }
        if fields.chain_id != self.chain_id {
            return Err(PaymentError::WrongChain { expected: self.chain_id });
        }
        if fields.one_to_n_address != self.one_to_n {
            return Err(PaymentError::WrongOneToN { expected: self.one_to_n, got: fields.one_to_n_address });
        }
        if signer == Some(fields.sender) { Ok(iou) } else { Err(PaymentError::InvalidSignature) }
    }

    /// The amount `iou` must at least have, given the sender's sessions and the time
    /// (`now_unix_seconds`): the active session's amount plus the fee, or the fee for a new
    /// session; then whether `iou` pays it (2104). Over-payment is accepted and becomes the
    /// session's new base, as in the reference. An existing session is not checked for expiry
    /// (as in the reference).
    ///
    /// An expected amount beyond 2^256 − 1 saturates; no IOU can pay more, and no deposit
    /// covers the margin of such an amount.
    ///
    /// # Errors
    /// [`PaymentError::UseThisIou`] (2106), [`PaymentError::AlreadyClaimed`] (2105),
    /// [`PaymentError::ExpiresTooEarly`] (2103), [`PaymentError::InsufficientPayment`] (2104).
    pub fn expected_amount(
        &self,
        iou: &Iou,
        sessions: SenderSessions<'_>,
        now_unix_seconds: u64,
    ) -> Result<TokenAmount, PaymentError> {
        let fields = iou.fields();
        let expected = match sessions.active {
            Some(active) if active.fields().claimable_until != fields.claimable_until => {
                return Err(PaymentError::UseThisIou { active: Box::new(*active) });
            }
            Some(active) => active.fields().amount.saturating_add(self.service_fee),
            None if sessions.claimed_same_session => return Err(PaymentError::AlreadyClaimed),
            None => {
                let min_expiry = U256::from(now_unix_seconds) + U256::from(MIN_IOU_EXPIRY_SECONDS);
                if fields.claimable_until < min_expiry {
                    return Err(PaymentError::ExpiresTooEarly {
                        min_expiry,
                        claimable_until_received: fields.claimable_until,
                    });
                }
                self.service_fee
            }
        };
        if fields.amount < expected {
            return Err(PaymentError::InsufficientPayment {
                expected_amount: expected,
                actual_amount: fields.amount,
            });
        }
        Ok(expected)
    }
}

/// The UserDeposit balance a sender needs for an IOU of `expected_amount`:
/// [`DEPOSIT_MARGIN_FACTOR`] × `expected_amount`, saturating at 2^256 − 1.
pub fn required_deposit(expected_amount: TokenAmount) -> TokenAmount {
    expected_amount.saturating_mul(U256::from(DEPOSIT_MARGIN_FACTOR))
}

/// The deposit check (2107): the lower of the sender's effective balances at
/// `confirmed_block − confirmations` and at `confirmed_block` must reach
/// [`required_deposit`]`(expected_amount)`. Taking the minimum of two heights means a deposit
/// counts only once it has been confirmed twice, and a withdrawal plan counts at once.
///
/// # Errors
/// [`PaymentError::DepositTooLow`] with the required and seen amounts and `confirmed_block`.
pub fn check_deposit(
    expected_amount: TokenAmount,
    balance_earlier: TokenAmount,
    balance_confirmed: TokenAmount,
    confirmed_block: BlockNumber,
) -> Result<(), PaymentError> {
    let required = required_deposit(expected_amount);
    let seen = balance_earlier.min(balance_confirmed);
    if seen < required {
        return Err(PaymentError::DepositTooLow {
            required_deposit: required,
            seen_deposit: seen,
            block_number: confirmed_block,
        });
    }
    Ok(())
}

/// The two block heights the deposit is read at: `confirmed_block − confirmations` (not below
/// 0) and `confirmed_block`.
pub fn deposit_check_blocks(confirmed_block: BlockNumber, confirmations: u64) -> [BlockNumber; 2] {
    [BlockNumber(confirmed_block.0.saturating_sub(confirmations)), confirmed_block]
}

/// Why a request for the last IOU (`GET …/payment/iou`) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IouRequestRejection {
    /// 2001: the signature does not recover the sender.
    #[error("The signature did not match the signed content.")]
    InvalidSignature,
    /// 2002: the timestamp is more than an hour before `now`.
    #[error("The request contains too old timestamps or nonces.")]
    Outdated,
}

/// Checks a request for the last IOU: signed by its sender over the timestamp as sent (2001),
/// then not older than [`MAX_AGE_OF_IOU_REQUESTS_SECONDS`] before `now` (naive UTC; 2002).
/// Future timestamps are accepted, as in the reference.
///
/// # Errors
/// [`IouRequestRejection`].
pub fn check_iou_request(request: &IouRequest, now: NaiveTimestamp) -> Result<(), IouRequestRejection> {
    match request.signer() {
        Ok(signer) if signer == request.sender() => {}
        _ => return Err(IouRequestRejection::InvalidSignature),
    }
    let oldest = now.unix_micros() - MAX_AGE_OF_IOU_REQUESTS_SECONDS * 1_000_000;
    if request.timestamp().unix_micros() < oldest {
        return Err(IouRequestRejection::Outdated);
    }
    Ok(())
}

/// What one claim costs, in service-token units (§6.5): `gas × gas_price × 1.1` wei, divided by
/// `eth_per_token` (the reference's `--rdn-per-eth`, default 0.0025, the token's price in ETH),
/// truncated. A non-positive or non-finite price makes claims infinitely expensive (`U256::MAX`).
pub fn claim_cost(gas: u64, gas_price_wei: u128, eth_per_token: f64) -> TokenAmount {
    if !(eth_per_token.is_finite() && eth_per_token > 0.0) {
        return U256::MAX;
    }
    // The reference computes in floats as well; the cost only decides what is worth claiming.
    let cost_wei = gas as f64 * gas_price_wei as f64 * 1.1;
    let tokens = cost_wei / eth_per_token;
    if tokens >= 2f64.powi(255) {
        return U256::MAX;
    }
    // Exact conversion of a float below 2^255: its integer part as a decimal string.
    U256::from_str_radix(&format!("{:.0}", tokens.trunc()), 10).unwrap_or(U256::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iou::UnsignedIou;
    use crate::signature::PrivateKey;

    const NOW: u64 = 1_700_000_000;
    const WEEK: u64 = MIN_IOU_EXPIRY_SECONDS;

    fn key(byte: u8) -> PrivateKey {
        PrivateKey::from_bytes([byte; 32]).unwrap()
    }

    fn terms() -> PaymentTerms {
        PaymentTerms {
            receiver: key(2).address(),
            chain_id: ChainId(1337),
            one_to_n: Address::from_bytes([0xac; 20]),
            service_fee: U256::from(5),
        }
    }

    fn unsigned(amount: u64, claimable_until: u64) -> UnsignedIou {
        UnsignedIou {
            sender: key(1).address(),
            receiver: key(2).address(),
            amount: U256::from(amount),
            claimable_until: U256::from(claimable_until),
            one_to_n_address: Address::from_bytes([0xac; 20]),
            chain_id: ChainId(1337),
        }
    }

    fn iou(amount: u64, claimable_until: u64) -> Iou {
        unsigned(amount, claimable_until).sign(&key(1))
    }

    /// The stateless checks with the signer recovered from `iou`, as the API calls them.
    fn check(iou: &Iou) -> Result<&Iou, PaymentError> {
        terms().check_iou(Some(iou), iou.signer().ok())
    }

    #[test]
    fn missing_iou_is_2101() {
        assert_eq!(terms().check_iou(None, None), Err(PaymentError::MissingIou));
    }

    #[test]
    fn a_correct_iou_passes_the_stateless_checks() {
        let iou = iou(5, NOW + WEEK);
        assert_eq!(check(&iou), Ok(&iou));
    }

    #[test]
    fn stateless_checks_run_in_the_reference_order() {
        // Everything wrong at once: the receiver is reported first.
        let mut fields = unsigned(5, NOW + WEEK);
        fields.receiver = key(3).address();
        fields.chain_id = ChainId(1);
        fields.one_to_n_address = Address::from_bytes([0xbb; 20]);
        let everything_wrong = fields.sign(&key(9));
        assert_eq!(check(&everything_wrong), Err(PaymentError::WrongReceiver { expected: key(2).address() }));
        fields.receiver = key(2).address();
        assert_eq!(check(&fields.sign(&key(9))), Err(PaymentError::WrongChain { expected: ChainId(1337) }));
        fields.chain_id = ChainId(1337);
        assert_eq!(
            check(&fields.sign(&key(9))),
            Err(PaymentError::WrongOneToN {
                expected: Address::from_bytes([0xac; 20]),
                got: Address::from_bytes([0xbb; 20])
            })
        );
        fields.one_to_n_address = Address::from_bytes([0xac; 20]);
        assert_eq!(check(&fields.sign(&key(9))), Err(PaymentError::InvalidSignature));
    }

    #[test]
    fn a_signature_over_other_content_is_invalid() {
        let signed = iou(5, NOW + WEEK);
        let tampered = Iou::from_parts(unsigned(6, NOW + WEEK), *signed.signature());
        assert_eq!(check(&tampered), Err(PaymentError::InvalidSignature));
    }

    #[test]
    fn a_new_session_expects_the_fee() {
        let iou = iou(5, NOW + WEEK);
        assert_eq!(terms().expected_amount(&iou, SenderSessions::default(), NOW), Ok(U256::from(5)));
    }

    #[test]
    fn a_new_session_claimable_for_less_than_a_week_is_2103() {
        let iou = iou(5, NOW + WEEK - 1);
        assert_eq!(
            terms().expected_amount(&iou, SenderSessions::default(), NOW),
            Err(PaymentError::ExpiresTooEarly {
                min_expiry: U256::from(NOW + WEEK),
                claimable_until_received: U256::from(NOW + WEEK - 1)
            })
        );
    }

    #[test]
    fn an_active_session_expects_its_amount_plus_the_fee() {
        let active = iou(5, NOW + WEEK);
        let sessions = SenderSessions { active: Some(&active), claimed_same_session: false };
        assert_eq!(terms().expected_amount(&iou(10, NOW + WEEK), sessions, NOW), Ok(U256::from(10)));
        // Over-payment is accepted; the expected amount stays what the fee requires.
        assert_eq!(terms().expected_amount(&iou(50, NOW + WEEK), sessions, NOW), Ok(U256::from(10)));
    }

    #[test]
    fn an_active_session_is_not_checked_for_expiry() {
        let active = iou(5, NOW + 10);
        let sessions = SenderSessions { active: Some(&active), claimed_same_session: false };
        assert_eq!(terms().expected_amount(&iou(10, NOW + 10), sessions, NOW), Ok(U256::from(10)));
    }

    #[test]
    fn replaying_the_stored_iou_is_2104() {
        let active = iou(5, NOW + WEEK);
        let sessions = SenderSessions { active: Some(&active), claimed_same_session: false };
        assert_eq!(
            terms().expected_amount(&active, sessions, NOW),
            Err(PaymentError::InsufficientPayment {
                expected_amount: U256::from(10),
                actual_amount: U256::from(5)
            })
        );
    }

    #[test]
    fn another_claimable_until_during_an_active_session_is_2106_with_the_active_iou() {
        let active = iou(5, NOW + WEEK);
        let sessions = SenderSessions { active: Some(&active), claimed_same_session: false };
        assert_eq!(
            terms().expected_amount(&iou(10, NOW + 2 * WEEK), sessions, NOW),
            Err(PaymentError::UseThisIou { active: Box::new(active) })
        );
    }

    #[test]
    fn a_claimed_session_is_2105_even_with_a_valid_expiry() {
        let sessions = SenderSessions { active: None, claimed_same_session: true };
        assert_eq!(
            terms().expected_amount(&iou(100, NOW + WEEK), sessions, NOW),
            Err(PaymentError::AlreadyClaimed)
        );
    }

    #[test]
    fn an_amount_below_the_fee_is_2104() {
        assert_eq!(
            terms().expected_amount(&iou(4, NOW + WEEK), SenderSessions::default(), NOW),
            Err(PaymentError::InsufficientPayment {
                expected_amount: U256::from(5),
                actual_amount: U256::from(4)
            })
        );
    }

    #[test]
    fn the_expected_amount_saturates_instead_of_overflowing() {
        let huge = Iou::from_parts(
            UnsignedIou { amount: U256::MAX, ..unsigned(0, NOW + WEEK) },
            *iou(0, 0).signature(),
        );
        let sessions = SenderSessions { active: Some(&huge), claimed_same_session: false };
        assert_eq!(terms().expected_amount(&huge, sessions, NOW), Ok(U256::MAX));
        assert_eq!(required_deposit(U256::MAX), U256::MAX);
    }

    #[test]
    fn the_deposit_must_cover_twice_the_expected_amount_at_both_heights() {
        let block = BlockNumber(100);
        assert_eq!(check_deposit(U256::from(5), U256::from(10), U256::from(10), block), Ok(()));
        assert_eq!(
            check_deposit(U256::from(5), U256::from(9), U256::from(100), block),
            Err(PaymentError::DepositTooLow {
                required_deposit: U256::from(10),
                seen_deposit: U256::from(9),
                block_number: block
            })
        );
        assert!(check_deposit(U256::from(5), U256::from(100), U256::from(9), block).is_err());
    }

    #[test]
    fn the_reference_deposit_example_requires_four_and_sees_two() {
        // Fee 1, stored IOU 1, new IOU 2: required 4; the old confirmed deposit of 2 is seen.
        let terms = PaymentTerms { service_fee: U256::from(1), ..terms() };
        let active = iou(1, NOW + WEEK);
        let sessions = SenderSessions { active: Some(&active), claimed_same_session: false };
        let expected = terms.expected_amount(&iou(2, NOW + WEEK), sessions, NOW).unwrap();
        assert_eq!(
            check_deposit(expected, U256::from(2), U256::from(4), BlockNumber(7)),
            Err(PaymentError::DepositTooLow {
                required_deposit: U256::from(4),
                seen_deposit: U256::from(2),
                block_number: BlockNumber(7)
            })
        );
    }

    #[test]
    fn deposit_blocks_do_not_go_below_zero() {
        assert_eq!(deposit_check_blocks(BlockNumber(10), 5), [BlockNumber(5), BlockNumber(10)]);
        assert_eq!(deposit_check_blocks(BlockNumber(3), 5), [BlockNumber(0), BlockNumber(3)]);
    }

    fn at(text: &str) -> NaiveTimestamp {
        NaiveTimestamp::parse(text).unwrap()
    }

    #[test]
    fn an_iou_request_within_the_hour_is_accepted_and_future_ones_too() {
        let request = IouRequest::sign(&key(1), key(2).address(), "2024-01-02T03:04:05.678000").unwrap();
        assert_eq!(check_iou_request(&request, at("2024-01-02T04:04:05.678000")), Ok(()));
        assert_eq!(check_iou_request(&request, at("2024-01-01T00:00:00")), Ok(()));
    }

    #[test]
    fn an_iou_request_older_than_an_hour_is_2002() {
        let request = IouRequest::sign(&key(1), key(2).address(), "2024-01-02T03:04:05").unwrap();
        assert_eq!(
            check_iou_request(&request, at("2024-01-02T04:04:05.000001")),
            Err(IouRequestRejection::Outdated)
        );
    }

    #[test]
    fn an_iou_request_signed_by_another_key_is_2001_before_its_age() {
        let by_other = IouRequest::sign(&key(3), key(2).address(), "2000-01-01T00:00:00").unwrap();
        let query = by_other
            .to_query_string()
            .replace(&key(3).address().to_checksum(), &key(1).address().to_checksum());
        let forged = IouRequest::from_query_string(&query).unwrap();
        assert_eq!(
            check_iou_request(&forged, at("2024-01-01T00:00:00")),
            Err(IouRequestRejection::InvalidSignature)
        );
    }

    #[test]
    fn claim_cost_follows_the_reference_formula() {
        // 103,552 gas at 1 gwei with 10 % margin = 113,907.2 gwei; at 0.0025 ETH per token.
        let cost = claim_cost(CLAIM_GAS, 1_000_000_000, 0.0025);
        let expected = 103_552.0 * 1e9 * 1.1 / 0.0025;
        assert_eq!(cost, U256::from(expected as u128));
        assert_eq!(claim_cost(CLAIM_GAS, 0, 0.0025), U256::ZERO);
        assert_eq!(claim_cost(CLAIM_GAS, 1, 0.0), U256::MAX);
        assert_eq!(claim_cost(CLAIM_GAS, 1, f64::NAN), U256::MAX);
    }
}
