//! What the Matrix transport keeps across restarts: the users it learned (user id → address and
//! display name), its sync position, and since when an address has been seen offline. Presence
//! itself is not stored; it is re-learned from the first sync after a start.

use std::time::SystemTime;

use pfs_core::Address;

use crate::codec::{self, RowReader};
use crate::error::StoreError;
use crate::store::Store;

/// Longest Matrix user id (the Matrix specification's limit, in bytes).
pub const MAX_USER_ID_BYTES: usize = 255;
/// Longest display name stored (a Raiden display name is a 132-character signature).
pub const MAX_DISPLAYNAME_BYTES: usize = 1_024;
/// Longest sync token stored.
pub const MAX_SYNC_TOKEN_BYTES: usize = 4_096;

/// A Matrix user and the Raiden address its display name proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixUser {
    /// The full user id, `@0x…:server`.
    pub user_id: String,
    /// The address whose key signed the display name.
    pub address: Address,
    /// The display name (the signature over the user id).
    pub displayname: String,
}

/// A value longer than the store accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} of {length} bytes exceeds the limit of {limit}")]
pub struct TooLong {
    /// What was too long.
    pub what: &'static str,
    /// Its length.
    pub length: usize,
    /// The limit.
    pub limit: usize,
}

/// Whether `next_batch` fits [`MAX_SYNC_TOKEN_BYTES`].
pub(crate) fn check_sync_token(next_batch: &str) -> Result<(), TooLong> {
    if next_batch.len() > MAX_SYNC_TOKEN_BYTES {
        return Err(TooLong {
            what: "Matrix sync token",
            length: next_batch.len(),
            limit: MAX_SYNC_TOKEN_BYTES,
        });
    }
    Ok(())
}

/// The statement that stores the sync position (one row).
pub(crate) fn sync_token_statement(
    next_batch: &str,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "INSERT INTO matrix_sync (id, next_batch) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET next_batch = excluded.next_batch",
    )
    .bind(next_batch.to_owned())
}

fn check_length(what: &'static str, value: &str, limit: usize) -> Result<(), StoreError> {
    if value.len() > limit {
        return Err(StoreError::TooLong(TooLong { what, length: value.len(), limit }));
    }
    Ok(())
}

impl Store {
    /// Saves (or updates) a known user.
    ///
    /// # Errors
    /// [`StoreError::TooLong`] beyond [`MAX_USER_ID_BYTES`] or [`MAX_DISPLAYNAME_BYTES`];
    /// [`StoreError::Database`].
    pub async fn save_matrix_user(&self, user: &MatrixUser) -> Result<(), StoreError> {
        const OPERATION: &str = "save a Matrix user";
        check_length("Matrix user id", &user.user_id, MAX_USER_ID_BYTES)?;
        check_length("Matrix display name", &user.displayname, MAX_DISPLAYNAME_BYTES)?;
        let statement = sqlx::query(
            "INSERT INTO matrix_user (user_id, address, displayname) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET address = excluded.address, displayname = excluded.displayname",
        )
        .bind(user.user_id.clone())
        .bind(codec::address(&user.address))
        .bind(user.displayname.clone());
        self.execute_write(OPERATION, statement).await.map(drop)
    }

    /// Forgets a user; returns whether it was known.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn remove_matrix_user(&self, user_id: &str) -> Result<bool, StoreError> {
        const OPERATION: &str = "remove a Matrix user";
        let statement = sqlx::query("DELETE FROM matrix_user WHERE user_id = $1").bind(user_id.to_owned());
        Ok(self.execute_write(OPERATION, statement).await? == 1)
    }

    /// Every known user, by user id.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn matrix_users(&self) -> Result<Vec<MatrixUser>, StoreError> {
        const OPERATION: &str = "read Matrix users";
        let rows = sqlx::query("SELECT user_id, address, displayname FROM matrix_user ORDER BY user_id")
            .fetch_all(&self.readers)
            .await
            .map_err(StoreError::database(OPERATION))?;
        rows.iter()
            .map(|row| {
                let reader = RowReader::new(row, "matrix_user", OPERATION);
                let user_id = reader.text("user_id")?;
                let reader = reader.with_key(|| user_id.clone());
                let (address, displayname) = (reader.address("address")?, reader.text("displayname")?);
                drop(reader);
                Ok(MatrixUser { address, displayname, user_id })
            })
            .collect()
    }

    /// Saves the sync position (`next_batch`) after the sync's events are handled.
    ///
    /// # Errors
    /// [`StoreError::TooLong`] beyond [`MAX_SYNC_TOKEN_BYTES`]; [`StoreError::Database`].
    ///
    /// The service's writer does not use this: it records the token of a sync batch in the
    /// batch's [`crate::StateChanges`] ([`crate::StateChanges::record_sync_token`]), so the token
    /// and the batch's effects commit in one transaction.
    pub async fn save_sync_token(&self, next_batch: &str) -> Result<(), StoreError> {
        const OPERATION: &str = "save the Matrix sync token";
        check_sync_token(next_batch).map_err(StoreError::TooLong)?;
        self.execute_write(OPERATION, sync_token_statement(next_batch)).await.map(drop)
    }

    /// The saved sync position, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn sync_token(&self) -> Result<Option<String>, StoreError> {
        const OPERATION: &str = "read the Matrix sync token";
        sqlx::query_scalar("SELECT next_batch FROM matrix_sync WHERE id = 1")
            .fetch_optional(&self.readers)
            .await
            .map_err(StoreError::database(OPERATION))
    }

    /// Records since when `address` has been offline, or (`None`) that it is online again.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn set_seen_offline(
        &self,
        address: &Address,
        since: Option<SystemTime>,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "save an offline time";
        let statement = match since {
            Some(since) => sqlx::query(
                "INSERT INTO seen_offline (address, since) VALUES ($1, $2) \
                 ON CONFLICT (address) DO UPDATE SET since = excluded.since",
            )
            .bind(codec::address(address))
            .bind(codec::system_time(since)),
            None => sqlx::query("DELETE FROM seen_offline WHERE address = $1").bind(codec::address(address)),
        };
        self.execute_write(OPERATION, statement).await.map(drop)
    }

    /// Every address seen offline, with since when, by address.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Corrupt`].
    pub async fn seen_offline(&self) -> Result<Vec<(Address, SystemTime)>, StoreError> {
        const OPERATION: &str = "read offline times";
        let rows = sqlx::query("SELECT address, since FROM seen_offline ORDER BY address")
            .fetch_all(&self.readers)
            .await
            .map_err(StoreError::database(OPERATION))?;
        rows.iter()
            .map(|row| {
                let reader = RowReader::new(row, "seen_offline", OPERATION);
                Ok((reader.address("address")?, reader.system_time("since")?))
            })
            .collect()
    }
}
