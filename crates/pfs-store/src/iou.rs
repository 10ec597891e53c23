//! The IOU ledger: one row per payment session `(sender, claimable_until)`, at most one unclaimed
//! session per sender, and a check-and-store that decides on a new IOU while holding the write
//! lock, so that concurrent requests of one sender can neither lose nor double-count a payment.
//!
//! # How the payments layer uses it
//!
//! The rules of `spec/REFERENCE-PFS.md` §6.3 that depend on stored IOUs (2104 amount too low,
//! 2105 session already claimed, 2106 another session active) belong in the `decide` closure of
//! [`Store::check_and_store_iou`]: it sees the rows as they are inside the transaction and the IOU
//! is stored only if it returns `Ok`. Slow checks that need no stored data (signature, deposit on
//! chain) run before; a deposit check can fetch the balance for the amount expected from a plain
//! read ([`Store::active_iou`]) and pass it into the closure, which then compares it with the
//! amount expected from the locked rows.

use std::time::SystemTime;

use pfs_core::iou::UnsignedIou;
use pfs_core::{Address, ChainId, Iou, Signature, U256};
use sqlx::any::AnyRow;

use crate::codec::{self, RowReader};
use crate::error::StoreError;
use crate::store::{Backend, Store};

/// An IOU as stored, with whether its session was claimed on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredIou {
    /// The signed IOU.
    pub iou: Iou,
    /// Whether the session was claimed (set by [`Store::mark_iou_claimed`]).
    pub claimed: bool,
}

/// What the ledger holds for the sender of an IOU being checked, read under the write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IouSessions {
    /// The sender's unclaimed IOU (its "active session"), if any.
    pub active: Option<Iou>,
    /// The claimed IOU of the same session (same sender and `claimable_until`), if any.
    pub claimed: Option<Iou>,
}

impl Store {
    /// Decides on `iou` with `decide` and stores it if accepted, in one write transaction: the
    /// sender's sessions are read after the write lock is taken (SQLite `BEGIN IMMEDIATE`; a
    /// per-sender advisory lock in PostgreSQL), so two concurrent IOUs of one sender are decided
    /// one after the other, each seeing the other's result.
    ///
    /// An accepted IOU is stored unclaimed, replacing the session's previous IOU (over-payment
    /// becomes the new base, as in the reference); `now` dates the row. Returns `Ok(Err(reason))`
    /// when `decide` rejects, with nothing written.
    ///
    /// # Errors
    /// [`StoreError::IouSessionClaimed`] or [`StoreError::IouSecondActiveSession`] if `decide`
    /// accepted an IOU that would overwrite a claimed session or open a second one for the
    /// sender (nothing is written); [`StoreError::Database`] if the transaction fails.
    pub async fn check_and_store_iou<R>(
        &self,
        iou: &Iou,
        now: SystemTime,
        decide: impl FnOnce(&IouSessions) -> Result<(), R>,
    ) -> Result<Result<(), R>, StoreError> {
        const OPERATION: &str = "check and store an IOU";
        let fields = iou.fields();
        let mut transaction = self.begin_write(OPERATION).await?;
        if self.backend == Backend::Postgres {
            // Serialises the sender's requests even when it has no row to lock yet.
            let lock_key = i64::from_be_bytes(
                fields.sender.as_bytes()[..8].try_into().expect("an address has more than 8 bytes"),
            );
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock_key)
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::database(OPERATION))?;
        }
        let rows = sqlx::query(queries::SESSIONS)
            .bind(codec::address(&fields.sender))
            .bind(codec::uint256(&fields.claimable_until))
            .fetch_all(&mut *transaction)
            .await
            .map_err(StoreError::database(OPERATION))?;
        let mut sessions = IouSessions { active: None, claimed: None };
        for row in &rows {
            let stored = decode_iou(row, OPERATION)?;
            if stored.claimed {
                sessions.claimed = Some(stored.iou);
            } else {
                sessions.active = Some(stored.iou);
            }
        }
        if let Err(rejection) = decide(&sessions) {
            return Ok(Err(rejection));
        }
        if sessions.claimed.is_some() {
            return Err(StoreError::IouSessionClaimed {
                sender: fields.sender,
                claimable_until: fields.claimable_until,
            });
        }
        if let Some(active) = sessions.active
            && active.fields().claimable_until != fields.claimable_until
        {
            return Err(StoreError::IouSecondActiveSession {
                sender: fields.sender,
                active_claimable_until: active.fields().claimable_until,
            });
        }
        let now = codec::system_time(now);
        sqlx::query(
            "INSERT INTO iou (sender, claimable_until, amount, receiver, one_to_n_address, chain_id, signature, \
             claimed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $8) \
             ON CONFLICT (sender, claimable_until) DO UPDATE SET amount = excluded.amount, \
             receiver = excluded.receiver, one_to_n_address = excluded.one_to_n_address, \
             chain_id = excluded.chain_id, signature = excluded.signature, updated_at = excluded.updated_at",
        )
        .bind(codec::address(&fields.sender))
        .bind(codec::uint256(&fields.claimable_until))
        .bind(codec::uint256(&fields.amount))
        .bind(codec::address(&fields.receiver))
        .bind(codec::address(&fields.one_to_n_address))
        .bind(codec::uint64(fields.chain_id.0))
        .bind(iou.signature().as_bytes().to_vec())
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::database(OPERATION))?;
        transaction.commit().await.map_err(StoreError::database(OPERATION))?;
        Ok(Ok(()))
    }

    /// The sender's unclaimed IOU (the one `GET …/payment/iou` returns), if any.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn active_iou(&self, sender: &Address) -> Result<Option<Iou>, StoreError> {
        const OPERATION: &str = "read the active IOU";
        let row = sqlx::query(queries::ACTIVE)
            .bind(codec::address(sender))
            .fetch_optional(&self.readers)
            .await
            .map_err(StoreError::database(OPERATION))?;
        Ok(row.map(|row| decode_iou(&row, OPERATION)).transpose()?.map(|stored| stored.iou))
    }

    /// The IOU of one session, claimed or not.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn iou(
        &self,
        sender: &Address,
        claimable_until: &U256,
    ) -> Result<Option<StoredIou>, StoreError> {
        const OPERATION: &str = "read an IOU";
        let row = sqlx::query(queries::ONE)
            .bind(codec::address(sender))
            .bind(codec::uint256(claimable_until))
            .fetch_optional(&self.readers)
            .await
            .map_err(StoreError::database(OPERATION))?;
        row.map(|row| decode_iou(&row, OPERATION)).transpose()
    }

    /// The unclaimed IOUs worth claiming: `claimable_until` strictly between `after` and `before`
    /// (unix seconds) and `amount ≥ min_amount`, ordered by `claimable_until` (the fee claimer's
    /// selection, `spec/REFERENCE-PFS.md` §6.5).
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn claimable_ious(
        &self,
        after: &U256,
        before: &U256,
        min_amount: &U256,
    ) -> Result<Vec<Iou>, StoreError> {
        const OPERATION: &str = "list claimable IOUs";
        let rows = sqlx::query(queries::CLAIMABLE)
            .bind(codec::uint256(after))
            .bind(codec::uint256(before))
            .bind(codec::uint256(min_amount))
            .fetch_all(&self.readers)
            .await
            .map_err(StoreError::database(OPERATION))?;
        rows.iter().map(|row| decode_iou(row, OPERATION).map(|stored| stored.iou)).collect()
    }

    /// Marks a session claimed (after its claim transaction succeeded); the sender may then open
    /// a new session. Returns whether an unclaimed session was marked.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn mark_iou_claimed(
        &self,
        sender: &Address,
        claimable_until: &U256,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "mark an IOU claimed";
        let statement = sqlx::query(
            "UPDATE iou SET claimed = TRUE, updated_at = $3 \
             WHERE sender = $1 AND claimable_until = $2 AND NOT claimed",
        )
        .bind(codec::address(sender))
        .bind(codec::uint256(claimable_until))
        .bind(codec::system_time(now));
        Ok(self.execute_write(OPERATION, statement).await? == 1)
    }
}

