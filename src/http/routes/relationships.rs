//! A character's place in the world as game logic drives it: moving it,
//! its relationships, its mood and goals.

use super::ApiTags;
use crate::core::domain::{
    Bipolar, Counterpart, InvalidInput, RelationshipUpdate, StateUpdate, UserId, WorldTime,
};
use crate::core::use_cases::{MAX_LISTED_RELATIONSHIPS, Move};
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::dto::{
    InnerStateDto, MoveCharacterRequest, MovedDto, RelationshipDto, RelationshipList,
    UpdateInnerStateRequest, UpdateRelationshipRequest,
};
use crate::http::problem::ApiError;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use std::sync::Arc;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

pub struct RelationshipsApi;

#[OpenApi(prefix_path = "/v1/characters", tag = "ApiTags::World")]
impl RelationshipsApi {
    /// Move a character to a place (it remembers going)
    #[oai(path = "/:id/move", method = "post", operation_id = "moveCharacter")]
    async fn move_character(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<MoveCharacterRequest>,
    ) -> Result<Json<MovedDto>> {
        let to = Move {
            place_id: body.place_id,
            occurred_at: body
                .occurred_at
                .map(|at| WorldTime::parse("occurred_at", at))
                .transpose()?,
        };
        let (character, memory) = state.places.move_character(&auth.0, id.0, to).await?;
        Ok(Json(MovedDto {
            character: character.into(),
            memory: memory.into(),
        }))
    }

    /// List a character's relationships, the latest changed first
    #[oai(
        path = "/:id/relationships",
        method = "get",
        operation_id = "listRelationships"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        /// 1–100, default 100.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> Result<Json<RelationshipList>> {
        let limit = limit.0.map_or(MAX_LISTED_RELATIONSHIPS, |l| l as u32);
        let items = state.relationships.list(&auth.0, id.0, limit).await?;
        Ok(Json(RelationshipList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Set a relationship's values (game logic)
    #[oai(
        path = "/:id/relationships",
        method = "patch",
        operation_id = "updateRelationship"
    )]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<UpdateRelationshipRequest>,
    ) -> Result<Json<RelationshipDto>> {
        let body = body.0;
        let counterpart = match (body.user_id.as_deref(), body.character_id) {
            (Some(user), None) => Counterpart::User(UserId::parse("user_id", user)?.into_inner()),
            (None, Some(character)) => Counterpart::Character(character),
            _ => {
                return Err(InvalidInput::new(
                    "user_id",
                    "name exactly one of user_id and character_id",
                )
                .into());
            }
        };
        if counterpart == Counterpart::Character(id.0) {
            return Err(InvalidInput::new("character_id", "must be another character").into());
        }
        let update = RelationshipUpdate {
            affinity: body
                .affinity
                .map(|v| Bipolar::parse("affinity", v))
                .transpose()?,
            trust: body.trust.map(|v| Bipolar::parse("trust", v)).transpose()?,
            note: body
                .note
                .as_deref()
                .map(RelationshipUpdate::note)
                .transpose()?,
        };
        let relationship = state
            .relationships
            .set(&auth.0, id.0, counterpart, update)
            .await?;
        Ok(Json(relationship.into()))
    }

    /// Get a character's mood and goals
    #[oai(path = "/:id/state", method = "get", operation_id = "getInnerState")]
    async fn get_state(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<Json<InnerStateDto>> {
        Ok(Json(state.inner_states.get(&auth.0, id.0).await?.into()))
    }

    /// Set a character's mood or goals (game logic)
    #[oai(
        path = "/:id/state",
        method = "patch",
        operation_id = "updateInnerState"
    )]
    async fn update_state(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<UpdateInnerStateRequest>,
    ) -> Result<Json<InnerStateDto>> {
        let update = StateUpdate {
            mood: body.mood.as_deref().map(StateUpdate::mood).transpose()?,
            goals: body.goals.as_deref().map(StateUpdate::goals).transpose()?,
        };
        let inner = state.inner_states.set(&auth.0, id.0, update).await?;
        Ok(Json(inner.into()))
    }
}
