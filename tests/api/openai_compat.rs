//! The OpenAI Chat Completions shape: characters as models, the person's
//! open session, the last user message as the turn, SSE chunks and
//! `[DONE]`. (tests/openai_client.sh drives the same with the official SDK.)

use crate::helpers::{ScriptedLlm, TestApp, assert_problem, json_of, spawn_app, spawn_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use virlife::core::ports::LlmError;

async fn complete(app: &TestApp, key: &str, body: Value) -> Value {
    let response = app.post("/v1/chat/completions", key, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

async fn stored_messages(app: &TestApp, key: &str, session: &str) -> Vec<Value> {
    json_of(
        app.get(&format!("/v1/sessions/{session}/messages"), key)
            .await,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn in_session(app: &TestApp, key: &str, body: Value, session: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/chat/completions", app.address))
        .bearer_auth(key)
        .header("X-VirLife-Session", session)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `data:` lines of an event stream.
fn data_lines(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_character_is_a_model_and_each_person_keeps_their_session() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let ada = app.character(&key).await;
    let models = json_of(app.get("/v1/models", &key).await).await;
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], ada.as_str());
    assert_eq!(models["data"][0]["name"], "Ada");

    let first = complete(
        &app,
        &key,
        json!({"model": "Ada", "user": "sam", "messages": [
            {"role": "system", "content": "Ignored: the persona speaks."},
            {"role": "user", "content": "My boat is called the Petrel."}
        ]}),
    )
    .await;
    assert_eq!(first["object"], "chat.completion");
    assert_eq!(first["model"], ada.as_str());
    assert_eq!(first["choices"][0]["message"]["role"], "assistant");
    assert_eq!(first["choices"][0]["finish_reason"], "stop");
    let session = first["session_id"].as_str().unwrap().to_owned();

    // By id, with the client's history: one more turn, nothing stored twice.
    let second = complete(
        &app,
        &key,
        json!({"model": ada, "user": "sam", "messages": [
            {"role": "user", "content": "My boat is called the Petrel."},
            {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
            {"role": "user", "content": "What is my boat called?"}
        ]}),
    )
    .await;
    assert_eq!(second["session_id"], session.as_str());
    assert!(
        second["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Petrel")
    );
    let stored = stored_messages(&app, &key, &session).await;
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[2]["content"], "What is my boat called?");

    // Another person: another session, and Sam's boat stays Sam's.
    let other = complete(
        &app,
        &key,
        json!({"model": "Ada", "user": "alex", "messages": [
            {"role": "user", "content": "What is my boat called?"}
        ]}),
    )
    .await;
    assert_ne!(other["session_id"], session.as_str());
    assert!(
        !other["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Petrel")
    );

    // A session named by header is used as it is.
    let named = app.session(&key, &ada).await;
    let response = in_session(
        &app,
        &key,
        json!({"model": "Ada", "messages": [{"role": "user", "content": "Hello"}]}),
        &named,
    )
    .await;
    assert_eq!(json_of(response).await["session_id"], named.as_str());
}

#[tokio::test]
async fn bad_requests_are_problems_and_open_no_session() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let ada = app.character(&key).await;
    let problem = assert_problem(
        app.post(
            "/v1/chat/completions",
            &key,
            json!({"model": "Ada", "messages": [{"role": "system", "content": "hi"}]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(problem["field"], "messages");
    let problem = assert_problem(
        app.post(
            "/v1/chat/completions",
            &key,
            json!({"model": "Ada", "messages": [{"role": "user", "content": "x".repeat(8001)}]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(problem["field"], "messages");
    let sessions = json_of(
        app.get(&format!("/v1/characters/{ada}/sessions"), &key)
            .await,
    )
    .await;
    assert!(sessions["items"].as_array().unwrap().is_empty());

    // Another tenant's character is not a model here, by id or by name.
    let other = app.tenant_key("globex").await;
    for model in [ada.as_str(), "Ada"] {
        assert_problem(
            app.post(
                "/v1/chat/completions",
                &other,
                json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await,
            404,
        )
        .await;
    }
    // A session with another character than the model.
    let bo = app.character(&key).await;
    let bos = app.session(&key, &bo).await;
    let response = in_session(
        &app,
        &key,
        json!({"model": ada, "messages": [{"role": "user", "content": "hi"}]}),
        &bos,
    )
    .await;
    let problem = assert_problem(response, 400).await;
    assert_eq!(problem["field"], "X-VirLife-Session");
}

#[tokio::test]
async fn a_streamed_completion_is_chunks_then_done_and_matches_what_is_stored() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let ada = app.character(&key).await;
    let response = app
        .post(
            "/v1/chat/completions",
            &key,
            json!({"model": ada, "user": "sam", "stream": true,
                   "messages": [{"role": "user", "content": "Tell me about storms."}]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let lines = data_lines(&response.text().await.unwrap());
    assert_eq!(lines.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    let sessions = json_of(
        app.get(&format!("/v1/characters/{ada}/sessions"), &key)
            .await,
    )
    .await;
    let session = sessions["items"][0]["id"].as_str().unwrap();
    let stored = stored_messages(&app, &key, session).await;
    assert_eq!(stored[1]["content"].as_str().unwrap(), text);
}

#[tokio::test]
async fn a_provider_failure_mid_stream_is_an_error_object_without_its_body() {
    let llm = ScriptedLlm::failing(LlmError::Unavailable(
        "upstream 500 with secret body".into(),
    ));
    let app = spawn_with(&[], Some(llm)).await;
    let key = app.tenant_key("acme").await;
    app.character(&key).await;
    let response = app
        .post(
            "/v1/chat/completions",
            &key,
            json!({"model": "Ada", "stream": true,
                   "messages": [{"role": "user", "content": "Hello?"}]}),
        )
        .await;
    let body = response.text().await.unwrap();
    let lines = data_lines(&body);
    assert_eq!(lines.last().unwrap(), "[DONE]");
    let error: Value = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("error").is_some())
        .expect("an error object");
    assert_eq!(error["error"]["code"], 502);
    assert!(!body.contains("secret"), "{body}");
    // Plain, the same failure is a problem document naming the stored message.
    let problem = assert_problem(
        app.post(
            "/v1/chat/completions",
            &key,
            json!({"model": "Ada", "messages": [{"role": "user", "content": "Hello?"}]}),
        )
        .await,
        502,
    )
    .await;
    assert!(problem["message_id"].is_string(), "{problem}");
}
