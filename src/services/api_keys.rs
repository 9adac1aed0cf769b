//! Tenant API keys: created by the admin, shown once, stored hashed.

use super::Core;
use crate::domain::{ApiKey, ApiKeyName, ApiKeySecret, KeyHash, TenantId, new_id};
use crate::error::{Error, Result};
use uuid::Uuid;

impl Core {
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_api_key(
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

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        Ok(self.store.list_api_keys().await?)
    }

    #[tracing::instrument(skip_all, fields(key_id = %id))]
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<()> {
        if self.store.revoke_api_key(id, chrono::Utc::now()).await? {
            tracing::info!("api key revoked");
            Ok(())
        } else {
            Err(Error::not_found("api key", id))
        }
    }

    /// The live key matching a presented secret, if any. The lookup is by
    /// SHA-256, so timing reveals nothing about stored secrets.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<ApiKey>> {
        let key = self.store.find_api_key(&KeyHash::of(presented)).await?;
        Ok(key.filter(|k| k.revoked_at.is_none()))
    }
}
