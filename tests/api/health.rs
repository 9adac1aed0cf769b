use crate::helpers::{json_of, spawn_app, spawn_with};
use reqwest::StatusCode;

#[tokio::test]
async fn health_reports_status_environment_version_uptime_and_every_service() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["environment"], "development");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_seconds"].is_u64());
    assert_eq!(body["authentication"], "enabled");
    let store = std::env::var("VIRLIFE_TEST_STORE").unwrap_or_default();
    let on_postgres = store == "postgres";
    let database = if on_postgres || store == "sqlite" {
        "connected"
    } else {
        "in-memory"
    };
    assert_eq!(body["services"]["database"]["status"], database);
    let on_redis = std::env::var("VIRLIFE_TEST_CACHE").as_deref() == Ok("redis");
    let cache = if on_redis { "connected" } else { "in-memory" };
    assert_eq!(body["services"]["cache"]["status"], cache);
    assert!(body["services"]["cache"]["hit_rate"].is_number());
    let on_qdrant = std::env::var("VIRLIFE_TEST_QDRANT").is_ok();
    let (vectors, backend) = if on_qdrant {
        ("connected", "qdrant")
    } else if std::env::var("VIRLIFE_TEST_PGVECTOR").is_ok() {
        ("connected", "postgres-pgvector")
    } else if on_postgres {
        // PostgreSQL answers search itself and says which way: Debian's
        // server has no pgvector, so the exact scan.
        ("connected", "postgres-exact")
    } else {
        ("in-memory", "in-memory")
    };
    assert_eq!(body["services"]["vector_memory"]["status"], vectors);
    assert_eq!(body["services"]["vector_memory"]["backend"], backend);
    assert_eq!(body["services"]["llm"]["status"], "offline");
    // Only a file-backed store has a disk to report.
    if store == "sqlite" {
        assert!(body["disk"]["total_bytes"].as_u64().unwrap() > 0, "{body}");
        assert!(body["disk"]["used_percent"].is_number(), "{body}");
    } else {
        assert!(body.get("disk").is_none(), "{body}");
    }
}

#[tokio::test]
async fn liveness_and_readiness_answer_without_a_key() {
    let app = spawn_app().await;
    for path in ["/health/live", "/health/ready"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_safety_headers() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/v1/characters", app.address))
        .header("X-Request-Id", "trace-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-abc_123");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["cache-control"], "no-store");
    // A hostile id is replaced, not echoed.
    let response = app
        .client
        .get(format!("{}/health", app.address))
        .header("X-Request-Id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "<script>");
}

#[tokio::test]
async fn docs_and_spec_are_served_only_when_enabled() {
    let app = spawn_app().await;
    let docs = app
        .client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let spec = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(spec).await["info"]["title"], "VirLife API");

    let hidden = spawn_with(&[("ENABLE_API_DOCS", "false")], None).await;
    for path in ["/docs", "/openapi.json"] {
        let response = hidden
            .client
            .get(format!("{}{path}", hidden.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn metrics_need_the_master_key_and_count_requests() {
    let app = spawn_app().await;
    let tenant = app.tenant_key("acme").await;
    app.get("/v1/characters", &tenant).await;
    let refused = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let forbidden = app.get("/metrics", &tenant).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let metrics = app.get("/metrics", crate::helpers::MASTER_KEY).await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("virlife_http_requests_total"), "{text}");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = spawn_with(&[("ALLOWED_ORIGINS", "https://game.example")], None).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/characters", app.address),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let allowed = preflight("https://game.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://game.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
