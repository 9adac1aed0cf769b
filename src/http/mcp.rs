//! The MCP server at `/mcp`: Streamable HTTP (the `rmcp` crate), stateless,
//! so any replica answers any request. Its tools call the same use cases as
//! the REST routes and answer with the same JSON. Each call is authorised by
//! the API key of its HTTP request: the request middleware resolves and
//! rate-limits it as for `/v1`, and `McpEndpoint` hands the tenant to the
//! tools in the request's extensions.

use super::AppState;
use super::auth::{Requirement, TenantOnly, principal_of};
use super::dto::{CharacterDto, CharacterPage, MemoryDto, SearchResults, TurnDto};
use super::problem::{ApiError, from_core};
use crate::core::domain::{
    Importance, MemoryContent, MemoryKind, MemorySource, MessageContent, PageRequest, ScopeFilter,
    TenantId, UserId,
};
use crate::core::error::Error;
use crate::core::use_cases::{NewMemory, RecallQuery, TurnInput};
use poem::endpoint::{BoxEndpoint, TowerCompatExt};
use poem::{Endpoint, EndpointExt, Request, Response};
use poem_openapi::types::ToJSON;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

/// The tenant an MCP request acts for, put there by `McpEndpoint`.
#[derive(Debug, Clone)]
struct McpTenant(TenantId);

/// `/mcp`: authorises the request, then hands it to the MCP service.
pub struct McpEndpoint {
    service: BoxEndpoint<'static, Response>,
}

impl McpEndpoint {
    /// `open_hosts`: accept any `Host` (every call needs a key); otherwise
    /// only loopback names, rmcp's guard against DNS rebinding for a
    /// development service that asks for no key.
    pub fn new(state: Arc<AppState>, open_hosts: bool) -> Self {
        let mut config = StreamableHttpServerConfig::default();
        // Stateless and plain JSON: no session lives in one replica's memory.
        config.legacy_session_mode = false;
        config.json_response = true;
        config.sse_keep_alive = None;
        if open_hosts {
            config.allowed_hosts = Vec::new();
        }
        let service: StreamableHttpService<Tools, NeverSessionManager> = StreamableHttpService::new(
            move || Ok(Tools::new(state.clone())),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        Self {
            service: service.compat().boxed(),
        }
    }
}

impl Endpoint for McpEndpoint {
    type Output = Response;

