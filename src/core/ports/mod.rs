//! The four ports: what the core needs from the outside world. Adapters in
//! `adapters/` implement them; the core never sees a driver type.

use crate::core::domain::{
    ApiKey, Character, IdempotencyRecord, Job, JobOutcome, KeyHash, Memory, MemoryKind, Message,
    PageRequest, PendingVector, PendingVectorRow, Role, ScoredId, Session, TenantId, Usage,
    VectorPoint, VectorQuery,
};
mod health;

pub use health::PortHealth;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached (down, pool exhausted, timed out). Maps to 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken. Maps to 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Encrypted data this instance has no key for (ENCRYPTION_KEY). A 500
    /// that says so; never returned as ciphertext.
    #[error("undecryptable: {0}")]
    Undecryptable(String),
    /// Anything else; logged, shown as a bare 500.
    #[error("store error: {0}")]
    Internal(String),
}

/// The authoritative store (PostgreSQL in production).
///
/// Contract for every implementation:
/// - Reads scoped by `tenant` return `None`/empty for rows of another tenant,
///   exactly as for rows that do not exist.
/// - Listings are ordered by id (UUIDv7, i.e. creation order), return rows
///   strictly after `page.after`, and at most `page.fetch_limit()` rows.
/// - Deleting a character removes its sessions, messages, memories and jobs;
///   deleting a session removes its messages and detaches its memories
///   (their `session_id` becomes `None`).
/// - Writes that reference a missing (or foreign) parent row fail with
///   `StoreError::Conflict`.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `StoreError::Conflict` on a uniqueness violation; `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// "in-memory" or "postgres", for `/health`.
    fn kind(&self) -> &'static str;
    /// Ok when the store answers and its schema is up to date.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Brings the schema up to date; idempotent and safe when several
    /// replicas call it at once.
    async fn migrate(&self) -> Result<(), StoreError>;

    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// Returns false when no live key has this id.
    async fn revoke_api_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;

    async fn insert_character(&self, character: &Character) -> Result<(), StoreError>;
    async fn get_character(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Character>, StoreError>;
    async fn list_characters(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError>;
    /// Returns false when the character does not exist for this tenant.
    async fn update_character(&self, character: &Character) -> Result<bool, StoreError>;
    async fn delete_character(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError>;

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn get_session(&self, tenant: &TenantId, id: Uuid)
    -> Result<Option<Session>, StoreError>;
    async fn list_sessions(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Session>, StoreError>;
    async fn delete_session(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// Deletes up to `limit` sessions idle since before `cutoff`; returns how many.
    async fn delete_idle_sessions(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Stores a message and moves its session's `last_active_at`.
    async fn append_message(&self, message: &Message) -> Result<(), StoreError>;
    async fn get_message(&self, tenant: &TenantId, id: Uuid)
    -> Result<Option<Message>, StoreError>;
    async fn list_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Message>, StoreError>;
    /// The last `limit` messages of a session, oldest first.
    async fn recent_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
    async fn count_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        role: Role,
    ) -> Result<u64, StoreError>;

    async fn insert_memory(&self, memory: &Memory) -> Result<(), StoreError>;
    /// The memories with these ids that belong to the tenant, in any order.
    async fn get_memories(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError>;
    async fn list_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        page: &PageRequest,
    ) -> Result<Vec<Memory>, StoreError>;
    /// Every memory of a character (with embeddings), for exact search and dedup.
    async fn all_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
    ) -> Result<Vec<Memory>, StoreError>;
    async fn delete_memory(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    /// Marks `old` as superseded by `new` (both the tenant's); false when
    /// `old` does not exist for the tenant.
    async fn supersede_memory(
        &self,
        tenant: &TenantId,
        old: Uuid,
        new: Uuid,
    ) -> Result<bool, StoreError>;
    /// Replaces a memory's embedding (a reindex after the model changed).
    async fn update_embedding(
        &self,
        id: Uuid,
        embedding: &[f32],
        model: &str,
    ) -> Result<bool, StoreError>;
    /// Records a change the vector index could not take.
    async fn record_pending_vector(&self, change: &PendingVector) -> Result<(), StoreError>;
    /// The oldest pending changes, oldest first.
    async fn pending_vectors(&self, limit: u32) -> Result<Vec<PendingVectorRow>, StoreError>;
    async fn clear_pending_vectors(&self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Every tenant's memories in id order, after `after`, at most `limit`:
    /// the batches a reindex walks.
    async fn memories_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError>;

    /// Records the key if new and returns `None`; otherwise returns the
    /// record already stored (the key is unique per tenant).
    async fn claim_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    async fn complete_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        response: &serde_json::Value,
    ) -> Result<(), StoreError>;

    async fn enqueue_job(&self, job: &Job) -> Result<(), StoreError>;
    /// Takes the oldest runnable job (queued and due, or running with an
    /// expired lease), marks it running for `lease` and counts the attempt.
    /// Concurrent callers never get the same job.
    async fn claim_job(&self, lease: Duration) -> Result<Option<Job>, StoreError>;
    async fn finish_job(&self, id: Uuid, outcome: &JobOutcome) -> Result<(), StoreError>;
    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError>;
}

/// A rate-limit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    Allowed { remaining: u32 },
    Limited { retry_after: Duration },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CacheError {
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

/// A cache that may lose anything at any time (Redis, or moka in process).
///
/// # Errors
/// `CacheError::Unavailable` on any failure; callers treat it as a miss.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// "in-memory" or "redis", for `/health`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), CacheError>;
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    /// Sets the key only if absent; true when this call set it.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Adds one to a counter (created at 1 with `ttl`), returning the new value.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, CacheError>;
    /// Atomic GCRA: admits `limit` calls per `period` for `key` (bursts of
    /// up to `limit`), shared by every replica using the same cache.
    async fn throttle(
        &self,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<Throttle, CacheError>;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VectorError {
    #[error("vector memory unavailable: {0}")]
    Unavailable(String),
}

/// The vector index over memory embeddings. Never authoritative: the Store
/// keeps every embedding, so this can be rebuilt.
///
/// Contract: `search` returns only points of the query's tenant and
/// character (and kind, if given), best first, at most `k`.
///
/// # Errors
/// `VectorError::Unavailable` on any failure; callers fall back to the Store.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VectorMemory: Send + Sync + 'static {
    /// "in-memory" or "qdrant", for `/health`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), VectorError>;
    async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError>;
    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredId>, VectorError>;
    async fn delete(&self, memory_ids: &[Uuid]) -> Result<(), VectorError>;
    async fn delete_character(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<(), VectorError>;
    /// How the index differs from the embedding model in use (another model
    /// or size), if it does; a reindex resets it.
    async fn model_mismatch(
        &self,
        model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError>;
    /// Drops every point and prepares the index for `model` / `dimensions`.
    async fn reset(&self, model: &str, dimensions: usize) -> Result<(), VectorError>;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("model call timed out")]
    Timeout,
    #[error("model provider rate limited the call")]
    RateLimited { retry_after: Option<Duration> },
    #[error("model provider unavailable: {0}")]
    Unavailable(String),
    #[error("model returned an unusable response: {0}")]
    BadResponse(String),
}

/// What the renderer model needs to answer in character.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderRequest {
    pub character_name: String,
    pub persona: String,
    pub traits: serde_json::Map<String, serde_json::Value>,
    pub user_name: Option<String>,
    /// Retrieved memories, most relevant first.
    pub memories: Vec<String>,
    /// Earlier turns of the session, oldest first.
    pub history: Vec<(Role, String)>,
    pub message: String,
}

/// What the cognition model reads to extract lasting facts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReflectRequest {
    pub character_name: String,
    pub persona: String,
    pub user_name: Option<String>,
    pub transcript: Vec<(Role, String)>,
    /// Biographical memories the character already has, with their ids, so
    /// the model can say which one a new fact supersedes.
    pub known_facts: Vec<(Uuid, String)>,
    /// The model's previous, unparseable answer: ask it to repair it.
    pub repair: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StreamChunk {
    Delta(String),
    Usage(Usage),
}

pub type ChunkStream = BoxStream<'static, Result<StreamChunk, LlmError>>;

/// How the LLM is wired, for `/health` and `check`.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmDescription {
    /// "offline" or "openai-compatible".
    pub kind: &'static str,
    pub renderer_model: String,
    pub cognition_model: String,
    pub embedding_model: String,
    pub dimensions: usize,
}

/// The language models: renderer (in-character replies), cognition
/// (reasoning, fact extraction) and embeddings.
///
/// # Errors
/// A typed `LlmError`; adapters never pass the provider's body upward.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Llm: Send + Sync + 'static {
    fn describe(&self) -> LlmDescription;
    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError>;
    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError>;
    /// Returns the cognition model's raw text, expected to hold JSON
    /// `{"facts":[{"content":..,"importance":..,"supersedes":..}]}`; the
    /// core parses it (and asks once more, with `repair`, if it cannot).
    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError>;
    /// One vector per text, each of `describe().dimensions` values.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError>;
}
