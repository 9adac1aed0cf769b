//! The store's own upkeep: what it is, whether it answers, its schema.

use super::StoreError;
use async_trait::async_trait;

/// Identity, readiness and schema of the store.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StoreAdmin: Send + Sync + 'static {
    /// "in-memory", "sqlite" or "postgres", for `/health`.
    fn kind(&self) -> &'static str;
    /// Ok when the store answers and its schema is up to date.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Brings the schema up to date; idempotent and safe when several
    /// replicas call it at once.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// The disk under a store kept in a local file (SQLite), read now;
    /// `None` for a server or memory.
    fn storage(&self) -> Option<StorageReport> {
        None
    }
    /// Its connection pool, read now, for `/metrics`; `None` without one.
    fn connection_pool(&self) -> Option<PoolReport> {
        None
    }
}

/// A connection pool, read at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolReport {
    /// Connections open now, busy or idle.
    pub open: u32,
    /// Open and waiting for a caller.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
    /// Callers waiting for a connection, where the pool counts them.
    pub waiting: Option<u32>,
}

impl PoolReport {
    /// Connections lent out now.
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

/// The disk a file-backed store lives on.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageReport {
    pub total_bytes: u64,
    pub available_bytes: u64,
    /// Whether the file is on a mounted volume (Railway's
    /// `RAILWAY_VOLUME_MOUNT_PATH`, else a file system other than `/`'s);
    /// `None` where it cannot be told.
    pub on_volume: Option<bool>,
}

impl StorageReport {
    /// Share of the disk in use, 0–1.
    pub fn used_fraction(&self) -> f64 {
        if self.total_bytes == 0 {
            return 0.0;
        }
        1.0 - self.available_bytes as f64 / self.total_bytes as f64
    }
}
