use super::ApiTags;
use crate::core::domain::UserId;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::dto::ErasureDto;
use crate::http::problem::ApiError;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use std::sync::Arc;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

pub struct PeopleApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::People")]
impl PeopleApi {
    /// Erase a person from one character
    ///
    /// Deletes their sessions with this character, the messages in them,
    /// and every memory of theirs the character holds (with its vector and
    /// cached history); returns the counts. Erasing someone the character
    /// never met returns zeros.
    #[oai(
        path = "/characters/:id/users/:user_id",
        method = "delete",
        operation_id = "eraseUserFromCharacter"
    )]
    async fn erase_from_character(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
        user_id: Path<String>,
    ) -> Result<Json<ErasureDto>> {
        let user = UserId::parse("user_id", &user_id.0)?;
        let report = state.people.erase(&auth.0, Some(id.0), &user).await?;
        Ok(Json(report.into()))
    }

    /// Erase a person from every character
    ///
    /// The same as the per-character erasure, for all of the tenant's
    /// characters at once.
    #[oai(
        path = "/users/:user_id",
        method = "delete",
        operation_id = "eraseUser"
    )]
    async fn erase(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        user_id: Path<String>,
    ) -> Result<Json<ErasureDto>> {
        let user = UserId::parse("user_id", &user_id.0)?;
        let report = state.people.erase(&auth.0, None, &user).await?;
        Ok(Json(report.into()))
    }
}
