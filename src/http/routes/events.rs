use super::ApiTags;
use crate::core::domain::{Importance, MemoryContent, PageRequest, WorldTime};
use crate::core::use_cases::NewWorldEvent;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::dto::{CreateWorldEventRequest, WorldEventDto, WorldEventPage, page_dto};
use crate::http::problem::ApiError;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use std::sync::Arc;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

#[derive(ApiResponse)]
pub enum RecordedEvent {
    /// Stored with every witness's memory of it, in one transaction.
    #[oai(status = 201)]
    Created(Json<WorldEventDto>),
}

pub struct EventsApi;

#[OpenApi(prefix_path = "/v1/events", tag = "ApiTags::World")]
impl EventsApi {
    /// Record a world event its witnesses perceive
    #[oai(path = "/", method = "post", operation_id = "recordWorldEvent")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        body: Json<CreateWorldEventRequest>,
    ) -> Result<RecordedEvent> {
        let body = body.0;
        let new = NewWorldEvent {
            description: MemoryContent::parse("description", &body.description)?,
            place_id: body.place_id,
            witnesses: body.witnesses,
            nested: body.include_nested.unwrap_or(false),
            importance: body
                .importance
                .map(Importance::parse)
                .transpose()?
                .unwrap_or(Importance::DEFAULT),
            occurred_at: body
                .occurred_at
                .map(|at| WorldTime::parse("occurred_at", at))
                .transpose()?,
        };
        let event = state.world_events.record(&auth.0, new).await?;
        Ok(RecordedEvent::Created(Json(event.into())))
    }

    /// List world events in world time
    #[oai(path = "/", method = "get", operation_id = "listWorldEvents")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        /// Only the events at this place.
        place_id: Query<Option<Uuid>>,
        /// 1–100, default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<WorldEventPage>> {
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let events = state.world_events.list(&auth.0, place_id.0, page).await?;
        let (items, next_cursor) = page_dto(events);
        Ok(Json(WorldEventPage { items, next_cursor }))
    }

    /// Get a world event and who perceived it
    #[oai(path = "/:id", method = "get", operation_id = "getWorldEvent")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<Json<WorldEventDto>> {
        Ok(Json(state.world_events.get(&auth.0, id.0).await?.into()))
    }
}
