use super::ApiTags;
use crate::core::domain::{PageRequest, PlaceDescription, PlaceName, PlacePatch};
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::dto::{
    CharacterPage, CreatePlaceRequest, PlaceDto, PlacePage, UpdatePlaceRequest, page_dto,
};
use crate::http::problem::ApiError;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, OpenApi};
use std::sync::Arc;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

#[derive(ApiResponse)]
pub enum CreatedPlace {
    #[oai(status = 201)]
    Created(Json<PlaceDto>),
}

#[derive(ApiResponse)]
pub enum DeletedPlace {
    /// Deleted; the places inside it are top-level now and the characters
    /// there are in no place.
    #[oai(status = 204)]
    Deleted,
}

/// `undefined` leaves a field, `null` clears it.
pub(crate) fn patch_of<T: Copy>(value: &MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(*v)),
    }
}

pub struct PlacesApi;

#[OpenApi(prefix_path = "/v1/places", tag = "ApiTags::World")]
impl PlacesApi {
    /// Create a place
    #[oai(path = "/", method = "post", operation_id = "createPlace")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        body: Json<CreatePlaceRequest>,
    ) -> Result<CreatedPlace> {
        let name = PlaceName::parse(&body.name)?;
        let description = PlaceDescription::parse(body.description.as_deref().unwrap_or(""))?;
        let place = state
            .places
            .create(auth.0, name, description, body.parent_id)
            .await?;
        Ok(CreatedPlace::Created(Json(place.into())))
    }

    /// List places, oldest first
    #[oai(path = "/", method = "get", operation_id = "listPlaces")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        /// Only the places directly inside this one.
        parent_id: Query<Option<Uuid>>,
        /// 1–100, default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<PlacePage>> {
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let places = state.places.list(&auth.0, parent_id.0, page).await?;
        let (items, next_cursor) = page_dto(places);
        Ok(Json(PlacePage { items, next_cursor }))
    }

    /// Get a place
    #[oai(path = "/:id", method = "get", operation_id = "getPlace")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<Json<PlaceDto>> {
        Ok(Json(state.places.get(&auth.0, id.0).await?.into()))
    }

    /// Rename, redescribe or move a place
    #[oai(path = "/:id", method = "patch", operation_id = "updatePlace")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        body: Json<UpdatePlaceRequest>,
    ) -> Result<Json<PlaceDto>> {
        let patch = PlacePatch {
            name: body.name.as_deref().map(PlaceName::parse).transpose()?,
            description: body
                .description
                .as_deref()
                .map(PlaceDescription::parse)
                .transpose()?,
            parent_id: patch_of(&body.parent_id),
        };
        Ok(Json(
            state.places.update(&auth.0, id.0, patch).await?.into(),
        ))
    }

    /// Delete a place
    #[oai(path = "/:id", method = "delete", operation_id = "deletePlace")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<DeletedPlace> {
        state.places.delete(&auth.0, id.0).await?;
        Ok(DeletedPlace::Deleted)
    }

    /// List the characters at a place
    #[oai(
        path = "/:id/characters",
        method = "get",
        operation_id = "listPlaceCharacters"
    )]
    async fn characters(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        /// Also the characters in the places inside it, at any depth.
        include_nested: Query<Option<bool>>,
        /// 1–100, default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<CharacterPage>> {
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let characters = state
            .places
            .occupants(&auth.0, id.0, include_nested.0.unwrap_or(false), page)
            .await?;
        let (items, next_cursor) = page_dto(characters);
        Ok(Json(CharacterPage { items, next_cursor }))
    }
}
