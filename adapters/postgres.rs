//! PostgreSQL `Store` on sqlx: runtime queries and `FromRow`, so building
//! needs no database. Driver errors are translated here; the core never
//! sees a `sqlx::Error`.

use super::cipher::{Cipher, open_without_key};
use crate::core::domain::{
    ApiKey, Character, IdempotencyRecord, Job, JobKind, JobOutcome, JobStatus, KeyHash, Memory,
    MemoryKind, MemorySource, Message, PageRequest, PendingVector, PendingVectorRow, Role, Session,
    TenantId, Usage, new_id,
};
use crate::core::ports::{Store, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::types::Json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Key of the advisory lock that makes one replica run each retention pass.
const RETENTION_LOCK: i64 = 0x5669_724c_6966_6501;

pub struct PostgresOptions {
    pub url: String,
    /// Encrypts message and memory text (and stored turns) at rest.
    pub cipher: Option<Arc<Cipher>>,
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
    /// Bound on one statement, so a frozen server costs seconds, not forever.
    pub query_timeout: Duration,
}

pub struct PostgresStore {
    pool: PgPool,
    migrated: AtomicBool,
    query_timeout: Duration,
    cipher: Option<Arc<Cipher>>,
}

/// Bounds a sqlx future and translates its error at the adapter's edge.
trait Within<T>: Future<Output = Result<T, sqlx::Error>> + Sized {
    async fn within(self, limit: Duration) -> Result<T, StoreError> {
        match tokio::time::timeout(limit, self).await {
            Ok(result) => result.map_err(map_err),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer from PostgreSQL within {} ms",
                limit.as_millis()
            ))),
        }
    }
}

impl<T, F: Future<Output = Result<T, sqlx::Error>>> Within<T> for F {}

/// Accepts the SQLAlchemy form `postgresql+asyncpg://` that Python guides
/// use; returns the URL sqlx understands and whether it was changed.
pub fn normalise_url(url: &str) -> (String, bool) {
    for prefix in [
        "postgresql+asyncpg://",
        "postgres+asyncpg://",
        "postgresql+psycopg://",
    ] {
        if let Some(rest) = url.strip_prefix(prefix) {
            return (format!("postgresql://{rest}"), true);
        }
    }
    (url.to_owned(), false)
}

fn map_err(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // unique_violation, foreign_key_violation
            Some("23505") | Some("23503") => StoreError::Conflict(db.message().to_owned()),
            // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
            Some("57P01") | Some("57P02") | Some("57P03") | Some("53300") => {
                StoreError::Unavailable(db.message().to_owned())
            }
            _ => StoreError::Internal(err.to_string()),
        },
        _ => StoreError::Internal(err.to_string()),
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("unexpected {what} '{value}' in the database"))
}

fn tenant_of(value: String) -> Result<TenantId, StoreError> {
    TenantId::parse(&value).map_err(|_| corrupt("tenant", &value))
}

