//! Idempotency keys in PostgreSQL; stored turns are sealed to their row.

use super::{PostgresStore, Within};
use crate::adapters::sql::*;
use crate::core::domain::{IdempotencyRecord, TenantId};
use crate::core::ports::IdempotencyStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use sqlx::types::Json;

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn claim_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (tenant, key, session_id, user_message_id, claimed_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, key) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(key)
        .bind(record.session_id)
        .bind(record.user_message_id)
        .bind(record.claimed_at)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(None);
        }
        let row = sqlx::query_as::<_, IdempotencyRow>(
            "SELECT session_id, user_message_id, claimed_at, response FROM idempotency_keys WHERE tenant = $1 AND key = $2",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_one(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(Some(IdempotencyRecord {
            session_id: row.session_id,
            user_message_id: row.user_message_id,
            claimed_at: row.claimed_at,
            response: row
                .response
                .map(|r| {
                    self.sealer
                        .open_response(r.0, &idempotency_row(tenant, key))
                })
                .transpose()?,
        }))
    }

    async fn complete_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        response: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE idempotency_keys SET response = $3 WHERE tenant = $1 AND key = $2")
            .bind(tenant.as_str())
            .bind(key)
            .bind(Json(
                self.sealer
                    .seal_response(response, &idempotency_row(tenant, key)),
            ))
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        Ok(())
    }
}
