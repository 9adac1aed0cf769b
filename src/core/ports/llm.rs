//! The language-model port and the requests and answers it carries.

use crate::core::domain::{HistoryEntry, Usage};
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use std::time::Duration;
use uuid::Uuid;

/// Rough token count (about four characters a token for English); good
/// enough to keep well inside a model's context window. Shared by the core
/// (how many memories a turn recalls) and the renderers (what fits).
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4) + 4
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

/// How the character stands as it speaks or reflects: its mood and goals,
/// and what it feels about the person of the turn or transcript.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bearing {
    pub mood: Option<String>,
    pub goals: Vec<String>,
    pub relationship: Option<RelationshipView>,
}

/// A relationship as a model reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationshipView {
    /// −1..1.
    pub affinity: f32,
    /// −1..1.
    pub trust: f32,
    pub note: String,
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
    pub history: Vec<HistoryEntry>,
    pub message: String,
    pub bearing: Bearing,
}

/// What the cognition model reads to extract lasting facts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReflectRequest {
    pub character_name: String,
    pub persona: String,
    pub user_name: Option<String>,
    pub transcript: Vec<HistoryEntry>,
    /// Biographical memories the character already has, with their ids, so
    /// the model can say which one a new fact supersedes.
    pub known_facts: Vec<(Uuid, String)>,
    /// Where the character stands now (with this person, when there is one).
    pub bearing: Bearing,
    /// World events the character perceived since it last reflected, oldest
    /// first (a reflection on the world rather than on a conversation).
    pub events: Vec<String>,
    /// The model's previous answer that broke the schema, and what was
    /// wrong with it: ask it to repair it.
    pub repair: Option<String>,
    pub problems: Vec<String>,
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
    /// Returns the cognition model's raw text, expected to hold JSON of
    /// `domain::APPRAISAL_SCHEMA` (facts, relationship, characters, state);
    /// the core validates it (and asks once more, with `repair`, if it fails).
    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError>;
    /// One vector per text, each of `describe().dimensions` values.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError>;
    /// The models the provider lists (`GET /models`), for `virlife check`;
    /// empty where there is no provider to ask.
    async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        Ok(Vec::new())
    }
}
