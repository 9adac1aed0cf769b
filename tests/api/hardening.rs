//! Findings of the security review, checked through real HTTP.

use crate::helpers::{MASTER_KEY, ScriptedLlm, json_of, spawn_app, spawn_with};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

/// The request-metric series of the whole process whose route is `unmatched`.
async fn unmatched_series(app: &crate::helpers::TestApp) -> Vec<String> {
    let text = app
        .request(Method::GET, "/metrics", Some(MASTER_KEY), None)
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("virlife_http_requests_total{") && l.contains("unmatched"))
        .map(|l| {
            l.rsplit_once(' ')
                .map_or(l, |(series, _)| series)
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn ten_thousand_unknown_paths_and_odd_methods_add_no_metric_series() {
    let app = spawn_app().await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::DELETE,
        Method::from_bytes(b"BREW").unwrap(),
        Method::from_bytes(b"PROPFIND").unwrap(),
    ];
    let send = |i: usize| {
        let method = methods[i % methods.len()].clone();
        let app = &app;
        async move {
            app.request(method, &format!("/x-flood-{i}/{}", i * 7), None, None)
                .await
                .status()
        }
    };
    // Every (method, status) pair once, then the flood.
    for i in 0..methods.len() * 2 {
        send(i).await;
    }
    let before = unmatched_series(&app).await;
    assert!(
        !before.is_empty(),
        "unknown paths are counted, as `unmatched`"
    );
    for chunk in (methods.len() * 2..10_000).collect::<Vec<_>>().chunks(100) {
        futures_util::future::join_all(chunk.iter().map(|i| send(*i))).await;
    }
    let after = unmatched_series(&app).await;
    assert_eq!(before.len(), after.len(), "{after:#?}");
    let text = app
        .request(Method::GET, "/metrics", Some(MASTER_KEY), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!text.contains("x-flood"), "no raw path in any label");
    assert!(!text.contains("BREW"), "no raw method in any label");
}

#[tokio::test]
async fn without_a_master_key_only_local_pages_may_call_from_a_browser() {
    let app = spawn_with(&[("MASTER_API_KEY", ""), ("ALLOWED_ORIGINS", "*")], None).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                Method::OPTIONS,
                format!("{}/v1/admin/api-keys", app.address),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    for local in [
        "http://localhost:3000",
        "http://127.0.0.1:8080",
        "http://[::1]:5173",
    ] {
        let allowed = preflight(local).await.unwrap();
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            local,
            "{local}"
        );
    }
    for foreign in ["https://evil.example", "http://localhost.evil.example"] {
        let refused = preflight(foreign).await.unwrap();
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{foreign}"
        );
    }
}

