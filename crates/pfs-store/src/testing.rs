//! Throwaway databases for tests (feature `testing`): a SQLite file in a temporary directory, or
//! a fresh database on the PostgreSQL server named by [`POSTGRES_URL_VARIABLE`], so that one test
//! runs on either backend unchanged. `scripts/with-postgres` starts such a server on loopback
//! and sets the variable; `scripts/test` runs the store's tests and the service's SIGKILL test
//! both ways.
//!
//! PostgreSQL databases are left on the server: the server is as throwaway as the database
//! (`scripts/with-postgres` removes it when its command ends).

use std::path::{Path, PathBuf};

/// Set to a PostgreSQL server URL without a database (e.g. `postgres://pfs@127.0.0.1:5432`) to
/// run tests on it, each in a fresh database, instead of on SQLite files.
pub const POSTGRES_URL_VARIABLE: &str = "PFS_STORE_TEST_POSTGRES_URL";

/// A fresh database for one test. The temporary directory (and a SQLite file in it) is removed
/// on drop.
#[derive(Debug)]
pub struct TestDatabase {
    directory: tempfile::TempDir,
    path: PathBuf,
    postgres: Option<String>,
}

impl TestDatabase {
    /// A database on the configured backend: a new PostgreSQL database if
    /// [`POSTGRES_URL_VARIABLE`] is set, else a SQLite file.
    ///
    /// # Panics
    /// If no temporary directory can be made, or the PostgreSQL server refuses the connection or
    /// the `CREATE DATABASE` (a test cannot go on without its database).
    pub async fn new() -> Self {
        let mut database = Self::sqlite();
        if let Ok(server) = std::env::var(POSTGRES_URL_VARIABLE) {
            // Named after the temporary directory, which is unique on this machine.
            let directory_name =
                database.directory.path().file_name().and_then(|name| name.to_str()).unwrap_or("x");
            let name: String = format!("pfs_test_{directory_name}")
                .chars()
                .map(
                    |character| {
                        if character.is_ascii_alphanumeric() { character.to_ascii_lowercase() } else { '_' }
                    },
                )
                .collect();
            sqlx::any::install_default_drivers();
            let mut connection =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&format!("{server}/postgres"))
                    .await
                    .expect("the PostgreSQL server accepts connections");
            sqlx::Executor::execute(&mut connection, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .expect("a fresh database");
            database.postgres = Some(format!("{server}/{name}"));
        }
        database
    }

    /// A SQLite file (not created yet), whatever the configured backend: for tests of SQLite
    /// itself.
    ///
    /// # Panics
    /// If no temporary directory can be made.
    pub fn sqlite() -> Self {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("pfs.db");
        Self { directory, path, postgres: None }
    }

    /// What `StoreConfig::new` and the service's `--db` take: the PostgreSQL URL or the SQLite
    /// file's path.
    pub fn location(&self) -> String {
        match &self.postgres {
            Some(url) => url.clone(),
            None => self.path.to_string_lossy().into_owned(),
        }
    }

    /// The SQLite file's path (unused on PostgreSQL).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the database is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }
}
