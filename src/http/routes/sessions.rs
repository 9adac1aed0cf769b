use super::ApiTags;
use crate::core::domain::{MessageContent, PageRequest, SessionMetadata, UserId, UserName};
use crate::core::use_cases::{TurnEvent, TurnInput};
use crate::http::auth::TenantKey;
use crate::http::dto::{
    CreateSessionRequest, MessagePage, ScoredMemoryDto, SendMessageRequest, SessionDto,
    SessionPage, TurnDto, page_dto,
};
use crate::http::problem::{ApiError, from_core};
use crate::http::sse::line_safe;
use crate::http::{AppState, RequestId};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

#[derive(ApiResponse)]
pub enum CreatedSession {
    #[oai(status = 201)]
    Created(Json<SessionDto>),
}

#[derive(ApiResponse)]
pub enum DeletedSession {
    /// Deleted with its messages.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum Turn {
    /// The stored user message and the stored reply.
    #[oai(status = 201)]
    Created(Json<TurnDto>),
}

#[derive(ApiResponse)]
pub enum StreamedTurn {
    /// Server-sent events, each `data` a JSON object: `memories`
    /// (`{"memories": [...]}`), `delta` (`{"text": "..."}`, repeated), then
    /// `done` (the stored turn, as the plain POST returns it) or `error` (a
    /// problem document).
    #[oai(status = 200)]
    Events(EventStream<BoxStream<'static, TurnSse>>),
}

fn turn_input(
    auth: TenantKey,
    session_id: Uuid,
    body: &SendMessageRequest,
    idempotency_key: Option<String>,
) -> Result<TurnInput> {
    if let Some(key) = &idempotency_key
        && (key.is_empty() || key.len() > 255)
    {
        return Err(crate::core::domain::InvalidInput::new(
            "Idempotency-Key",
            "must be 1 to 255 characters",
        )
        .into());
    }
    Ok(TurnInput {
        tenant: auth.0,
        session_id,
        content: MessageContent::parse(&body.content)?,
        idempotency_key,
    })
}

/// One server-sent event of a turn, its data rendered once. Documented as
/// the JSON object each event carries.
pub struct TurnSse {
    name: &'static str,
    data: String,
}

impl Type for TurnSse {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        <serde_json::Value as Type>::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        <serde_json::Value as Type>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <serde_json::Value as Type>::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for TurnSse {
    fn to_json(&self) -> Option<serde_json::Value> {
        let data = serde_json::from_str::<serde_json::Value>(&self.data).ok()?;
        Some(serde_json::json!({ "event": self.name, "data": data }))
    }
}

fn stream_event(event: TurnEvent, request_id: &str) -> TurnSse {
    let (name, data) = match event {
        TurnEvent::Memories(memories) => {
            let memories: Vec<ScoredMemoryDto> = memories.into_iter().map(Into::into).collect();
            ("memories", json_string(&MemoriesEvent { memories }))
        }
        TurnEvent::Delta(text) => ("delta", json_string(&DeltaEvent { text })),
        TurnEvent::Done(outcome) => ("done", json_string(&TurnDto::from(*outcome))),
        TurnEvent::Failed(error) => {
            tracing::warn!(%error, "streamed turn failed");
            let (problem, _) = from_core(&error).into_problem(request_id);
            ("error", serde_json::to_string(&problem).unwrap_or_default())
        }
    };
    TurnSse { name, data }
}

/// The `memories` event's data.
#[derive(Object)]
struct MemoriesEvent {
    memories: Vec<ScoredMemoryDto>,
}

/// The `delta` event's data.
#[derive(Object)]
struct DeltaEvent {
    text: String,
}

fn json_string<T: ToJSON>(value: &T) -> String {
    value.to_json_string()
}

pub struct SessionsApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// Open a session with a character
    #[oai(
        path = "/characters/:id/sessions",
        method = "post",
        operation_id = "createSession"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<CreateSessionRequest>,
    ) -> Result<CreatedSession> {
        let body = body.0;
        let user_id = body
            .user_id
            .as_deref()
            .map(|u| UserId::parse("user_id", u))
            .transpose()?;
        let user_name = body.user_name.as_deref().map(UserName::parse).transpose()?;
        let metadata = SessionMetadata::parse(body.metadata)?.into_inner();
        let session = state
            .sessions
            .create(auth.0, id.0, user_id, user_name, metadata)
            .await?;
        Ok(CreatedSession::Created(Json(session.into())))
    }

    /// List a character's sessions, oldest first
    #[oai(
        path = "/characters/:id/sessions",
        method = "get",
        operation_id = "listSessions"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        /// 1–100, default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<SessionPage>> {
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let (items, next_cursor) = page_dto(state.sessions.list(&auth.0, id.0, page).await?);
        Ok(Json(SessionPage { items, next_cursor }))
    }

    /// Get a session
    #[oai(path = "/sessions/:id", method = "get", operation_id = "getSession")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<Json<SessionDto>> {
        Ok(Json(state.sessions.get(&auth.0, id.0).await?.into()))
    }

    /// Delete a session and its messages
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "deleteSession"
    )]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<DeletedSession> {
        state.sessions.delete(&auth.0, id.0).await?;
        Ok(DeletedSession::Deleted)
    }

    /// List a session's messages, oldest first
    #[oai(
        path = "/sessions/:id/messages",
        method = "get",
        operation_id = "listMessages"
    )]
    async fn messages(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        /// 1–100, default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<MessagePage>> {
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let (items, next_cursor) = page_dto(state.sessions.messages(&auth.0, id.0, page).await?);
        Ok(Json(MessagePage { items, next_cursor }))
    }

    /// Send a message and get the character's reply
    ///
    /// The message is stored before the model is called: if the model fails,
    /// the problem names the stored message. With `Idempotency-Key`, a retry
    /// returns the first result instead of running the turn twice.
    #[oai(
        path = "/sessions/:id/messages",
        method = "post",
        operation_id = "sendMessage"
    )]
    async fn send(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
        body: Json<SendMessageRequest>,
    ) -> Result<Turn> {
        let input = turn_input(auth, id.0, &body, idempotency_key.0)?;
        let outcome = state.chat.send(input).await?;
        Ok(Turn::Created(Json(outcome.into())))
    }

    /// Send a message and stream the reply as server-sent events
    #[oai(
        path = "/sessions/:id/messages/stream",
        method = "post",
        operation_id = "streamMessage"
    )]
    async fn stream(
        &self,
        state: Data<&Arc<AppState>>,
        request_id: Data<&RequestId>,
        auth: TenantKey,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
        body: Json<SendMessageRequest>,
    ) -> Result<StreamedTurn> {
        let input = turn_input(auth, id.0, &body, idempotency_key.0)?;
        let receiver = state.chat.stream(input).await?;
        let request_id = request_id.0.0.clone();
        let events = tokio_stream::wrappers::ReceiverStream::new(receiver)
            .map(move |event| stream_event(event, &request_id))
            .boxed();
        Ok(StreamedTurn::Events(
            EventStream::new(events)
                .keep_alive(Duration::from_secs(15))
                .to_event(|item| Event::message(line_safe(item.data)).event_type(item.name)),
        ))
    }
}
