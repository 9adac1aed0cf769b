//! Error tracking and traces, delivered to local collectors over real HTTP:
//! a 5xx and a panic reach a Sentry endpoint (envelopes captured as sent)
//! with environment, release and request id and without a secret, key,
//! message or persona; the same requests reach an OTLP endpoint as spans
//! down to the store calls. One test: telemetry is process-wide.

#![cfg(all(feature = "sentry", feature = "otel"))]

use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{EndpointExt, Request, Route, handler};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use virlife::adapters::{
    exact_vectors::ExactVectorMemory, memory_cache::InMemoryCache, offline_llm::OfflineLlm,
    traced::TracedStore,
};
use virlife::config::Settings;
use virlife::core::domain::{ApiKey, KeyHash, TenantId};
use virlife::core::ports::{MockStore, StoreError};
use virlife::core::use_cases::{CoreSettings, Ports, UseCases};
use virlife::http::{AppState, HttpSettings, app};

const DB_PASSWORD: &str = "pw-never-reported-42";
const PERSONA: &str = "PERSONA-MARKER: a lighthouse keeper who hides a map";
const API_KEY: &str = "vl_0123456789abcdef0123456789abcdef";
/// A key whose lookup panics: a panic before the routes.
const CURSED_KEY: &str = "vl_fedcba9876543210fedcba9876543210";

type Captured = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

#[handler]
async fn capture(request: &Request, body: Vec<u8>, captured: Data<&Captured>) {
    captured
        .lock()
        .unwrap()
        .push((request.uri().path().to_owned(), body));
}

async fn serve<E>(endpoint: E) -> String
where
    E: poem::IntoEndpoint + Send + 'static,
    E::Endpoint: 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    format!("http://{address}")
}

/// What the collector received on paths containing `path`, as text.
fn received(captured: &Captured, path: &str) -> Vec<String> {
    captured
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.contains(path))
        .map(|(_, body)| String::from_utf8_lossy(body).into_owned())
        .collect()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "no {what} within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_and_a_panic_reach_error_tracking_and_traces_without_secrets() {
    let captured: Captured = Arc::default();
    let collector = serve(Route::new().at("/*path", capture).data(captured.clone())).await;
    let host = collector.trim_start_matches("http://");
    let variables: HashMap<String, String> = [
        ("SENTRY_DSN", format!("http://publickey@{host}/42")),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.clone()),
        (
            "DATABASE_URL",
            format!("postgres://virlife:{DB_PASSWORD}@127.0.0.1:1/virlife"),
        ),
        ("LOG_FORMAT", "json".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = Settings::load(&variables).unwrap();
    let telemetry = virlife::telemetry::init(&settings);

    // A store that fails one call with an error naming the database password
    // and panics on another.
    let mut store = MockStore::new();
    store.expect_kind().return_const("postgres");
    store.expect_find_api_key().returning(|hash| {
        if *hash == KeyHash::of(CURSED_KEY) {
            panic!("key lookup exploded");
        }
        Ok((*hash == KeyHash::of(API_KEY)).then(|| ApiKey {
            id: uuid::Uuid::new_v4(),
            tenant: TenantId::parse("acme").unwrap(),
            name: "game".into(),
            key_hash: hash.clone(),
            created_at: chrono::Utc::now(),
            revoked_at: None,
        }))
    });
    store.expect_insert_character().returning(|_| {
        Err(StoreError::Internal(format!(
            "insert failed on postgres://virlife:{DB_PASSWORD}@db/virlife"
        )))
    });
    store
        .expect_list_characters()
        .returning(|_, _| panic!("list exploded while paging"));
    let ports = Ports::new(
        Arc::new(TracedStore::new(Arc::new(store))),
        Arc::new(InMemoryCache::default()),
        Arc::new(ExactVectorMemory::new()),
        Arc::new(OfflineLlm::new(64)),
    );
    let state = Arc::new(AppState {
        use_cases: UseCases::new(ports, CoreSettings::default()),
        app_name: "test".into(),
        master_key: None,
        limiter: None,
        trusted_hops: 0,
    });
    let service = serve(app(
        state,
        &HttpSettings {
            enable_api_docs: false,
            cors_origins: vec![],
            max_body_bytes: 65536,
        },
    ))
    .await;

    let client = reqwest::Client::new();
    let failed = client
        .post(format!("{service}/v1/characters"))
        .bearer_auth(API_KEY)
        .json(&serde_json::json!({"name": "Ada", "persona": PERSONA}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);
    let failed_id = failed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = failed.text().await.unwrap();
    assert!(!body.contains(DB_PASSWORD), "{body}");
    let panicked = client
        .get(format!("{service}/v1/characters"))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(panicked.status(), 500);
    let panicked_id = panicked.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let cursed = client
        .get(format!("{service}/v1/characters"))
        .bearer_auth(CURSED_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(cursed.status(), 500);
    let cursed_id = cursed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cursed.text().await.unwrap().contains("/problems/internal"),
        "a panic before the routes is a problem document too"
    );

    let events = || {
        received(&captured, "/api/42/envelope")
            .into_iter()
            .filter(|envelope| envelope.contains(r#""type":"event""#))
            .collect::<Vec<_>>()
    };
    wait_for("three error reports", || events().len() >= 3).await;
    // The spans go out in batches; dropping the guard sends what is left.
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .unwrap();
    wait_for("spans", || {
        received(&captured, "/v1/traces")
            .iter()
            .any(|batch| batch.contains("store.list_characters"))
    })
    .await;

    let events = events();
    assert_eq!(
        events.len(),
        3,
        "one report per failed request, a panic not reported twice: {events:#?}"
    );
    let report_of = |id: &str| {
        events
            .iter()
            .find(|e| e.contains(&format!(r#""request_id":"{id}""#)))
            .unwrap_or_else(|| panic!("no report tagged {id}: {events:#?}"))
            .clone()
    };
    let error = report_of(&failed_id);
    assert!(
        error.contains("POST /v1/characters answered 500"),
        "{error}"
    );
    let panic = report_of(&panicked_id);
    assert!(panic.contains("list exploded while paging"), "{panic}");
    assert!(panic.contains(r#""type":"panic""#), "{panic}");
    let early_panic = report_of(&cursed_id);
    assert!(early_panic.contains("key lookup exploded"), "{early_panic}");
    for report in [&error, &panic, &early_panic] {
        assert!(
            report.contains(r#""environment":"development""#),
            "{report}"
        );
        assert!(
            report.contains(&format!(
                r#""release":"virlife@{}""#,
                env!("CARGO_PKG_VERSION")
            )),
            "{report}"
        );
    }
    // The error named the database password: blanked before it left.
    assert!(error.contains("[redacted]"), "{error}");
    let reports = received(&captured, "/envelope").concat();
    let everything_sent = received(&captured, "/").concat();
    assert!(!reports.contains(DB_PASSWORD), "{reports}");
    for secret in ["PERSONA-MARKER", "lighthouse", API_KEY, CURSED_KEY] {
        assert!(
            !everything_sent.contains(secret),
            "{secret} left the process: {everything_sent}"
        );
    }

    // The traces: the requests, the use case and each store call, named.
    let spans = received(&captured, "/v1/traces").concat();
    for name in [
        "store.insert_character",
        "store.list_characters",
        "request",
        failed_id.as_str(),
        "virlife",
    ] {
        assert!(spans.contains(name), "no {name} in the exported spans");
    }
}
