//! Request and response bodies as the API documents them, and their
//! conversions from domain types.

use crate::core::domain::{
    ApiKey, ChangeCause, Character, Counterpart, InnerState, Job, JobStatus, Memory, MemoryKind,
    MemorySource, Message, Page, Place, Relationship, Role, Session, Usage, Witness, WorldEvent,
};
use crate::core::domain::{ListRank, RankScores, SearchMode};
use crate::core::use_cases::{ScoredMemory, TurnOutcome};
use chrono::{DateTime, Utc};
use poem_openapi::types::MaybeUndefined;
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
    /// Where the character is now; `null` takes it out of every place.
    /// Setting it here records no memory (`POST /v1/characters/{id}/move` does).
    pub place_id: MaybeUndefined<Uuid>,
}

#[derive(Debug, Object)]
#[oai(rename = "Character")]
pub struct CharacterDto {
    pub id: Uuid,
    pub name: String,
    pub persona: String,
    pub traits: serde_json::Value,
    /// Where the character is now, if anywhere.
    #[oai(skip_serializing_if_is_none)]
    pub place_id: Option<Uuid>,
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
            place_id: c.place_id,
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
    /// When it happened in the world (RFC 3339); default now.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Object)]
pub struct CreateEventRequest {
    /// What happened, as the character perceives it.
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub description: String,
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub importance: Option<f64>,
    /// When it happened in the world (RFC 3339); default now.
    pub occurred_at: Option<DateTime<Utc>>,
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
    /// The world event this is the character's memory of.
    #[oai(skip_serializing_if_is_none)]
    pub event_id: Option<Uuid>,
    /// When it happened in the world; lists and recency follow it.
    pub occurred_at: DateTime<Utc>,
    /// When the service stored it.
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
            event_id: m.event_id,
            occurred_at: m.occurred_at,
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
/// recency + RECALL_IMPORTANCE_WEIGHT × importance`, where relevance blends
/// the lists the mode used: each list's score scaled min–max within the list
/// (its best 1, its last 0), weighted `RECALL_VECTOR_WEIGHT` (vector) and the
/// rest (lexical); 0–1.
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

// ---- the world ----

#[derive(Debug, Object)]
pub struct CreatePlaceRequest {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    /// What the place is like; default empty.
    #[oai(validator(max_length = 4000))]
    pub description: Option<String>,
    /// The place this one is inside (a room in a tavern).
    pub parent_id: Option<Uuid>,
}

#[derive(Debug, Object)]
pub struct UpdatePlaceRequest {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    #[oai(validator(max_length = 4000))]
    pub description: Option<String>,
    /// `null` makes the place top-level.
    pub parent_id: MaybeUndefined<Uuid>,
}

#[derive(Debug, Object)]
#[oai(rename = "Place")]
pub struct PlaceDto {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    #[oai(skip_serializing_if_is_none)]
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Place> for PlaceDto {
    fn from(p: Place) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            parent_id: p.parent_id,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct PlacePage {
    pub items: Vec<PlaceDto>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct MoveCharacterRequest {
    /// Where the character goes; `null` takes it out of every place.
    pub place_id: Option<Uuid>,
    /// When it moved in the world (RFC 3339); default now.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A move and the memory the character keeps of it.
#[derive(Debug, Object)]
#[oai(rename = "Moved")]
pub struct MovedDto {
    pub character: CharacterDto,
    pub memory: MemoryDto,
}

#[derive(Debug, Object)]
pub struct CreateWorldEventRequest {
    /// What happened, as its witnesses perceive it.
    #[oai(validator(min_length = 1, max_length = 8000))]
    pub description: String,
    /// Where it happened.
    pub place_id: Option<Uuid>,
    /// Who perceived it; default everyone at `place_id`.
    #[oai(validator(min_items = 1, max_items = 500))]
    pub witnesses: Option<Vec<Uuid>>,
    /// Without `witnesses`: also everyone in the places inside `place_id`.
    pub include_nested: Option<bool>,
    /// 0 (trivial) to 1 (defining); default 0.5. From 0.7 up, each
    /// witness's cognition appraises it (within its cooldown).
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub importance: Option<f64>,
    /// When it happened in the world (RFC 3339); default now.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A character that perceived an event, and the memory it keeps of it.
#[derive(Debug, Object)]
#[oai(rename = "Witness")]
pub struct WitnessDto {
    pub character_id: Uuid,
    pub memory_id: Uuid,
}

impl From<Witness> for WitnessDto {
    fn from(w: Witness) -> Self {
        Self {
            character_id: w.character_id,
            memory_id: w.memory_id,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename = "WorldEvent")]
pub struct WorldEventDto {
    pub id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    pub place_id: Option<Uuid>,
    pub description: String,
    pub importance: f64,
    /// When it happened in the world; lists follow it.
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Who perceived it (on the event itself, not in lists).
    #[oai(skip_serializing_if_is_none)]
    pub witnesses: Option<Vec<WitnessDto>>,
}

impl From<WorldEvent> for WorldEventDto {
    fn from(e: WorldEvent) -> Self {
        Self {
            id: e.id,
            place_id: e.place_id,
            description: e.description,
            importance: rounded(e.importance),
            occurred_at: e.occurred_at,
            created_at: e.created_at,
            witnesses: None,
        }
    }
}

impl From<crate::core::use_cases::PerceivedEvent> for WorldEventDto {
    fn from(p: crate::core::use_cases::PerceivedEvent) -> Self {
        let mut dto = Self::from(p.event);
        dto.witnesses = Some(p.witnesses.into_iter().map(Into::into).collect());
        dto
    }
}

#[derive(Debug, Object)]
pub struct WorldEventPage {
    pub items: Vec<WorldEventDto>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

/// Who changed a relationship or a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ChangeCause", rename_all = "lowercase")]
pub enum ChangeCauseDto {
    Cognition,
    Api,
}

impl From<ChangeCause> for ChangeCauseDto {
    fn from(c: ChangeCause) -> Self {
        match c {
            ChangeCause::Cognition => Self::Cognition,
            ChangeCause::Api => Self::Api,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename = "RelationshipChange")]
pub struct RelationshipChangeDto {
    pub at: DateTime<Utc>,
    pub cause: ChangeCauseDto,
    pub affinity: f64,
    pub trust: f64,
    pub note: String,
}

#[derive(Debug, Object)]
#[oai(rename = "Relationship")]
pub struct RelationshipDto {
    /// The person, when the relationship is with one.
    #[oai(skip_serializing_if_is_none)]
    pub user_id: Option<String>,
    /// The other character, when it is with one.
    #[oai(skip_serializing_if_is_none)]
    pub character_id: Option<Uuid>,
    /// -1 (hatred) to 1 (love).
    pub affinity: f64,
    /// -1 (none) to 1 (complete).
    pub trust: f64,
    /// What matters between them.
    pub note: String,
    #[oai(skip_serializing_if_is_none)]
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The latest changes, oldest first (at most 20).
    pub history: Vec<RelationshipChangeDto>,
}

impl From<Relationship> for RelationshipDto {
    fn from(r: Relationship) -> Self {
        let (user_id, character_id) = match r.counterpart {
            Counterpart::User(user) => (Some(user), None),
            Counterpart::Character(id) => (None, Some(id)),
        };
        Self {
            user_id,
            character_id,
            affinity: rounded(r.affinity),
            trust: rounded(r.trust),
            note: r.note,
            last_interaction_at: r.last_interaction_at,
            updated_at: r.updated_at,
            history: r
                .history
                .into_iter()
                .map(|h| RelationshipChangeDto {
                    at: h.at,
                    cause: h.cause.into(),
                    affinity: rounded(h.affinity),
                    trust: rounded(h.trust),
                    note: h.note,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct RelationshipList {
    pub items: Vec<RelationshipDto>,
}

/// Set a relationship's values; name exactly one of `user_id` and
/// `character_id`.
#[derive(Debug, Object)]
pub struct UpdateRelationshipRequest {
    #[oai(validator(min_length = 1, max_length = 128))]
    pub user_id: Option<String>,
    pub character_id: Option<Uuid>,
    #[oai(validator(minimum(value = "-1"), maximum(value = "1")))]
    pub affinity: Option<f64>,
    #[oai(validator(minimum(value = "-1"), maximum(value = "1")))]
    pub trust: Option<f64>,
    #[oai(validator(max_length = 500))]
    pub note: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename = "StateChange")]
pub struct StateChangeDto {
    pub at: DateTime<Utc>,
    pub cause: ChangeCauseDto,
    pub mood: String,
    pub goals: Vec<String>,
}

#[derive(Debug, Object)]
#[oai(rename = "InnerState")]
pub struct InnerStateDto {
    pub character_id: Uuid,
    /// A few words; empty until set.
    pub mood: String,
    pub goals: Vec<String>,
    pub updated_at: DateTime<Utc>,
    /// The latest changes, oldest first (at most 20).
    pub history: Vec<StateChangeDto>,
}

impl From<InnerState> for InnerStateDto {
    fn from(s: InnerState) -> Self {
        Self {
            character_id: s.character_id,
            mood: s.mood,
            goals: s.goals,
            updated_at: s.updated_at,
            history: s
                .history
                .into_iter()
                .map(|h| StateChangeDto {
                    at: h.at,
                    cause: h.cause.into(),
                    mood: h.mood,
                    goals: h.goals,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct UpdateInnerStateRequest {
    #[oai(validator(max_length = 200))]
    pub mood: Option<String>,
    #[oai(validator(max_items = 10))]
    pub goals: Option<Vec<String>>,
}
