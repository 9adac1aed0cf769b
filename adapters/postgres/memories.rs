//! Memories, embeddings and pending vector changes in PostgreSQL.

use super::rows::*;
use super::{PostgresStore, Within};
use crate::adapters::sql::*;
use crate::core::domain::{
    Memory, MemoryKind, PageRequest, PendingVector, PendingVectorRow, ScopeFilter, TenantId, new_id,
};
use crate::core::ports::MemoryStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use uuid::Uuid;

impl PostgresStore {
    /// The statement that writes a memory (its text sealed when a key is
    /// set), inserting nothing when its character is not the tenant's; on
    /// the pool or inside a transaction (a world event's fan-out).
    pub(super) fn memory_insert<'q>(
        &self,
        m: &'q Memory,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        sqlx::query(
            "INSERT INTO memories (id, tenant, character_id, session_id, kind, source, content, importance, embedding, embedding_model, embedding_dimensions, created_at, sealed, user_id, evidence, occurred_at, event_id)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17
             WHERE EXISTS (SELECT 1 FROM characters WHERE id = $3 AND tenant = $2)",
        )
        .bind(m.id)
        .bind(m.tenant.as_str())
        .bind(m.character_id)
        .bind(m.session_id)
        .bind(m.kind.as_str())
        .bind(source_str(m.source))
        .bind(self.sealer.seal(&m.content, m.id))
        .bind(m.importance)
        .bind(&m.embedding)
        .bind(&m.embedding_model)
        .bind(m.embedding.len() as i32)
        .bind(m.created_at)
        .bind(self.sealer.sealing())
        .bind(&m.user_id)
        .bind(&m.evidence)
        .bind(m.occurred_at)
        .bind(m.event_id)
    }

    /// The tenant's memories with these ids, read as `columns` (one of the
    /// `MEMORY_COLUMNS` lists).
    async fn memories_by_id(
        &self,
        columns: &str,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query_as::<_, MemoryRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {columns} FROM memories WHERE tenant = $1 AND id = ANY($2)"
        )))
        .bind(tenant.as_str())
        .bind(ids)
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.open_memories(rows)
    }
}

#[async_trait]
impl MemoryStore for PostgresStore {
    async fn insert_memory(&self, m: &Memory) -> Result<(), StoreError> {
        let done = self
            .memory_insert(m)
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                m.character_id
            )));
        }
        Ok(())
    }

    async fn get_memories(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError> {
        self.memories_by_id(MEMORY_COLUMNS, tenant, ids).await
    }

    async fn get_memories_for_recall(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError> {
        self.memories_by_id(MEMORY_COLUMNS_WITHOUT_EMBEDDING, tenant, ids)
            .await
    }

    async fn list_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        page: &PageRequest,
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query_as::<_, MemoryRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories
             WHERE tenant = $1 AND character_id = $2 AND ($3::text IS NULL OR kind = $3)
               AND ($4::uuid IS NULL OR id > $4)
             ORDER BY id LIMIT $5"
        )))
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(kind.map(MemoryKind::as_str))
        .bind(page.after)
        .bind(limit_of(page))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.open_memories(rows)
    }

    async fn all_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        scope: &ScopeFilter,
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query_as::<_, MemoryRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories
             WHERE tenant = $1 AND character_id = $2 AND ($3::text IS NULL OR kind = $3)
               AND ($4::text IS NULL OR user_id IS NULL OR user_id = $4)
             ORDER BY id"
        )))
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(kind.map(MemoryKind::as_str))
        .bind(scope.person())
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.open_memories(rows)
    }

    async fn delete_memory(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM memories WHERE id = $1 AND tenant = $2 AND character_id = $3")
                .bind(id)
                .bind(tenant.as_str())
                .bind(character_id)
                .execute(&self.pool)
                .within(self.query_timeout)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn supersede_memory(
        &self,
        tenant: &TenantId,
        old: Uuid,
        new: Uuid,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE memories SET superseded_by = $3 WHERE id = $1 AND tenant = $2
               AND EXISTS (SELECT 1 FROM memories WHERE id = $3 AND tenant = $2)",
        )
        .bind(old)
        .bind(tenant.as_str())
        .bind(new)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_embedding(
        &self,
        id: Uuid,
        embedding: &[f32],
        model: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE memories SET embedding = $2, embedding_model = $3, embedding_dimensions = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(embedding)
        .bind(model)
        .bind(embedding.len() as i32)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_pending_vector(&self, change: &PendingVector) -> Result<(), StoreError> {
        let (op, memory_id, tenant, character_id) = match change {
            PendingVector::Upsert { tenant, memory_id } => {
                ("upsert", Some(*memory_id), Some(tenant.as_str()), None)
            }
            PendingVector::Delete { memory_id } => ("delete", Some(*memory_id), None, None),
            PendingVector::DeleteCharacter {
                tenant,
                character_id,
            } => (
                "delete_character",
                None,
                Some(tenant.as_str()),
                Some(*character_id),
            ),
        };
        sqlx::query(
            "INSERT INTO pending_vectors (id, op, memory_id, tenant, character_id) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new_id())
        .bind(op)
        .bind(memory_id)
        .bind(tenant)
        .bind(character_id)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(())
    }

    async fn pending_vectors(&self, limit: u32) -> Result<Vec<PendingVectorRow>, StoreError> {
        type Row = (Uuid, String, Option<Uuid>, Option<String>, Option<Uuid>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, op, memory_id, tenant, character_id FROM pending_vectors ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        rows.into_iter()
            .map(|(id, op, memory_id, tenant, character_id)| {
                let change = match (op.as_str(), memory_id, tenant, character_id) {
                    ("upsert", Some(memory_id), Some(tenant), _) => PendingVector::Upsert {
                        tenant: tenant_of(tenant)?,
                        memory_id,
                    },
                    ("delete", Some(memory_id), _, _) => PendingVector::Delete { memory_id },
                    ("delete_character", _, Some(tenant), Some(character_id)) => {
                        PendingVector::DeleteCharacter {
                            tenant: tenant_of(tenant)?,
                            character_id,
                        }
                    }
                    _ => return Err(corrupt("pending vector change", &op)),
                };
                Ok(PendingVectorRow { id, change })
            })
            .collect()
    }

    async fn clear_pending_vectors(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pending_vectors WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        Ok(())
    }

    async fn memories_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query_as::<_, MemoryRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.open_memories(rows)
    }
}
