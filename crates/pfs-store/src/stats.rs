//! Read-only aggregates over the ledger and the returned routes, for `GET /metrics` and the
//! reference's `_debug` endpoints (spec/REFERENCE-PFS.md §1.4.8, §9.3). Nothing here writes.

use pfs_core::{Address, U256};

use crate::codec::{self, RowReader};
use crate::error::{CorruptReason, StoreError};
use crate::feedback::{FeedbackToken, ReturnedRoute};
use crate::iou::{StoredIou, decode_iou};
use crate::store::Store;

/// Most routes [`Store::debug_routes`] returns; the oldest beyond it are left out.
pub const MAX_DEBUG_ROUTES: i64 = 10_000;

/// Counts and sums over the IOU ledger (the reference's `economics_iou_claims_*` gauges, plus the
/// unclaimed side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IouTotals {
    /// IOU sessions marked claimed.
    pub claimed: u64,
    /// The sum of their amounts.
    pub claimed_amount: U256,
    /// Sessions not claimed yet.
    pub unclaimed: u64,
    /// The sum of their amounts.
    pub unclaimed_amount: U256,
}

/// The routes returned with one feedback token, in the order they were stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugRoutes {
    /// The token they were returned with.
    pub token: FeedbackToken,
    /// The routes.
    pub routes: Vec<ReturnedRoute>,
}

impl Store {
    /// Claimed and unclaimed IOU counts and amounts. The amounts are summed here, not in SQL,
    /// because they are stored as 32-byte big-endian values; a sum beyond `uint256` saturates.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn iou_totals(&self) -> Result<IouTotals, StoreError> {
        const OPERATION: &str = "sum IOUs";
        let rows = sqlx::query("SELECT amount, CASE WHEN claimed THEN 1 ELSE 0 END AS claimed FROM iou")
            .fetch_all(&self.readers)
            .await
            .map_err(StoreError::database(OPERATION))?;
        let mut totals = IouTotals::default();
        for row in &rows {
            let reader = RowReader::new(row, "iou", OPERATION);
            let amount = reader.uint256("amount")?;
            if reader.flag("claimed")? {
                totals.claimed += 1;
                totals.claimed_amount = totals.claimed_amount.saturating_add(amount);
            } else {
                totals.unclaimed += 1;
                totals.unclaimed_amount = totals.unclaimed_amount.saturating_add(amount);
            }
        }
        Ok(totals)
    }

    /// The first stored IOU of `sender`, claimed or not (the reference's `_debug/ious`).
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn first_iou(&self, sender: &Address) -> Result<Option<StoredIou>, StoreError> {
        const OPERATION: &str = "read the first IOU";
        let row = sqlx::query(
            "SELECT sender, claimable_until, amount, receiver, one_to_n_address, chain_id, signature, \
             CASE WHEN claimed THEN 1 ELSE 0 END AS claimed FROM iou WHERE sender = $1 \
             ORDER BY created_at, claimable_until LIMIT 1",
        )
        .bind(codec::address(sender))
        .fetch_optional(&self.readers)
        .await
        .map_err(StoreError::database(OPERATION))?;
        row.map(|row| decode_iou(&row, OPERATION)).transpose()
    }

    /// The routes returned for `source` (and `target`, if given) in one token network, grouped
    /// by token, oldest first; at most [`MAX_DEBUG_ROUTES`] routes.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn debug_routes(
        &self,
        token_network: &Address,
        source: &Address,
        target: Option<&Address>,
    ) -> Result<Vec<DebugRoutes>, StoreError> {
        const OPERATION: &str = "read returned routes";
        let rows = sqlx::query(
            "SELECT token_id, route, estimated_fee FROM feedback \
             WHERE token_network = $1 AND source_address = $2 AND ($3 IS NULL OR target_address = $3) \
             ORDER BY creation_time, token_id, route LIMIT $4",
        )
        .bind(codec::address(token_network))
        .bind(codec::address(source))
        .bind(target.map(codec::address))
        .bind(MAX_DEBUG_ROUTES)
        .fetch_all(&self.readers)
        .await
        .map_err(StoreError::database(OPERATION))?;
        let mut groups: Vec<DebugRoutes> = Vec::new();
        for row in &rows {
            let reader = RowReader::new(row, "feedback", OPERATION);
            let token = FeedbackToken(reader.bytes::<16>("token_id")?);
            let route = reader.text("route")?;
            let reader = reader.with_key(|| route.clone());
            let path =
                crate::feedback::parse_route(&route).ok_or_else(|| reader.corrupt(CorruptReason::Route))?;
            let returned = ReturnedRoute { path, estimated_fee: reader.int256("estimated_fee")? };
            match groups.last_mut() {
                Some(group) if group.token == token => group.routes.push(returned),
                _ => groups.push(DebugRoutes { token, routes: vec![returned] }),
            }
        }
        Ok(groups)
    }
}
