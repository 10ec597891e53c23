//! How values are written into columns and read back: fixed-width big-endian bytes for integers
//! and addresses, microseconds for times. Every encoding here sorts like the value it encodes, in
//! SQLite (`memcmp` on BLOBs) and PostgreSQL (bytewise on BYTEA) alike.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::{B256, I256};
use pfs_core::{Address, ImbalancePenalty, NaiveTimestamp, U256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{CorruptReason, StoreError};

/// An address: its 20 bytes.
pub(crate) fn address(address: &Address) -> Vec<u8> {
    address.as_bytes().to_vec()
}

/// A `uint256`: 32 bytes, big-endian.
pub(crate) fn uint256(value: &U256) -> Vec<u8> {
    value.to_be_bytes::<32>().to_vec()
}

/// A `uint64`: 8 bytes, big-endian.
pub(crate) fn uint64(value: u64) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}

/// An `int256`: its two's complement, big-endian, with the sign bit flipped so that byte order is
/// numeric order.
pub(crate) fn int256(value: &I256) -> Vec<u8> {
    let mut bytes = value.to_be_bytes::<32>();
    bytes[0] ^= 0x80;
    bytes.to_vec()
}

/// An imbalance penalty: each point's `x` and `y` as 32 big-endian bytes, concatenated.
pub(crate) fn imbalance_penalty(penalty: &ImbalancePenalty) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(penalty.points().len() * 64);
    for (x, y) in penalty.points() {
        bytes.extend_from_slice(&x.to_be_bytes::<32>());
        bytes.extend_from_slice(&y.to_be_bytes::<32>());
    }
    bytes
}

/// A time as microseconds since the Unix epoch (negative before it, saturating far outside).
pub(crate) fn system_time(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |micros| -micros),
    }
}

/// The time `micros` microseconds after the Unix epoch.
pub(crate) fn to_system_time(micros: i64) -> SystemTime {
    let offset = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 { UNIX_EPOCH + offset } else { UNIX_EPOCH - offset }
}

/// Reads typed values out of one row, naming the table and the row's key in every error.
pub(crate) struct RowReader<'r> {
    row: &'r AnyRow,
    table: &'static str,
    operation: &'static str,
    key: Option<Box<dyn Fn() -> String + 'r>>,
}

impl<'r> RowReader<'r> {
    /// A reader for `row` of `table`, read during `operation`.
    pub(crate) fn new(row: &'r AnyRow, table: &'static str, operation: &'static str) -> Self {
        Self { row, table, operation, key: None }
    }

    /// Names the row in later errors; `key` runs only when an error is reported.
    pub(crate) fn with_key(mut self, key: impl Fn() -> String + 'r) -> Self {
        self.key = Some(Box::new(key));
        self
    }

    /// A corrupt-row error for this row.
    pub(crate) fn corrupt(&self, reason: CorruptReason) -> StoreError {
        StoreError::corrupt(self.table, self.key.as_ref().map(|key| key()).unwrap_or_default(), reason)
    }

    fn get<T>(&self, column: &'static str) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.row.try_get(column).map_err(StoreError::database(self.operation))
    }

    /// A BIGINT column.
    pub(crate) fn int(&self, column: &'static str) -> Result<i64, StoreError> {
        self.get(column)
    }

    /// A TEXT column.
    pub(crate) fn text(&self, column: &'static str) -> Result<String, StoreError> {
        self.get(column)
    }

    /// A nullable BYTEA column of exactly `N` bytes.
    pub(crate) fn optional_bytes<const N: usize>(
        &self,
        column: &'static str,
    ) -> Result<Option<[u8; N]>, StoreError> {
        let Some(bytes) = self.get::<Option<&[u8]>>(column)? else { return Ok(None) };
        <[u8; N]>::try_from(bytes)
            .map(Some)
            .map_err(|_| self.corrupt(CorruptReason::WrongLength { column, expected: N, found: bytes.len() }))
    }

    /// A BYTEA column of exactly `N` bytes.
    pub(crate) fn bytes<const N: usize>(&self, column: &'static str) -> Result<[u8; N], StoreError> {
        self.optional_bytes(column)?
            .ok_or_else(|| self.corrupt(CorruptReason::WrongLength { column, expected: N, found: 0 }))
    }