#[tokio::test]
async fn turns_above_the_bound_are_refused_at_once_with_retry_after_and_store_nothing() {
    let app = spawn_with(
        &[("MAX_CONCURRENT_TURNS", "2")],
        Some(ScriptedLlm::slow(Duration::from_millis(1500))),
    )
    .await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(app.session(&key, &character).await);
    }
    let turn = |session: String| {
        let (app, key) = (&app, &key);
        async move {
            let started = Instant::now();
            let response = app
                .post(
                    &format!("/v1/sessions/{session}/messages"),
                    key,
                    json!({"content": "Tell me about the sea"}),
                )
                .await;
            (response, started.elapsed(), session)
        }
    };
    let results = futures_util::future::join_all(sessions.into_iter().map(turn)).await;
    let mut admitted = 0;
    for (response, took, session) in results {
        match response.status() {
            StatusCode::CREATED => admitted += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(
                    took < Duration::from_millis(1000),
                    "refused at once: {took:?}"
                );
                assert!(response.headers().contains_key("retry-after"));
                let problem = json_of(response).await;
                assert_eq!(problem["type"], "/problems/overloaded", "{problem}");
                // Nothing of a refused turn was stored.
                let messages = json_of(
                    app.get(&format!("/v1/sessions/{session}/messages"), &key)
                        .await,
                )
                .await;
                assert_eq!(messages["items"].as_array().unwrap().len(), 0, "{messages}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(admitted, 2, "two turns fit the bound of two");
    // The bound frees up as turns end.
    let session = app.session(&key, &character).await;
    let (response, _, _) = turn(session).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_conflict_from_the_database_names_no_table_or_constraint() {
    use sqlx::{Connection, Executor};
    let database = crate::helpers::fresh_database().await;
    let app = spawn_with(&[("DATABASE_URL", &database)], None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    // A unique rule the API does not check first, so PostgreSQL reports it.
    let mut db = sqlx::PgConnection::connect(&database).await.unwrap();
    db.execute("CREATE UNIQUE INDEX one_memory_text ON memories (character_id, kind)")
        .await
        .unwrap();
    let path = format!("/v1/characters/{character}/memories");
    let body = json!({"kind": "episodic", "content": "The harbour flooded"});
    let first = app.post(&path, &key, body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = app.post(&path, &key, body).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let body = second.text().await.unwrap();
    for internal in ["one_memory_text", "duplicate key", "violates", "constraint"] {
        assert!(!body.contains(internal), "{internal} leaked: {body}");
    }
}

/// The playground is served where the API docs are, and only there; it
/// loads nothing from another origin and its policy says so.
#[tokio::test]
async fn the_playground_is_served_with_the_docs_only_and_from_this_origin_only() {
    let on = spawn_with(&[("ENABLE_API_DOCS", "true")], None).await;
    let page = on
        .client
        .get(format!("{}/playground", on.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/playground/app.js"), "{html}");
    for asset in [
        "/playground/app.js",
        "/playground/style.css",
        "/playground/icon.svg",
    ] {
        let response = on
            .client
            .get(format!("{}{asset}", on.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let text = response.text().await.unwrap();
        // (The icon's only URL is SVG's namespace, which is never fetched.)
        if !asset.ends_with(".svg") {
            assert!(
                !text.contains("https://") && !text.contains("http://"),
                "{asset} names another origin"
            );
        }
    }
    let off = spawn_with(&[("ENABLE_API_DOCS", "false")], None).await;
    let hidden = off
        .client
        .get(format!("{}/playground", off.address))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
}

/// PostgreSQL cannot store a NUL character (in text or JSON): on every
/// store, text with one is a 400 naming the field, never a 500.
#[tokio::test]
async fn a_nul_character_is_a_problem_naming_its_field_on_every_store() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let cases = [
        (
            "/v1/characters".to_owned(),
            json!({"name": "A\u{0}da", "persona": "p"}),
            "name",
        ),
        (
            "/v1/characters".to_owned(),
            json!({"name": "Ada", "persona": "p", "traits": {"mood": "w\u{0}ry"}}),
            "traits",
        ),
        (
            format!("/v1/characters/{character}/memories"),
            json!({"kind": "episodic", "content": "a\u{0}b"}),
            "content",
        ),
        (
            format!("/v1/characters/{character}/sessions"),
            json!({"metadata": {"k\u{0}": 1}}),
            "metadata",
        ),
        (
            "/v1/events".to_owned(),
            json!({"description": "a\u{0}b", "witnesses": [character]}),
            "description",
        ),
        (
            "/v1/places".to_owned(),
            json!({"name": "T\u{0}avern"}),
            "name",
        ),
        (
            "/v1/characters/import".to_owned(),
            json!({"format": "virlife.character.v1",
                   "character": {"name": "Ada", "persona": "p"}, "memories": [],
                   "sessions": [{"metadata": {"k\u{0}": 1}, "messages": []}]}),
            "metadata",
        ),
    ];
    for (path, body, field) in cases {
        let response = app.post(&path, &key, body).await;
        let problem = crate::helpers::assert_problem(response, 400).await;
        assert_eq!(problem["field"], field, "{path}: {problem}");
    }
    let status = app
        .patch(
            &format!("/v1/characters/{character}/state"),
            &key,
            json!({"goals": ["x\u{0}"]}),
        )
        .await
        .status();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