/// The IOU queries; each selects every column, the flag as an integer.
mod queries {
    macro_rules! iou_columns {
        () => {
            "sender, claimable_until, amount, receiver, one_to_n_address, chain_id, signature, \
             CASE WHEN claimed THEN 1 ELSE 0 END AS claimed"
        };
    }
    pub(super) const SESSIONS: &str = concat!(
        "SELECT ",
        iou_columns!(),
        " FROM iou WHERE sender = $1 AND (NOT claimed OR claimable_until = $2)"
    );
    pub(super) const ACTIVE: &str =
        concat!("SELECT ", iou_columns!(), " FROM iou WHERE sender = $1 AND NOT claimed");
    pub(super) const ONE: &str =
        concat!("SELECT ", iou_columns!(), " FROM iou WHERE sender = $1 AND claimable_until = $2");
    pub(super) const CLAIMABLE: &str = concat!(
        "SELECT ",
        iou_columns!(),
        " FROM iou WHERE NOT claimed AND claimable_until > $1 AND claimable_until < $2 AND amount >= $3 \
         ORDER BY claimable_until, sender"
    );
}

pub(crate) fn decode_iou(row: &AnyRow, operation: &'static str) -> Result<StoredIou, StoreError> {
    let reader = RowReader::new(row, "iou", operation);
    let sender = reader.address("sender")?;
    let claimable_until = reader.uint256("claimable_until")?;
    let reader = reader.with_key(move || format!("{sender}/{claimable_until}"));
    let fields = UnsignedIou {
        sender,
        receiver: reader.address("receiver")?,
        amount: reader.uint256("amount")?,
        claimable_until,
        one_to_n_address: reader.address("one_to_n_address")?,
        chain_id: ChainId(reader.uint64("chain_id")?),
    };
    let signature = Signature::from_bytes(reader.bytes::<65>("signature")?);
    Ok(StoredIou { iou: Iou::from_parts(fields, signature), claimed: reader.flag("claimed")? })
}
