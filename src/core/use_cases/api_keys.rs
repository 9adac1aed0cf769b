//! Tenant API keys: created by the admin, shown once, stored hashed.

use crate::core::domain::{ApiKey, ApiKeyName, ApiKeySecret, KeyHash, TenantId, new_id};
use crate::core::error::{Error, Result};
use crate::core::ports::{ApiKeyStore, Cache};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a key lookup is trusted: also how long a revoked key may still
/// work on a replica other than the one that revoked it.
const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// How long "no such key" is remembered.
const UNKNOWN_KEY_TTL: Duration = Duration::from_secs(30);
/// The cached value of a key that does not exist (or is revoked).
const UNKNOWN: &str = "unknown";

fn key_cache_key(hash: &KeyHash) -> String {
    format!("apikey:{}", hash.as_str())
}

/// Lookups this replica remembers itself, so a cache outage (every shared
/// lookup then misses) does not send every request to the store and its
/// per-address lookup budget. Bounded; entries live as long as in the cache.
const LOCAL_KEYS: usize = 10_000;

type LocalKeys = HashMap<KeyHash, (Instant, Option<ApiKey>)>;

#[derive(Clone)]
pub struct ApiKeys {
    store: Arc<dyn ApiKeyStore>,
    cache: Arc<dyn Cache>,
    local: Arc<Mutex<LocalKeys>>,
}

impl ApiKeys {
    pub(crate) fn new(store: Arc<dyn ApiKeyStore>, cache: Arc<dyn Cache>) -> Self {
        Self {
            store,
            cache,
            local: Arc::default(),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, LocalKeys> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember_locally(&self, hash: KeyHash, key: Option<ApiKey>) {
        let ttl = if key.is_some() {
            KEY_CACHE_TTL
        } else {
            UNKNOWN_KEY_TTL
        };
        let mut local = self.local();
        if local.len() >= LOCAL_KEYS {
            local.retain(|_, (until, _)| *until > Instant::now());
            if local.len() >= LOCAL_KEYS {
                local.clear();
            }
        }
        local.insert(hash, (Instant::now() + ttl, key));
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create(
        &self,
        tenant: TenantId,
        name: ApiKeyName,
    ) -> Result<(ApiKey, ApiKeySecret)> {
        let secret = ApiKeySecret::generate();
        let key = ApiKey {
            id: new_id(),
            tenant,
            name: name.into_inner(),
            key_hash: secret.hash(),
            created_at: chrono::Utc::now(),
            revoked_at: None,
        };
        self.store.insert_api_key(&key).await?;
        tracing::info!(key_id = %key.id, "api key created");
        Ok((key, secret))
    }

    pub async fn list(&self) -> Result<Vec<ApiKey>> {
        Ok(self.store.list_api_keys().await?)
    }

    #[tracing::instrument(skip_all, fields(key_id = %id))]
    pub async fn revoke(&self, id: Uuid) -> Result<()> {
        if !self.store.revoke_api_key(id, chrono::Utc::now()).await? {
            return Err(Error::not_found("api key", id));
        }
        // Forget the cached lookup, so the key stops working at once.
        let keys = self.store.list_api_keys().await?;
        if let Some(key) = keys.iter().find(|k| k.id == id) {
            self.local().remove(&key.key_hash);
            if let Err(err) = self.cache.delete(&key_cache_key(&key.key_hash)).await {
                tracing::warn!(error = %err, "revoked, but the cached lookup lives until its TTL");
            }
        }
        tracing::info!("api key revoked");
        Ok(())
    }

    /// The live key matching a presented secret, if any, from the cache or
    /// the store. The lookup is by SHA-256, so timing reveals nothing about
    /// stored secrets.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<ApiKey>> {
        match self.cached(presented).await {
            Some(known) => Ok(known),
            None => self.look_up(presented).await,
        }
    }

    /// What the cache knows of a presented key, without touching the store:
    /// `Some(Some(key))` a live key, `Some(None)` a key known not to exist,
    /// `None` not known either way.
    pub async fn cached(&self, presented: &str) -> Option<Option<ApiKey>> {
        let hash = KeyHash::of(presented);
        let shared = self.cache.get(&key_cache_key(&hash)).await.ok().flatten();
        if let Some(json) = shared {
            if json == UNKNOWN {
                return Some(None);
            }
            if let Ok(key) = serde_json::from_str::<ApiKey>(&json) {
                return Some(Some(key));
            }
        }
        // A shared miss (or a cache outage, which reads as one): what this
        // replica learnt itself, while it is fresh.
        let local = self.local();
        local
            .get(&hash)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, key)| key.clone())
    }

    /// Looks a key up in the store and caches the answer, an unknown or
    /// revoked key too (briefly), so guessing costs the store little.
    pub async fn look_up(&self, presented: &str) -> Result<Option<ApiKey>> {
        let hash = KeyHash::of(presented);
        let key = self.store.find_api_key(&hash).await?;
        let live = key.filter(|k| k.revoked_at.is_none());
        self.remember_locally(hash.clone(), live.clone());
        let (value, ttl) = match &live {
            Some(key) => match serde_json::to_string(key) {
                Ok(json) => (json, KEY_CACHE_TTL),
                Err(_) => return Ok(live),
            },
            None => (UNKNOWN.to_owned(), UNKNOWN_KEY_TTL),
        };
        let _ = self.cache.set(&key_cache_key(&hash), &value, ttl).await;
        Ok(live)
    }
}
