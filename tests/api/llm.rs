//! The service over an OpenAI-compatible provider (a mock on 127.0.0.1):
//! which model serves what, streaming pace, retries and a hanging provider.

#[path = "../common/mock_provider.rs"]
pub(crate) mod mock_provider;

use crate::helpers::{assert_problem, json_of, spawn_with};
use mock_provider::{Reply, completion, sse_delta, with_embeddings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn provider_variables(base_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("VENICE_API_KEY", "sk-mock".to_owned()),
        ("VENICE_BASE_URL", format!("{base_url}/v1")),
        ("RENDERER_MODEL_ID", "mock-renderer".to_owned()),
        ("COGNITION_MODEL_ID", "mock-cognition".to_owned()),
        ("EMBEDDING_MODEL_ID", "mock-embedder".to_owned()),
        ("EMBEDDING_DIMENSIONS", "64".to_owned()),
        ("LLM_MAX_RETRIES", "3".to_owned()),
    ]
}

fn as_refs<'a>(variables: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    variables.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn each_model_id_serves_its_part_of_the_walk_through() {
    let provider = mock_provider::start(with_embeddings(64, |body: &Value, _| {
        if body["model"] == "mock-cognition" {
            Reply::Json(completion(
                r#"{"facts": [{"content": "Sam loves sailing", "importance": 0.8}]}"#,
                "mock-cognition",
            ))
        } else {
            Reply::Json(completion("Ahoy, Sam!", "mock-renderer"))
        }
    }))
    .await;
    let variables = provider_variables(&provider.base_url);
    let app = spawn_with(&as_refs(&variables), None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let turn = app.say(&key, &session, "I love sailing").await;
    assert_eq!(turn["reply"]["content"], "Ahoy, Sam!");
    assert_eq!(turn["usage"]["total_tokens"], 16);
    assert!(turn["reply"]["latency_ms"].is_u64());
    let queued = json_of(
        app.post(
            &format!("/v1/characters/{character}/reflect"),
            &key,
            json!({}),
        )
        .await,
    )
    .await;
    let job = app.wait_for_job(&key, queued["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "done", "{job}");

    let recorded = provider.recorded();
    let chats: Vec<&Value> = recorded
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .map(|r| &r.body)
        .collect();
    assert!(chats.iter().any(|b| b["model"] == "mock-renderer"));
    assert!(chats.iter().any(|b| b["model"] == "mock-cognition"));
    let embeddings: Vec<&Value> = recorded
        .iter()
        .filter(|r| r.path == "/v1/embeddings")
        .map(|r| &r.body)
        .collect();
    assert!(!embeddings.is_empty());
    assert!(embeddings.iter().all(|b| b["model"] == "mock-embedder"));

    let health = json_of(
        app.client
            .get(format!("{}/health", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(health["services"]["llm"]["status"], "configured");
    assert!(health["services"]["llm"]["latency_ms"].is_number());
}

#[tokio::test]
async fn streamed_tokens_reach_the_client_as_the_provider_sends_them() {
    let provider = mock_provider::start(with_embeddings(64, |_, _| {
        Reply::Stream(vec![
            (Duration::ZERO, sse_delta("First")),
            (Duration::from_millis(600), sse_delta(" and last")),
            (Duration::ZERO, "data: [DONE]\n\n".to_owned()),
        ])
    }))
    .await;
    let variables = provider_variables(&provider.base_url);
    let app = spawn_with(&as_refs(&variables), None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let mut response = app
        .post(
            &format!("/v1/sessions/{session}/messages/stream"),
            &key,
            json!({"content": "Go on"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let started = Instant::now();
    let mut seen = String::new();
    let mut first_delta = None;
    let mut done = None;
    while let Some(chunk) = response.chunk().await.unwrap() {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if first_delta.is_none() && seen.contains("event: delta") {
            first_delta = Some(started.elapsed());
        }
        if seen.contains("event: done") {
            done = Some(started.elapsed());
        }
    }
    let (first_delta, done) = (first_delta.unwrap(), done.unwrap());
    assert!(
        done - first_delta >= Duration::from_millis(500),
        "the first delta waited for the rest: {first_delta:?} vs {done:?}"
    );
    assert!(seen.contains("First and last"), "{seen}");
}

#[tokio::test]
async fn a_provider_rate_limiting_twice_still_gives_one_successful_turn() {
    let provider = mock_provider::start(with_embeddings(64, |_, attempt| {
        if attempt <= 2 {
            Reply::Status(429, vec![("retry-after", "1".to_owned())])
        } else {
            Reply::Json(completion("Patience pays.", "mock-renderer"))
        }
    }))
    .await;
    let variables = provider_variables(&provider.base_url);
    let app = spawn_with(&as_refs(&variables), None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let turn = app.say(&key, &session, "Hello?").await;
    assert_eq!(turn["reply"]["content"], "Patience pays.");
    let messages = json_of(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    assert_eq!(
        messages["items"].as_array().unwrap().len(),
        2,
        "the turn ran once"
    );
}

#[tokio::test]
async fn a_hanging_provider_is_a_504_within_the_workflow_timeout_and_the_message_is_kept() {
    let provider = mock_provider::start(with_embeddings(64, |_, _| Reply::Hang)).await;
    let mut variables = provider_variables(&provider.base_url);
    variables.push(("WORKFLOW_TIMEOUT_SECONDS", "2".to_owned()));
    let app = spawn_with(&as_refs(&variables), None).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let started = Instant::now();
    let response = app
        .post(
            &format!("/v1/sessions/{session}/messages"),
            &key,
            json!({"content": "Anyone there?"}),
        )
        .await;
    let problem = assert_problem(response, 504).await;
    assert!(started.elapsed() < Duration::from_secs(4));
    let messages = json_of(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    assert_eq!(messages["items"][0]["id"], problem["message_id"]);
    assert_eq!(messages["items"][0]["content"], "Anyone there?");
}
