//! The cache port: anything here may be lost at any time.

use async_trait::async_trait;
use std::time::Duration;

/// A rate-limit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    Allowed { remaining: u32 },
    Limited { retry_after: Duration },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CacheError {
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

/// A cache that may lose anything at any time (Redis, or moka in process).
///
/// # Errors
/// `CacheError::Unavailable` on any failure; callers treat it as a miss.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// "in-memory" or "redis", for `/health`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), CacheError>;
    /// Its connection pool, read now, for `/metrics`; `None` without one.
    fn connection_pool(&self) -> Option<super::PoolReport> {
        None
    }
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    /// Several keys in one round trip (Redis `MGET`), in the order asked.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    /// Sets the key only if absent; true when this call set it.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Adds one to a counter (created at 1 with `ttl`), returning the new value.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, CacheError>;
    /// Atomic GCRA: admits `limit` calls per `period` for `key` (bursts of
    /// up to `limit`), shared by every replica using the same cache.
    async fn throttle(
        &self,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<Throttle, CacheError>;
}