    async fn call(&self, mut request: Request) -> poem::Result<Response> {
        // As for `/v1`: a tenant key (the master key administers keys).
        let principal = principal_of(&request).await.map_err(ApiError)?;
        let tenant = TenantOnly::admit(principal).map_err(ApiError)?;
        request.extensions_mut().insert(McpTenant(tenant));
        self.service.call(request).await
    }
}

/// The tools, one per use case an assistant needs.
#[derive(Clone)]
pub struct Tools {
    state: Arc<AppState>,
}

type Parts = http::request::Parts;

fn tenant_of(parts: &Parts) -> Result<TenantId, ErrorData> {
    parts
        .extensions
        .get::<McpTenant>()
        .map(|t| t.0.clone())
        .ok_or_else(|| ErrorData::internal_error("the request was not authorised", None))
}

/// A use case's answer as a tool result: its JSON, or the problem document
/// the REST API would answer with (a tool error the model can read).
fn answer<T: ToJSON>(result: Result<T, Error>) -> CallToolResult {
    match result {
        Ok(value) => CallToolResult::structured(value.to_json().unwrap_or_default()),
        Err(error) => {
            let problem = from_core(&error);
            CallToolResult::structured_error(serde_json::json!({
                "type": format!("/problems/{}", problem.slug),
                "status": problem.status.as_u16(),
                "detail": problem.detail,
                "field": problem.field,
            }))
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListCharactersArgs {
    /// 1–100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CharacterArgs {
    /// The character's id.
    #[schemars(with = "String")]
    pub character_id: Uuid,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchMemoriesArgs {
    #[schemars(with = "String")]
    pub character_id: Uuid,
    /// What to look for, in words.
    pub query: String,
    /// How many memories, 1–50 (default 5).
    pub k: Option<u32>,
    /// Only the world's memories and this person's; without it, all of them.
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddMemoryArgs {
    #[schemars(with = "String")]
    pub character_id: Uuid,
    /// The memory, as the character would remember it.
    pub content: String,
    /// `episodic` (something that happened, the default) or `biographical`
    /// (a lasting fact).
    pub kind: Option<String>,
    /// 0–1 (default 0.5).
    pub importance: Option<f64>,
    /// The person it belongs to (recalled only with them); absent: the world's.
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SendMessageArgs {
    #[schemars(with = "String")]
    pub character_id: Uuid,
    /// What the person says.
    pub message: String,
    /// Who is talking (their memories stay theirs); default `user`.
    pub user_id: Option<String>,
    /// A session to talk in; default: the person's open session with the character.
    #[schemars(with = "Option<String>")]
    pub session_id: Option<Uuid>,
}

fn invalid(field: &'static str, reason: &str) -> Error {
    Error::Invalid(crate::core::domain::InvalidInput::new(field, reason))
}

#[tool_router]
impl Tools {
    fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    #[tool(description = "List the characters of this API key's world, oldest first.")]
    async fn list_characters(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<ListCharactersArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = tenant_of(&parts)?;
        let result = async {
            let page = PageRequest::parse(args.limit, args.cursor.as_deref())?;
            let (items, next_cursor) =
                super::dto::page_dto(self.state.characters.list(&tenant, page).await?);
            Ok(CharacterPage { items, next_cursor })
        }
        .await;
        Ok(answer(result))
    }

    #[tool(description = "A character: name, persona, traits.")]
    async fn get_character(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<CharacterArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = tenant_of(&parts)?;
        let result = self
            .state
            .characters
            .get(&tenant, args.character_id)
            .await
            .map(CharacterDto::from);
        Ok(answer(result))
    }

    #[tool(
        description = "Search a character's memories by meaning and words; each result says why it ranked."
    )]
    async fn search_memories(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SearchMemoriesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = tenant_of(&parts)?;
        let result = async {
            let query = MemoryContent::parse("query", &args.query)?.into_inner();
            let k = args.k.unwrap_or(5);
            if !(1..=50).contains(&k) {
                return Err(invalid("k", "must be between 1 and 50"));
            }
            let scope = match args.user_id.as_deref() {
                Some(user) => ScopeFilter::Person(UserId::parse("user_id", user)?.into_inner()),
                None => ScopeFilter::Any,
            };
            let recall = RecallQuery {
                k: k as usize,
                kind: None,
                scope,
                include_superseded: false,
                mode: Default::default(),
            };
            let outcome = self
                .state
                .memories
                .search(&tenant, args.character_id, &query, &recall)
                .await?;
            Ok(SearchResults {
                results: outcome.hits.into_iter().map(Into::into).collect(),
                mode: outcome.mode.into(),
                degraded: outcome.degraded,
            })
        }
        .await;
        Ok(answer(result))
    }

    #[tool(description = "Give a character a memory; with user_id it belongs to that person.")]
    async fn add_memory(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<AddMemoryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = tenant_of(&parts)?;
        let result = async {
            let kind = match args.kind.as_deref().unwrap_or("episodic") {
                "episodic" => MemoryKind::Episodic,
                "biographical" => MemoryKind::Biographical,
                _ => return Err(invalid("kind", "must be episodic or biographical")),
            };
            let new = NewMemory {
                kind,
                source: MemorySource::Manual,
                content: MemoryContent::parse("content", &args.content)?,
                importance: args
                    .importance
                    .map(Importance::parse)
                    .transpose()?
                    .unwrap_or(Importance::DEFAULT),
                user_id: args
                    .user_id
                    .as_deref()
                    .map(|u| UserId::parse("user_id", u))
                    .transpose()?,
                occurred_at: None,
            };
            let memory = self
                .state
                .memories
                .add(&tenant, args.character_id, new)
                .await?;
            Ok(MemoryDto::from(memory))
        }
        .await;
        Ok(answer(result))
    }

    #[tool(
        description = "Say something to a character as a person and get its answer, drawn from what it remembers of them."
    )]
    async fn send_message(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SendMessageArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = tenant_of(&parts)?;
        let result = async {
            let content = MessageContent::parse(&args.message).map_err(|mut e| {
                e.field = "message";
                e
            })?;
            let session = match args.session_id {
                Some(id) => {
                    let session = self.state.sessions.get(&tenant, id).await?;
                    if session.character_id != args.character_id {
                        return Err(invalid(
                            "session_id",
                            "names a session with another character",
                        ));
                    }
                    session
                }
                None => {
                    let user = UserId::parse("user_id", args.user_id.as_deref().unwrap_or("user"))?;
                    self.state
                        .characters
                        .get(&tenant, args.character_id)
                        .await?;
                    self.state
                        .sessions
                        .open_for(&tenant, args.character_id, user)
                        .await?
                }
            };
            let outcome = self
                .state
                .chat
                .send(TurnInput {
                    tenant,
                    session_id: session.id,
                    content,
                    idempotency_key: None,
                })
                .await?;
            Ok(TurnDto::from(outcome))
        }
        .await;
        Ok(answer(result))
    }
}

#[tool_handler]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("virlife", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "VirLife: characters that remember. List or get characters, search and add \
                 their memories, and talk to them as a person (user_id keeps each person's \
                 memories theirs).",
            )
    }
}
