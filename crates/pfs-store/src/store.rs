//! Opening a database: where it is, how SQLite is tuned, schema migrations and the version and
//! deployment checks that make a start on the wrong database fail loudly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pfs_core::{Address, ChainId};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, AssertSqlSafe, ConnectOptions, Executor, Row, Transaction};

use crate::codec::{self, RowReader};
use crate::error::StoreError;
use crate::lease::ServiceLease;

/// The embedded schema migrations (`migrations/` of this crate), applied in order at start-up.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The table sqlx records applied migrations in.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// How SQLite makes a commit durable (its `synchronous` setting in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is synced at every commit; a committed transaction survives a
    /// process crash and a power loss. The default, because an accepted update must survive both.
    #[default]
    Full,
    /// `synchronous=NORMAL`: the WAL is synced only at checkpoints; a commit survives a process
    /// crash (kill -9) but the last commits may be lost on power loss or an OS crash.
    Normal,
}

/// Where the database is and how to use it.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A file path (SQLite, created with its parent directories if missing), a `sqlite:` URL, or
    /// a `postgres://` URL.
    pub location: String,
    /// SQLite's commit durability (ignored by PostgreSQL, whose commits are always durable).
    pub durability: Durability,
    /// Connections for readers (route-independent queries, loading, exports).
    pub readers: u32,
    /// How many recent block hashes to keep for reorganisation detection.
    pub recent_blocks: u64,
    /// How long a statement waits for a lock held by another connection or process.
    pub busy_timeout: Duration,
}

impl StoreConfig {
    /// Defaults for `location`: full durability, 4 readers, 128 recent blocks, 5 s busy timeout.
    pub fn new(location: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            durability: Durability::Full,
            readers: 4,
            recent_blocks: 128,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The deployment a database belongs to. Saved at creation and compared at every start, like the
/// reference (`spec/REFERENCE-PFS.md` §5.1): a database of another chain or contract set would
/// silently serve wrong routes and take wrong payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// The chain followed.
    pub chain_id: ChainId,
    /// The TokenNetworkRegistry contract followed.
    pub token_network_registry: Address,
    /// The UserDeposit contract IOUs are paid from.
    pub user_deposit: Address,
    /// The service's own address, the receiver of IOUs.
    pub receiver: Address,
}

/// The database engines the store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, in a file, in write-ahead-logging mode.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// An open database: one connection for writes (the service has a single writer; SQLite allows
/// only one writer at a time anyway) and a pool of readers.
///
/// Cloning is cheap and shares the connections.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) writer: AnyPool,
    pub(crate) readers: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) recent_blocks: u64,
    deployment: Deployment,
    location: String,
}

impl Store {
    /// Opens (or creates) the database, applies pending schema migrations, and saves or checks
    /// the deployment.
    ///
    /// # Errors
    /// [`StoreError::InvalidLocation`] or [`StoreError::Connect`] if the database cannot be
    /// opened; [`StoreError::NoWriteAheadLog`] if SQLite cannot use WAL there;
    /// [`StoreError::SchemaTooNew`] if a newer raiden-pfs wrote it; [`StoreError::Migrate`] if a
    /// migration fails; [`StoreError::DeploymentMismatch`] if it belongs to another deployment.
    pub async fn open(config: &StoreConfig, deployment: &Deployment) -> Result<Self, StoreError> {
        let (store, location) = Self::connect(config, deployment).await?;
        store.prepare(&location).await?;
        Ok(store)
    }

    /// As [`Store::open`], for the service: takes the service lease first (waiting up to
    /// `lease_wait`, see [`Store::take_service_lease`]), so that a second service neither
    /// migrates the schema under the running one nor loads a state that would then diverge.
    ///
    /// # Errors
    /// As [`Store::open`] and [`Store::take_service_lease`].
    pub async fn open_for_service(
        config: &StoreConfig,
        deployment: &Deployment,
        lease_wait: Duration,
    ) -> Result<(Self, ServiceLease), StoreError> {
        let (store, location) = Self::connect(config, deployment).await?;
        let lease = store.take_service_lease(lease_wait).await?;
        store.prepare(&location).await?;
        Ok((store, lease))
    }

    /// Connects the writer and the readers, checking nothing yet.
    async fn connect(config: &StoreConfig, deployment: &Deployment) -> Result<(Self, Location), StoreError> {
        let location = Location::parse(&config.location, Access::ReadWrite)?;
        let writer = location.pool(config, Role::Writer).await?;
        let readers = location.pool(config, Role::Reader).await?;
        let store = Self {
            writer,
            readers,
            backend: location.backend,
            recent_blocks: config.recent_blocks.max(1),
            deployment: *deployment,
            location: location.display.clone(),
        };
        Ok((store, location))
    }

