//! Sessions and messages in PostgreSQL, with the retention sweep.

use super::RETENTION_LOCK;
use super::{PostgresStore, Within};
use crate::adapters::sql::*;
use crate::core::domain::{Erasure, Message, PageRequest, Role, Session, TenantId};
use crate::core::ports::SessionStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[async_trait]
impl SessionStore for PostgresStore {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO sessions (id, tenant, character_id, user_name, metadata, created_at, last_active_at, user_id)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8
             WHERE EXISTS (SELECT 1 FROM characters WHERE id = $3 AND tenant = $2)",
        )
        .bind(s.id)
        .bind(s.tenant.as_str())
        .bind(s.character_id)
        .bind(&s.user_name)
        .bind(Json(&s.metadata))
        .bind(s.created_at)
        .bind(s.last_active_at)
        .bind(&s.user_id)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                s.character_id
            )));
        }
        Ok(())
    }

    async fn get_session(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Session>, StoreError> {
        sqlx::query_as::<_, SessionRow>("SELECT * FROM sessions WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .within(self.query_timeout)
            .await?
            .map(Session::try_from)
            .transpose()
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query_as::<_, SessionRow>(
            "SELECT * FROM sessions WHERE tenant = $1 AND character_id = $2 AND ($3::uuid IS NULL OR id > $3) ORDER BY id LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(page.after)
        .bind(limit_of(page))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        convert(rows)
    }

    async fn delete_session(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn latest_session_for(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        sqlx::query_as::<_, SessionRow>(
            "SELECT * FROM sessions WHERE tenant = $1 AND user_id = $3 AND character_id = $2
             ORDER BY id DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await?
        .map(Session::try_from)
        .transpose()
    }

    async fn delete_idle_sessions(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().within(self.query_timeout).await?;
        // One replica per pass: the others find the lock taken and skip.
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(RETENTION_LOCK)
            .fetch_one(&mut *tx)
            .within(self.query_timeout)
            .await?;
        if !locked {
            return Ok(0);
        }
        let done = sqlx::query(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions WHERE last_active_at < $1 ORDER BY last_active_at LIMIT $2)",
        )
        .bind(cutoff)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .within(self.query_timeout)
        .await?;
        tx.commit().within(self.query_timeout).await?;
        Ok(done.rows_affected())
    }

    async fn append_message(&self, m: &Message) -> Result<(), StoreError> {
        let done = sqlx::query(
            "WITH session AS (
                 UPDATE sessions SET last_active_at = GREATEST(last_active_at, $9)
                 WHERE id = $3 AND tenant = $2 RETURNING id)
             INSERT INTO messages (id, tenant, session_id, role, content, prompt_tokens, completion_tokens, incomplete, created_at, latency_ms, sealed)
             SELECT $1, $2, session.id, $4, $5, $6, $7, $8, $9, $10, $11 FROM session",
        )
        .bind(m.id)
        .bind(m.tenant.as_str())
        .bind(m.session_id)
        .bind(role_str(m.role))
        .bind(self.sealer.seal(&m.content, m.id))
        .bind(m.usage.map(|u| u.prompt_tokens as i32))
        .bind(m.usage.map(|u| u.completion_tokens as i32))
        .bind(m.incomplete)
        .bind(m.created_at)
        .bind(m.latency_ms.map(|ms| ms.min(i32::MAX as u32) as i32))
        .bind(self.sealer.sealing())
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "session {} does not exist",
                m.session_id
            )));
        }
        Ok(())
    }

    async fn get_message(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Message>, StoreError> {
        sqlx::query_as::<_, MessageRow>("SELECT * FROM messages WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .within(self.query_timeout)
            .await?
            .map(|row| Ok(self.sealer.open_messages(vec![row])?.remove(0)))
            .transpose()
    }

    async fn list_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query_as::<_, MessageRow>(
            "SELECT * FROM messages WHERE session_id = $1 AND tenant = $2 AND ($3::uuid IS NULL OR id > $3) ORDER BY id LIMIT $4",
        )
        .bind(session_id)
        .bind(tenant.as_str())
        .bind(page.after)
        .bind(limit_of(page))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.sealer.open_messages(rows)
    }

    async fn recent_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query_as::<_, MessageRow>(
            "SELECT * FROM (
                 SELECT * FROM messages WHERE session_id = $1 AND tenant = $2 ORDER BY id DESC LIMIT $3
             ) recent ORDER BY id",
        )
        .bind(session_id)
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.sealer.open_messages(rows)
    }

    async fn count_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        role: Role,
    ) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM messages WHERE session_id = $1 AND tenant = $2 AND role = $3",
        )
        .bind(session_id)
        .bind(tenant.as_str())
        .bind(role_str(role))
        .fetch_one(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(count.max(0) as u64)
    }

    async fn erase_person(
        &self,
        tenant: &TenantId,
        character_id: Option<Uuid>,
        user_id: &str,
    ) -> Result<Erasure, StoreError> {
        let mut tx = self.pool.begin().within(self.query_timeout).await?;
        let sessions: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE tenant = $1 AND user_id = $3
               AND ($2::uuid IS NULL OR character_id = $2) ORDER BY id FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(user_id)
        .fetch_all(&mut *tx)
        .within(self.query_timeout)
        .await?;
        let messages: i64 =
            sqlx::query_scalar("SELECT count(*) FROM messages WHERE session_id = ANY($1)")
                .bind(&sessions)
                .fetch_one(&mut *tx)
                .within(self.query_timeout)
                .await?;
        let memories: Vec<Uuid> = sqlx::query_scalar(
            "DELETE FROM memories WHERE tenant = $1 AND ($2::uuid IS NULL OR character_id = $2)
               AND (user_id = $3 OR session_id = ANY($4)) RETURNING id",
        )
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(user_id)
        .bind(&sessions)
        .fetch_all(&mut *tx)
        .within(self.query_timeout)
        .await?;
        // Messages and idempotency records go with their sessions (cascade).
        sqlx::query("DELETE FROM sessions WHERE id = ANY($1)")
            .bind(&sessions)
            .execute(&mut *tx)
            .within(self.query_timeout)
            .await?;
        sqlx::query(
            "DELETE FROM relationships WHERE tenant = $1 AND ($2::uuid IS NULL OR character_id = $2)
               AND other_kind = 'user' AND other_key = $3",
        )
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(user_id)
        .execute(&mut *tx)
        .within(self.query_timeout)
        .await?;
        tx.commit().within(self.query_timeout).await?;
        Ok(Erasure {
            sessions,
            messages: messages.max(0) as u64,
            memories,
        })
    }
}
