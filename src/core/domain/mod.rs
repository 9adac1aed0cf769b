//! Domain types of VirLife: what characters, sessions, messages and memories
//! are, with values that validate on construction.

mod api_key;
mod appraisal;
mod character;
mod dump;
mod inner_state;
mod job;
mod lexical;
mod memory;
mod page;
mod person;
mod place;
mod ranking;
mod relationship;
mod session;
mod tenant;
mod vector;
mod world_event;

pub use api_key::{ApiKey, ApiKeyName, ApiKeySecret, KeyHash};
pub use appraisal::{APPRAISAL_SCHEMA, Appraisal, FactDraft};
pub use character::{Character, CharacterName, CharacterPatch, Persona, Traits};
pub use dump::{DUMP_FORMAT, DUMP_VERSION, DumpHeader, DumpRecord};
pub use inner_state::{InnerState, MAX_GOALS, StateChange, StateUpdate};
pub use job::{Job, JobKind, JobOutcome, JobStatus, LEASE_EXPIRED_REASON, lease_expired};
pub use lexical::{BM25_B, BM25_K1, Terms, idf, rank_lexical, term_weight};
pub use memory::{Importance, MAX_MEMORY_CHARS, Memory, MemoryContent, MemoryKind, MemorySource};
pub use page::{Cursor, Page, PageRequest};
pub use person::{Erasure, MAX_USER_ID_CHARS, ScopeFilter, UserId};
pub use place::{MAX_PLACE_DEPTH, Place, PlaceDescription, PlaceName, PlacePatch};
pub use ranking::{IndexHits, ListRank, RankScores, RankWeights, SearchMode, finish, fuse};
pub use relationship::{
    Bipolar, ChangeCause, Counterpart, HISTORY_LIMIT, Relationship, RelationshipChange,
    RelationshipUpdate,
};
pub use session::{
    HistoryEntry, IdempotencyRecord, Message, MessageContent, Role, Session, SessionMetadata,
    Usage, UserName,
};
pub use tenant::TenantId;
pub use vector::{
    PendingVector, PendingVectorRow, ScoredId, VectorPoint, VectorQuery, best_k, cosine_similarity,
    dot, hamming, rank_exact, sign_bits, unit,
};
pub use world_event::{MAX_WITNESSES, Witness, WorldEvent, WorldTime, id_at};

/// A value the caller sent that breaks a rule; `field` names the input field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Shared rule for text fields: trimmed, non-empty, at most `max` characters.
pub(crate) fn bounded_text(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<String, InvalidInput> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(InvalidInput::new(field, "must not be empty"));
    }
    no_nul(field, trimmed)?;
    let count = trimmed.chars().count();
    if count > max {
        return Err(InvalidInput::new(
            field,
            format!("must be at most {max} characters (got {count})"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// NUL characters are refused in text: PostgreSQL cannot store them (in
/// text or JSON), and no client means one.
pub(crate) fn no_nul(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    if value.contains('\0') {
        return Err(InvalidInput::new(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// `no_nul` for every string (keys included) of a JSON value.
fn no_nul_in_json(field: &'static str, value: &serde_json::Value) -> Result<(), InvalidInput> {
    match value {
        serde_json::Value::String(s) => no_nul(field, s),
        serde_json::Value::Array(items) => items.iter().try_for_each(|v| no_nul_in_json(field, v)),
        serde_json::Value::Object(map) => no_nul_in_object(field, map),
        _ => Ok(()),
    }
}

/// `no_nul` for every key and string of a JSON object.
pub(crate) fn no_nul_in_object(
    field: &'static str,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), InvalidInput> {
    map.iter().try_for_each(|(k, v)| {
        no_nul(field, k)?;
        no_nul_in_json(field, v)
    })
}

/// A new time-ordered id: UUIDv7 sorts by creation, which cursor pagination relies on.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
