//! API keys in PostgreSQL.

use super::{PostgresStore, Within};
use crate::adapters::sql::*;
use crate::core::domain::{ApiKey, KeyHash};
use crate::core::ports::ApiKeyStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[async_trait]
impl ApiKeyStore for PostgresStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, name, key_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id)
        .bind(key.tenant.as_str())
        .bind(&key.name)
        .bind(key.key_hash.as_str())
        .bind(key.created_at)
        .bind(key.revoked_at)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(())
    }

    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys WHERE key_hash = $1")
            .bind(hash.as_str())
            .fetch_optional(&self.pool)
            .within(self.query_timeout)
            .await?
            .map(ApiKey::try_from)
            .transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys ORDER BY id")
            .fetch_all(&self.pool)
            .within(self.query_timeout)
            .await?;
        convert(rows)
    }

    async fn revoke_api_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(at)
                .execute(&self.pool)
                .within(self.query_timeout)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
