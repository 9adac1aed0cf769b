use crate::helpers::{assert_problem, spawn_app, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let response = app
        .client
        .post(format!("{}/v1/characters", app.address))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"name\": \"Ada\",")
        .send()
        .await
        .unwrap();
    assert_problem(response, 400).await;
}

#[tokio::test]
async fn invalid_fields_are_400s_that_name_the_field() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let long_name = "x".repeat(101);
    let long_content = "y".repeat(8001);
    let cases: Vec<(String, Value, &str)> = vec![
        ("/v1/characters".into(), json!({"persona": "p"}), "name"),
        (
            "/v1/characters".into(),
            json!({"name": ["Ada"], "persona": "p"}),
            "name",
        ),
        (
            "/v1/characters".into(),
            json!({"name": long_name, "persona": "p"}),
            "name",
        ),
        (
            "/v1/characters".into(),
            json!({"name": "  ", "persona": "p"}),
            "name",
        ),
        (
            "/v1/characters".into(),
            json!({"name": "Ada", "persona": "p", "traits": [1]}),
            "traits",
        ),
        (
            format!("/v1/characters/{character}/memories"),
            json!({"kind": "dream", "content": "c"}),
            "kind",
        ),
        (
            format!("/v1/characters/{character}/memories"),
            json!({"kind": "episodic", "content": long_content}),
            "content",
        ),
        (
            format!("/v1/characters/{character}/memories"),
            json!({"kind": "episodic", "content": "c", "importance": "high"}),
            "importance",
        ),
        (
            format!("/v1/characters/{character}/memories"),
            json!({"kind": "episodic", "content": "c", "importance": 2}),
            "importance",
        ),
        (
            format!("/v1/characters/{character}/memories/search"),
            json!({"query": "q", "k": 51}),
            "k",
        ),
        (
            format!("/v1/characters/{character}/sessions"),
            json!({"metadata": "not an object"}),
            "metadata",
        ),
    ];
    for (path, body, field) in cases {
        let problem = assert_problem(app.post(&path, &key, body.clone()).await, 400).await;
        assert_eq!(problem["field"], field, "{path} {body}: {problem}");
    }
}

