//! Prefixes every cache key with `CACHE_NAMESPACE`, so environments (or
//! test runs) that share one Redis never see each other's keys.

use crate::core::ports::{Cache, CacheError, PoolReport, Throttle};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

pub struct NamespacedCache {
    inner: Arc<dyn Cache>,
    prefix: String,
}

impl NamespacedCache {
    pub fn new(inner: Arc<dyn Cache>, namespace: &str) -> Self {
        Self {
            inner,
            prefix: format!("{namespace}:"),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl Cache for NamespacedCache {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn connection_pool(&self) -> Option<PoolReport> {
        self.inner.connection_pool()
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.inner.ping().await
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        self.inner.get(&self.key(key)).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.inner.get_many(&keys).await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        self.inner.set(&self.key(key), value, ttl).await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        self.inner.set_if_absent(&self.key(key), value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.inner.delete(&self.key(key)).await
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, CacheError> {
        self.inner.increment(&self.key(key), ttl).await
    }

    async fn throttle(
        &self,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<Throttle, CacheError> {
        self.inner.throttle(&self.key(key), limit, period).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory_cache::InMemoryCache;

    #[tokio::test]
    async fn namespaces_do_not_see_each_other() {
        let shared: Arc<dyn Cache> = Arc::new(InMemoryCache::default());
        let staging = NamespacedCache::new(shared.clone(), "staging");
        let production = NamespacedCache::new(shared.clone(), "production");
        staging.set("k", "s", Duration::from_secs(5)).await.unwrap();
        assert_eq!(production.get("k").await.unwrap(), None);
        assert_eq!(shared.get("staging:k").await.unwrap().as_deref(), Some("s"));
    }
}
