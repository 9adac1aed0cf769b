use super::ApiTags;
use crate::core::domain::{
    Importance, MemoryContent, MemorySource, PageRequest, ScopeFilter, UserId, WorldTime,
};
use crate::core::use_cases::{NewMemory, RecallQuery};
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::dto::{
    CreateEventRequest, CreateMemoryRequest, JobDto, MemoryDto, MemoryKindDto, MemoryPage,
    SearchMemoriesRequest, SearchResults, page_dto,
};
use crate::http::problem::ApiError;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use std::sync::Arc;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

#[derive(ApiResponse)]
pub enum CreatedMemory {
    /// Stored in PostgreSQL and indexed.
    #[oai(status = 201)]
    Created(Json<MemoryDto>),
}

#[derive(ApiResponse)]
pub enum DeletedMemory {
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum Reflected {
    /// Cognition is queued; follow it at `GET /v1/jobs/{id}`.
    #[oai(status = 202)]
    Accepted(Json<JobDto>),
}

fn importance(value: Option<f64>) -> std::result::Result<Importance, ApiError> {
    Ok(value
        .map(Importance::parse)
        .transpose()?
        .unwrap_or(Importance::DEFAULT))
}

fn occurred_at(
    value: Option<chrono::DateTime<chrono::Utc>>,
) -> std::result::Result<Option<WorldTime>, ApiError> {
    Ok(value
        .map(|at| WorldTime::parse("occurred_at", at))
        .transpose()?)
}

pub struct MemoriesApi;

#[OpenApi(prefix_path = "/v1/characters", tag = "ApiTags::Memories")]
impl MemoriesApi {
    /// Add a memory
    #[oai(path = "/:id/memories", method = "post", operation_id = "addMemory")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<CreateMemoryRequest>,
    ) -> Result<CreatedMemory> {
        let new = NewMemory {
            kind: body.kind.into(),
            source: MemorySource::Manual,
            content: MemoryContent::parse("content", &body.content)?,
            importance: importance(body.importance)?,
            user_id: body
                .user_id
                .as_deref()
                .map(|u| UserId::parse("user_id", u))
                .transpose()?,
            occurred_at: occurred_at(body.occurred_at)?,
        };
        let memory = state.memories.add(&auth.0, id.0, new).await?;
        Ok(CreatedMemory::Created(Json(memory.into())))
    }

    /// Record a world event the character perceives (an episodic memory)
    #[oai(path = "/:id/events", method = "post", operation_id = "recordEvent")]
    async fn event(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<CreateEventRequest>,
    ) -> Result<CreatedMemory> {
        let memory = state
            .world_events
            .perceive(
                &auth.0,
                id.0,
                MemoryContent::parse("description", &body.description)?,
                importance(body.importance)?,
                occurred_at(body.occurred_at)?,
            )
            .await?;
        Ok(CreatedMemory::Created(Json(memory.into())))
    }

    /// List memories, oldest first
    #[oai(path = "/:id/memories", method = "get", operation_id = "listMemories")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        kind: Query<Option<MemoryKindDto>>,
        /// 1–100, default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<MemoryPage>> {
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let memories = state
            .memories
            .list(&auth.0, id.0, kind.0.map(Into::into), page)
            .await?;
        let (items, next_cursor) = page_dto(memories);
        Ok(Json(MemoryPage { items, next_cursor }))
    }

    /// Search memories by meaning, best first
    #[oai(
        path = "/:id/memories/search",
        method = "post",
        operation_id = "searchMemories"
    )]
    async fn search(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<SearchMemoriesRequest>,
    ) -> Result<Json<SearchResults>> {
        let query = MemoryContent::parse("query", &body.query)?.into_inner();
        let scope = match body.user_id.as_deref() {
            Some(user) => ScopeFilter::Person(UserId::parse("user_id", user)?.into_inner()),
            None => ScopeFilter::Any,
        };
        let recall = RecallQuery {
            k: body.k.unwrap_or(5) as usize,
            kind: body.kind.map(Into::into),
            scope,
            include_superseded: body.include_superseded.unwrap_or(false),
            mode: body.mode.map(Into::into).unwrap_or_default(),
        };
        let outcome = state
            .memories
            .search(&auth.0, id.0, &query, &recall)
            .await?;
        Ok(Json(SearchResults {
            results: outcome.hits.into_iter().map(Into::into).collect(),
            mode: outcome.mode.into(),
            degraded: outcome.degraded,
        }))
    }

    /// Delete a memory and its vector
    #[oai(
        path = "/:id/memories/:memory_id",
        method = "delete",
        operation_id = "deleteMemory"
    )]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        memory_id: Path<Uuid>,
    ) -> Result<DeletedMemory> {
        state.memories.delete(&auth.0, id.0, memory_id.0).await?;
        Ok(DeletedMemory::Deleted)
    }

    /// Run cognition now: extract lasting facts from recent turns
    ///
    /// Queues a durable job (202); 429 with `Retry-After` while the
    /// character's cooldown runs.
    #[oai(path = "/:id/reflect", method = "post", operation_id = "reflect")]
    async fn reflect(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<Reflected> {
        let job = state.reflection.request(&auth.0, id.0).await?;
        Ok(Reflected::Accepted(Json(job.into())))
    }
}
