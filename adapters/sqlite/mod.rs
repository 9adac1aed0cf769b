//! SQLite `Store` on sqlx: the embedded default, one file on a disk (or a
//! volume), no server. Writes go through one connection, so they never
//! wait on each other's locks inside SQLite; reads use a small pool beside
//! it (WAL lets them run while a write commits). Every commit is synced
//! (`synchronous = FULL`): an acknowledged turn survives `kill -9` and a
//! power cut. Driver errors are translated here; the core never sees a
//! `sqlx::Error`.

use super::cipher::Cipher;
use super::sql::Sealer;
use crate::core::ports::{PoolReport, StorageReport, StoreAdmin, StoreError};
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod api_keys;
mod backup;
mod characters;
mod idempotency;
mod jobs;
mod memories;
mod rows;
mod sessions;
mod world;

pub use backup::{
    BackupSchedule, backup_name, latest_backup, prune_backups, restore_file, verify_backup,
};

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteOptions {
    /// The database file; its folder is created when missing.
    pub path: PathBuf,
    /// Encrypts message and memory text (and stored turns) at rest.
    pub cipher: Option<Arc<Cipher>>,
    /// Connections that read; writes have their own one.
    pub readers: u32,
    /// How long a request waits for a connection (or a lock) before 503.
    pub acquire_timeout: Duration,
    /// Bound on one statement.
    pub query_timeout: Duration,
    /// Where the platform mounted a volume (Railway's
    /// `RAILWAY_VOLUME_MOUNT_PATH`), to tell whether the file is on it.
    pub volume: Option<PathBuf>,
}

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    path: PathBuf,
    volume: Option<PathBuf>,
    migrated: AtomicBool,
    query_timeout: Duration,
    sealer: Sealer,
}

/// Times as PostgreSQL keeps them, to the microsecond: a world moved
/// between the stores reads back the same.
fn micros(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}

/// Bounds a sqlx future and translates its error at the adapter's edge.
trait Within<T>: Future<Output = Result<T, sqlx::Error>> + Sized {
    async fn within(self, limit: Duration) -> Result<T, StoreError> {
        match tokio::time::timeout(limit, self).await {
            Ok(result) => result.map_err(map_err),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer from SQLite within {} ms",
                limit.as_millis()
            ))),
        }
    }
}

impl<T, F: Future<Output = Result<T, sqlx::Error>>> Within<T> for F {}

fn map_err(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(err.to_string())
        }
        sqlx::Error::Database(db) => {
            use sqlx::error::ErrorKind;
            match db.kind() {
                // The conflict is the client's to know; the database's
                // wording (constraint and table names) stays in the log.
                ErrorKind::UniqueViolation => {
                    tracing::debug!(detail = db.message(), "unique violation");
                    StoreError::Conflict("it already exists".into())
                }
                ErrorKind::ForeignKeyViolation => {
                    tracing::debug!(detail = db.message(), "foreign key violation");
                    StoreError::Conflict("something it refers to does not exist".into())
                }
                _ => {
                    let primary = db
                        .code()
                        .and_then(|code| code.parse::<i32>().ok())
                        .map(|code| code & 0xff);
                    match primary {
                        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR,
                        // SQLITE_FULL, SQLITE_CANTOPEN: the file or its disk,
                        // not the request.
                        Some(5 | 6 | 10 | 13 | 14) => {
                            StoreError::Unavailable(db.message().to_owned())
                        }
                        _ => StoreError::Internal(err.to_string()),
                    }
                }
            }
        }
        _ => StoreError::Internal(err.to_string()),
    }
}

impl SqliteStore {
    /// Creates the folder and the file when missing and refuses a path it
    /// cannot write; the pools connect on first use.
    pub fn open(options: &SqliteOptions) -> Result<Self, StoreError> {
        check_writable(&options.path)?;
        let connect = SqliteConnectOptions::new()
            .filename(&options.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.acquire_timeout)
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        // Each wait for a connection becomes virlife_db_pool_wait_seconds
        // (through a trace event telemetry listens for).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .acquire_time_level(log::LevelFilter::Trace)
            .connect_lazy_with(connect.clone());
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .acquire_time_level(log::LevelFilter::Trace)
            .idle_timeout(Duration::from_secs(300))
            .connect_lazy_with(connect.create_if_missing(false));
        Ok(Self {
            writer,
            reader,
            path: options.path.clone(),
            volume: options.volume.clone(),
            migrated: AtomicBool::new(false),
            query_timeout: options.query_timeout,
            sealer: Sealer::new(options.cipher.clone()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when every embedded migration is recorded as applied.
    async fn schema_is_current(&self) -> bool {
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.reader)
                .within(self.query_timeout)
                .await
            {
                Ok(versions) => versions,
                Err(_) => return false,
            };
        MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.contains(&m.version))
    }
}

/// Start-up refuses a database it could not write to, naming the path,
/// rather than failing on the first request.
fn check_writable(path: &Path) -> Result<(), StoreError> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|err| {
            StoreError::Unavailable(format!(
                "cannot create the database folder {}: {err}",
                folder.display()
            ))
        })?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
        .map_err(|err| {
            StoreError::Unavailable(format!(
                "the database file {} is not writable: {err}",
                path.display()
            ))
        })
}

#[async_trait]
impl StoreAdmin for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .within(self.query_timeout)
            .await?;
        if !self.migrated.load(Ordering::Acquire) {
            if !self.schema_is_current().await {
                return Err(StoreError::Unavailable("migrations pending".into()));
            }
            self.migrated.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn storage(&self) -> Option<StorageReport> {
        disk_under(&self.path, self.volume.as_deref())
    }

    /// The writer's one connection and the readers', together.
    fn connection_pool(&self) -> Option<PoolReport> {
        let pools = [&self.writer, &self.reader];
        Some(PoolReport {
            open: pools.iter().map(|p| p.size()).sum(),
            idle: pools
                .iter()
                .map(|p| u32::try_from(p.num_idle()).unwrap_or(u32::MAX))
                .sum(),
            max: pools
                .iter()
                .map(|p| p.options().get_max_connections())
                .sum(),
            waiting: None,
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.writer).await.map_err(|err| match err {
            sqlx::migrate::MigrateError::Execute(inner) => map_err(inner),
            other => StoreError::Internal(other.to_string()),
        })?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }
}

/// The folder a database file lives in ("." for a bare file name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(unix)]
fn disk_under(path: &Path, volume: Option<&Path>) -> Option<StorageReport> {
    let folder = folder_of(path);
    let stats = rustix::fs::statvfs(folder).ok()?;
    let block = stats.f_frsize.max(1);
    let on_volume = match volume {
        Some(volume) => match (folder.canonicalize(), volume.canonicalize()) {
            (Ok(folder), Ok(volume)) => Some(folder.starts_with(volume)),
            _ => Some(false),
        },
        // A volume is a file system of its own: another device than `/`.
        None => match (rustix::fs::stat(folder), rustix::fs::stat("/")) {
            (Ok(here), Ok(root)) => Some(here.st_dev != root.st_dev),
            _ => None,
        },
    };
    Some(StorageReport {
        total_bytes: stats.f_blocks.saturating_mul(block),
        available_bytes: stats.f_bavail.saturating_mul(block),
        on_volume,
    })
}

#[cfg(not(unix))]
fn disk_under(_path: &Path, _volume: Option<&Path>) -> Option<StorageReport> {
    None
}
