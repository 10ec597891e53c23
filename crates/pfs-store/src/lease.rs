//! The service lease: at most one raiden-pfs service writes its state to a database at a time.
//!
//! The service keeps its state in memory and commits the *current rows* of what it changed (see
//! the crate docs). Two services on one database would each overwrite the rows the other wrote
//! with their own view of them, so updates that one of them acknowledged would be lost without
//! an error anywhere, and a newer version started beside an older one would migrate the schema
//! under it. `raiden-pfs serve` therefore opens the database with
//! [`Store::open_for_service`], which takes this lease before it migrates anything, and holds it
//! until it stops; a second service on the same database is refused with
//! [`StoreError::ServiceLeaseHeld`]. Tools that only add to the state in transactions of their
//! own while the service runs (`claim-fees` marks IOUs claimed) do not take it.
//!
//! The lease is a lock that the operating system or the database server drops when its holder
//! dies, so a crash never leaves a stale lease behind and a restart after `kill -9` is not kept
//! waiting:
//!
//! * SQLite: an exclusive `flock` on `<database file>.lock`, beside the database. Not on the
//!   database file itself: closing any descriptor of a file drops all of the process's POSIX
//!   locks on it, SQLite's own included.
//! * PostgreSQL: a session-level advisory lock, held by a connection of the lease's own. If the
//!   server ends that session (a restart, a network failure), the lock goes with it while the
//!   service runs on; the lease guards against a second service started by mistake, it is not a
//!   fencing mechanism.
//!
//! A holder that was just killed may still hold the lock for a moment (PostgreSQL notices the
//! closed connection asynchronously), so taking the lease retries for a while ([`LEASE_WAIT`] in
//! the service) before it gives up.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::time::Duration;

use sqlx::{AnyConnection, Connection};

use crate::error::StoreError;
use crate::store::{Backend, Store};

/// How long the service waits for a previous holder of the lease to go away.
pub const LEASE_WAIT: Duration = Duration::from_secs(5);

/// How often it tries in that time.
const RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// The PostgreSQL advisory lock of the lease, in the two-key space (which no single-key lock,
/// such as the IOU ledger's per-sender locks, can collide with): "pfs" and 1.
const ADVISORY_LOCK: (i32, i32) = (0x0070_6673, 1);

/// Proof that this process is the one service writing to the database; the lease ends when it
/// is dropped or [released](Self::release).
#[derive(Debug)]
pub struct ServiceLease {
    holder: Holder,
}

#[derive(Debug)]
enum Holder {
    /// The lock file and its path (the lock goes with the descriptor).
    LockFile { file: File, path: PathBuf },
    /// The session holding the advisory lock.
    Session(AnyConnection),
    /// A database no other process can open (SQLite in memory).
    Private,
}

impl Store {
    /// Takes the service lease of this database (see the module docs), waiting up to `wait`
    /// for a previous holder to go away.
    ///
    /// # Errors
    /// [`StoreError::ServiceLeaseHeld`] if another service still holds it after that;
    /// [`StoreError::LeaseFile`] if the SQLite lock file cannot be opened or locked;
    /// [`StoreError::Database`] if PostgreSQL does not answer.
    pub async fn take_service_lease(&self, wait: Duration) -> Result<ServiceLease, StoreError> {
        let mut waited = Duration::ZERO;
        let mut holder = self.lease_holder().await?;
        loop {
            if holder.try_lock().await? {
                return Ok(ServiceLease { holder });
            }
            if waited >= wait {
                return Err(StoreError::ServiceLeaseHeld { location: self.location().to_owned() });
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
            waited += RETRY_INTERVAL;
        }
    }

    /// What will hold the lease, not locked yet.
    async fn lease_holder(&self) -> Result<Holder, StoreError> {
        const OPERATION: &str = "take the service lease";
        match self.backend {
            Backend::Postgres => {
                let connection = self.writer.acquire().await.map_err(StoreError::database(OPERATION))?;
                Ok(Holder::Session(connection.detach()))
            }
            Backend::Sqlite => {
                let file: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(&self.writer)
                        .await
                        .map_err(StoreError::database(OPERATION))?;
                if file.is_empty() {
                    return Ok(Holder::Private);
                }
                let path = PathBuf::from(format!("{file}.lock"));
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|source| StoreError::LeaseFile { path: path.clone(), source })?;
                Ok(Holder::LockFile { file, path })
            }
        }
    }
}

impl Holder {
    /// Tries to lock once; `Ok(false)` if another holder has the lock.
    async fn try_lock(&mut self) -> Result<bool, StoreError> {
        match self {
            Self::LockFile { file, path } => match file.try_lock() {
                Ok(()) => Ok(true),
                Err(TryLockError::WouldBlock) => Ok(false),
                Err(TryLockError::Error(source)) => Err(StoreError::LeaseFile { path: path.clone(), source }),
            },
            Self::Session(connection) => sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                .bind(ADVISORY_LOCK.0)
                .bind(ADVISORY_LOCK.1)
                .fetch_one(&mut *connection)
                .await
                .map_err(StoreError::database("take the service lease")),
            Self::Private => Ok(true),
        }
    }
}

impl ServiceLease {
    /// Ends the lease now. Dropping it ends it too, but on PostgreSQL only once the server has
    /// noticed the closed connection; this returns once the lock is released.
    pub async fn release(self) {
        match self.holder {
            Holder::Session(mut connection) => {
                // Unlocked before the session ends, so that the next holder need not wait for
                // the server to notice the closed connection. An error means the session is gone
                // already, and its locks with it.
                let _ = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                    .bind(ADVISORY_LOCK.0)
                    .bind(ADVISORY_LOCK.1)
                    .execute(&mut connection)
                    .await;
                let _ = connection.close().await;
            }
            Holder::LockFile { file, .. } => drop(file),
            Holder::Private => {}
        }
    }
}
