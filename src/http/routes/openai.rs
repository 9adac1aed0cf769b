//! The OpenAI Chat Completions shape over chat turns, for the clients people
//! already run (Open WebUI, SillyTavern, LibreChat, every OpenAI SDK):
//! `model` names a character, `user` the person, and the last user message
//! is the turn, stored and answered with memory like any other.

use super::ApiTags;
use crate::core::domain::{MessageContent, PageRequest, UserId};
use crate::core::error::Error;
use crate::core::use_cases::{TurnEvent, TurnInput, TurnOutcome};
use crate::http::auth::TenantKey;
use crate::http::problem::{ApiError, from_core};
use crate::http::sse::line_safe;
use crate::http::{AppState, RequestId};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::param::Header;
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object, OpenApi, ResponseContent};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

/// The person a request names no one for: single-user front ends.
const DEFAULT_USER: &str = "default";
const MAX_MODELS: usize = 1000;

/// One message of the conversation as the client sees it.
#[derive(Debug, Object)]
pub struct ChatMessageIn {
    /// `system`, `user`, `assistant` (or `developer`, `tool`).
    #[oai(validator(max_length = 32))]
    pub role: String,
    /// Text, or an array of content parts (`{"type":"text","text":…}`).
    pub content: Option<serde_json::Value>,
}

#[derive(Debug, Object)]
pub struct ChatCompletionRequest {
    /// A character: its id, or its name within your tenant.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub model: String,
    /// The conversation as the client sees it. Only the last `user` message
    /// is the turn; earlier ones are the client's view of history and are
    /// never stored twice (the session keeps its own).
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub messages: Vec<ChatMessageIn>,
    /// Stream the reply as `chat.completion.chunk` events, then `[DONE]`.
    pub stream: Option<bool>,
    /// The person speaking (their memories are theirs alone); default
    /// `default`.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub user: Option<String>,
}

#[derive(Debug, Object)]
pub struct ChatMessageOut {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Object)]
pub struct ChatChoice {
    pub index: u32,
    pub message: ChatMessageOut,
    /// `stop`, or `length` when the reply was cut short.
    pub finish_reason: String,
}

#[derive(Debug, Object)]
pub struct CompletionUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

#[derive(Debug, Object)]
pub struct ChatCompletion {
    /// `chatcmpl-` and the stored reply's id.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    pub created: i64,
    /// The character's id.
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: CompletionUsage,
    /// The VirLife session the turn was stored in.
    pub session_id: Uuid,
}

#[derive(Debug, Object)]
pub struct ChunkDelta {
    #[oai(skip_serializing_if_is_none)]
    pub role: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub content: Option<String>,
}

#[derive(Debug, Object)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: ChunkDelta,
    pub finish_reason: Option<String>,
}

/// One streamed piece; `data: [DONE]` follows the last.
#[derive(Debug, Object)]
pub struct ChatCompletionChunk {
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
}

#[derive(Debug, Object)]
pub struct Model {
    /// The character's id (its name works as `model` too).
    pub id: String,
    /// Always `model`.
    pub object: String,
    pub created: i64,
    pub owned_by: String,
    /// The character's name.
    pub name: String,
}

#[derive(Debug, Object)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Model>,
}

/// One server-sent event's data, rendered once: a `chat.completion.chunk`,
/// an `error` object, or `[DONE]`. Documented as the chunk.
pub struct CompletionSse(String);

impl Type for CompletionSse {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        <ChatCompletionChunk as Type>::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        <ChatCompletionChunk as Type>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <ChatCompletionChunk as Type>::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for CompletionSse {
    fn to_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.0).ok()
    }
}

impl From<ChatCompletionChunk> for CompletionSse {
    fn from(chunk: ChatCompletionChunk) -> Self {
        Self(chunk.to_json_string())
    }
}

#[derive(ResponseContent)]
pub enum CompletionBody {
    Json(Json<ChatCompletion>),
    Events(EventStream<BoxStream<'static, CompletionSse>>),
}

#[derive(ApiResponse)]
pub enum Completion {
    /// The reply as a `chat.completion` (JSON), or with `stream: true` as
    /// server-sent `chat.completion.chunk` events ending with `data: [DONE]`.
    #[oai(status = 200)]
    Ok(CompletionBody),
}

/// The text of a message's content: a string, or its text parts joined.
fn text_of(content: &serde_json::Value) -> String {
    match content {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    crate::core::domain::InvalidInput::new(field, message).into()
}

fn chunk(
    id: &str,
    created: i64,
    model: &str,
    delta: ChunkDelta,
    finish: Option<&str>,
) -> ChatCompletionChunk {
    ChatCompletionChunk {
        id: id.to_owned(),
        object: "chat.completion.chunk".into(),
        created,
        model: model.to_owned(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish.map(str::to_owned),
        }],
    }
}

fn completion(outcome: TurnOutcome, model: String, session_id: Uuid) -> ChatCompletion {
    let usage = outcome.usage;
    ChatCompletion {
        id: format!("chatcmpl-{}", outcome.reply.id.simple()),
        object: "chat.completion".into(),
        created: outcome.reply.created_at.timestamp(),
        model,
        choices: vec![ChatChoice {
            index: 0,
            message: ChatMessageOut {
                role: "assistant".into(),
                content: outcome.reply.content,
            },
            finish_reason: if outcome.reply.incomplete {
                "length".into()
            } else {
                "stop".into()
            },
        }],
        usage: CompletionUsage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total(),
        },
        session_id,
    }
}

