//! Qdrant configured but unreachable (a closed port on 127.0.0.1): PostgreSQL
//! (here, the Store) answers; searches say `degraded`; writes succeed and
//! are queued for the index; /health shows it, and stays 200.

use crate::helpers::{json_of, spawn_with};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_unreachable_qdrant_degrades_search_to_the_store_without_failing_anything() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{closed}");
    let app = spawn_with(&[("QDRANT_URL", &url), ("QDRANT_TIMEOUT_MS", "300")], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let created = app
        .post(
            &format!("/v1/characters/{character}/memories"),
            &key,
            json!({"kind": "episodic", "content": "The harbour flooded"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let session = app.session(&key, &character).await;
    let turn = app.say(&key, &session, "Was the harbour flooded?").await;
    assert!(
        !turn["memories_used"].as_array().unwrap().is_empty(),
        "memories still recalled"
    );

    for _ in 0..5 {
        let started = Instant::now();
        let found = json_of(
            app.post(
                &format!("/v1/characters/{character}/memories/search"),
                &key,
                json!({"query": "harbour"}),
            )
            .await,
        )
        .await;
        assert_eq!(found["degraded"], true);
        assert_eq!(
            found["results"][0]["memory"]["content"],
            "The harbour flooded"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let health = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let health = json_of(health).await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["services"]["vector_memory"]["status"], "degraded");
    assert_eq!(health["services"]["vector_memory"]["backend"], "qdrant");
}

#[tokio::test]
async fn health_shows_the_qdrant_circuit_open_and_the_class_of_its_last_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{closed}");
    let app = spawn_with(&[("QDRANT_URL", &url), ("QDRANT_TIMEOUT_MS", "300")], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    // Enough failed calls in a row to open the breaker.
    for _ in 0..4 {
        let found = app
            .post(
                &format!("/v1/characters/{character}/memories/search"),
                &key,
                json!({"query": "harbour"}),
            )
            .await;
        assert_eq!(found.status(), StatusCode::OK);
    }
    let health = json_of(
        app.client
            .get(format!("{}/health", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let vectors = &health["services"]["vector_memory"];
    assert_eq!(vectors["circuit"], "open", "{health}");
    let class = vectors["last_error"].as_str().unwrap_or_default();
    assert!(
        ["unavailable", "timeout"].contains(&class),
        "a class, never the error's text: {health}"
    );
    // The cache is behind a breaker too, and it is fine.
    assert_eq!(health["services"]["cache"]["circuit"], "closed", "{health}");
    // The database is not decorated: no circuit to report.
    assert!(health["services"]["database"].get("circuit").is_none());
}
