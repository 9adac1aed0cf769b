//! Rows as sqlx reads them from either engine (every column type here
//! decodes on PostgreSQL and on SQLite), and their conversion to domain types.

use super::{corrupt, object_of, role_of, tenant_of};
use crate::core::domain::{
    ApiKey, Character, Job, JobKind, JobStatus, KeyHash, Message, Session, Usage,
};
use crate::core::ports::StoreError;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct ApiKeyRow {
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
pub struct CharacterRow {
    id: Uuid,
    tenant: String,
    name: String,
    persona: String,
    traits: Json<serde_json::Value>,
    place_id: Option<Uuid>,
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
            place_id: row.place_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
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
pub struct MessageRow {
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
    pub sealed: Option<bool>,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;
    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        let role = role_of(&row.role)?;
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
pub struct IdempotencyRow {
    pub session_id: Uuid,
    pub user_message_id: Uuid,
    pub claimed_at: DateTime<Utc>,
    pub response: Option<Json<serde_json::Value>>,
}

#[derive(sqlx::FromRow)]
pub struct JobRow {
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