    /// Switches SQLite to write-ahead logging, applies pending migrations and saves or checks
    /// the deployment.
    async fn prepare(&self, location: &Location) -> Result<(), StoreError> {
        let mut connection = self.writer.acquire().await.map_err(|source| location.connect_error(source))?;
        if location.backend == Backend::Sqlite {
            check_write_ahead_log(&mut connection, location).await?;
        }
        check_not_newer(&mut connection).await?;
        MIGRATOR.run_direct(None, &mut *connection, false).await?;
        check_deployment(&mut connection, &self.deployment).await?;
        Ok(())
    }

    /// Opens an existing database for reading only (exports, inspection): nothing is created or
    /// migrated, and the deployment is read rather than checked.
    ///
    /// # Errors
    /// [`StoreError::InvalidLocation`] or [`StoreError::Connect`] if it cannot be opened;
    /// [`StoreError::SchemaVersionMismatch`] unless its schema is exactly this binary's (a
    /// database never initialised has version 0); [`StoreError::Corrupt`] if the deployment row
    /// is damaged.
    pub async fn open_read_only(location: &str) -> Result<Self, StoreError> {
        let config = StoreConfig { readers: 2, ..StoreConfig::new(location) };
        let location = Location::parse(location, Access::ReadOnly)?;
        let readers = location.pool(&config, Role::Reader).await?;
        let mut connection = readers.acquire().await.map_err(|source| location.connect_error(source))?;
        let database = applied_version(&mut connection).await?;
        let supported = supported_version();
        if database != supported {
            return Err(StoreError::SchemaVersionMismatch { database, supported });
        }
        let deployment = read_deployment(&mut connection)
            .await?
            .ok_or(StoreError::SchemaVersionMismatch { database: 0, supported })?;
        drop(connection);
        Ok(Self {
            writer: readers.clone(),
            readers,
            backend: location.backend,
            recent_blocks: config.recent_blocks,
            deployment,
            location: location.display,
        })
    }

    /// The deployment the database belongs to.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The engine behind the store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the database is (a URL's password is not shown).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Closes every connection, waiting for running statements.
    pub async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }

    /// Starts a write transaction that holds the write lock from its first statement: SQLite's
    /// `BEGIN IMMEDIATE`, so that a read-then-write transaction can never fail half-way with
    /// "database is locked" and two writers are serialised, also across processes.
    pub(crate) async fn begin_write(
        &self,
        operation: &'static str,
    ) -> Result<Transaction<'static, Any>, StoreError> {
        let begin = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        };
        begin.map_err(StoreError::database(operation))
    }

    /// Runs one statement in its own write transaction; returns the rows it affected.
    pub(crate) async fn execute_write(
        &self,
        operation: &'static str,
        statement: Query<'_, Any, <Any as sqlx::Database>::Arguments>,
    ) -> Result<u64, StoreError> {
        let mut transaction = self.begin_write(operation).await?;
        let result = statement.execute(&mut *transaction).await.map_err(StoreError::database(operation))?;
        transaction.commit().await.map_err(StoreError::database(operation))?;
        Ok(result.rows_affected())
    }

    /// Starts a read transaction that sees one consistent snapshot.
    pub(crate) async fn begin_read(
        &self,
        operation: &'static str,
    ) -> Result<Transaction<'static, Any>, StoreError> {
        let begin = match self.backend {
            Backend::Sqlite => self.readers.begin().await,
            Backend::Postgres => {
                self.readers.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
            }
        };
        begin.map_err(StoreError::database(operation))
    }
}

