use crate::helpers::{ScriptedLlm, json_of, spawn_app, spawn_with};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use virlife::core::ports::LlmError;

/// Reads a whole SSE body into (event, data) pairs; comments are skipped.
async fn events_of(response: reqwest::Response) -> Vec<(String, Value)> {
    let mut text = String::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = "message".to_owned();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = name.to_owned();
                } else if let Some(payload) = line.strip_prefix("data: ") {
                    data.push_str(payload);
                }
            }
            (!data.is_empty()).then(|| (event, serde_json::from_str(&data).unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_turn_sends_memories_deltas_and_a_done_matching_the_stored_reply() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    app.say(&key, &session, "I love sailing").await;
    let response = app
        .post(
            &format!("/v1/sessions/{session}/messages/stream"),
            &key,
            json!({"content": "Tell me about sailing"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = events_of(response).await;
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"memories"));
    assert_eq!(names.last(), Some(&"done"));
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d)
        .collect();
    assert!(
        deltas.len() > 3,
        "several deltas expected, got {}",
        deltas.len()
    );
    let streamed: String = deltas.iter().map(|d| d["text"].as_str().unwrap()).collect();
    let done = &events.last().unwrap().1;
    assert_eq!(done["reply"]["content"], streamed.as_str());
    assert!(!events[0].1["memories"].as_array().unwrap().is_empty());

    let messages = json_of(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    let stored = messages["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(stored["content"], streamed.as_str());
    assert_eq!(stored["id"], done["reply"]["id"]);
}

#[tokio::test]
async fn a_stream_whose_model_fails_ends_with_an_error_event() {
    let app = spawn_with(&[], Some(ScriptedLlm::failing(LlmError::Timeout))).await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let response = app
        .post(
            &format!("/v1/sessions/{session}/messages/stream"),
            &key,
            json!({"content": "Hello"}),
        )
        .await;
    let events = events_of(response).await;
    let (name, problem) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(problem["status"], 504);
    assert!(problem["request_id"].is_string());
    let messages = json_of(
        app.get(&format!("/v1/sessions/{session}/messages"), &key)
            .await,
    )
    .await;
    assert_eq!(messages["items"][0]["id"], problem["message_id"]);
}

#[tokio::test]
async fn the_reply_is_stored_even_if_the_client_leaves_mid_stream() {
    let app = spawn_with(
        &[],
        Some(ScriptedLlm::slow(std::time::Duration::from_millis(500))),
    )
    .await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let response = app
        .post(
            &format!("/v1/sessions/{session}/messages/stream"),
            &key,
            json!({"content": "Hello"}),
        )
        .await;
    drop(response);
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let messages = json_of(
            app.get(&format!("/v1/sessions/{session}/messages"), &key)
                .await,
        )
        .await;
        if messages["items"].as_array().unwrap().len() == 2 {
            assert_eq!(messages["items"][1]["role"], "character");
            return;
        }
    }
    panic!("the reply was not stored after the client left");
}

#[tokio::test]
async fn errors_before_streaming_are_plain_problems() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let response = app
        .post(
            &format!("/v1/sessions/{}/messages/stream", uuid::Uuid::now_v7()),
            &key,
            json!({"content": "Hi"}),
        )
        .await;
    crate::helpers::assert_problem(response, 404).await;
}

/// NEL and the Unicode line separators are legal raw in JSON strings, but
/// clients that split a stream with a Unicode-aware `splitlines` (Python's)
/// cut an event there; each data line must hold whole JSON for them too.
#[tokio::test]
async fn unicode_line_breaks_in_a_streamed_reply_are_escaped() {
    let app = spawn_app().await;
    let key = app.tenant_key("acme").await;
    let character = app.character(&key).await;
    let session = app.session(&key, &character).await;
    let said = "one\u{85}two\u{2028}three\u{2029}four";
    let response = app
        .post(
            &format!("/v1/sessions/{session}/messages/stream"),
            &key,
            json!({"content": said}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(['\u{85}', '\u{2028}', '\u{2029}']),
        "raw Unicode line breaks in the stream: {text:?}"
    );
    // Split the way such a client does; every data line is whole JSON.
    let unicode_lines = text.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']);
    let mut done = None;
    for payload in unicode_lines.filter_map(|line| line.strip_prefix("data: ")) {
        let data: Value = serde_json::from_str(payload).unwrap();
        if data.get("reply").is_some() {
            done = Some(data);
        }
    }
    // The offline model echoes the message, so the reply holds the breaks.
    let reply = done.expect("a done event")["reply"]["content"].clone();
    assert!(reply.as_str().unwrap().contains(said), "{reply}");
}
