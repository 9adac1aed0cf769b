//! The Cache contract: one suite, run against the in-process cache and a
//! real Redis (`REDIS_URL`; `tests/run` starts one), so they behave alike.

use std::sync::Arc;
use std::time::Duration;
use virlife::core::ports::{Cache, Throttle};

type C = Arc<dyn Cache>;

/// Keys unique to one test, so tests can share a Redis.
fn key(name: &str) -> String {
    format!("contract:{}:{name}", uuid::Uuid::new_v4().simple())
}

async fn values_expire_after_their_ttl(cache: C) {
    let (short, long) = (key("short"), key("long"));
    cache
        .set(&short, "1", Duration::from_millis(100))
        .await
        .unwrap();
    cache
        .set(&long, "2", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get(&short).await.unwrap().as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(cache.get(&short).await.unwrap(), None);
    assert_eq!(cache.get(&long).await.unwrap().as_deref(), Some("2"));
    cache.delete(&long).await.unwrap();
    assert_eq!(cache.get(&long).await.unwrap(), None);
    cache.delete(&long).await.unwrap();
}

async fn set_if_absent_sets_once_until_the_key_expires(cache: C) {
    let k = key("cooldown");
    let ttl = Duration::from_millis(150);
    assert!(cache.set_if_absent(&k, "first", ttl).await.unwrap());
    assert!(!cache.set_if_absent(&k, "second", ttl).await.unwrap());
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some("first"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(cache.set_if_absent(&k, "third", ttl).await.unwrap());
}

async fn set_if_absent_has_one_winner_among_concurrent_callers(cache: C) {
    let k = key("race");
    let attempts = (0..20).map(|i| {
        let cache = cache.clone();
        let k = k.clone();
        tokio::spawn(async move {
            cache
                .set_if_absent(&k, &i.to_string(), Duration::from_secs(5))
                .await
                .unwrap()
        })
    });
    let mut winners = 0;
    for attempt in attempts {
        winners += usize::from(attempt.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn counters_count_and_keep_their_first_ttl(cache: C) {
    let k = key("counter");
    let ttl = Duration::from_millis(200);
    assert_eq!(cache.increment(&k, ttl).await.unwrap(), 1);
    assert_eq!(
        cache.increment(&k, Duration::from_secs(60)).await.unwrap(),
        2
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(cache.increment(&k, ttl).await.unwrap(), 1);
}

async fn throttle_admits_the_limit_per_period_then_names_the_wait(cache: C) {
    let k = key("throttle");
    let minute = Duration::from_secs(60);
    let mut remaining = Vec::new();
    for _ in 0..4 {
        match cache.throttle(&k, 4, minute).await.unwrap() {
            Throttle::Allowed { remaining: r } => remaining.push(r),
            Throttle::Limited { .. } => panic!("limited too early"),
        }
    }
    assert_eq!(remaining, [3, 2, 1, 0]);
    match cache.throttle(&k, 4, minute).await.unwrap() {
        Throttle::Limited { retry_after } => {
            assert!(
                retry_after > Duration::from_secs(10) && retry_after <= Duration::from_secs(15),
                "{retry_after:?}"
            );
        }
        allowed => panic!("expected a limit, got {allowed:?}"),
    }
    assert!(matches!(
        cache.throttle(&key("other"), 4, minute).await.unwrap(),
        Throttle::Allowed { remaining: 3 }
    ));
}

async fn throttle_refills_over_time(cache: C) {
    let k = key("refill");
    let period = Duration::from_millis(400);
    assert!(matches!(
        cache.throttle(&k, 2, period).await.unwrap(),
        Throttle::Allowed { .. }
    ));
    assert!(matches!(
        cache.throttle(&k, 2, period).await.unwrap(),
        Throttle::Allowed { .. }
    ));
    assert!(matches!(
        cache.throttle(&k, 2, period).await.unwrap(),
        Throttle::Limited { .. }
    ));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(matches!(
        cache.throttle(&k, 2, period).await.unwrap(),
        Throttle::Allowed { .. }
    ));
}

async fn several_keys_come_back_in_the_order_asked_with_misses(cache: C) {
    let (a, missing, b) = (key("a"), key("missing"), key("b"));
    cache.set(&a, "1", Duration::from_secs(60)).await.unwrap();
    cache.set(&b, "2", Duration::from_secs(60)).await.unwrap();
    let values = cache
        .get_many(&[b.clone(), missing, a.clone()])
        .await
        .unwrap();
    assert_eq!(values, vec![Some("2".into()), None, Some("1".into())]);
    assert!(cache.get_many(&[]).await.unwrap().is_empty());
}

async fn ping_answers(cache: C) {
    cache.ping().await.unwrap();
}

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(std::sync::Arc::new(virlife::adapters::memory_cache::InMemoryCache::default())).await;
                }
            )*
        }

        #[cfg(feature = "redis")]
        mod redis {
            fn cache() -> std::sync::Arc<dyn virlife::core::ports::Cache> {
                use virlife::adapters::redis_cache::{RedisCache, RedisOptions};
                let url = std::env::var("REDIS_URL").unwrap_or_else(|_| {
                    panic!("Redis tests need REDIS_URL; run `tests/run`, which starts a throwaway Redis")
                });
                std::sync::Arc::new(
                    RedisCache::new(&RedisOptions {
                        url,
                        pool_size: 8,
                        command_timeout: std::time::Duration::from_secs(2),
                    })
                    .unwrap(),
                )
            }

            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(cache()).await;
                }
            )*
        }
    };
}

contract!(
    values_expire_after_their_ttl,
    set_if_absent_sets_once_until_the_key_expires,
    set_if_absent_has_one_winner_among_concurrent_callers,
    counters_count_and_keep_their_first_ttl,
    throttle_admits_the_limit_per_period_then_names_the_wait,
    throttle_refills_over_time,
    several_keys_come_back_in_the_order_asked_with_misses,
    ping_answers,
);
