//! Routing feedback (`spec/REFERENCE-PFS.md` §7): the routes returned with a feedback token, and
//! the first success or failure a client reports for each within the token's lifetime.
//!
//! Rows are kept for statistics and for the routing penalty on failing channels; unlike the
//! reference, they can be pruned ([`Store::prune_feedback`]): a retention of a few weeks (e.g.
//! 30 days, run daily) keeps the table bounded without touching live tokens.

use std::fmt;
use std::time::{Duration, SystemTime};

use alloy_primitives::I256;
use pfs_core::Address;
use sqlx::Row;

use crate::codec::{self, RowReader};
use crate::error::{CorruptReason, StoreError};
use crate::store::{Backend, Store};

/// How long feedback for a returned route is accepted (`MAX_AGE_OF_FEEDBACK_REQUESTS`).
pub const FEEDBACK_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Longest route accepted for feedback; longer ones cannot have been returned.
pub const MAX_FEEDBACK_ROUTE_LENGTH: usize = 256;

/// The token returned with a successful `/paths` answer: a UUID, written as 32 lower-case
/// hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedbackToken(pub [u8; 16]);

impl FeedbackToken {
    /// Reads 32 hex digits (any letter case).
    ///
    /// # Errors
    /// [`InvalidFeedbackToken`] for anything else.
    pub fn parse_hex(text: &str) -> Result<Self, InvalidFeedbackToken> {
        if text.len() != 32 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(InvalidFeedbackToken);
        }
        let mut bytes = [0u8; 16];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2).ok_or(InvalidFeedbackToken)?, 16)
                .map_err(|_| InvalidFeedbackToken)?;
        }
        Ok(Self(bytes))
    }

    /// 32 lower-case hex digits, as the API returns it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Display for FeedbackToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl fmt::Debug for FeedbackToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "FeedbackToken({self})")
    }
}

/// A feedback token that is not 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a feedback token is 32 hex digits")]
pub struct InvalidFeedbackToken;

/// One route returned with a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedRoute {
    /// The nodes from source to target.
    pub path: Vec<Address>,
    /// The fee estimated for it (negative fees exist).
    pub estimated_fee: I256,
}

/// Rows per multi-row `INSERT` of returned routes: 7 parameters each, far below SQLite's 32,766
/// and PostgreSQL's 65,535 parameters per statement.
const ROUTE_ROWS_PER_STATEMENT: usize = 500;

/// The routes returned with one token, to be saved with [`Store::save_returned_route_sets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedRouteSet {
    /// The feedback token of the answer.
    pub token: FeedbackToken,
    /// The token network asked.
    pub token_network: Address,
    /// When the answer was given.
    pub created_at: SystemTime,
    /// The routes.
    pub routes: Vec<ReturnedRoute>,
}

/// What became of a feedback report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackOutcome {
    /// The first report for the route: recorded.
    Recorded,
    /// The route already has a report; the first one stands (the API still answers 200).
    AlreadyRecorded,
    /// No such route for this token and token network, or the token expired (400).
    Invalid,
}

/// Counts over the stored routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedbackStats {
    /// Routes returned with a token.
    pub routes: u64,
    /// Routes reported as successful.
    pub successful: u64,
    /// Routes reported as failed.
    pub failed: u64,
}

/// A report received for a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFeedback {
    /// The route's nodes.
    pub path: Vec<Address>,
    /// Whether the payment over it succeeded.
    pub successful: bool,
    /// When the report arrived.
    pub feedback_time: SystemTime,
}

/// The route's text as the reference stores and compares it: Python's `json.dumps` of the
/// checksummed addresses (`["0xAb…", "0xCd…"]`).
fn route_text(path: &[Address]) -> String {
    let addresses: Vec<String> =
        path.iter().map(|address| format!("\"{}\"", address.to_checksum())).collect();
    format!("[{}]", addresses.join(", "))
}

pub(crate) fn parse_route(text: &str) -> Option<Vec<Address>> {
    let addresses: Vec<String> = serde_json::from_str(text).ok()?;
    addresses.iter().map(|address| Address::parse_checksummed(address).ok()).collect()
}

/// Appends `(p1, …, pN)` for the `columns` parameters after the first `before` of a statement:
/// `$n` for PostgreSQL, anonymous `?` for SQLite. SQLite finds the name of a numbered parameter
/// by a linear scan, and the driver asks for every parameter's name when it binds, so numbered
/// parameters make a multi-row statement's binding quadratic in its rows (7 % of a `/paths`
/// request's CPU with a few hundred parameters); anonymous ones are bound by position.
fn push_row_placeholders(sql: &mut String, backend: Backend, before: usize, columns: usize) {
    sql.push('(');
    for column in 0..columns {
        if column > 0 {
            sql.push_str(", ");
        }
        match backend {
            Backend::Sqlite => sql.push('?'),
            Backend::Postgres => {
                sql.push('$');
                sql.push_str(&(before + column + 1).to_string());
            }
        }
    }
    sql.push(')');
}

