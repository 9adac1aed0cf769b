use super::ApiTags;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::dto::JobDto;
use crate::http::problem::ApiError;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use std::sync::Arc;
use uuid::Uuid;

pub struct JobsApi;

#[OpenApi(prefix_path = "/v1/jobs", tag = "ApiTags::Jobs")]
impl JobsApi {
    /// Get a background job: queued, running, done (with its result) or failed (with its error)
    #[oai(path = "/:id", method = "get", operation_id = "getJob")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: TenantKey,
        id: Path<Uuid>,
    ) -> Result<Json<JobDto>, ApiError> {
        Ok(Json(state.jobs.get(&auth.0, id.0).await?.into()))
    }
}