pub struct OpenAiApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::OpenAi")]
impl OpenAiApi {
    /// Chat with a character, OpenAI style
    ///
    /// The Chat Completions shape: `model` is a character (id or name),
    /// `user` the person (default `default`), and the session is the
    /// person's open session with the character (their latest, created on
    /// first use), or the one named by `X-VirLife-Session`. The last `user`
    /// message is the turn: stored first, answered with the character's
    /// memory, remembered. Problems are RFC 9457 documents, as everywhere.
    #[oai(
        path = "/chat/completions",
        method = "post",
        operation_id = "createChatCompletion"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        request_id: Data<&RequestId>,
        auth: TenantKey,
        /// A session of yours to talk in instead of the person's open one.
        #[oai(name = "X-VirLife-Session")]
        session: Header<Option<Uuid>>,
        body: Json<ChatCompletionRequest>,
    ) -> Result<Completion> {
        // The turn first: a bad request opens no session.
        let Some(last) = body.messages.iter().rev().find(|m| m.role == "user") else {
            return Err(invalid(
                "messages",
                "must contain a message with role `user`",
            ));
        };
        let text = last.content.as_ref().map(text_of).unwrap_or_default();
        let content = MessageContent::parse(&text).map_err(|mut e| {
            e.field = "messages";
            e
        })?;
        let tenant = auth.0;
        let character = state.characters.find(&tenant, &body.model).await?;
        let session = match session.0 {
            Some(id) => {
                let session = state.sessions.get(&tenant, id).await?;
                if session.character_id != character.id {
                    return Err(invalid(
                        "X-VirLife-Session",
                        "names a session with another character than `model`",
                    ));
                }
                session
            }
            None => {
                let user = UserId::parse("user", body.user.as_deref().unwrap_or(DEFAULT_USER))?;
                state.sessions.open_for(&tenant, character.id, user).await?
            }
        };
        let input = TurnInput {
            tenant,
            session_id: session.id,
            content,
            idempotency_key: None,
        };
        let model = character.id.to_string();
        if !body.stream.unwrap_or(false) {
            let outcome = state.chat.send(input).await?;
            return Ok(Completion::Ok(CompletionBody::Json(Json(completion(
                outcome, model, session.id,
            )))));
        }

        let receiver = state.chat.stream(input).await?;
        let request_id = request_id.0.0.clone();
        let id = format!("chatcmpl-{}", Uuid::now_v7().simple());
        let created = chrono::Utc::now().timestamp();
        let opening = chunk(
            &id,
            created,
            &model,
            ChunkDelta {
                role: Some("assistant".into()),
                content: None,
            },
            None,
        );
        let events =
            tokio_stream::wrappers::ReceiverStream::new(receiver).filter_map(move |event| {
                let piece: Option<CompletionSse> = match event {
                    TurnEvent::Memories(_) => None,
                    TurnEvent::Delta(text) => Some(
                        chunk(
                            &id,
                            created,
                            &model,
                            ChunkDelta {
                                role: None,
                                content: Some(text),
                            },
                            None,
                        )
                        .into(),
                    ),
                    TurnEvent::Done(outcome) => Some(
                        chunk(
                            &id,
                            created,
                            &model,
                            ChunkDelta {
                                role: None,
                                content: None,
                            },
                            Some(if outcome.reply.incomplete {
                                "length"
                            } else {
                                "stop"
                            }),
                        )
                        .into(),
                    ),
                    TurnEvent::Failed(error) => {
                        tracing::warn!(%error, "streamed completion failed");
                        Some(failure(&error, &request_id))
                    }
                };
                std::future::ready(piece)
            });
        let stream = futures_util::stream::once(std::future::ready(opening.into()))
            .chain(events)
            .chain(futures_util::stream::once(std::future::ready(
                CompletionSse("[DONE]".into()),
            )))
            .boxed();
        Ok(Completion::Ok(CompletionBody::Events(
            EventStream::new(stream)
                .keep_alive(Duration::from_secs(15))
                .to_event(|item| Event::message(line_safe(item.0))),
        )))
    }

    /// List your characters as models
    #[oai(path = "/models", method = "get", operation_id = "listModels")]
    async fn models(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
    ) -> Result<Json<ModelList>> {
        let mut data = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = PageRequest::parse(Some(100), cursor.as_deref())?;
            let listed = state.characters.list(&auth.0, page).await?;
            data.extend(listed.items.into_iter().map(|c| Model {
                id: c.id.to_string(),
                object: "model".into(),
                created: c.created_at.timestamp(),
                owned_by: c.tenant.as_str().to_owned(),
                name: c.name,
            }));
            match listed.next_cursor {
                Some(next) if data.len() < MAX_MODELS => cursor = Some(next),
                _ => break,
            }
        }
        Ok(Json(ModelList {
            object: "list".into(),
            data,
        }))
    }
}

/// A failure after the stream began, as OpenAI streams report one (an
/// `error` object, which the SDKs raise); no detail beyond the problem's.
fn failure(error: &Error, request_id: &str) -> CompletionSse {
    let (problem, _) = from_core(error).into_problem(request_id);
    CompletionSse(
        serde_json::json!({
            "error": {
                "message": problem.detail,
                "type": problem.title,
                "code": problem.status,
                "request_id": request_id,
            }
        })
        .to_string(),
    )
}
