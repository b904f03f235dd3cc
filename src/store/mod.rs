//! Everything hedge keeps on disk: one SQLite database (WAL mode) holding
//! the query log, legal holds on it and the record of who searched it.
//!
//! The DNS path only ever hands entries to [`QueryLog`], which never waits;
//! one writer task turns them into batched transactions. Retention, holds
//! and searches run beside it on the same database.

mod access;
mod alerts;
mod audit;
pub mod central;
mod counts;
mod devices;
mod exemptions;
mod holds;
mod incidents;
mod mail;
mod migrations;
mod people;
mod record;
mod repeats;
mod report;
mod retention;
mod search;
mod sessions;
mod writer;

pub use access::{AccessKind, AccessRecord};
pub use alerts::{Alert, AlertEvent, AlertHit, AlertQueue, AlertSelection, Delivery};
pub use audit::{AuditEntry, AuditLock, AuditRow, ChainCheck, GENESIS, row_hash};
pub use devices::StoredDevice;
pub use exemptions::ExemptionSelection;
pub use holds::LegalHold;
pub use incidents::{Incident, IncidentEntry, IncidentSummary};
pub use mail::{MailFailure, MailKind, MailSummary};
pub use people::{ChangedBy, Credentials, Person};
pub use record::{
    Action, MAX_REPEAT_WINDOW_MS, QueryRecord, StoredQuery, ip_key, name_from_key, name_key,
};
pub use repeats::{Repeats, Row as LogRow};
pub use report::{
    AlertSummary, CategoryCount, ClientCount, DayCount, ExemptionSummary, GroupCount, NameCount,
    Report, ReportContext, ReportRequest, Totals,
};
pub use retention::{PurgeReport, ShippingGuard, purge, purge_preview};
pub use search::{LogFilter, NamePattern, SearchPlan};
pub use sessions::{ConsoleSession, SIGNIN_FAILURE_WINDOW_MS};
pub use writer::{LogStatus, QueryLog, WriterHandle, spawn_writer};

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::OnceCell;

/// How long a statement waits for another writer (a purge, a second
/// process) before it fails and the caller retries.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {}: {source}", path.display())]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("database {}: cannot bring its tables up to date: {source}", path.display())]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("the query log database {} is not open: {reason}", path.display())]
    NotOpen { path: PathBuf, reason: String },
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Invalid(String),
    /// What was asked for is not on record.
    #[error("{0}")]
    NotFound(String),
    /// The record is not in a state that allows the change (a request
    /// already decided, an alert already acknowledged).
    #[error("{0}")]
    Conflict(String),
}

/// Makes sure only hedge's user (and its group, if an operator chose so)
/// can read the database: children's browsing is in it. A new file is made
/// 0600 before SQLite opens it (SQLite gives its -wal and -shm files the
/// same mode); an existing one readable by everyone loses that, with a
/// warning. Failing to change a file hedge does not own is only warned of.
fn keep_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => return Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o007 == 0 {
            continue;
        }
        let private = mode & 0o770;
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(private)) {
            Ok(()) => tracing::warn!(
                "{} was readable by every user ({mode:04o}); made it {private:04o}",
                file.display()
            ),
            Err(error) => tracing::warn!(
                "{} is readable by every user ({mode:04o}) and cannot be changed: {error}",
                file.display()
            ),
        }
    }
    Ok(())
}

/// An open database with its tables up to date.
#[derive(Debug, Clone)]
pub struct Database {
    pool: SqlitePool,
    path: PathBuf,
    options: SqliteConnectOptions,
}

impl Database {
    /// Opens (creating if needed) the database at `path` and applies the
    /// migrations it has not seen.
    pub async fn open(path: &Path) -> Result<Database, StoreError> {
        let open = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open(sqlx::Error::Io(e)))?;
        }
        keep_private(path).map_err(|e| open(sqlx::Error::Io(e)))?;
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open)?
            .filename(path)
            .create_if_missing(true)
            // Set before the first table exists; it cannot change later.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a crash of hedge loses nothing committed; a power
            // cut may lose the last moments but never corrupts.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            // A small page cache on every connection: with 32 MB the
            // writer took no more entries a second without drops than with
            // 0.5 MB (benches/README.md), and its cache filled to the 32
            // MB over minutes. Fold the WAL back less often (each page
            // once per checkpoint, however often it changed).
            .pragma("cache_size", "-500")
            .pragma("wal_autocheckpoint", "8192")
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .acquire_timeout(BUSY_TIMEOUT * 2)
            // A connection opened while the file was read-only stays so:
            // renew them, so that fixing the file is enough.
            .idle_timeout(Duration::from_secs(60))
            .max_lifetime(Duration::from_secs(600))
            .connect_with(options.clone())
            .await
            .map_err(open)?;
        migrations::run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Database {
            pool,
            path: path.to_path_buf(),
            options,
        })
    }

    /// A connection of its own, outside the pool (the writer's, which it
    /// drops and opens again after any failure).
    pub async fn connect(&self) -> Result<SqliteConnection, sqlx::Error> {
        self.options.connect().await
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The database as the server shares it: opened once by the writer (which
/// keeps trying while it cannot), read by retention and the admin socket.
#[derive(Debug)]
pub struct Storage {
    path: PathBuf,
    database: OnceCell<Database>,
    last_error: Mutex<Option<String>>,
    audit_lock: AuditLock,
}

impl Storage {
    pub fn new(path: PathBuf) -> Storage {
        Storage {
            path,
            database: OnceCell::new(),
            last_error: Mutex::new(Some("not opened yet".into())),
            audit_lock: AuditLock::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open database, or why there is none.
    pub fn get(&self) -> Result<&Database, StoreError> {
        self.database.get().ok_or_else(|| StoreError::NotOpen {
            path: self.path.clone(),
            reason: self
                .last_error
                .lock()
                .expect("not poisoned")
                .clone()
                .unwrap_or_default(),
        })
    }

    /// Tries once to open the database; remembers the error for status.
    pub async fn try_open(&self) -> Result<&Database, StoreError> {
        let result = self
            .database
            .get_or_try_init(|| Database::open(&self.path))
            .await;
        *self.last_error.lock().expect("not poisoned") =
            result.as_ref().err().map(ToString::to_string);
        result
    }

    /// Appends `entry` to the audit trail.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<AuditRow, StoreError> {
        self.get()?.audit(&self.audit_lock, entry).await
    }

    /// The lock every audit append in this server takes.
    pub fn audit_lock(&self) -> &AuditLock {
        &self.audit_lock
    }

    /// Notes a failure of the open database (a write that failed).
    pub fn note_error(&self, error: Option<String>) {
        *self.last_error.lock().expect("not poisoned") = error;
    }

    /// The last problem, if the database is failing now.
    pub fn problem(&self) -> Option<String> {
        self.last_error.lock().expect("not poisoned").clone()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