/// The newest schema version this binary knows.
pub fn supported_version() -> i64 {
    MIGRATOR.iter().map(|migration| migration.version).max().unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

/// A parsed database location.
struct Location {
    backend: Backend,
    options: AnyConnectOptions,
    /// For messages: the URL without its password.
    display: String,
}

impl Location {
    fn parse(location: &str, access: Access) -> Result<Self, StoreError> {
        let invalid = |reason| StoreError::InvalidLocation { location: redact(location), reason };
        let (backend, url) = if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            (Backend::Postgres, location.to_owned())
        } else if location.starts_with("sqlite:") {
            // A read-only open never creates or writes the file, whatever the URL asks.
            match (access, location.split_once('?')) {
                (Access::ReadWrite, _) => (Backend::Sqlite, location.to_owned()),
                (Access::ReadOnly, None) => (Backend::Sqlite, format!("{location}?mode=ro")),
                (Access::ReadOnly, Some((path, query))) => {
                    let parameters: Vec<&str> =
                        query.split('&').filter(|parameter| !parameter.starts_with("mode=")).collect();
                    (
                        Backend::Sqlite,
                        format!("{path}?{}", [&["mode=ro"], &parameters[..]].concat().join("&")),
                    )
                }
            }
        } else if location.contains("://") {
            return Err(invalid("only file paths, sqlite: and postgres:// URLs are supported"));
        } else if location.is_empty() || location == ":memory:" {
            return Err(invalid("the store needs a database file (in-memory databases are not shared)"));
        } else {
            (Backend::Sqlite, sqlite_file_url(Path::new(location), access)?)
        };
        let options = url
            .parse::<AnyConnectOptions>()
            .map_err(|_| invalid("not a valid URL"))?
            .disable_statement_logging();
        Ok(Self { backend, options, display: redact(location) })
    }

    fn connect_error(&self, source: sqlx::Error) -> StoreError {
        StoreError::Connect { location: self.display.clone(), source }
    }

    async fn pool(&self, config: &StoreConfig, role: Role) -> Result<AnyPool, StoreError> {
        sqlx::any::install_default_drivers();
        let connections = match (self.backend, role) {
            (Backend::Sqlite, Role::Writer) => 1,
            (Backend::Postgres, Role::Writer) => 8,
            (_, Role::Reader) => config.readers.max(1),
        };
        let pragmas = match self.backend {
            Backend::Postgres => Vec::new(),
            Backend::Sqlite => {
                let mut pragmas = vec![
                    format!("PRAGMA busy_timeout = {}", config.busy_timeout.as_millis()),
                    "PRAGMA foreign_keys = ON".to_owned(),
                ];
                match role {
                    Role::Writer => pragmas.push(match config.durability {
                        Durability::Full => "PRAGMA synchronous = FULL".to_owned(),
                        Durability::Normal => "PRAGMA synchronous = NORMAL".to_owned(),
                    }),
                    // Memory-mapped reads spare a system call per page when loading the state.
                    Role::Reader => pragmas.extend([
                        "PRAGMA query_only = ON".to_owned(),
                        "PRAGMA mmap_size = 1073741824".to_owned(),
                    ]),
                }
                pragmas
            }
        };
        AnyPoolOptions::new()
            .max_connections(connections)
            .min_connections(0)
            .acquire_timeout(config.busy_timeout.max(Duration::from_secs(30)))
            .after_connect(move |connection, _| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    for pragma in pragmas {
                        connection.execute(AssertSqlSafe(pragma)).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(self.options.clone())
            .await
            .map_err(|source| self.connect_error(source))
    }
}

/// The `sqlite:` URL of a database file, creating its parent directories when writing.
fn sqlite_file_url(path: &Path, access: Access) -> Result<String, StoreError> {
    let invalid = |reason| StoreError::InvalidLocation { location: path.display().to_string(), reason };
    let absolute: PathBuf = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().map_err(|_| invalid("the current directory is not accessible"))?.join(path)
    };
    if access == Access::ReadWrite
        && let Some(parent) = absolute.parent()
    {
        std::fs::create_dir_all(parent).map_err(|_| invalid("its directory cannot be created"))?;
    }
    let text = absolute.to_str().ok_or_else(|| invalid("the path is not UTF-8"))?;
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(char::from(byte))
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    let mode = match access {
        Access::ReadWrite => "rwc",
        Access::ReadOnly => "ro",
    };
    Ok(format!("sqlite://{encoded}?mode={mode}"))
}

/// A location without the password of a URL.
fn redact(location: &str) -> String {
    match location.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            None => location.to_owned(),
        },
        None => location.to_owned(),
    }
}

async fn check_write_ahead_log(
    connection: &mut PoolConnection<Any>,
    location: &Location,
) -> Result<(), StoreError> {
    let row = sqlx::query("PRAGMA journal_mode = WAL")
        .fetch_one(&mut **connection)
        .await
        .map_err(StoreError::database("switch to write-ahead logging"))?;
    let journal_mode: String =
        row.try_get(0).map_err(StoreError::database("switch to write-ahead logging"))?;
    if journal_mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StoreError::NoWriteAheadLog { location: location.display.clone(), journal_mode })
    }
}

