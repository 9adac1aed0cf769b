//! Request and response bodies as the API documents them, and their
//! conversions from domain types.

use crate::core::domain::{
    ApiKey, Character, Job, JobStatus, Memory, MemoryKind, MemorySource, Message, Page, Role,
    Session, Usage,
};
use crate::core::domain::{ListRank, RankScores, SearchMode};
use crate::core::use_cases::{ScoredMemory, TurnOutcome};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

/// Whose a memory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "MemoryScope", rename_all = "lowercase")]
pub enum MemoryScopeDto {
    World,
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "MemoryKind", rename_all = "lowercase")]
pub enum MemoryKindDto {
    Episodic,
    Biographical,
}

impl From<MemoryKindDto> for MemoryKind {
    fn from(kind: MemoryKindDto) -> Self {
        match kind {
            MemoryKindDto::Episodic => MemoryKind::Episodic,
            MemoryKindDto::Biographical => MemoryKind::Biographical,
        }
    }
}

impl From<MemoryKind> for MemoryKindDto {
    fn from(kind: MemoryKind) -> Self {
        match kind {
            MemoryKind::Episodic => MemoryKindDto::Episodic,
            MemoryKind::Biographical => MemoryKindDto::Biographical,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "MemorySource", rename_all = "lowercase")]
pub enum MemorySourceDto {
    Manual,
    Chat,
    Event,
    Reflection,
}

impl From<MemorySource> for MemorySourceDto {
    fn from(source: MemorySource) -> Self {
        match source {
            MemorySource::Manual => Self::Manual,
            MemorySource::Chat => Self::Chat,
            MemorySource::Event => Self::Event,
            MemorySource::Reflection => Self::Reflection,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Role", rename_all = "lowercase")]
pub enum RoleDto {
    User,
    Character,
}

impl From<Role> for RoleDto {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Self::User,
            Role::Character => Self::Character,
        }
    }
}

// ---- admin ----

#[derive(Debug, Object)]
pub struct CreateApiKeyRequest {
    /// Tenant the key belongs to: lowercase letters, digits, `-`, `_`.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub tenant: String,
    /// A label for the key.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
}

#[derive(Debug, Object)]
pub struct CreatedApiKey {
    pub id: Uuid,
    pub tenant: String,
    pub name: String,
    /// The secret, shown only now; only its hash is stored.
    pub key: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename = "ApiKey")]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub tenant: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            tenant: key.tenant.to_string(),
            name: key.name,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyDto>,
}

#[derive(Debug, Object)]
pub struct ReindexReport {
    /// Memories read from PostgreSQL.
    pub memories: u64,
    /// Vectors written to the index.
    pub indexed: u64,
    /// Memories re-embedded because their embedding model was not the current one.
    pub reembedded: u64,
    pub failed: u64,
}

// ---- characters ----

#[derive(Debug, Object)]
pub struct CreateCharacterRequest {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    #[oai(validator(min_length = 1, max_length = 20000))]
    pub persona: String,
    /// Free-form JSON object.
    pub traits: Option<serde_json::Value>,
}

#[derive(Debug, Object)]
pub struct UpdateCharacterRequest {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    #[oai(validator(min_length = 1, max_length = 20000))]
    pub persona: Option<String>,
    pub traits: Option<serde_json::Value>,
}

