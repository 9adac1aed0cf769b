//! API keys in memory.

use super::InMemoryStore;
use crate::core::domain::{ApiKey, KeyHash};
use crate::core::ports::ApiKeyStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[async_trait]
impl ApiKeyStore for InMemoryStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables.api_keys.values().any(|k| k.key_hash == key.key_hash) {
            return Err(StoreError::Conflict("api key already exists".into()));
        }
        tables.api_keys.insert(key.id, key.clone());
        Ok(())
    }

    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError> {
        Ok(self
            .read()
            .api_keys
            .values()
            .find(|k| &k.key_hash == hash)
            .cloned())
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self.read().api_keys.values().cloned().collect())
    }

    async fn revoke_api_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tables = self.write();
        match tables.api_keys.get_mut(&id) {
            Some(key) if key.revoked_at.is_none() => {
                key.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