impl Store {
    /// Saves the routes returned with `token` (one row each), created at `created_at`.
    /// Routes with fewer than two nodes are not routes and are skipped.
    ///
    /// # Errors
    /// [`StoreError::Database`] (e.g. a token used twice for the same route).
    pub async fn save_returned_routes(
        &self,
        token: FeedbackToken,
        token_network: &Address,
        created_at: SystemTime,
        routes: &[ReturnedRoute],
    ) -> Result<(), StoreError> {
        let set =
            ReturnedRouteSet { token, token_network: *token_network, created_at, routes: routes.to_vec() };
        self.save_returned_route_sets(std::slice::from_ref(&set)).await
    }

    /// Saves the routes of several path answers in one transaction (one commit for many
    /// concurrent requests); as [`Store::save_returned_routes`] for each.
    ///
    /// # Errors
    /// [`StoreError::Database`]; nothing of any set is saved then.
    pub async fn save_returned_route_sets(&self, sets: &[ReturnedRouteSet]) -> Result<(), StoreError> {
        const OPERATION: &str = "save returned routes";
        if sets.iter().all(|set| set.routes.is_empty()) {
            return Ok(());
        }
        // One multi-row INSERT per chunk: every statement is a round trip to the database
        // driver's thread, so rows one by one would cost a thread switch each.
        let rows: Vec<(&ReturnedRouteSet, &ReturnedRoute, &Address, &Address)> = sets
            .iter()
            .flat_map(|set| set.routes.iter().map(move |route| (set, route)))
            .filter_map(|(set, route)| match route.path.as_slice() {
                [source, .., target] => Some((set, route, source, target)),
                _ => None,
            })
            .collect();
        let mut transaction = self.begin_write(OPERATION).await?;
        for chunk in rows.chunks(ROUTE_ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO feedback (token_id, token_network, route, source_address, target_address, \
                 estimated_fee, creation_time) VALUES ",
            );
            for index in 0..chunk.len() {
                if index > 0 {
                    sql.push_str(", ");
                }
                push_row_placeholders(&mut sql, self.backend, index * 7, 7);
            }
            let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (set, route, source, target) in chunk {
                statement = statement
                    .bind(set.token.0.to_vec())
                    .bind(codec::address(&set.token_network))
                    .bind(route_text(&route.path))
                    .bind(codec::address(source))
                    .bind(codec::address(target))
                    .bind(codec::int256(&route.estimated_fee))
                    .bind(codec::system_time(set.created_at));
            }
            statement.execute(&mut *transaction).await.map_err(StoreError::database(OPERATION))?;
        }
        transaction.commit().await.map_err(StoreError::database(OPERATION))
    }

    /// Records a client's report on a route returned with `token`: only for an exact (token,
    /// token network, route) match created less than [`FEEDBACK_TOKEN_LIFETIME`] before `now`,
    /// and only the first report.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn record_feedback(
        &self,
        token: FeedbackToken,
        token_network: &Address,
        path: &[Address],
        successful: bool,
        now: SystemTime,
    ) -> Result<FeedbackOutcome, StoreError> {
        const OPERATION: &str = "record feedback";
        if path.len() > MAX_FEEDBACK_ROUTE_LENGTH {
            return Ok(FeedbackOutcome::Invalid);
        }
        let created_after = codec::system_time(now.checked_sub(FEEDBACK_TOKEN_LIFETIME).unwrap_or(now));
        let mut transaction = self.begin_write(OPERATION).await?;
        let row = sqlx::query(
            "SELECT CASE WHEN successful IS NULL THEN 0 ELSE 1 END AS reported FROM feedback \
             WHERE token_id = $1 AND token_network = $2 AND route = $3 AND creation_time > $4",
        )
        .bind(token.0.to_vec())
        .bind(codec::address(token_network))
        .bind(route_text(path))
        .bind(created_after)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(StoreError::database(OPERATION))?;
        let outcome = match row {
            None => FeedbackOutcome::Invalid,
            Some(row) if row.try_get::<i64, _>("reported").map_err(StoreError::database(OPERATION))? != 0 => {
                FeedbackOutcome::AlreadyRecorded
            }
            Some(_) => {
                sqlx::query(
                    "UPDATE feedback SET successful = $4, feedback_time = $5 \
                     WHERE token_id = $1 AND token_network = $2 AND route = $3 AND successful IS NULL",
                )
                .bind(token.0.to_vec())
                .bind(codec::address(token_network))
                .bind(route_text(path))
                .bind(successful)
                .bind(codec::system_time(now))
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::database(OPERATION))?;
                FeedbackOutcome::Recorded
            }
        };
        transaction.commit().await.map_err(StoreError::database(OPERATION))?;
        Ok(outcome)
    }

    /// Counts of returned routes and reports, for one token network or all.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn feedback_stats(&self, token_network: Option<&Address>) -> Result<FeedbackStats, StoreError> {
        const OPERATION: &str = "count feedback";
        let row = sqlx::query(
            "SELECT COUNT(*) AS routes, \
             COALESCE(SUM(CASE WHEN successful THEN 1 ELSE 0 END), 0) AS successful, \
             COALESCE(SUM(CASE WHEN NOT successful THEN 1 ELSE 0 END), 0) AS failed \
             FROM feedback WHERE $1 IS NULL OR token_network = $1",
        )
        .bind(token_network.map(codec::address))
        .fetch_one(&self.readers)
        .await
        .map_err(StoreError::database(OPERATION))?;
        let reader = RowReader::new(&row, "feedback", OPERATION);
        let count = |column| reader.int(column).map(|value| u64::try_from(value).unwrap_or(0));
        Ok(FeedbackStats {
            routes: count("routes")?,
            successful: count("successful")?,
            failed: count("failed")?,
        })
    }

    /// The reports received since `since` for one token network, oldest first (for the routing
    /// penalty on failing channels).
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn feedback_since(
        &self,
        token_network: &Address,
        since: SystemTime,
    ) -> Result<Vec<RouteFeedback>, StoreError> {
        const OPERATION: &str = "read recent feedback";
        let rows = sqlx::query(
            "SELECT route, CASE WHEN successful THEN 1 ELSE 0 END AS successful, feedback_time FROM feedback \
             WHERE token_network = $1 AND feedback_time >= $2 ORDER BY feedback_time, route",
        )
        .bind(codec::address(token_network))
        .bind(codec::system_time(since))
        .fetch_all(&self.readers)
        .await
        .map_err(StoreError::database(OPERATION))?;
        rows.iter()
            .map(|row| {
                let reader = RowReader::new(row, "feedback", OPERATION);
                let route = reader.text("route")?;
                let reader = reader.with_key(|| route.clone());
                Ok(RouteFeedback {
                    path: parse_route(&route).ok_or_else(|| reader.corrupt(CorruptReason::Route))?,
                    successful: reader.flag("successful")?,
                    feedback_time: reader.system_time("feedback_time")?,
                })
            })
            .collect()
    }

    /// Deletes the routes created before `created_before`; returns how many. Keep it well beyond
    /// [`FEEDBACK_TOKEN_LIFETIME`] and the routing penalty's horizon (e.g. 30 days).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn prune_feedback(&self, created_before: SystemTime) -> Result<u64, StoreError> {
        const OPERATION: &str = "prune feedback";
        let statement = sqlx::query("DELETE FROM feedback WHERE creation_time < $1")
            .bind(codec::system_time(created_before));
        self.execute_write(OPERATION, statement).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_placeholders_are_numbered_for_postgres_and_anonymous_for_sqlite() {
        let mut postgres = String::new();
        push_row_placeholders(&mut postgres, Backend::Postgres, 7, 3);
        assert_eq!(postgres, "($8, $9, $10)");
        let mut sqlite = String::new();
        push_row_placeholders(&mut sqlite, Backend::Sqlite, 7, 3);
        assert_eq!(sqlite, "(?, ?, ?)");
    }

    #[test]
    fn routes_are_written_like_python_json_dumps() {
        let path = [Address::from_bytes([0xab; 20]), Address::from_bytes([0x01; 20])];
        let text = route_text(&path);
        assert_eq!(text, format!("[\"{}\", \"{}\"]", path[0].to_checksum(), path[1].to_checksum()));
        assert_eq!(parse_route(&text), Some(path.to_vec()));
    }

    #[test]
    fn tokens_are_32_hex_digits() {
        let token = FeedbackToken::parse_hex("0123456789ABCDEF0123456789abcdef").unwrap();
        assert_eq!(token.to_hex(), "0123456789abcdef0123456789abcdef");
        for bad in ["", "0123", "0123456789abcdef0123456789abcdeg", "+123456789abcdef0123456789abcdef"] {
            assert_eq!(FeedbackToken::parse_hex(bad), Err(InvalidFeedbackToken));
        }
    }
}
