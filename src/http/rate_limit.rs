//! Per-key (and, without a key, per-client-address) rate limiting: GCRA in
//! the shared Cache (Redis: one budget across replicas), with an
//! in-process governor limiter while the cache is unavailable.

use crate::core::ports::{Cache, Throttle};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

const PERIOD: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub limit: u32,
    pub remaining: u32,
    /// `Some` when the call is refused.
    pub retry_after: Option<Duration>,
}

pub struct RateLimiter {
    cache: Arc<dyn Cache>,
    fallback: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    limit: u32,
}

impl RateLimiter {
    pub fn per_minute(limit: u32, cache: Arc<dyn Cache>) -> Self {
        let limit = limit.max(1);
        let quota = Quota::per_minute(NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN));
        Self {
            cache,
            fallback: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            limit,
        }
    }

    pub async fn check(&self, bucket: &str) -> Decision {
        let key = format!("ratelimit:{bucket}");
        match self.cache.throttle(&key, self.limit, PERIOD).await {
            Ok(Throttle::Allowed { remaining }) => Decision {
                limit: self.limit,
                remaining,
                retry_after: None,
            },
            Ok(Throttle::Limited { retry_after }) => Decision {
                limit: self.limit,
                remaining: 0,
                retry_after: Some(retry_after),
            },
            Err(_) => {
                // Per replica while the shared cache is down: better than no limit.
                metrics::counter!("virlife_fallbacks_total", "port" => "rate_limit").increment(1);
                self.fallback.retain_recent();
                match self.fallback.check_key(&bucket.to_owned()) {
                    // governor's default middleware reports no remaining count.
                    Ok(()) => Decision {
                        limit: self.limit,
                        remaining: 0,
                        retry_after: None,
                    },
                    Err(not_until) => Decision {
                        limit: self.limit,
                        remaining: 0,
                        retry_after: Some(not_until.wait_time_from(self.clock.now())),
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory_cache::InMemoryCache;
    use crate::core::ports::{CacheError, MockCache};

    #[tokio::test]
    async fn each_bucket_gets_its_own_budget() {
        let limiter = RateLimiter::per_minute(2, Arc::new(InMemoryCache::default()));
        assert_eq!(limiter.check("a").await.remaining, 1);
        assert_eq!(limiter.check("a").await.retry_after, None);
        let refused = limiter.check("a").await;
        assert!(
            refused
                .retry_after
                .is_some_and(|wait| wait <= Duration::from_secs(30))
        );
        assert_eq!(limiter.check("b").await.retry_after, None);
    }

    #[tokio::test]
    async fn a_failing_cache_falls_back_to_the_in_process_limiter() {
        let mut cache = MockCache::new();
        cache
            .expect_throttle()
            .returning(|_, _, _| Err(CacheError::Unavailable("down".into())));
        let limiter = RateLimiter::per_minute(2, Arc::new(cache));
        assert_eq!(limiter.check("a").await.retry_after, None);
        assert_eq!(limiter.check("a").await.retry_after, None);
        assert!(limiter.check("a").await.retry_after.is_some());
    }
}
