//! In-process `Cache` on moka: per-entry TTLs, set-if-absent and counters.
//! Used when `REDIS_URL` is unset; per replica, so counters are not shared.

use crate::adapters::gcra;
use crate::core::ports::{Cache, CacheError, Throttle};
use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache as MokaCache;
use moka::ops::compute::Op;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Entry {
    value: String,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _at: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct InMemoryCache {
    entries: MokaCache<String, Entry>,
}

impl InMemoryCache {
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: MokaCache::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }
}

impl Default for InMemoryCache {
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[async_trait]
impl Cache for InMemoryCache {
    fn kind(&self) -> &'static str {
        "in-memory"
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(self.entries.get(key).await.map(|e| e.value))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        self.entries
            .insert(
                key.to_owned(),
                Entry {
                    value: value.to_owned(),
                    ttl,
                },
            )
            .await;
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let entry = self
            .entries
            .entry(key.to_owned())
            .or_insert_with(async {
                Entry {
                    value: value.to_owned(),
                    ttl,
                }
            })
            .await;
        Ok(entry.is_fresh())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.entries.invalidate(key).await;
        Ok(())
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, CacheError> {
        let result = self
            .entries
            .entry(key.to_owned())
            .and_compute_with(|current| {
                // A counter keeps the TTL it was created with, as Redis INCR does.
                let next = match current {
                    Some(entry) => {
                        let entry = entry.into_value();
                        let count = entry.value.parse::<i64>().unwrap_or(0) + 1;
                        Entry {
                            value: count.to_string(),
                            ttl: entry.ttl,
                        }
                    }
                    None => Entry {
                        value: "1".to_owned(),
                        ttl,
                    },
                };
                std::future::ready(Op::Put(next))
            })
            .await;
        let value = result
            .into_entry()
            .map(|e| e.into_value().value)
            .unwrap_or_default();
        value
            .parse()
            .map_err(|_| CacheError::Unavailable(format!("counter {key} holds a non-number")))
    }

    async fn throttle(
        &self,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<Throttle, CacheError> {
        let now = now_ms();
        let mut decision = Throttle::Limited {
            retry_after: period,
        };
        self.entries
            .entry(key.to_owned())
            .and_compute_with(|current| {
                let stored = current.and_then(|e| e.into_value().value.parse::<u64>().ok());
                let (verdict, new_tat) = gcra::decide(stored, now, limit, period);
                decision = verdict;
                std::future::ready(match new_tat {
                    // The state lives exactly as long as it matters.
                    Some(tat) => Op::Put(Entry {
                        value: tat.to_string(),
                        ttl: Duration::from_millis(tat.saturating_sub(now).max(1)),
                    }),
                    None => Op::Nop,
                })
            })
            .await;
        Ok(decision)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire_after_their_own_ttl() {
        let cache = InMemoryCache::default();
        cache
            .set("short", "1", Duration::from_millis(50))
            .await
            .unwrap();
        cache
            .set("long", "2", Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(cache.get("short").await.unwrap(), None);
        assert_eq!(cache.get("long").await.unwrap().as_deref(), Some("2"));
    }

    #[tokio::test]
    async fn set_if_absent_only_sets_once_and_counters_count() {
        let cache = InMemoryCache::default();
        let ttl = Duration::from_secs(60);
        assert!(cache.set_if_absent("k", "a", ttl).await.unwrap());
        assert!(!cache.set_if_absent("k", "b", ttl).await.unwrap());
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some("a"));
        assert_eq!(cache.increment("n", ttl).await.unwrap(), 1);
        assert_eq!(cache.increment("n", ttl).await.unwrap(), 2);
        cache.delete("n").await.unwrap();
        assert_eq!(cache.increment("n", ttl).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn throttle_admits_the_limit_then_says_when_to_retry() {
        let cache = InMemoryCache::default();
        let minute = Duration::from_secs(60);
        for left in (0..3).rev() {
            assert_eq!(
                cache.throttle("k", 3, minute).await.unwrap(),
                Throttle::Allowed { remaining: left }
            );
        }
        match cache.throttle("k", 3, minute).await.unwrap() {
            Throttle::Limited { retry_after } => {
                assert!(
                    retry_after > Duration::from_secs(15) && retry_after <= Duration::from_secs(20)
                )
            }
            other => panic!("expected a limit, got {other:?}"),
        }
        assert!(matches!(
            cache.throttle("other", 3, minute).await.unwrap(),
            Throttle::Allowed { .. }
        ));
    }
}
