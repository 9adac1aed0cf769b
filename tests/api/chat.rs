use crate::helpers::{ScriptedLlm, assert_problem, json_of, spawn_app, spawn_with};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use virlife::core::ports::LlmError;

#[tokio::test]
async fn a_second_turn_recalls_the_first() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let first = app
        .say(&key, &session, "My name is Sam and I love sailing.")
        .await;
    assert_eq!(first["user_message"]["role"], "user");
    assert_eq!(first["reply"]["role"], "character");
    assert!(first["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let second = app
        .say(&key, &session, "Do you remember what I love? Sailing!")
        .await;
    let used = second["memories_used"].as_array().unwrap();
    assert!(!used.is_empty());
    assert!(
        used[0]["memory"]["content"]
            .as_str()
            .unwrap()
            .contains("I love sailing")
    );
    // Every score that ranked it is there.
    let scores = &used[0]["scores"];
    assert!(scores["relevance"].as_f64().unwrap() > 0.0, "{scores}");
    assert!(scores["lexical"]["rank"].as_u64().is_some(), "{scores}");
    // The model sees the day the turn happened before it.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let reply = second["reply"]["content"].as_str().unwrap();
    assert!(
        reply.contains(&format!(
            "I remember: [{today}] Sam: My name is Sam and I love sailing"
        )),
        "{reply}"
    );
}

#[tokio::test]
async fn messages_are_listed_oldest_first_with_pages() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    app.say(&key, &session, "one").await;
    app.say(&key, &session, "two").await;
    let page = json_of(
        app.get(&format!("/v1/sessions/{session}/messages?limit=3"), &key)
            .await,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["content"], "one");
    assert_eq!(items[1]["role"], "character");
    assert_eq!(items[2]["content"], "two");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = json_of(
        app.get(
            &format!("/v1/sessions/{session}/messages?cursor={cursor}"),
            &key,
        )
        .await,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());

    let sessions = json_of(
        app.get(&format!("/v1/characters/{character}/sessions"), &key)
            .await,
    )
    .await;
    assert_eq!(sessions["items"][0]["id"], session.as_str());
    assert_eq!(
        app.delete(&format!("/v1/sessions/{session}"), &key)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn a_retried_turn_with_the_same_idempotency_key_runs_once() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let send = |content: &'static str| {
        app.client
            .post(format!("{}/v1/sessions/{session}/messages", app.address))
            .bearer_auth(&key)
            .header("Idempotency-Key", "turn-42")
            .json(&json!({ "content": content }))
            .send()
    };
    let first = json_of(send("Hello there").await.unwrap()).await;
    let retry = send("Hello there").await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    let retry = json_of(retry).await;
    assert_eq!(retry["reply"]["id"], first["reply"]["id"]);
    let messages = json_of(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    assert_eq!(messages["items"].as_array().unwrap().len(), 2);
    // The same key for a different message is refused.
    assert_problem(send("Something else").await.unwrap(), 422).await;
}

#[tokio::test]
async fn a_failing_llm_answers_502_naming_the_stored_message() {
    let app = spawn_with(
        &[],
        Some(ScriptedLlm::failing(LlmError::Unavailable(
            "upstream said: secret-body".into(),
        ))),
    )
    .await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let response = app
        .post(
            &format!("/v1/sessions/{session}/messages"),
            &key,
            json!({"content": "Are you there?"}),
        )
        .await;
    let problem = assert_problem(response, 502).await;
    assert!(!problem.to_string().contains("secret-body"));
    let message_id = problem["message_id"].as_str().unwrap();
    assert!(problem["detail"].as_str().unwrap().contains(message_id));
    let messages = json_of(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    assert_eq!(messages["items"][0]["id"], message_id);
    assert_eq!(messages["items"][0]["content"], "Are you there?");
}

#[tokio::test]
async fn a_turn_past_the_workflow_timeout_answers_504_and_keeps_the_message() {
    let app = spawn_with(
        &[("WORKFLOW_TIMEOUT_SECONDS", "1")],
        Some(ScriptedLlm::slow(Duration::from_secs(5))),
    )
    .await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let started = std::time::Instant::now();
    let response = app
        .post(
            &format!("/v1/sessions/{session}/messages"),
            &key,
            json!({"content": "Hello?"}),
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
}

#[tokio::test]
async fn a_retry_while_the_first_attempt_runs_is_a_409() {
    let app = spawn_with(&[], Some(ScriptedLlm::slow(Duration::from_millis(1500)))).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let url = format!("{}/v1/sessions/{session}/messages", app.address);
    let send = || {
        app.client
            .post(&url)
            .bearer_auth(&key)
            .header("Idempotency-Key", "slow-1")
            .json(&json!({"content": "Take your time"}))
            .send()
    };
    let first = send();
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        send().await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap().status(), StatusCode::CREATED);
    assert_problem(second.unwrap(), 409).await;
}
