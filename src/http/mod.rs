//! The HTTP adapter: poem + poem-openapi routes over the core.

pub mod auth;
mod document;
pub mod dto;
mod field_locator;
#[cfg(feature = "mcp")]
mod mcp;
mod metrics_endpoint;
mod playground;
pub use metrics_endpoint::install_recorder as install_metrics;
mod middleware;
pub mod problem;
pub mod rate_limit;
pub mod routes;
mod sse;

use crate::core::domain::KeyHash;
use crate::core::use_cases::UseCases;
use poem::endpoint::BoxEndpoint;
use poem::middleware::{CatchPanic, Cors};
use poem::web::Html;
use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;
use rate_limit::RateLimiter;
use routes::{
    admin::AdminApi, characters::CharactersApi, events::EventsApi, health::HealthApi,
    jobs::JobsApi, memories::MemoriesApi, openai::OpenAiApi, people::PeopleApi, places::PlacesApi,
    portability::PortabilityApi, relationships::RelationshipsApi, sessions::SessionsApi,
};
use std::sync::Arc;

pub use middleware::RequestId;

/// What every handler can reach, shared through `Data<&Arc<AppState>>`:
/// the use cases by name (`state.chat.send(…)`) and the HTTP settings.
pub struct AppState {
    pub use_cases: UseCases,
    pub app_name: String,
    /// SHA-256 of `MASTER_API_KEY`; `None` disables authentication (development only).
    pub master_key: Option<KeyHash>,
    pub limiter: Option<RateLimiter>,
    /// Proxies in front of the service that append to X-Forwarded-For (0 =
    /// none: the socket peer is the client).
    pub trusted_hops: usize,
}

impl std::ops::Deref for AppState {
    type Target = UseCases;

    fn deref(&self) -> &UseCases {
        &self.use_cases
    }
}

/// HTTP-only settings, taken from `Settings` by the composition root.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub enable_api_docs: bool,
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
}

pub type Api = (
    HealthApi,
    AdminApi,
    CharactersApi,
    PortabilityApi,
    MemoriesApi,
    SessionsApi,
    PeopleApi,
    JobsApi,
    PlacesApi,
    EventsApi,
    RelationshipsApi,
    OpenAiApi,
);

/// The OpenAPI service; needs no infrastructure, so `openapi` and tests can call it.
pub fn api_service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            HealthApi,
            AdminApi,
            CharactersApi,
            PortabilityApi,
            MemoriesApi,
            SessionsApi,
            PeopleApi,
            JobsApi,
            PlacesApi,
            EventsApi,
            RelationshipsApi,
            OpenAiApi,
        ),
        "VirLife API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Characters that remember: create characters, open sessions, chat with them, \
         push world events, and search their episodic and biographical memory. \
         Errors are RFC 9457 problem documents.",
    )
}

/// The spec as committed in `openapi/openapi.json` (and served at
/// `/openapi.json` and `/docs`): poem-openapi's, refined by `document`.
pub fn openapi_json() -> String {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| document::document(&generated_spec()))
        .clone()
}

/// The document as poem-openapi generates it.
fn generated_spec() -> String {
    api_service().spec()
}

/// The origin list that admits only pages served from this machine
/// (`http(s)://localhost`, `127.0.0.1` or `[::1]`, any port).
pub const LOCALHOST_ORIGINS: &str = "localhost";

fn is_local_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => rest.split(':').next().unwrap_or_default(),
    };
    crate::config::is_loopback(host)
}

fn cors(origins: &[String]) -> Cors {
    let cors = Cors::new()
        .allow_headers([
            "authorization",
            "content-type",
            "x-api-key",
            "idempotency-key",
            "x-request-id",
        ])
        .expose_headers(["x-request-id", "retry-after"]);
    if origins.iter().any(|o| o == LOCALHOST_ORIGINS) {
        cors.allow_origins_fn(is_local_origin)
    } else if origins.iter().any(|o| o == "*") {
        cors
    } else {
        // No listed origin means no cross-origin access at all.
        let listed: Vec<&str> = origins.iter().map(String::as_str).collect();
        cors.allow_origins(if listed.is_empty() {
            vec!["https://cross-origin.invalid"]
        } else {
            listed
        })
    }
}

/// The whole HTTP application.
pub fn app(state: Arc<AppState>, settings: &HttpSettings) -> BoxEndpoint<'static> {
    let api = api_service();
    let mut route = Route::new();
    if settings.enable_api_docs {
        // Swagger UI over our document rather than the generated one.
        let swagger = api
            .swagger_ui_html()
            .replace(&generated_spec(), &openapi_json());
        route = route
            .nest(
                "/docs",
                Route::new().at(
                    "/",
                    poem::endpoint::make_sync(move |_| Html(swagger.clone())),
                ),
            )
            .at(
                "/openapi.json",
                poem::endpoint::make_sync(|_| {
                    poem::Response::builder()
                        .content_type("application/json")
                        .body(openapi_json())
                }),
            )
            .nest("/playground", playground::routes());
    }
    route = route.at("/metrics", metrics_endpoint::prometheus_text);
    #[cfg(feature = "mcp")]
    {
        // Any Host when every call needs a key; loopback names otherwise.
        let open_hosts = state.master_key.is_some();
        route = route.at("/mcp", mcp::McpEndpoint::new(state.clone(), open_hosts));
    }
    route = route.nest("/", api);
    route
        .with(cors(&settings.cors_origins))
        .with(CatchPanic::new())
        .with(middleware::RequestContext {
            max_body_bytes: settings.max_body_bytes,
        })
        .data(state)
        .boxed()
}

