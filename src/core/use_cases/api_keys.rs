//! Tenant API keys: created by the admin, shown once, stored hashed.

use crate::core::domain::{ApiKey, ApiKeyName, ApiKeySecret, KeyHash, TenantId, new_id};
use crate::core::error::{Error, Result};
use crate::core::ports::{ApiKeyStore, Cache};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Short, so a revocation missed by the cache (Redis down) ends soon anyway.
const KEY_CACHE_TTL: Duration = Duration::from_secs(60);

fn key_cache_key(hash: &KeyHash) -> String {
    format!("apikey:{}", hash.as_str())
}

#[derive(Clone)]
pub struct ApiKeys {
    store: Arc<dyn ApiKeyStore>,
    cache: Arc<dyn Cache>,
}

impl ApiKeys {
    pub(crate) fn new(store: Arc<dyn ApiKeyStore>, cache: Arc<dyn Cache>) -> Self {
        Self { store, cache }
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
        if let Some(key) = keys.iter().find(|k| k.id == id)
            && let Err(err) = self.cache.delete(&key_cache_key(&key.key_hash)).await
        {
            tracing::warn!(error = %err, "revoked, but the cached lookup lives until its TTL");
        }
        tracing::info!("api key revoked");
        Ok(())
    }

    /// The live key matching a presented secret, if any. The lookup is by
    /// SHA-256 (cached briefly), so timing reveals nothing about stored secrets.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<ApiKey>> {
        let hash = KeyHash::of(presented);
        let cache_key = key_cache_key(&hash);
        if let Ok(Some(json)) = self.cache.get(&cache_key).await
            && let Ok(key) = serde_json::from_str::<ApiKey>(&json)
        {
            return Ok(Some(key));
        }
        let key = self.store.find_api_key(&hash).await?;
        let live = key.filter(|k| k.revoked_at.is_none());
        if let Some(key) = &live
            && let Ok(json) = serde_json::to_string(key)
        {
            let _ = self.cache.set(&cache_key, &json, KEY_CACHE_TTL).await;
        }
        Ok(live)
    }
}
