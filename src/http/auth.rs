//! API-key authentication as a poem-openapi security extractor, so Swagger
//! UI offers both `Authorization: Bearer` and `X-API-Key`.

use super::AppState;
use super::problem::ApiError;
use crate::core::domain::{ApiKey, KeyHash, TenantId};
use crate::core::error::Error;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use std::marker::PhantomData;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Who is calling.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// The master key: admin routes only.
    Admin,
    /// A tenant key: that tenant's data only.
    Tenant { tenant: TenantId, key_id: Uuid },
    /// Development without `MASTER_API_KEY`: admin and the `default` tenant.
    Developer,
}

const DEV_TENANT: &str = "default";

/// What a route requires of the principal.
pub trait Requirement: Send + Sync + 'static {
    type Output: Send;
    fn admit(principal: Principal) -> Result<Self::Output, Error>;
}

pub struct TenantOnly;
pub struct AdminOnly;

impl Requirement for TenantOnly {
    type Output = TenantId;
    fn admit(principal: Principal) -> Result<TenantId, Error> {
        match principal {
            Principal::Tenant { tenant, .. } => Ok(tenant),
            Principal::Developer => TenantId::parse(DEV_TENANT).map_err(Error::from),
            Principal::Admin => Err(Error::Forbidden(
                "the master key administers keys; use a tenant key for tenant data",
            )),
        }
    }
}

impl Requirement for AdminOnly {
    type Output = ();
    fn admit(principal: Principal) -> Result<(), Error> {
        match principal {
            Principal::Admin | Principal::Developer => Ok(()),
            Principal::Tenant { .. } => Err(Error::Forbidden("this route needs the master key")),
        }
    }
}

/// An authenticated, rate-checked caller meeting requirement `R`.
pub struct Auth<R: Requirement>(pub R::Output, PhantomData<R>);

pub type TenantKey = Auth<TenantOnly>;
pub type AdminKey = Auth<AdminOnly>;

const BEARER: &str = "BearerAuth";
const API_KEY: &str = "ApiKeyAuth";

fn presented_key(request: &Request) -> Option<&str> {
    if let Some(value) = request.header("X-API-Key") {
        return Some(value.trim());
    }
    let value = request.header("Authorization")?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// A caller as far as it can be known without the store.
pub enum Resolution {
    Known(Result<Principal, Error>),
    /// A key the cache does not know: only the store can tell.
    NeedsLookup(String),
}

/// Resolves the caller from its key without a store lookup when it can: no
/// key, the master key, or a key the cache knows (live or unknown).
pub async fn resolve_cached(state: &AppState, request: &Request) -> Resolution {
    match presented_key(request).filter(|k| !k.is_empty()) {
        None if state.master_key.is_none() => Resolution::Known(Ok(Principal::Developer)),
        None => Resolution::Known(Err(Error::Unauthenticated)),
        Some(presented) => {
            let hash = KeyHash::of(presented);
            let is_master = state.master_key.as_ref().is_some_and(|master| {
                bool::from(master.as_str().as_bytes().ct_eq(hash.as_str().as_bytes()))
            });
            if is_master {
                return Resolution::Known(Ok(Principal::Admin));
            }
            match state.api_keys.cached(presented).await {
                Some(known) => Resolution::Known(principal(known)),
                None => Resolution::NeedsLookup(presented.to_owned()),
            }
        }
    }
}

/// Asks the store about a key the cache did not know.
pub async fn look_up(state: &AppState, presented: &str) -> Result<Principal, Error> {
    principal(state.api_keys.look_up(presented).await?)
}

fn principal(key: Option<ApiKey>) -> Result<Principal, Error> {
    match key {
        Some(key) => Ok(Principal::Tenant {
            tenant: key.tenant,
            key_id: key.id,
        }),
        None => Err(Error::Unauthenticated),
    }
}

/// Resolves the caller from its key (rate limiting happens in the request
/// context middleware, which also needs the caller).
pub async fn resolve(state: &AppState, request: &Request) -> Result<Principal, Error> {
    match resolve_cached(state, request).await {
        Resolution::Known(principal) => principal,
        Resolution::NeedsLookup(presented) => look_up(state, &presented).await,
    }
}

/// The caller as the request context resolved it (or resolves it now).
pub async fn principal_of(request: &Request) -> Result<Principal, Error> {
    if let Some(principal) = request.extensions().get::<Principal>() {
        return Ok(principal.clone());
    }
    let state = request
        .data::<std::sync::Arc<AppState>>()
        .ok_or_else(|| Error::Internal("application state missing".into()))?;
    resolve(state, request).await
}

impl<'a, R: Requirement> ApiExtractor<'a> for Auth<R> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            BEARER,
            MetaSecurityScheme {
                ty: "http",
                description: Some("`Authorization: Bearer <key>`"),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("vl_…"),
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            API_KEY,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some("`X-API-Key: <key>`"),
                name: Some("X-API-Key"),
                key_in: Some("header"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![BEARER, API_KEY]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _options: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let principal = principal_of(request).await.map_err(ApiError)?;
        let output = R::admit(principal).map_err(ApiError)?;
        Ok(Auth(output, PhantomData))
    }
}
