use super::{InvalidInput, TenantId, bounded_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_MEMORY_CHARS: usize = 8_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryKind {
    /// What happened: conversation turns, world events.
    Episodic,
    /// Lasting facts about the character or the people it knows.
    Biographical,
}

impl MemoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Episodic => "episodic",
            Self::Biographical => "biographical",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "episodic" => Some(Self::Episodic),
            "biographical" => Some(Self::Biographical),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySource {
    /// Added through the API.
    Manual,
    /// Written after a chat turn.
    Chat,
    /// A world event the character perceived.
    Event,
    /// Extracted by cognition.
    Reflection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "MemoryRecord")]
pub struct Memory {
    pub id: Uuid,
    pub tenant: TenantId,
    pub character_id: Uuid,
    pub kind: MemoryKind,
    pub source: MemorySource,
    pub content: String,
    pub importance: f32,
    pub session_id: Option<Uuid>,
    /// Whose memory this is: `None` for the world's (world events, what the
    /// character knows of itself and the world), else the one person whose
    /// sessions may recall it.
    pub user_id: Option<String>,
    /// Authoritative copy of the vector, so the index can be rebuilt.
    pub embedding: Vec<f32>,
    /// The model that produced `embedding`; a change of model needs a reindex.
    pub embedding_model: String,
    /// A newer fact that replaced this one; search skips superseded memories.
    pub superseded_by: Option<Uuid>,
    /// For a fact cognition extracted: the turn memories it rests on.
    #[serde(default)]
    pub evidence: Vec<Uuid>,
    /// The world event it is this character's memory of.
    #[serde(default)]
    pub event_id: Option<Uuid>,
    /// When it happened in the world; recency ranks by it, and the id (a
    /// UUIDv7 of this time) makes listings follow it.
    pub occurred_at: DateTime<Utc>,
    /// When the service stored it.
    pub created_at: DateTime<Utc>,
}

/// A memory as dumps carry it: dumps written before world time have no
/// `occurred_at`, which is then when the memory was stored.
#[derive(Deserialize)]
struct MemoryRecord {
    id: Uuid,
    tenant: TenantId,
    character_id: Uuid,
    kind: MemoryKind,
    source: MemorySource,
    content: String,
    importance: f32,
    session_id: Option<Uuid>,
    user_id: Option<String>,
    embedding: Vec<f32>,
    embedding_model: String,
    superseded_by: Option<Uuid>,
    #[serde(default)]
    evidence: Vec<Uuid>,
    #[serde(default)]
    event_id: Option<Uuid>,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<MemoryRecord> for Memory {
    fn from(r: MemoryRecord) -> Self {
        Self {
            id: r.id,
            tenant: r.tenant,
            character_id: r.character_id,
            kind: r.kind,
            source: r.source,
            content: r.content,
            importance: r.importance,
            session_id: r.session_id,
            user_id: r.user_id,
            embedding: r.embedding,
            embedding_model: r.embedding_model,
            superseded_by: r.superseded_by,
            evidence: r.evidence,
            event_id: r.event_id,
            occurred_at: r.occurred_at.unwrap_or(r.created_at),
            created_at: r.created_at,
        }
    }
}

#[derive(Debug)]
pub struct MemoryContent(String);

impl MemoryContent {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, InvalidInput> {
        bounded_text(field, value, MAX_MEMORY_CHARS).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// How much a memory matters, from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Importance(f32);

impl Importance {
    pub const DEFAULT: Importance = Importance(0.5);

    pub fn parse(value: f64) -> Result<Self, InvalidInput> {
        if value.is_finite() && (0.0..=1.0).contains(&value) {
            Ok(Self(value as f32))
        } else {
            Err(InvalidInput::new("importance", "must be between 0 and 1"))
        }
    }
    pub fn value(self) -> f32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importance_is_a_unit_interval() {
        assert!(Importance::parse(0.0).is_ok());
        assert!(Importance::parse(1.0).is_ok());
        assert!(Importance::parse(1.01).is_err());
        assert!(Importance::parse(f64::NAN).is_err());
    }
}
