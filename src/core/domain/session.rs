use super::{InvalidInput, TenantId, bounded_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_MESSAGE_CHARS: usize = 8_000;

/// A conversation between one user and one character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: Uuid,
    pub tenant: TenantId,
    pub character_id: Uuid,
    /// The person this session is with (the client's stable id for them;
    /// the session's own id when the client named no one). What they say
    /// here is recalled in their sessions only.
    pub user_id: String,
    /// How the character addresses them; only a display name.
    pub user_name: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    /// Moves with every stored message; the retention sweep reads it.
    pub last_active_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Character,
}

/// One earlier line of a conversation, as the models read it: what a turn's
/// history and a reflection's transcript are made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub role: Role,
    pub content: String,
}

impl HistoryEntry {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

impl Usage {
    pub fn total(self) -> u32 {
        self.prompt_tokens + self.completion_tokens
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    pub tenant: TenantId,
    pub session_id: Uuid,
    pub role: Role,
    pub content: String,
    /// Token usage of the model call that produced a character message.
    pub usage: Option<Usage>,
    /// True when the reply was cut short (e.g. the model failed mid-stream).
    pub incomplete: bool,
    /// How long the model took to produce a character message.
    pub latency_ms: Option<u32>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct MessageContent(String);

impl MessageContent {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        bounded_text("content", value, MAX_MESSAGE_CHARS).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Free-form session metadata: a JSON object of at most 64 keys (no NUL
/// characters); absent, an empty one.
#[derive(Debug)]
pub struct SessionMetadata(serde_json::Map<String, serde_json::Value>);

impl SessionMetadata {
    pub fn parse(value: Option<serde_json::Value>) -> Result<Self, InvalidInput> {
        let map = match value {
            None => serde_json::Map::new(),
            Some(serde_json::Value::Object(map)) if map.len() <= 64 => map,
            Some(_) => {
                return Err(InvalidInput::new(
                    "metadata",
                    "must be a JSON object of at most 64 keys",
                ));
            }
        };
        super::no_nul_in_object("metadata", &map)?;
        Ok(Self(map))
    }
    pub fn into_inner(self) -> serde_json::Map<String, serde_json::Value> {
        self.0
    }
}

#[derive(Debug)]
pub struct UserName(String);

impl UserName {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        bounded_text("user_name", value, 100).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// What an `Idempotency-Key` has been used for; `response` is set once the turn finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub session_id: Uuid,
    pub user_message_id: Uuid,
    /// When the first attempt began; a retry before the workflow timeout is a 409.
    pub claimed_at: DateTime<Utc>,
    pub response: Option<serde_json::Value>,
}
