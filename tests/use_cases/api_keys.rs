//! API keys when the cache is out: lookups do not all fall on the store.

use crate::Parts;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use virlife::core::domain::{ApiKey, ApiKeyName, TenantId};
use virlife::core::ports::{CacheError, MockCache, MockStore};

#[tokio::test]
async fn key_lookups_survive_a_cache_outage_without_going_back_to_the_store() {
    let saved = Arc::new(Mutex::new(None::<ApiKey>));
    let lookups = Arc::new(AtomicUsize::new(0));
    let mut store = MockStore::new();
    let kept = saved.clone();
    store.expect_insert_api_key().returning(move |key| {
        *kept.lock().unwrap() = Some(key.clone());
        Ok(())
    });
    let (found, counted) = (saved.clone(), lookups.clone());
    store.expect_find_api_key().returning(move |hash| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(found
            .lock()
            .unwrap()
            .clone()
            .filter(|key| &key.key_hash == hash))
    });
    // What the cache decorator answers during an outage: every read a miss.
    let mut cache = MockCache::new();
    cache.expect_get().returning(|_| Ok(None));
    cache
        .expect_set()
        .returning(|_, _, _| Err(CacheError::Unavailable("down".into())));
    let uc = Parts {
        store: Arc::new(store),
        cache: Arc::new(cache),
        ..Parts::default()
    }
    .use_cases();
    let (key, secret) = uc
        .api_keys
        .create(
            TenantId::parse("acme").unwrap(),
            ApiKeyName::parse("game").unwrap(),
        )
        .await
        .unwrap();
    for _ in 0..10 {
        let known = uc.api_keys.authenticate(secret.expose()).await.unwrap();
        assert_eq!(known.map(|k| k.id), Some(key.id));
    }
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "one store lookup, then this replica remembers"
    );
    for _ in 0..5 {
        assert!(
            uc.api_keys
                .authenticate("vl_made_up")
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        2,
        "unknown keys are remembered too"
    );
}