#[tokio::test]
async fn bad_query_and_path_parameters_are_400s() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    for (path, field) in [
        ("/v1/characters?limit=0", "limit"),
        ("/v1/characters?limit=101", "limit"),
        ("/v1/characters?limit=many", "limit"),
        ("/v1/characters?cursor=garbage", "cursor"),
        ("/v1/characters/not-a-uuid", "id"),
    ] {
        let problem = assert_problem(app.get(path, &key).await, 400).await;
        assert!(problem["field"].as_str().is_some(), "{path}: {problem}");
        if field != "id" {
            assert_eq!(problem["field"], field, "{path}");
        }
    }
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404s() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let nobody = uuid::Uuid::now_v7();
    for path in [
        format!("/v1/characters/{nobody}"),
        format!("/v1/sessions/{nobody}"),
        format!("/v1/sessions/{nobody}/messages"),
        format!("/v1/characters/{nobody}/memories"),
        "/v1/nothing-here".to_owned(),
    ] {
        assert_problem(app.get(&path, &key).await, 404).await;
    }
    let character = app.character(&key).await;
    assert_problem(
        app.delete(
            &format!("/v1/characters/{character}/memories/{nobody}"),
            &key,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn missing_or_unknown_keys_are_401s() {
    let app = spawn_app().await;
    assert_problem(
        app.request(Method::GET, "/v1/characters", None, None).await,
        401,
    )
    .await;
    assert_problem(app.get("/v1/characters", "vl_not_a_real_key").await, 401).await;
    let malformed = app
        .client
        .get(format!("{}/v1/characters", app.address))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 401).await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413s() {
    let app = spawn_with(&[("MAX_BODY_BYTES", "2048")], None).await;
    let key = app.tenant_key("acme").await;
    let response = app
        .post(
            "/v1/characters",
            &key,
            json!({"name": "Ada", "persona": "p".repeat(5000)}),
        )
        .await;
    assert_problem(response, 413).await;
    // Without a Content-Length the limit still holds.
    let chunks =
        futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let response = app
        .client
        .post(format!("{}/v1/characters", app.address))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_problem(response, 413).await;
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after() {
    let app = spawn_with(
        &[
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_PER_MINUTE", "2"),
        ],
        None,
    )
    .await;
    let key = app.tenant_key("acme").await;
    let other = app.tenant_key("globex").await;
    assert_eq!(app.get("/v1/characters", &key).await.status(), 200);
    assert_eq!(app.get("/v1/characters", &key).await.status(), 200);
    let limited = app.get("/v1/characters", &key).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_problem(limited, 429).await;
    // Limits are per key.
    assert_eq!(app.get("/v1/characters", &other).await.status(), 200);
}

#[tokio::test]
async fn wrong_media_types_and_methods_are_problems_too() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let response = app
        .client
        .post(format!("{}/v1/characters", app.address))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("name=Ada")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415).await;
    let response = app.request(Method::PUT, "/health", None, None).await;
    assert_problem(response, 405).await;
}

/// A bounded sweep of odd inputs over every route: nothing may be a 5xx.
#[tokio::test]
async fn no_odd_input_produces_a_server_error() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let nobody = uuid::Uuid::now_v7();
    let paths = [
        "/v1/characters".to_owned(),
        format!("/v1/characters/{character}"),
        format!("/v1/characters/{character}/memories"),
        format!("/v1/characters/{character}/events"),
        format!("/v1/characters/{character}/memories/search"),
        format!("/v1/characters/{character}/memories/{nobody}"),
        format!("/v1/characters/{character}/reflect"),
        format!("/v1/characters/{character}/sessions"),
        format!("/v1/sessions/{session}"),
        format!("/v1/sessions/{session}/messages"),
        format!("/v1/sessions/{session}/messages/stream"),
        "/v1/admin/api-keys".to_owned(),
        format!("/v1/admin/api-keys/{nobody}"),
        "/v1/admin/reindex".to_owned(),
    ];
    let bodies = [
        None,
        Some("null"),
        Some("[]"),
        Some("{}"),
        Some("\"\""),
        Some("{\"content\": null, \"name\": 1e999}"),
        Some("{\"content\": \"\\u0000\", \"query\": \"\\ud800\", \"kind\": {}}"),
        Some("{\"name\": \"a\", \"persona\": \"b\", \"traits\": {\"x\": [[[[[[]]]]]]}}"),
    ];
    for path in &paths {
        for method in [Method::GET, Method::POST, Method::PATCH, Method::DELETE] {
            for body in bodies {
                let mut request = app
                    .client
                    .request(method.clone(), format!("{}{path}", app.address))
                    .bearer_auth(&key);
                if let Some(body) = body {
                    request = request
                        .header("content-type", "application/json")
                        .body(body);
                }
                let response = request.send().await.unwrap();
                assert!(
                    response.status().as_u16() < 500,
                    "{method} {path} {body:?} -> {}",
                    response.status()
                );
            }
        }
    }
}

#[tokio::test]
async fn requests_without_a_key_are_limited_per_client_address() {
    let app = spawn_with(
        &[
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_PER_MINUTE", "3"),
        ],
        None,
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            app.get("/v1/characters", "vl_guessing")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
}

#[tokio::test]
async fn admitted_requests_carry_ratelimit_headers() {
    let app = spawn_with(
        &[
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_PER_MINUTE", "3"),
        ],
        None,
    )
    .await;
    let key = app.tenant_key("acme").await;
    let response = app.get("/v1/characters", &key).await;
    assert_eq!(response.headers()["ratelimit-limit"], "3");
    assert_eq!(response.headers()["ratelimit-remaining"], "2");
}