#[derive(Debug, Object)]
#[oai(rename = "Character")]
pub struct CharacterDto {
    pub id: Uuid,
    pub name: String,
    pub persona: String,
    pub traits: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Character> for CharacterDto {
    fn from(c: Character) -> Self {
        Self {
            id: c.id,
            name: c.name,
            persona: c.persona,
            traits: serde_json::Value::Object(c.traits),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct CharacterPage {
    pub items: Vec<CharacterDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

// ---- memories ----

#[derive(Debug, Object)]
pub struct CreateMemoryRequest {
    pub kind: MemoryKindDto,
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub content: String,
    /// The person this memory is about or from: recalled only in their
    /// sessions. Omit for the world's (recalled with everyone).
    #[oai(validator(min_length = 1, max_length = 128))]
    pub user_id: Option<String>,
    /// 0 (trivial) to 1 (defining); default 0.5.
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub importance: Option<f64>,
}

#[derive(Debug, Object)]
pub struct CreateEventRequest {
    /// What happened, as the character perceives it.
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub description: String,
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub importance: Option<f64>,
}

#[derive(Debug, Object)]
#[oai(rename = "Memory")]
pub struct MemoryDto {
    pub id: Uuid,
    pub character_id: Uuid,
    pub kind: MemoryKindDto,
    pub source: MemorySourceDto,
    pub content: String,
    pub importance: f64,
    #[oai(skip_serializing_if_is_none)]
    pub session_id: Option<Uuid>,
    /// `world` (recalled with everyone) or `user` (recalled only in the
    /// sessions of `user_id`).
    pub scope: MemoryScopeDto,
    #[oai(skip_serializing_if_is_none)]
    pub user_id: Option<String>,
    /// The newer fact that replaced this one (search skips it by default).
    #[oai(skip_serializing_if_is_none)]
    pub superseded_by: Option<Uuid>,
    /// For a fact cognition extracted: the turn memories it rests on.
    pub evidence: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<Memory> for MemoryDto {
    fn from(m: Memory) -> Self {
        Self {
            id: m.id,
            character_id: m.character_id,
            kind: m.kind.into(),
            source: m.source.into(),
            content: m.content,
            importance: rounded(m.importance),
            session_id: m.session_id,
            scope: if m.user_id.is_some() {
                MemoryScopeDto::User
            } else {
                MemoryScopeDto::World
            },
            user_id: m.user_id,
            superseded_by: m.superseded_by,
            evidence: m.evidence,
            created_at: m.created_at,
        }
    }
}

/// What an erasure removed.
#[derive(Debug, Object)]
#[oai(rename = "Erasure")]
pub struct ErasureDto {
    pub sessions: u64,
    pub messages: u64,
    pub memories: u64,
}

impl From<crate::core::use_cases::ErasureReport> for ErasureDto {
    fn from(r: crate::core::use_cases::ErasureReport) -> Self {
        Self {
            sessions: r.sessions,
            messages: r.messages,
            memories: r.memories,
        }
    }
}

#[derive(Debug, Object)]
pub struct MemoryPage {
    pub items: Vec<MemoryDto>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct SearchMemoriesRequest {
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub query: String,
    /// How many results, 1–50 (default 5).
    #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
    pub k: Option<u32>,
    pub kind: Option<MemoryKindDto>,
    /// Also return facts that newer ones have superseded (default false).
    pub include_superseded: Option<bool>,
    /// Search as a turn with this person recalls: the world's memories and
    /// theirs, never another person's. Omit to search every memory.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub user_id: Option<String>,
    /// `hybrid` (default): meaning and words, fused; `vector`: meaning
    /// alone; `lexical`: words alone (BM25; no embedding call).
    pub mode: Option<SearchModeDto>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SearchMode", rename_all = "lowercase")]
pub enum SearchModeDto {
    Hybrid,
    Vector,
    Lexical,
}

impl From<SearchModeDto> for SearchMode {
    fn from(mode: SearchModeDto) -> Self {
        match mode {
            SearchModeDto::Hybrid => SearchMode::Hybrid,
            SearchModeDto::Vector => SearchMode::Vector,
            SearchModeDto::Lexical => SearchMode::Lexical,
        }
    }
}

impl From<SearchMode> for SearchModeDto {
    fn from(mode: SearchMode) -> Self {
        match mode {
            SearchMode::Hybrid => SearchModeDto::Hybrid,
            SearchMode::Vector => SearchModeDto::Vector,
            SearchMode::Lexical => SearchModeDto::Lexical,
        }
    }
}

/// A memory's place in one ranked list.
#[derive(Debug, Object)]
#[oai(rename = "ListRank")]
pub struct ListRankDto {
    /// From 1.
    pub rank: u32,
    /// Cosine similarity (vector list) or BM25 (lexical list).
    pub score: f64,
}

impl From<ListRank> for ListRankDto {
    fn from(rank: ListRank) -> Self {
        Self {
            rank: rank.rank,
            score: rounded(rank.score),
        }
    }
}

/// What made a result's rank: `score = relevance + RECALL_RECENCY_WEIGHT ×
/// recency + RECALL_IMPORTANCE_WEIGHT × importance`, where relevance is the
/// reciprocal-rank fusion of the lists the mode used, scaled to 0–1.
#[derive(Debug, Object)]
#[oai(rename = "RankScores")]
pub struct RankScoresDto {
    /// Its place among the nearest embeddings; absent when not among them.
    #[oai(skip_serializing_if_is_none)]
    pub vector: Option<ListRankDto>,
    /// Its place by BM25 over words; absent when not among them.
    #[oai(skip_serializing_if_is_none)]
    pub lexical: Option<ListRankDto>,
    pub relevance: f64,
    /// 0.5 ^ (age / RECALL_RECENCY_HALF_LIFE_DAYS), by when it happened.
    pub recency: f64,
    pub importance: f64,
}

impl From<RankScores> for RankScoresDto {
    fn from(scores: RankScores) -> Self {
        Self {
            vector: scores.vector.map(Into::into),
            lexical: scores.lexical.map(Into::into),
            relevance: rounded(scores.relevance),
            recency: rounded(scores.recency),
            importance: rounded(scores.importance),
        }
    }
}

#[derive(Debug, Object)]
pub struct ScoredMemoryDto {
    pub memory: MemoryDto,
    /// The score the order follows; higher is better (see `scores`).
    pub score: f64,
    pub scores: RankScoresDto,
}

impl From<ScoredMemory> for ScoredMemoryDto {
    fn from(s: ScoredMemory) -> Self {
        Self {
            memory: s.memory.into(),
            score: rounded(s.score),
            scores: s.scores.into(),
        }
    }
}

#[derive(Debug, Object)]
pub struct SearchResults {
    /// Best first.
    pub results: Vec<ScoredMemoryDto>,
    /// The mode that ranked: `hybrid` becomes `lexical` when the query
    /// could not be embedded.
    pub mode: SearchModeDto,
    /// True when a part was unavailable and the answer is weaker for it:
    /// the search index (the database answered) or the embedder.
    pub degraded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "JobStatus", rename_all = "lowercase")]
pub enum JobStatusDto {
    Queued,
    Running,
    Done,
    Failed,
}

impl From<JobStatus> for JobStatusDto {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Queued => Self::Queued,
            JobStatus::Running => Self::Running,
            JobStatus::Done => Self::Done,
            JobStatus::Failed => Self::Failed,
        }
    }
}

/// Background work (cognition), kept in PostgreSQL until it is done or failed.
#[derive(Debug, Object)]
#[oai(rename = "Job")]
pub struct JobDto {
    pub id: Uuid,
    /// `reflect`: extract biographical facts from recent turns.
    pub kind: String,
    pub character_id: Uuid,
    pub status: JobStatusDto,
    pub attempts: u32,
    pub max_attempts: u32,
    /// Why the last attempt failed.
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    /// What a done job produced: `{"created": [memory ids], "duplicates": n, "superseded": n}` for `reflect`.
    #[oai(skip_serializing_if_is_none)]
    pub result: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Job> for JobDto {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            kind: job.kind.as_str().to_owned(),
            character_id: job.character_id,
            status: job.status.into(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            last_error: job.last_error,
            result: job.result,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

// ---- sessions and messages ----

#[derive(Debug, Object)]
pub struct CreateSessionRequest {
    /// The person this session is with: your stable id for them (a player
    /// or account id). What they say is recalled in their sessions only,
    /// and erasable with `DELETE /v1/users/{user_id}`. Omitted, the session
    /// is a person of its own (its `user_id` is its id).
    #[oai(validator(min_length = 1, max_length = 128))]
    pub user_id: Option<String>,
    /// How the character addresses them; a display name only.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub user_name: Option<String>,
    /// Free-form JSON object kept with the session.
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Object)]
#[oai(rename = "Session")]
pub struct SessionDto {
    pub id: Uuid,
    pub character_id: Uuid,
    pub user_id: String,
    #[oai(skip_serializing_if_is_none)]
    pub user_name: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub last_active_at: DateTime<Utc>,
}

impl From<Session> for SessionDto {
    fn from(s: Session) -> Self {
        Self {
            id: s.id,
            character_id: s.character_id,
            user_id: s.user_id,
            user_name: s.user_name,
            metadata: serde_json::Value::Object(s.metadata),
            created_at: s.created_at,
            last_active_at: s.last_active_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct SessionPage {
    pub items: Vec<SessionDto>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Object)]
#[oai(rename = "Usage")]
pub struct UsageDto {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

impl From<Usage> for UsageDto {
    fn from(u: Usage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total(),
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename = "Message")]
pub struct MessageDto {
    pub id: Uuid,
    pub session_id: Uuid,
    pub role: RoleDto,
    pub content: String,
    #[oai(skip_serializing_if_is_none)]
    pub usage: Option<UsageDto>,
    /// True when the reply was cut short by a model failure.
    pub incomplete: bool,
    /// How long the model took for this reply.
    #[oai(skip_serializing_if_is_none)]
    pub latency_ms: Option<u32>,
    pub created_at: DateTime<Utc>,
}

impl From<Message> for MessageDto {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            session_id: m.session_id,
            role: m.role.into(),
            content: m.content,
            usage: m.usage.map(Into::into),
            incomplete: m.incomplete,
            latency_ms: m.latency_ms,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct MessagePage {
    pub items: Vec<MessageDto>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct SendMessageRequest {
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub content: String,
}

#[derive(Debug, Object)]
pub struct TurnDto {
    pub user_message: MessageDto,
    pub reply: MessageDto,
    pub memories_used: Vec<ScoredMemoryDto>,
    pub usage: UsageDto,
}

impl From<TurnOutcome> for TurnDto {
    fn from(t: TurnOutcome) -> Self {
        Self {
            user_message: t.user_message.into(),
            reply: t.reply.into(),
            memories_used: t.memories_used.into_iter().map(Into::into).collect(),
            usage: t.usage.into(),
        }
    }
}

/// Four decimals are plenty, and hide f32 noise like 0.30000001.
fn rounded(value: f32) -> f64 {
    (f64::from(value) * 10_000.0).round() / 10_000.0
}

pub fn page_dto<T, D: From<T>>(page: Page<T>) -> (Vec<D>, Option<String>) {
    (
        page.items.into_iter().map(Into::into).collect(),
        page.next_cursor,
    )
}
