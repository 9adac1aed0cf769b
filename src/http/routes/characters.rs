use super::ApiTags;
use crate::core::domain::{CharacterName, CharacterPatch, PageRequest, Persona, Traits};
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::dto::{
    CharacterDto, CharacterPage, CreateCharacterRequest, UpdateCharacterRequest, page_dto,
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
pub enum CreatedCharacter {
    #[oai(status = 201)]
    Created(Json<CharacterDto>),
}

#[derive(ApiResponse)]
pub enum DeletedCharacter {
    /// Deleted with its sessions, messages, memories and vectors.
    #[oai(status = 204)]
    Deleted,
}

pub struct CharactersApi;

#[OpenApi(prefix_path = "/v1/characters", tag = "ApiTags::Characters")]
impl CharactersApi {
    /// Create a character
    #[oai(path = "/", method = "post", operation_id = "createCharacter")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        body: Json<CreateCharacterRequest>,
    ) -> Result<CreatedCharacter> {
        let body = body.0;
        let name = CharacterName::parse(&body.name)?;
        let persona = Persona::parse(&body.persona)?;
        let traits = body.traits.map(Traits::parse).transpose()?;
        let character = state
            .characters
            .create(auth.0, name, persona, traits)
            .await?;
        Ok(CreatedCharacter::Created(Json(character.into())))
    }

    /// List characters, oldest first
    #[oai(path = "/", method = "get", operation_id = "listCharacters")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        /// 1–100, default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<CharacterPage>> {
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let (items, next_cursor) = page_dto(state.characters.list(&auth.0, page).await?);
        Ok(Json(CharacterPage { items, next_cursor }))
    }

    /// Get a character
    #[oai(path = "/:id", method = "get", operation_id = "getCharacter")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<Json<CharacterDto>> {
        Ok(Json(state.characters.get(&auth.0, id.0).await?.into()))
    }

    /// Update a character's name, persona or traits
    #[oai(path = "/:id", method = "patch", operation_id = "updateCharacter")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<UpdateCharacterRequest>,
    ) -> Result<Json<CharacterDto>> {
        let body = body.0;
        let patch = CharacterPatch {
            name: body.name.as_deref().map(CharacterName::parse).transpose()?,
            persona: body.persona.as_deref().map(Persona::parse).transpose()?,
            traits: body.traits.map(Traits::parse).transpose()?,
            place_id: super::places::patch_of(&body.place_id),
        };
        let character = state.characters.update(&auth.0, id.0, patch).await?;
        Ok(Json(character.into()))
    }

    /// Delete a character and everything it owns
    #[oai(path = "/:id", method = "delete", operation_id = "deleteCharacter")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<DeletedCharacter> {
        state.characters.delete(&auth.0, id.0).await?;
        Ok(DeletedCharacter::Deleted)
    }
}