/// The latest migration applied to the database, 0 if none.
async fn applied_version(connection: &mut PoolConnection<Any>) -> Result<i64, StoreError> {
    let exists = match connection.backend_name() {
        "PostgreSQL" => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations'"
        }
        _ => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    };
    let count: i64 = sqlx::query_scalar(exists)
        .fetch_one(&mut **connection)
        .await
        .map_err(StoreError::database("read the schema version"))?;
    if count == 0 {
        return Ok(0);
    }
    let applied = connection.list_applied_migrations(MIGRATIONS_TABLE).await?;
    Ok(applied.iter().map(|migration| migration.version).max().unwrap_or(0))
}

async fn check_not_newer(connection: &mut PoolConnection<Any>) -> Result<(), StoreError> {
    let database = applied_version(connection).await?;
    let supported = supported_version();
    if database > supported {
        return Err(StoreError::SchemaTooNew { database, supported });
    }
    Ok(())
}

async fn read_deployment(connection: &mut PoolConnection<Any>) -> Result<Option<Deployment>, StoreError> {
    const OPERATION: &str = "read the deployment";
    let row = sqlx::query(
        "SELECT chain_id, token_network_registry, user_deposit, receiver FROM deployment WHERE id = 1",
    )
    .fetch_optional(&mut **connection)
    .await
    .map_err(StoreError::database(OPERATION))?;
    let Some(row) = row else { return Ok(None) };
    let reader = RowReader::new(&row, "deployment", OPERATION).with_key(|| "1".to_owned());
    Ok(Some(Deployment {
        chain_id: ChainId(reader.uint64("chain_id")?),
        token_network_registry: reader.address("token_network_registry")?,
        user_deposit: reader.address("user_deposit")?,
        receiver: reader.address("receiver")?,
    }))
}

async fn check_deployment(
    connection: &mut PoolConnection<Any>,
    configured: &Deployment,
) -> Result<(), StoreError> {
    let Some(stored) = read_deployment(connection).await? else {
        sqlx::query(
            "INSERT INTO deployment (id, chain_id, token_network_registry, user_deposit, receiver) \
             VALUES (1, $1, $2, $3, $4)",
        )
        .bind(codec::uint64(configured.chain_id.0))
        .bind(codec::address(&configured.token_network_registry))
        .bind(codec::address(&configured.user_deposit))
        .bind(codec::address(&configured.receiver))
        .execute(&mut **connection)
        .await
        .map_err(StoreError::database("save the deployment"))?;
        return Ok(());
    };
    let mismatch = |setting, stored: String, configured: String| {
        Err(StoreError::DeploymentMismatch { setting, stored, configured })
    };
    if stored.chain_id != configured.chain_id {
        return mismatch("chain id", stored.chain_id.to_string(), configured.chain_id.to_string());
    }
    let addresses = [
        ("token network registry", stored.token_network_registry, configured.token_network_registry),
        ("user deposit contract", stored.user_deposit, configured.user_deposit),
        ("service address", stored.receiver, configured.receiver),
    ];
    for (setting, stored, configured) in addresses {
        if stored != configured {
            return mismatch(setting, stored.to_checksum(), configured.to_checksum());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("postgres://pfs:secret@127.0.0.1/pfs"), "postgres://pfs:***@127.0.0.1/pfs");
        assert_eq!(redact("/var/lib/pfs.db"), "/var/lib/pfs.db");
    }

    #[test]
    fn file_paths_become_percent_encoded_sqlite_urls() {
        let url = sqlite_file_url(Path::new("/tmp/a b?#.db"), Access::ReadOnly).unwrap();
        assert_eq!(url, "sqlite:///tmp/a%20b%3F%23.db?mode=ro");
    }

    #[test]
    fn read_only_sqlite_urls_are_forced_to_read_only_mode() {
        let location =
            Location::parse("sqlite:///tmp/pfs.db?mode=rwc&cache=shared", Access::ReadOnly).unwrap();
        assert_eq!(location.options.database_url.as_str(), "sqlite:///tmp/pfs.db?mode=ro&cache=shared");
        let location = Location::parse("sqlite:///tmp/pfs.db", Access::ReadOnly).unwrap();
        assert_eq!(location.options.database_url.as_str(), "sqlite:///tmp/pfs.db?mode=ro");
    }

    #[test]
    fn other_schemes_and_memory_databases_are_refused() {
        for location in ["mysql://localhost/pfs", ":memory:", ""] {
            assert!(matches!(
                Location::parse(location, Access::ReadWrite),
                Err(StoreError::InvalidLocation { .. })
            ));
        }
    }
}
