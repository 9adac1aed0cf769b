use async_trait::async_trait;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use virlife::adapters::offline_llm::OfflineLlm;
use virlife::composition::{Application, compose};
use virlife::config::Settings;
use virlife::core::ports::{
    ChunkStream, Completion, Llm, LlmDescription, LlmError, ReflectRequest, RenderRequest,
};
use virlife::core::use_cases::{Ports, UseCases};

pub const MASTER_KEY: &str = "test-master-key-0123456789abcdefghijklmnop";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The variables it was started with (which database, cache, collection).
    pub variables: HashMap<String, String>,
}

/// A SQLite database file of its own, in a fresh temporary folder.
pub fn fresh_sqlite_url() -> String {
    let folder =
        std::env::temp_dir().join(format!("virlife-test-{}", uuid::Uuid::new_v4().simple()));
    format!("sqlite://{}", folder.join("virlife.db").display())
}

/// A running service with a master key and otherwise development defaults.
pub async fn spawn_app() -> TestApp {
    spawn_with(&[], None).await
}

/// A running service with extra variables and, optionally, another LLM.
pub async fn spawn_with(variables: &[(&str, &str)], llm: Option<Arc<dyn Llm>>) -> TestApp {
    let mut env: HashMap<String, String> = [
        ("PORT", "0"),
        ("API_HOST", "127.0.0.1"),
        ("MASTER_API_KEY", MASTER_KEY),
        ("EMBEDDING_DIMENSIONS", "256"),
        // The test machine's own disk is not under test.
        ("DISK_ALERT_PERCENT", "100"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    // The store under test: volatile unless the run asks for a real one.
    let database = match std::env::var("VIRLIFE_TEST_STORE").as_deref() {
        Ok("postgres") => fresh_database().await,
        Ok("sqlite") => fresh_sqlite_url(),
        _ => "memory:".to_owned(),
    };
    env.insert("DATABASE_URL".into(), database);
    // Each app its own namespace, so apps sharing a Redis do not share limits.
    env.insert(
        "CACHE_NAMESPACE".into(),
        format!("test-{}", uuid::Uuid::new_v4().simple()),
    );
    if std::env::var("VIRLIFE_TEST_QDRANT").is_ok() {
        let url = std::env::var("QDRANT_URL").expect("VIRLIFE_TEST_QDRANT needs QDRANT_URL");
        env.insert("QDRANT_URL".into(), url);
        // A collection per app, so tests never see each other's points.
        env.insert(
            "QDRANT_COLLECTION".into(),
            format!("virlife_test_{}", uuid::Uuid::new_v4().simple()),
        );
    }
    if std::env::var("VIRLIFE_TEST_CACHE").as_deref() == Ok("redis") {
        let url = std::env::var("REDIS_URL").expect("VIRLIFE_TEST_CACHE=redis needs REDIS_URL");
        env.insert("REDIS_URL".into(), url);
    }
    for (k, v) in variables {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let settings = Settings::load(&env).expect("test settings are valid");
    let mut use_cases = compose(&settings).expect("composes");
    if let Some(llm) = llm {
        let ports = Ports {
            llm,
            ..use_cases.ports.clone()
        };
        use_cases = UseCases::new(ports, use_cases.settings.clone());
    }
    install_crypto_provider();
    let application = Application::with_use_cases(&settings, use_cases)
        .await
        .expect("binds");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    let app = TestApp {
        variables: env,
        address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };
    app.wait_until_ready().await;
    app
}

/// With the `openai` feature reqwest is built for rustls without a bundled
/// provider; the service installs ring, and so must the tests' clients.
pub fn install_crypto_provider() {
    #[cfg(feature = "openai")]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(feature = "postgres")]
#[path = "../common/postgres.rs"]
mod postgres_support;

#[cfg(feature = "postgres")]
pub async fn fresh_database() -> String {
    postgres_support::fresh_database().await
}

#[cfg(not(feature = "postgres"))]
pub async fn fresh_database() -> String {
    panic!("VIRLIFE_TEST_STORE=postgres needs the `postgres` feature")
}

impl TestApp {
    /// Migrations run in the background at start-up; wait for them.
    pub async fn wait_until_ready(&self) {
        for _ in 0..200 {
            let ready = self
                .client
                .get(format!("{}/health/ready", self.address))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the service never became ready");
    }

    /// Polls a job until it is done or failed.
    /// Queues a reflection of `character`; the job's id.
    pub async fn reflect(&self, key: &str, character: &str) -> String {
        let queued = json_of(
            self.post(
                &format!("/v1/characters/{character}/reflect"),
                key,
                json!({}),
            )
            .await,
        )
        .await;
        queued["id"].as_str().unwrap().to_owned()
    }

    pub async fn wait_for_job(&self, key: &str, id: &str) -> Value {
        for _ in 0..200 {
            let job = json_of(self.get(&format!("/v1/jobs/{id}"), key).await).await;
            if job["status"] == "done" || job["status"] == "failed" {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("job {id} never finished");
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    /// `/metrics`, as the master key reads it.
    #[cfg(any(feature = "postgres", feature = "redis", feature = "sqlite"))]
    pub async fn metrics(&self) -> String {
        self.get("/metrics", MASTER_KEY).await.text().await.unwrap()
    }

    pub async fn get(&self, path: &str, key: &str) -> Response {
        self.request(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(key), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(key), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Response {
        self.request(Method::DELETE, path, Some(key), None).await
    }

    /// Creates a tenant key through the admin API.
    pub async fn tenant_key(&self, tenant: &str) -> String {
        let response = self
            .post(
                "/v1/admin/api-keys",
                MASTER_KEY,
                json!({"tenant": tenant, "name": "tests"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        json_of(response).await["key"].as_str().unwrap().to_owned()
    }

    pub async fn character(&self, key: &str) -> String {
        let response = self
            .post(
                "/v1/characters",
                key,
                json!({"name": "Ada", "persona": "A retired sea captain who loves storms."}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        id_of(response).await
    }

    pub async fn session(&self, key: &str, character: &str) -> String {
        let response = self
            .post(
                &format!("/v1/characters/{character}/sessions"),
                key,
                json!({"user_name": "Sam"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        id_of(response).await
    }

    pub async fn say(&self, key: &str, session: &str, text: &str) -> Value {
        let response = self
            .post(
                &format!("/v1/sessions/{session}/messages"),
                key,
                json!({ "content": text }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        json_of(response).await
    }
}

pub async fn json_of(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

pub async fn id_of(response: Response) -> String {
    json_of(response).await["id"].as_str().unwrap().to_owned()
}

/// Asserts an RFC 9457 problem with the given status whose request id is the
/// one in `X-Request-Id`; returns the body.
pub async fn assert_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json_of(response).await;
    assert_eq!(body["status"], status);
    assert_eq!(body["request_id"], request_id.as_str());
    assert!(body["type"].as_str().unwrap().starts_with("/problems/"));
    assert!(!body["title"].as_str().unwrap().is_empty());
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

/// An LLM that answers like the offline one, after a delay (or fails).
pub struct ScriptedLlm {
    pub offline: OfflineLlm,
    pub render_delay: Duration,
    pub fail_with: Option<LlmError>,
    pub fail_cognition: Option<LlmError>,
}

impl ScriptedLlm {
    pub fn slow(delay: Duration) -> Arc<dyn Llm> {
        Arc::new(Self {
            offline: OfflineLlm::new(256),
            render_delay: delay,
            fail_with: None,
            fail_cognition: None,
        })
    }

    pub fn failing(error: LlmError) -> Arc<dyn Llm> {
        Arc::new(Self {
            offline: OfflineLlm::new(256),
            render_delay: Duration::ZERO,
            fail_with: Some(error),
            fail_cognition: None,
        })
    }

    /// Replies fine, but every cognition call fails.
    pub fn failing_cognition(error: LlmError) -> Arc<dyn Llm> {
        Arc::new(Self {
            offline: OfflineLlm::new(256),
            render_delay: Duration::ZERO,
            fail_with: None,
            fail_cognition: Some(error),
        })
    }
}

/// The offline model, remembering every prompt it was given: what a
/// provider would have read.
#[derive(Default)]
pub struct RecordingLlm {
    offline: Option<OfflineLlm>,
    prompts: std::sync::Mutex<Vec<String>>,
}

impl RecordingLlm {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            offline: Some(OfflineLlm::new(256)),
            prompts: Default::default(),
        })
    }

    /// Every prompt so far, each rendered as the provider's request reads.
    pub fn prompts(&self) -> Vec<String> {
        self.prompts.lock().unwrap().clone()
    }

    fn record(&self, prompt: String) {
        self.prompts.lock().unwrap().push(prompt);
    }

    fn offline(&self) -> &OfflineLlm {
        self.offline.as_ref().expect("built with new()")
    }
}

#[async_trait]
impl Llm for RecordingLlm {
    fn describe(&self) -> LlmDescription {
        self.offline().describe()
    }

    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError> {
        self.record(format!("render {request:?}"));
        self.offline().render(request).await
    }

    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        self.record(format!("render {request:?}"));
        self.offline().render_stream(request).await
    }

    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        self.record(format!("reflect {request:?}"));
        self.offline().reflect(request).await
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        self.offline().embed(texts).await
    }
}

#[async_trait]
impl Llm for ScriptedLlm {
    fn describe(&self) -> LlmDescription {
        self.offline.describe()
    }

    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError> {
        tokio::time::sleep(self.render_delay).await;
        match &self.fail_with {
            Some(error) => Err(error.clone()),
            None => self.offline.render(request).await,
        }
    }

    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        tokio::time::sleep(self.render_delay).await;
        match &self.fail_with {
            Some(error) => Err(error.clone()),
            None => self.offline.render_stream(request).await,
        }
    }

    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        match &self.fail_cognition {
            Some(error) => Err(error.clone()),
            None => self.offline.reflect(request).await,
        }
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        self.offline.embed(texts).await
    }
}

/// One series' value in Prometheus text (`name` with its labels, as
/// printed), if present.
#[cfg(any(feature = "postgres", feature = "redis", feature = "sqlite"))]
pub fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}
