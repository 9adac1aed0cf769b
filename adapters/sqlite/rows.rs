//! The memory row as SQLite stores it (the embedding as little-endian f32
//! bytes, the evidence as a JSON array); the rows both engines share are in
//! `adapters::sql`.

use crate::adapters::sql::{corrupt, kind_of, source_of, tenant_of};
use crate::core::domain::Memory;
use crate::core::ports::StoreError;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
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
    embedding: Vec<u8>,
    embedding_model: String,
    superseded_by: Option<Uuid>,
    evidence: Json<Vec<Uuid>>,
    event_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    /// Written encrypted.
    pub(super) sealed: Option<bool>,
}

pub(super) const MEMORY_COLUMNS: &str = "id, tenant, character_id, session_id, user_id, kind, source, content, importance, embedding, embedding_model, superseded_by, evidence, event_id, COALESCE(occurred_at, created_at) AS occurred_at, created_at, sealed";

pub(super) fn embedding_bytes(embedding: &[f32]) -> Vec<u8> {
    embedding.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn embedding_of(bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(corrupt("embedding length", &bytes.len().to_string()));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

impl TryFrom<MemoryRow> for Memory {
    type Error = StoreError;
    fn try_from(row: MemoryRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            tenant: tenant_of(row.tenant)?,
            character_id: row.character_id,
            kind: kind_of(&row.kind)?,
            source: source_of(&row.source)?,
            content: row.content,
            importance: row.importance,
            session_id: row.session_id,
            user_id: row.user_id,
            embedding: embedding_of(&row.embedding)?,
            embedding_model: row.embedding_model,
            superseded_by: row.superseded_by,
            evidence: row.evidence.0,
            event_id: row.event_id,
            occurred_at: row.occurred_at,
            created_at: row.created_at,
        })
    }
}