    /// An address column.
    pub(crate) fn address(&self, column: &'static str) -> Result<Address, StoreError> {
        self.bytes(column).map(Address::from_bytes)
    }

    /// A `uint256` column.
    pub(crate) fn uint256(&self, column: &'static str) -> Result<U256, StoreError> {
        self.bytes::<32>(column).map(U256::from_be_bytes)
    }

    /// An `int256` column written by [`int256`].
    pub(crate) fn int256(&self, column: &'static str) -> Result<I256, StoreError> {
        let mut bytes = self.bytes::<32>(column)?;
        bytes[0] ^= 0x80;
        Ok(I256::from_be_bytes(bytes))
    }

    /// A nullable `uint256` column.
    pub(crate) fn optional_uint256(&self, column: &'static str) -> Result<Option<U256>, StoreError> {
        Ok(self.optional_bytes::<32>(column)?.map(U256::from_be_bytes))
    }

    /// A `uint64` column.
    pub(crate) fn uint64(&self, column: &'static str) -> Result<u64, StoreError> {
        self.bytes(column).map(u64::from_be_bytes)
    }

    /// A nullable `uint64` column.
    pub(crate) fn optional_uint64(&self, column: &'static str) -> Result<Option<u64>, StoreError> {
        Ok(self.optional_bytes(column)?.map(u64::from_be_bytes))
    }

    /// A nullable imbalance penalty column (see [`imbalance_penalty`]).
    pub(crate) fn imbalance_penalty(
        &self,
        column: &'static str,
    ) -> Result<Option<ImbalancePenalty>, StoreError> {
        let Some(bytes) = self.get::<Option<&[u8]>>(column)? else { return Ok(None) };
        if bytes.len() % 64 != 0 {
            let expected = bytes.len().next_multiple_of(64);
            return Err(self.corrupt(CorruptReason::WrongLength { column, expected, found: bytes.len() }));
        }
        let points = bytes
            .chunks_exact(64)
            .map(|point| (U256::from_be_slice(&point[..32]), U256::from_be_slice(&point[32..])))
            .collect();
        ImbalancePenalty::new(points)
            .map(Some)
            .map_err(|error| self.corrupt(CorruptReason::ImbalancePenalty(error)))
    }

    /// A 32-byte hash column.
    pub(crate) fn hash(&self, column: &'static str) -> Result<B256, StoreError> {
        self.bytes(column).map(B256::from)
    }

    /// A time column (microseconds since the Unix epoch).
    pub(crate) fn system_time(&self, column: &'static str) -> Result<SystemTime, StoreError> {
        self.int(column).map(to_system_time)
    }

    /// A naive timestamp column (microseconds since the Unix epoch).
    pub(crate) fn timestamp(&self, column: &'static str) -> Result<NaiveTimestamp, StoreError> {
        let micros = self.int(column)?;
        NaiveTimestamp::from_unix_micros(micros)
            .ok_or_else(|| self.corrupt(CorruptReason::TimeOutOfRange { column, micros }))
    }

    /// A flag written as `CASE WHEN column THEN 1 ELSE 0 END` (booleans decode differently in
    /// each driver; an integer does not).
    pub(crate) fn flag(&self, column: &'static str) -> Result<bool, StoreError> {
        Ok(self.int(column)? != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_amounts_sort_by_their_bytes() {
        let values = [I256::MIN, I256::try_from(-5).unwrap(), I256::ZERO, I256::ONE, I256::MAX];
        let encoded: Vec<Vec<u8>> = values.iter().map(int256).collect();
        assert!(encoded.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn unsigned_amounts_sort_by_their_bytes() {
        let values = [U256::ZERO, U256::from(255), U256::from(256), U256::MAX];
        let encoded: Vec<Vec<u8>> = values.iter().map(uint256).collect();
        assert!(encoded.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn times_round_trip_on_both_sides_of_the_epoch() {
        for micros in [-1_234_567, 0, 1_700_000_000_123_456] {
            assert_eq!(system_time(to_system_time(micros)), micros);
        }
    }
}
