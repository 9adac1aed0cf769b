//! The memory row as PostgreSQL stores it (arrays for the embedding and
//! the evidence); the rows both engines share are in `adapters::sql`.

use crate::adapters::sql::{kind_of, source_of, tenant_of};
use crate::core::domain::Memory;
use crate::core::ports::StoreError;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(super) struct MemoryRow {
    id: Uuid,
    tenant: String,
    character_id: Uuid,
    session_id: Option<Uuid>,
    user_id: Option<String>,
    kind: String,
    source: String,
    content: String,
    importance: f32,
    embedding: Vec<f32>,
    embedding_model: String,
    superseded_by: Option<Uuid>,
    evidence: Vec<Uuid>,
    event_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    /// Written encrypted; `None` for rows older than the column.
    pub(super) sealed: Option<bool>,
}

impl TryFrom<MemoryRow> for Memory {
    type Error = StoreError;
    fn try_from(row: MemoryRow) -> Result<Self, StoreError> {
        let kind = kind_of(&row.kind)?;
        let source = source_of(&row.source)?;
        Ok(Self {
            id: row.id,
            tenant: tenant_of(row.tenant)?,
            character_id: row.character_id,
            kind,
            source,
            content: row.content,
            importance: row.importance,
            session_id: row.session_id,
            user_id: row.user_id,
            embedding: row.embedding,
            embedding_model: row.embedding_model,
            superseded_by: row.superseded_by,
            evidence: row.evidence,
            event_id: row.event_id,
            occurred_at: row.occurred_at,
            created_at: row.created_at,
        })
    }
}

/// `MEMORY_COLUMNS` with an empty embedding.
pub(super) const MEMORY_COLUMNS_WITHOUT_EMBEDDING: &str = "id, tenant, character_id, session_id, user_id, kind, source, content, importance, '{}'::real[] AS embedding, embedding_model, superseded_by, evidence, event_id, COALESCE(occurred_at, created_at) AS occurred_at, created_at, sealed";
pub(super) const MEMORY_COLUMNS: &str = "id, tenant, character_id, session_id, user_id, kind, source, content, importance, embedding, embedding_model, superseded_by, evidence, event_id, COALESCE(occurred_at, created_at) AS occurred_at, created_at, sealed";
