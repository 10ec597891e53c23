//! Service payments over HTTP: the IOU inside `POST …/paths` (read like the reference's nested
//! schema, checked like its `process_payment`, spec/REFERENCE-PFS.md §6.3) and
//! `GET /api/v1/<token_network>/payment/iou` (§1.4.2).
//!
//! # A paid request in three steps
//!
//! 1. [`Payments::precheck`], before the path search: the stateless checks (2101, 2102, 2005,
//!    2108, 2001), the session rules on a plain read of the ledger (2106, 2105, 2103, 2104) and
//!    the UserDeposit balance at the two confirmed heights (2107; cached by height, see
//!    [`crate::deposits`]). A bad IOU is refused here, in the reference's order and before any
//!    route is computed.
//! 2. The path search.
//! 3. [`Payments::charge`], only when routes were found: the session rules and the deposit
//!    margin are decided again inside the store's write transaction that stores the IOU
//!    ([`pfs_store::Store::check_and_store_iou`]), so concurrent requests of one sender are
//!    decided one after the other; the balances read in step 1 are reused.
//!
//! # Deliberate difference: no route, no charge
//!
//! The reference stores the IOU before it searches, so a 404 "no route" (2201) costs the fee.
//! Here a request that finds no route stores nothing (ARCHITECTURE.md §4). A Python client
//! re-reads its last IOU before each request and so is not charged; the light client keeps the
//! IOU it sent on a 2201 and raises it by the fee for its next request, which is accepted as
//! over-payment: it pays for the failed request after all, but never twice.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Query, RawQuery};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pfs_chain::user_deposit::UserDepositReader;
use pfs_core::iou::{IouError, IouRequestError, MAX_QUERY_BYTES, UnsignedIou};
use pfs_core::payment::{
    IouRequestRejection, PaymentError, PaymentTerms, SenderSessions, check_deposit, check_iou_request,
    deposit_check_blocks,
};
use pfs_core::{Address, BlockNumber, ChainId, Iou, IouRequest, NaiveTimestamp, Signature, U256};
use pfs_store::IouSessions;
use serde_json::{Map, Value};

use crate::body::Fields;
use crate::deposits::DepositCache;
use crate::error::{ApiError, codes};
use crate::{AppState, State};

/// How paid requests are checked; needed when the service fee is not zero.
#[derive(Debug, Clone)]
pub struct PaymentConfig {
    /// The OneToN contract IOUs must be claimable from.
    pub one_to_n: Address,
    /// The deposit is read at `confirmed block − deposit_confirmations` and at the confirmed
    /// block (the reference uses its `--confirmations`).
    pub deposit_confirmations: u64,
    /// Reads the senders' UserDeposit balances.
    pub user_deposit: UserDepositReader,
}

/// The payment side of the API state.
#[derive(Debug)]
pub(crate) struct Payments {
    terms: Option<PaymentTerms>,
    config: Option<PaymentConfig>,
    /// The balances read for the deposit check.
    pub(crate) deposits: DepositCache,
}

/// An IOU that passed [`Payments::precheck`], with the balances seen for it.
#[derive(Debug)]
pub(crate) struct CheckedPayment {
    iou: Iou,
    terms: PaymentTerms,
    balances: [U256; 2],
    confirmed_block: BlockNumber,
}

impl Payments {
    pub(crate) fn new(
        service_fee: U256,
        receiver: Address,
        chain_id: ChainId,
        config: Option<PaymentConfig>,
    ) -> Self {
        let terms = config.as_ref().map(|config| PaymentTerms {
            receiver,
            chain_id,
            one_to_n: config.one_to_n,
            service_fee,
        });
        Self {
            terms: if service_fee.is_zero() { None } else { terms },
            config,
            deposits: DepositCache::default(),
        }
    }

    /// Step 1 (see the module docs); `None` when requests are free. `signer` is what the IOU's
    /// signature recovers.
    pub(crate) async fn precheck(
        &self,
        state: &AppState,
        iou: Option<&Iou>,
        signer: Option<Address>,
    ) -> Result<Option<CheckedPayment>, ApiError> {
        if state.config.service_fee.is_zero() {
            return Ok(None);
        }
        let Some(iou) = iou else { return Err(payment_error(PaymentError::MissingIou)) };
        let (Some(terms), Some(config)) = (self.terms, self.config.as_ref()) else {
            tracing::error!("a service fee is configured without a OneToN contract; paid requests fail");
            return Err(ApiError::internal());
        };
        let iou = terms.check_iou(Some(iou), signer).map_err(payment_error)?;
        let fields = iou.fields();
        let store = state.service.store();
        let sessions =
            store.iou_sessions(&fields.sender, &fields.claimable_until).await.map_err(|error| {
                tracing::error!(%error, "cannot read the IOU ledger");
                ApiError::internal()
            })?;
        let expected =
            terms.expected_amount(iou, sender_sessions(&sessions), now_seconds()).map_err(payment_error)?;
        let snapshot = state.service.snapshot();
        let confirmed_block = snapshot.confirmed_block.unwrap_or(BlockNumber(0));
        let blocks = deposit_check_blocks(confirmed_block, config.deposit_confirmations);
        let balances = self
            .deposits
            .effective_balances(&config.user_deposit, fields.sender, blocks, snapshot.chain_rollbacks)
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot read the UserDeposit balance");
                ApiError::internal()
            })?;
        check_deposit(expected, balances[0], balances[1], confirmed_block).map_err(payment_error)?;
        Ok(Some(CheckedPayment { iou: *iou, terms, balances, confirmed_block }))
    }
}

