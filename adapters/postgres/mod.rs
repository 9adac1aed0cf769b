//! PostgreSQL `Store` on sqlx: runtime queries and `FromRow`, so building
//! needs no database. Driver errors are translated here; the core never
//! sees a `sqlx::Error`.

use super::cipher::Cipher;
use super::sql::Sealer;
use crate::core::domain::Memory;
use crate::core::ports::{PoolReport, StoreAdmin, StoreError};
use async_trait::async_trait;
use rows::MemoryRow;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod api_keys;
mod characters;
mod idempotency;
mod jobs;
mod memories;
mod rows;
mod sessions;
mod vectors;
mod world;

pub use vectors::{PostgresVectors, compact};

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Key of the advisory lock that makes one replica run each retention pass.
const RETENTION_LOCK: i64 = 0x5669_724c_6966_6501;

pub struct PostgresOptions {
    pub url: String,
    /// Encrypts message and memory text (and stored turns) at rest.
    pub cipher: Option<Arc<Cipher>>,
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
    /// Bound on one statement, so a frozen server costs seconds, not forever.
    pub query_timeout: Duration,
}

pub struct PostgresStore {
    pool: PgPool,
    migrated: AtomicBool,
    query_timeout: Duration,
    sealer: Sealer,
}

/// Bounds a sqlx future and translates its error at the adapter's edge.
trait Within<T>: Future<Output = Result<T, sqlx::Error>> + Sized {
    async fn within(self, limit: Duration) -> Result<T, StoreError> {
        match tokio::time::timeout(limit, self).await {
            Ok(result) => result.map_err(map_err),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer from PostgreSQL within {} ms",
                limit.as_millis()
            ))),
        }
    }
}

impl<T, F: Future<Output = Result<T, sqlx::Error>>> Within<T> for F {}

/// Accepts the SQLAlchemy form `postgresql+asyncpg://` that Python guides
/// use; returns the URL sqlx understands and whether it was changed.
pub fn normalise_url(url: &str) -> (String, bool) {
    for prefix in [
        "postgresql+asyncpg://",
        "postgres+asyncpg://",
        "postgresql+psycopg://",
    ] {
        if let Some(rest) = url.strip_prefix(prefix) {
            return (format!("postgresql://{rest}"), true);
        }
    }
    (url.to_owned(), false)
}

fn map_err(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // unique_violation, foreign_key_violation: the conflict is the
            // client's to know, the database's wording (constraint and
            // table names) is not, so it stays in the log.
            Some("23505") => {
                tracing::debug!(detail = db.message(), "unique violation");
                StoreError::Conflict("it already exists".into())
            }
            Some("23503") => {
                tracing::debug!(detail = db.message(), "foreign key violation");
                StoreError::Conflict("something it refers to does not exist".into())
            }
            // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
            Some("57P01") | Some("57P02") | Some("57P03") | Some("53300") => {
                StoreError::Unavailable(db.message().to_owned())
            }
            _ => StoreError::Internal(err.to_string()),
        },
        _ => StoreError::Internal(err.to_string()),
    }
}

impl PostgresStore {
    /// Creates the pool without connecting, so a database that is down at
    /// boot does not block start-up; readiness reports it instead.
    pub fn connect_lazy(options: &PostgresOptions) -> Result<Self, StoreError> {
        let (url, changed) = normalise_url(&options.url);
        if changed {
            tracing::info!("DATABASE_URL given in SQLAlchemy form; using postgresql://");
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            // Every wait for a connection becomes a trace event, which
            // telemetry turns into virlife_db_pool_wait_seconds.
            .acquire_time_level(log::LevelFilter::Trace)
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .connect_lazy(&url)
            .map_err(|e| StoreError::Internal(format!("invalid DATABASE_URL: {e}")))?;
        Ok(Self {
            pool,
            migrated: AtomicBool::new(false),
            query_timeout: options.query_timeout,
            sealer: Sealer::new(options.cipher.clone()),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn open_memories(&self, rows: Vec<MemoryRow>) -> Result<Vec<Memory>, StoreError> {
        rows.into_iter()
            .map(|row| {
                let sealed = row.sealed;
                self.sealer.open_memory(Memory::try_from(row)?, sealed)
            })
            .collect()
    }

    /// True when every embedded migration is recorded as applied.
    async fn schema_is_current(&self) -> bool {
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
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

#[async_trait]
impl StoreAdmin for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        if !self.migrated.load(Ordering::Acquire) {
            // Another replica (or `virlife migrate`) may have applied them.
            if !self.schema_is_current().await {
                return Err(StoreError::Unavailable("migrations pending".into()));
            }
            self.migrated.store(true, Ordering::Release);
        }
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // sqlx takes a PostgreSQL advisory lock, so concurrent replicas apply each migration once.
        MIGRATOR.run(&self.pool).await.map_err(|err| match err {
            sqlx::migrate::MigrateError::Execute(inner) => map_err(inner),
            other => StoreError::Internal(other.to_string()),
        })?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    fn connection_pool(&self) -> Option<PoolReport> {
        Some(PoolReport {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
            waiting: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_urls_are_normalised() {
        assert_eq!(
            normalise_url("postgresql+asyncpg://u:p@h:5432/db"),
            ("postgresql://u:p@h:5432/db".to_owned(), true)
        );
        assert_eq!(
            normalise_url("postgres://u@h/db"),
            ("postgres://u@h/db".to_owned(), false)
        );
    }
}