#[cfg(test)]
mod tests {
    //! HTTP behaviour that needs a failing port, injected with mockall.
    use super::*;
    use crate::adapters::{
        exact_vectors::ExactVectorMemory, memory_cache::InMemoryCache, offline_llm::OfflineLlm,
    };
    use crate::core::ports::{MockStore, StoreError};
    use crate::core::use_cases::{CoreSettings, Ports};
    use poem::test::TestClient;

    fn unreachable_store() -> MockStore {
        let mut store = MockStore::new();
        let down = || StoreError::Unavailable("connection refused to 10.0.0.5:5432".into());
        store.expect_kind().return_const("postgres");
        store.expect_ping().returning(move || Err(down()));
        store
            .expect_insert_character()
            .returning(move |_| Err(down()));
        store
            .expect_list_characters()
            .returning(move |_, _| Err(down()));
        store
    }

    fn client(store: MockStore) -> TestClient<BoxEndpoint<'static>> {
        client_with(store, None)
    }

    fn client_with(store: MockStore, limit: Option<u32>) -> TestClient<BoxEndpoint<'static>> {
        let cache: Arc<dyn crate::core::ports::Cache> = Arc::new(InMemoryCache::default());
        let ports = Ports::new(
            Arc::new(store),
            cache.clone(),
            Arc::new(ExactVectorMemory::new()),
            Arc::new(OfflineLlm::new(64)),
        );
        let state = Arc::new(AppState {
            use_cases: UseCases::new(ports, CoreSettings::default()),
            app_name: "test".into(),
            master_key: None,
            limiter: limit.map(|limit| RateLimiter::per_minute(limit, cache)),
            trusted_hops: 0,
        });
        TestClient::new(app(
            state,
            &HttpSettings {
                enable_api_docs: false,
                cors_origins: vec![],
                max_body_bytes: 65536,
            },
        ))
    }

    #[tokio::test]
    async fn an_unreachable_database_is_a_503_problem_without_internals() {
        let client = client(unreachable_store());
        let response = client
            .post("/v1/characters")
            .body_json(&serde_json::json!({"name": "Ada", "persona": "p"}))
            .send()
            .await;
        response.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
        response.assert_header("content-type", problem::PROBLEM_JSON);
        response.assert_header("retry-after", "5");
        let body = response.0.into_body().into_string().await.unwrap();
        assert!(body.contains("database-unavailable"), "{body}");
        assert!(!body.contains("10.0.0.5"), "{body}");
        let listed = client.get("/v1/characters").send().await;
        listed.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn health_is_unavailable_503_when_the_database_does_not_answer() {
        let client = client(unreachable_store());
        let response = client.get("/health").send().await;
        response.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
        let json = response.json().await;
        json.value()
            .object()
            .get("status")
            .assert_string("unavailable");
        let ready = client.get("/health/ready").send().await;
        ready.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
        let live = client.get("/health/live").send().await;
        live.assert_status_is_ok();
    }

    #[tokio::test]
    async fn made_up_keys_reach_the_store_at_most_the_limit_and_a_repeated_one_once() {
        let lookups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut store = MockStore::new();
        store.expect_kind().return_const("postgres");
        let counted = lookups.clone();
        store.expect_find_api_key().returning(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(None)
        });
        let client = client_with(store, Some(5));
        let mut statuses = Vec::new();
        for i in 0..20 {
            let response = client
                .get("/v1/characters")
                .header("Authorization", format!("Bearer vl_made_up_{i}"))
                .send()
                .await;
            statuses.push(response.0.status().as_u16());
        }
        assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), 5);
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 429),
            "{statuses:?}"
        );
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15);

        // A key already found unknown is answered from the cache.
        let mut store = MockStore::new();
        store.expect_kind().return_const("postgres");
        let counted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = counted.clone();
        store.expect_find_api_key().returning(move |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(None)
        });
        let client = client_with(store, None);
        for _ in 0..10 {
            let response = client
                .get("/v1/characters")
                .header("Authorization", "Bearer vl_same_guess")
                .send()
                .await;
            response.assert_status(poem::http::StatusCode::UNAUTHORIZED);
        }
        assert_eq!(counted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn keyless_requests_to_any_path_meet_the_address_limit_but_probes_do_not() {
        let mut store = MockStore::new();
        store.expect_kind().return_const("postgres");
        store.expect_ping().returning(|| Ok(()));
        let client = client_with(store, Some(3));
        let mut statuses = Vec::new();
        for i in 0..5 {
            statuses.push(
                client
                    .get(format!("/x-{i}"))
                    .send()
                    .await
                    .0
                    .status()
                    .as_u16(),
            );
        }
        assert_eq!(statuses, [404, 404, 404, 429, 429]);
        for _ in 0..5 {
            client
                .get("/health/live")
                .send()
                .await
                .assert_status_is_ok();
        }
    }
}
