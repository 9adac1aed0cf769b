//! Rows as sqlx reads them, their conversion to domain types, and the
//! small helpers the queries share.

use super::{corrupt, object_of, tenant_of};
use crate::core::domain::{
    ApiKey, Character, Job, JobKind, JobStatus, KeyHash, Memory, MemoryKind, MemorySource, Message,
    PageRequest, Role, Session, TenantId, Usage,
};
use crate::core::ports::StoreError;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    id: Uuid,
    tenant: String,
    name: String,
    key_hash: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(row: ApiKeyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            tenant: tenant_of(row.tenant)?,
            name: row.name,
            key_hash: KeyHash::from_stored(row.key_hash),
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CharacterRow {
    id: Uuid,
    tenant: String,
    name: String,
    persona: String,
    traits: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CharacterRow> for Character {
    type Error = StoreError;
    fn try_from(row: CharacterRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            tenant: tenant_of(row.tenant)?,
            name: row.name,
            persona: row.persona,
            traits: object_of(row.traits.0),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: Uuid,
    tenant: String,
    character_id: Uuid,
    user_id: String,
    user_name: Option<String>,
    metadata: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            tenant: tenant_of(row.tenant)?,
            character_id: row.character_id,
            user_id: row.user_id,
            user_name: row.user_name,
            metadata: object_of(row.metadata.0),
            created_at: row.created_at,
            last_active_at: row.last_active_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: Uuid,
    tenant: String,
    session_id: Uuid,
    role: String,
    content: String,
    prompt_tokens: Option<i32>,
    completion_tokens: Option<i32>,
    incomplete: bool,
    latency_ms: Option<i32>,
    created_at: DateTime<Utc>,
    /// Written encrypted; `None` for rows older than the column.
    pub(super) sealed: Option<bool>,
}

pub(super) fn role_str(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Character => "character",
    }
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;
    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        let role = match row.role.as_str() {
            "user" => Role::User,
            "character" => Role::Character,
            other => return Err(corrupt("role", other)),
        };
        let usage = match (row.prompt_tokens, row.completion_tokens) {
            (Some(prompt), Some(completion)) => Some(Usage {
                prompt_tokens: prompt.max(0) as u32,
                completion_tokens: completion.max(0) as u32,
            }),
            _ => None,
        };
        Ok(Self {
            id: row.id,
            tenant: tenant_of(row.tenant)?,
            session_id: row.session_id,
            role,
            content: row.content,
            usage,
            incomplete: row.incomplete,
            latency_ms: row.latency_ms.map(|ms| ms.max(0) as u32),
            created_at: row.created_at,
        })
    }
}

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
    created_at: DateTime<Utc>,
    /// Written encrypted; `None` for rows older than the column.
    pub(super) sealed: Option<bool>,
}

pub(super) fn source_str(source: MemorySource) -> &'static str {
    match source {
        MemorySource::Manual => "manual",
        MemorySource::Chat => "chat",
        MemorySource::Event => "event",
        MemorySource::Reflection => "reflection",
    }
}

impl TryFrom<MemoryRow> for Memory {
    type Error = StoreError;
    fn try_from(row: MemoryRow) -> Result<Self, StoreError> {
        let kind = match row.kind.as_str() {
            "episodic" => MemoryKind::Episodic,
            "biographical" => MemoryKind::Biographical,
            other => return Err(corrupt("memory kind", other)),
        };
        let source = match row.source.as_str() {
            "manual" => MemorySource::Manual,
            "chat" => MemorySource::Chat,
            "event" => MemorySource::Event,
            "reflection" => MemorySource::Reflection,
            other => return Err(corrupt("memory source", other)),
        };
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
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct IdempotencyRow {
    pub(super) session_id: Uuid,
    pub(super) user_message_id: Uuid,
    pub(super) claimed_at: DateTime<Utc>,
    pub(super) response: Option<Json<serde_json::Value>>,
}

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    id: Uuid,
    tenant: String,
    kind: String,
    character_id: Uuid,
    status: String,
    attempts: i32,
    max_attempts: i32,
    run_at: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
    last_error: Option<String>,
    result: Option<Json<serde_json::Value>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(row: JobRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            tenant: tenant_of(row.tenant)?,
            kind: JobKind::parse(&row.kind).ok_or_else(|| corrupt("job kind", &row.kind))?,
            character_id: row.character_id,
            status: JobStatus::parse(&row.status)
                .ok_or_else(|| corrupt("job status", &row.status))?,
            attempts: row.attempts.max(0) as u32,
            max_attempts: row.max_attempts.max(0) as u32,
            run_at: row.run_at,
            locked_until: row.locked_until,
            last_error: row.last_error,
            result: row.result.map(|r| r.0),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(super) fn convert<R, T: TryFrom<R, Error = StoreError>>(
    rows: Vec<R>,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

/// The associated data that binds a stored turn to its idempotency row.
pub(super) fn idempotency_row(tenant: &TenantId, key: &str) -> Vec<u8> {
    format!("{}\0{key}", tenant.as_str()).into_bytes()
}

pub(super) fn limit_of(page: &PageRequest) -> i64 {
    page.fetch_limit() as i64
}

pub(super) const MEMORY_COLUMNS: &str = "id, tenant, character_id, session_id, user_id, kind, source, content, importance, embedding, embedding_model, superseded_by, evidence, created_at, sealed";