fn object_of(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

impl PostgresStore {
    /// Creates the pool without connecting, so a database that is down at
    /// boot does not block start-up; readiness reports it instead.
    pub fn connect_lazy(options: &PostgresOptions) -> Result<Self, StoreError> {
        let (url, changed) = normalise_url(&options.url);
        if changed {
            tracing::info!("DATABASE_URL given in SQLAlchemy form; using postgresql://");
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .connect_lazy(&url)
            .map_err(|e| StoreError::Internal(format!("invalid DATABASE_URL: {e}")))?;
        Ok(Self {
            pool,
            migrated: AtomicBool::new(false),
            query_timeout: options.query_timeout,
            cipher: options.cipher.clone(),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Text as it is written: sealed to its row when a key is set.
    fn seal(&self, text: &str, row: Uuid) -> String {
        self.seal_to(text, row.as_bytes())
    }

    fn seal_to(&self, text: &str, row: &[u8]) -> String {
        match &self.cipher {
            Some(cipher) => cipher.seal(text, row),
            None => text.to_owned(),
        }
    }

    /// Text as it is read: opened, or refused if sealed and we lack the key.
    fn open(&self, stored: &str, row: Uuid) -> Result<String, StoreError> {
        self.open_from(stored, row.as_bytes())
    }

    fn open_from(&self, stored: &str, row: &[u8]) -> Result<String, StoreError> {
        let opened = match &self.cipher {
            Some(cipher) => cipher.open(stored, row),
            None => open_without_key(stored),
        };
        opened.map_err(|err| {
            tracing::error!(error = %err, "cannot decrypt stored text");
            StoreError::Undecryptable(err.to_string())
        })
    }

    /// A stored turn holds message text, so it is sealed as one string, to
    /// its row (tenant and key).
    fn seal_response(&self, response: &serde_json::Value, row: &[u8]) -> serde_json::Value {
        match &self.cipher {
            Some(_) => serde_json::Value::String(self.seal_to(&response.to_string(), row)),
            None => response.clone(),
        }
    }

    fn open_response(
        &self,
        stored: serde_json::Value,
        row: &[u8],
    ) -> Result<serde_json::Value, StoreError> {
        match stored {
            serde_json::Value::String(sealed) => {
                let text = self.open_from(&sealed, row)?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Internal(format!("stored turn unreadable: {e}")))
            }
            plain => Ok(plain),
        }
    }

    fn open_messages(&self, mut messages: Vec<Message>) -> Result<Vec<Message>, StoreError> {
        for message in &mut messages {
            message.content = self.open(&message.content, message.id)?;
        }
        Ok(messages)
    }

    fn open_memories(&self, mut memories: Vec<Memory>) -> Result<Vec<Memory>, StoreError> {
        for memory in &mut memories {
            memory.content = self.open(&memory.content, memory.id)?;
        }
        Ok(memories)
    }

    /// True when every embedded migration is recorded as applied.
    async fn schema_is_current(&self) -> bool {
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
            {
                Ok(versions) => versions,
                Err(_) => return false,
            };
        MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.contains(&m.version))
    }
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
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
struct CharacterRow {
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
struct SessionRow {
    id: Uuid,
    tenant: String,
    character_id: Uuid,
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
            user_name: row.user_name,
            metadata: object_of(row.metadata.0),
            created_at: row.created_at,
            last_active_at: row.last_active_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
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
}

fn role_str(role: Role) -> &'static str {
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
struct MemoryRow {
    id: Uuid,
    tenant: String,
    character_id: Uuid,
    session_id: Option<Uuid>,
    kind: String,
    source: String,
    content: String,
    importance: f32,
    embedding: Vec<f32>,
    embedding_model: String,
    superseded_by: Option<Uuid>,
    created_at: DateTime<Utc>,
}

fn source_str(source: MemorySource) -> &'static str {
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
            embedding: row.embedding,
            embedding_model: row.embedding_model,
            superseded_by: row.superseded_by,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct IdempotencyRow {
    session_id: Uuid,
    user_message_id: Uuid,
    claimed_at: DateTime<Utc>,
    response: Option<Json<serde_json::Value>>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
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

fn convert<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

/// The associated data that binds a stored turn to its idempotency row.
fn idempotency_row(tenant: &TenantId, key: &str) -> Vec<u8> {
    format!("{}\0{key}", tenant.as_str()).into_bytes()
}

fn limit_of(page: &PageRequest) -> i64 {
    page.fetch_limit() as i64
}

const MEMORY_COLUMNS: &str = "id, tenant, character_id, session_id, kind, source, content, importance, embedding, embedding_model, superseded_by, created_at";

#[async_trait]
impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        if !self.migrated.load(Ordering::Acquire) {
            // Another replica (or `virlife migrate`) may have applied them.
            if !self.schema_is_current().await {
                return Err(StoreError::Unavailable("migrations pending".into()));
            }
            self.migrated.store(true, Ordering::Release);
        }
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // sqlx takes a PostgreSQL advisory lock, so concurrent replicas apply each migration once.
        MIGRATOR.run(&self.pool).await.map_err(|err| match err {
            sqlx::migrate::MigrateError::Execute(inner) => map_err(inner),
            other => StoreError::Internal(other.to_string()),
        })?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

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

    async fn insert_character(&self, c: &Character) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO characters (id, tenant, name, persona, traits, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id)
        .bind(c.tenant.as_str())
        .bind(&c.name)
        .bind(&c.persona)
        .bind(Json(&c.traits))
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(())
    }

    async fn get_character(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Character>, StoreError> {
        sqlx::query_as::<_, CharacterRow>("SELECT * FROM characters WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .within(self.query_timeout)
            .await?
            .map(Character::try_from)
            .transpose()
    }

    async fn list_characters(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError> {
        let rows = sqlx::query_as::<_, CharacterRow>(
            "SELECT * FROM characters WHERE tenant = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(page.after)
        .bind(limit_of(page))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        convert(rows)
    }

    async fn update_character(&self, c: &Character) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE characters SET name = $3, persona = $4, traits = $5, updated_at = $6 WHERE id = $1 AND tenant = $2",
        )
        .bind(c.id)
        .bind(c.tenant.as_str())
        .bind(&c.name)
        .bind(&c.persona)
        .bind(Json(&c.traits))
        .bind(c.updated_at)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_character(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        // Foreign keys cascade to sessions, messages, memories and jobs.
        let done = sqlx::query("DELETE FROM characters WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO sessions (id, tenant, character_id, user_name, metadata, created_at, last_active_at)
             SELECT $1, $2, $3, $4, $5, $6, $7
             WHERE EXISTS (SELECT 1 FROM characters WHERE id = $3 AND tenant = $2)",
        )
        .bind(s.id)
        .bind(s.tenant.as_str())
        .bind(s.character_id)
        .bind(&s.user_name)
        .bind(Json(&s.metadata))
        .bind(s.created_at)
        .bind(s.last_active_at)
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
             INSERT INTO messages (id, tenant, session_id, role, content, prompt_tokens, completion_tokens, incomplete, created_at, latency_ms)
             SELECT $1, $2, session.id, $4, $5, $6, $7, $8, $9, $10 FROM session",
        )
        .bind(m.id)
        .bind(m.tenant.as_str())
        .bind(m.session_id)
        .bind(role_str(m.role))
        .bind(self.seal(&m.content, m.id))
        .bind(m.usage.map(|u| u.prompt_tokens as i32))
        .bind(m.usage.map(|u| u.completion_tokens as i32))
        .bind(m.incomplete)
        .bind(m.created_at)
        .bind(m.latency_ms.map(|ms| ms.min(i32::MAX as u32) as i32))
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
            .map(|row| {
                let message = Message::try_from(row)?;
                Ok(self.open_messages(vec![message])?.remove(0))
            })
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
        self.open_messages(convert(rows)?)
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
        self.open_messages(convert(rows)?)
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

    async fn insert_memory(&self, m: &Memory) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO memories (id, tenant, character_id, session_id, kind, source, content, importance, embedding, embedding_model, embedding_dimensions, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
             WHERE EXISTS (SELECT 1 FROM characters WHERE id = $3 AND tenant = $2)",
        )
        .bind(m.id)
        .bind(m.tenant.as_str())
        .bind(m.character_id)
        .bind(m.session_id)
        .bind(m.kind.as_str())
        .bind(source_str(m.source))
        .bind(self.seal(&m.content, m.id))
        .bind(m.importance)
        .bind(&m.embedding)
        .bind(&m.embedding_model)
        .bind(m.embedding.len() as i32)
        .bind(m.created_at)
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
        let rows = sqlx::query_as::<_, MemoryRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE tenant = $1 AND id = ANY($2)"
        )))
        .bind(tenant.as_str())
        .bind(ids)
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.open_memories(convert(rows)?)
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
        self.open_memories(convert(rows)?)
    }

    async fn all_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query_as::<_, MemoryRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories
             WHERE tenant = $1 AND character_id = $2 AND ($3::text IS NULL OR kind = $3)
             ORDER BY id"
        )))
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(kind.map(MemoryKind::as_str))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.open_memories(convert(rows)?)
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
        self.open_memories(convert(rows)?)
    }

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
                .map(|r| self.open_response(r.0, &idempotency_row(tenant, key)))
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
                self.seal_response(response, &idempotency_row(tenant, key)),
            ))
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        Ok(())
    }

    async fn enqueue_job(&self, job: &Job) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO jobs (id, tenant, kind, character_id, status, attempts, max_attempts, run_at, locked_until, last_error, result, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
             WHERE EXISTS (SELECT 1 FROM characters WHERE id = $4 AND tenant = $2)",
        )
        .bind(job.id)
        .bind(job.tenant.as_str())
        .bind(job.kind.as_str())
        .bind(job.character_id)
        .bind(job.status.as_str())
        .bind(job.attempts as i32)
        .bind(job.max_attempts as i32)
        .bind(job.run_at)
        .bind(job.locked_until)
        .bind(&job.last_error)
        .bind(job.result.as_ref().map(Json))
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                job.character_id
            )));
        }
        Ok(())
    }

    async fn claim_job(&self, lease: Duration) -> Result<Option<Job>, StoreError> {
        // SKIP LOCKED: concurrent workers (other replicas) never take the same job.
        let row = sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1,
                 locked_until = now() + make_interval(secs => $1), updated_at = now()
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE (status = 'queued' AND run_at <= now())
                    OR (status = 'running' AND locked_until < now())
                 ORDER BY run_at, id
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await?;
        row.map(Job::try_from).transpose()
    }

    async fn finish_job(&self, id: Uuid, outcome: &JobOutcome) -> Result<(), StoreError> {
        let query = match outcome {
            JobOutcome::Done(result) => sqlx::query(
                "UPDATE jobs SET status = 'done', result = $2, locked_until = NULL, updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(Json(result)),
            JobOutcome::Retry { at, error } => sqlx::query(
                "UPDATE jobs SET status = 'queued', run_at = $2, last_error = $3, locked_until = NULL, updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(*at)
            .bind(error),
            JobOutcome::Failed(error) => sqlx::query(
                "UPDATE jobs SET status = 'failed', last_error = $2, locked_until = NULL, updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(error),
        };
        query.execute(&self.pool).within(self.query_timeout).await?;
        Ok(())
    }

    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .within(self.query_timeout)
            .await?
            .map(Job::try_from)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_urls_are_normalised() {
        assert_eq!(
            normalise_url("postgresql+asyncpg://u:p@h:5432/db"),
            ("postgresql://u:p@h:5432/db".to_owned(), true)
        );
        assert_eq!(
            normalise_url("postgres://u@h/db"),
            ("postgres://u@h/db".to_owned(), false)
        );
    }
}
