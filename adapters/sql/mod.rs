//! What the SQL stores (PostgreSQL and SQLite) share: rows as sqlx reads
//! them on either engine, their conversion to domain types, and the sealing
//! of text at rest. Each engine keeps its own queries and error mapping.

mod rows;
mod sealing;
mod world;

pub use rows::*;
pub use sealing::{Sealer, open_marked_text};
pub use world::*;

use crate::core::domain::{JobStatus, MemoryKind, MemorySource, PageRequest, Role, TenantId};
use crate::core::ports::StoreError;

pub fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("unexpected {what} '{value}' in the database"))
}

pub fn tenant_of(value: String) -> Result<TenantId, StoreError> {
    TenantId::parse(&value).map_err(|_| corrupt("tenant", &value))
}

pub fn object_of(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Character => "character",
    }
}

pub fn role_of(value: &str) -> Result<Role, StoreError> {
    match value {
        "user" => Ok(Role::User),
        "character" => Ok(Role::Character),
        other => Err(corrupt("role", other)),
    }
}

pub fn source_str(source: MemorySource) -> &'static str {
    match source {
        MemorySource::Manual => "manual",
        MemorySource::Chat => "chat",
        MemorySource::Event => "event",
        MemorySource::Reflection => "reflection",
    }
}

pub fn source_of(value: &str) -> Result<MemorySource, StoreError> {
    match value {
        "manual" => Ok(MemorySource::Manual),
        "chat" => Ok(MemorySource::Chat),
        "event" => Ok(MemorySource::Event),
        "reflection" => Ok(MemorySource::Reflection),
        other => Err(corrupt("memory source", other)),
    }
}

pub fn kind_of(value: &str) -> Result<MemoryKind, StoreError> {
    match value {
        "episodic" => Ok(MemoryKind::Episodic),
        "biographical" => Ok(MemoryKind::Biographical),
        other => Err(corrupt("memory kind", other)),
    }
}

pub fn convert<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

/// The associated data that binds a stored turn to its idempotency row.
pub fn idempotency_row(tenant: &TenantId, key: &str) -> Vec<u8> {
    format!("{}\0{key}", tenant.as_str()).into_bytes()
}

pub fn limit_of(page: &PageRequest) -> i64 {
    page.fetch_limit() as i64
}

/// Jobs counted by status, the same in both engines.
pub const JOB_COUNTS: &str = "SELECT status, COUNT(*) FROM jobs GROUP BY status";

/// `JOB_COUNTS`'s rows as counts by status (a status this build does not
/// know is left out).
pub fn job_counts(rows: Vec<(String, i64)>) -> Vec<(JobStatus, u64)> {
    rows.into_iter()
        .filter_map(|(status, count)| {
            Some((
                JobStatus::parse(&status)?,
                u64::try_from(count).unwrap_or(0),
            ))
        })
        .collect()
}