impl CheckedPayment {
    /// Step 3 (see the module docs): decides again under the write lock and stores the IOU.
    pub(crate) async fn charge(self, state: &AppState) -> Result<(), ApiError> {
        let Self { iou, terms, balances, confirmed_block } = self;
        let now = SystemTime::now();
        let decision = state
            .service
            .store()
            .check_and_store_iou(&iou, now, |sessions| {
                let expected = terms.expected_amount(&iou, sender_sessions(sessions), seconds_of(now))?;
                check_deposit(expected, balances[0], balances[1], confirmed_block)
            })
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot store the IOU");
                ApiError::internal()
            })?;
        decision.map_err(payment_error)
    }
}

fn sender_sessions(sessions: &IouSessions) -> SenderSessions<'_> {
    SenderSessions { active: sessions.active.as_ref(), claimed_same_session: sessions.claimed.is_some() }
}

fn now_seconds() -> u64 {
    seconds_of(SystemTime::now())
}

fn seconds_of(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

/// The reference's error for a [`PaymentError`], with checksummed addresses (not raw bytes) and
/// exact integers in the details.
pub(crate) fn payment_error(error: PaymentError) -> ApiError {
    let message = error.to_string();
    let bad = |code| ApiError::new(StatusCode::BAD_REQUEST, code, message.clone());
    let number = pfs_core::integer::to_json_number;
    match error {
        PaymentError::MissingIou => bad(codes::MISSING_IOU),
        PaymentError::WrongReceiver { expected } => {
            bad(codes::WRONG_IOU_RECIPIENT).detail("expected", expected.to_checksum())
        }
        PaymentError::WrongChain { expected } => {
            bad(codes::UNSUPPORTED_CHAIN_ID).detail("expected", expected.0)
        }
        PaymentError::WrongOneToN { expected, got } => bad(codes::WRONG_ONE_TO_N_ADDRESS)
            .detail("expected", expected.to_checksum())
            .detail("got", got.to_checksum()),
        PaymentError::InvalidSignature => bad(codes::INVALID_SIGNATURE),
        PaymentError::UseThisIou { active } => {
            bad(codes::USE_THIS_IOU).raw_detail("iou", use_this_iou_json(&active))
        }
        PaymentError::AlreadyClaimed => bad(codes::IOU_ALREADY_CLAIMED),
        PaymentError::ExpiresTooEarly { min_expiry, claimable_until_received } => {
            bad(codes::IOU_EXPIRED_TOO_EARLY)
                .raw_detail("min_expiry", number(&min_expiry))
                .raw_detail("claimable_until_received", number(&claimable_until_received))
        }
        PaymentError::InsufficientPayment { expected_amount, actual_amount } => {
            bad(codes::INSUFFICIENT_SERVICE_PAYMENT)
                .raw_detail("expected_amount", number(&expected_amount))
                .raw_detail("actual_amount", number(&actual_amount))
        }
        PaymentError::DepositTooLow { required_deposit, seen_deposit, block_number } => {
            bad(codes::DEPOSIT_TOO_LOW)
                .raw_detail("required_deposit", number(&required_deposit))
                .raw_detail("seen_deposit", number(&seen_deposit))
                .detail("block_number", block_number.0)
        }
    }
}

/// The stored IOU as `UseThisIOU` shows it: the IOU JSON plus `"claimed": false`.
fn use_this_iou_json(active: &Iou) -> Box<serde_json::value::RawValue> {
    let json = active.to_json();
    // Invariant: the IOU JSON is one object, so it ends with `}` and appending a member before
    // it keeps it valid JSON.
    let members = json.strip_suffix('}').expect("an IOU is a JSON object");
    serde_json::value::RawValue::from_string(format!("{members},\"claimed\":false}}"))
        .expect("an IOU object with one more member")
}

/// The keys the IOU object may have; `claimed` is ignored, `expiration_block` is refused with
/// its own message.
const IOU_FIELDS: &[&str] = &[
    "sender",
    "receiver",
    "amount",
    "claimable_until",
    "one_to_n_address",
    "chain_id",
    "signature",
    "claimed",
    "expiration_block",
];

/// Reads the optional `iou` of a `/paths` body like the reference's nested schema: every field
/// error is collected under `"iou"` (2000). A 0.40-era IOU (`expiration_block`) gets the core's
/// [`IouError::ExpirationBlock`] message under `iou.expiration_block`.
pub(crate) fn read_iou(fields: &mut Fields<'_>, key: &str) -> Option<Iou> {
    let raw = fields.raw(key)?;
    let Ok(mut inner) = Fields::new(raw, IOU_FIELDS) else {
        fields.reject(key, "Invalid input type.");
        return None;
    };
    let sender = inner.address("sender");
    let receiver = inner.address("receiver");
    let one_to_n_address = inner.address("one_to_n_address");
    let amount = inner.integer("amount", None, U256::ZERO, None);
    let claimable_until = if inner.has("expiration_block") {
        inner.reject("expiration_block", &IouError::ExpirationBlock.to_string());
        None
    } else {
        inner.integer("claimable_until", None, U256::ZERO, None)
    };
    let chain_id = inner.integer("chain_id", None, U256::ZERO, Some(U256::from(u64::MAX)));
    let signature = inner.string("signature").and_then(|text| match Signature::parse_hex(&text) {
        Ok(signature) => Some(signature),
        Err(error) => {
            inner.reject("signature", &format!("Not a valid signature: {error}"));
            None
        }
    });
    let errors = inner.into_errors();
    if !errors.is_empty() {
        fields.reject_nested(key, errors);
        return None;
    }
    Some(Iou::from_parts(
        UnsignedIou {
            sender: sender?,
            receiver: receiver?,
            amount: amount?,
            claimable_until: claimable_until?,
            one_to_n_address: one_to_n_address?,
            chain_id: ChainId(chain_id?.to::<u64>()),
        },
        signature?,
    ))
}

/// `GET /api/v1/<token_network>/payment/iou` (§1.4.2): the sender's unclaimed IOU. The token
/// network segment is not checked and `receiver` is not compared with this service, as in the
/// reference.
pub(crate) async fn get_last_iou(
    axum::extract::State(state): State,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query_length = query.as_deref().map_or(0, str::len);
    if query_length > MAX_QUERY_BYTES {
        return Err(query_error(IouRequestError::TooLarge(query_length)));
    }
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map_err(|_| query_error(IouRequestError::NotUtf8))?;
    let mut unknown = Map::new();
    for (name, _) in &pairs {
        if !["sender", "receiver", "timestamp", "signature"].contains(&name.as_str()) {
            unknown.insert(name.clone(), Value::from(vec!["Unknown field."]));
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::invalid_request(unknown));
    }
    let request =
        IouRequest::from_query_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .map_err(query_error)?;
    let now = NaiveTimestamp::from_unix_micros(
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_micros() as i64),
    )
    .ok_or_else(ApiError::internal)?;
    check_iou_request(&request, now).map_err(|rejection| match rejection {
        IouRequestRejection::InvalidSignature => {
            ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID_SIGNATURE, rejection.to_string())
        }
        IouRequestRejection::Outdated => {
            ApiError::new(StatusCode::BAD_REQUEST, codes::REQUEST_OUTDATED, rejection.to_string())
        }
    })?;
    let active = state.service.store().active_iou(&request.sender()).await.map_err(|error| {
        tracing::error!(%error, "cannot read the IOU ledger");
        ApiError::internal()
    })?;
    Ok(match active {
        Some(iou) => {
            // Invariant: an IOU always serializes (see `Iou::to_json`).
            let json = serde_json::value::RawValue::from_string(iou.to_json()).expect("IOU JSON");
            (StatusCode::OK, Json(serde_json::json!({ "last_iou": json }))).into_response()
        }
        None => (StatusCode::NOT_FOUND, Json(serde_json::json!({ "last_iou": null }))).into_response(),
    })
}

/// 2000 for a malformed IOU request, with marshmallow-style details.
fn query_error(error: IouRequestError) -> ApiError {
    let (key, message) = match &error {
        IouRequestError::MissingParameter(name) => (*name, "Missing data for required field.".to_owned()),
        IouRequestError::DuplicateParameter(name) => (*name, error.to_string()),
        IouRequestError::Address { parameter, .. } => (*parameter, error.to_string()),
        IouRequestError::Timestamp(_) => ("timestamp", "Not a valid naive datetime.".to_owned()),
        IouRequestError::Signature(_) => ("signature", error.to_string()),
        IouRequestError::TooLarge(_) | IouRequestError::NotUtf8 => ("_schema", error.to_string()),
    };
    let mut details = Map::new();
    details.insert(key.to_owned(), Value::from(vec![message]));
    ApiError::invalid_request(details)
}
