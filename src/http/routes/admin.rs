use super::ApiTags;
use crate::core::domain::{ApiKeyName, TenantId};
use crate::http::AppState;
use crate::http::auth::AdminKey;
use crate::http::dto::{ApiKeyDto, ApiKeyList, CreateApiKeyRequest, CreatedApiKey, ReindexReport};
use crate::http::problem::ApiError;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use std::sync::Arc;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ApiError>;

#[derive(ApiResponse)]
pub enum CreateKeyResponse {
    /// The key; its secret is shown only now.
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
}

#[derive(ApiResponse)]
pub enum RevokeKeyResponse {
    /// Revoked: the key stops working at once.
    #[oai(status = 204)]
    Revoked,
}

#[derive(ApiResponse)]
pub enum ReindexResponse {
    /// The index was rebuilt from PostgreSQL.
    #[oai(status = 202)]
    Accepted(Json<ReindexReport>),
}

pub struct AdminApi;

#[OpenApi(prefix_path = "/v1/admin", tag = "ApiTags::Admin")]
impl AdminApi {
    /// Create a tenant API key
    #[oai(path = "/api-keys", method = "post", operation_id = "createApiKey")]
    async fn create_key(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: AdminKey,
        body: Json<CreateApiKeyRequest>,
    ) -> Result<CreateKeyResponse> {
        let tenant = TenantId::parse(&body.tenant)?;
        let name = ApiKeyName::parse(&body.name)?;
        let (key, secret) = state.api_keys.create(tenant, name).await?;
        Ok(CreateKeyResponse::Created(Json(CreatedApiKey {
            id: key.id,
            tenant: key.tenant.to_string(),
            name: key.name,
            key: secret.expose().to_owned(),
            created_at: key.created_at,
        })))
    }

    /// List API keys (never their secrets)
    #[oai(path = "/api-keys", method = "get", operation_id = "listApiKeys")]
    async fn list_keys(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: AdminKey,
    ) -> Result<Json<ApiKeyList>> {
        let keys = state.api_keys.list().await?;
        Ok(Json(ApiKeyList {
            items: keys.into_iter().map(ApiKeyDto::from).collect(),
        }))
    }

    /// Revoke an API key
    #[oai(
        path = "/api-keys/:id",
        method = "delete",
        operation_id = "revokeApiKey"
    )]
    async fn revoke_key(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: AdminKey,
        id: Path<Uuid>,
    ) -> Result<RevokeKeyResponse> {
        state.api_keys.revoke(id.0).await?;
        Ok(RevokeKeyResponse::Revoked)
    }

    /// Rebuild the vector index from PostgreSQL
    #[oai(path = "/reindex", method = "post", operation_id = "reindexVectors")]
    async fn reindex(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: AdminKey,
    ) -> Result<ReindexResponse> {
        let outcome = state.vector_index.reindex().await?;
        Ok(ReindexResponse::Accepted(Json(ReindexReport {
            memories: outcome.memories,
            indexed: outcome.indexed,
            reembedded: outcome.reembedded,
            failed: outcome.failed,
        })))
    }
}
