//! The OpenAI-compatible adapter against mock providers on 127.0.0.1:
//! wiremock for request/response shapes and retries, and a raw TCP server
//! for streams that arrive in pieces, slowly.
#![cfg(feature = "openai")]

#[path = "../common/mock_provider.rs"]
mod mock_provider;

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use virlife::adapters::openai::{OpenAiLlm, OpenAiOptions};
use virlife::core::domain::{HistoryEntry, Role};
use virlife::core::ports::{Llm, LlmError, ReflectRequest, RenderRequest, StreamChunk};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn options(base_url: &str) -> OpenAiOptions {
    OpenAiOptions {
        base_url: format!("{base_url}/v1"),
        api_key: "sk-test-key".to_owned().into(),
        renderer_model: "renderer-model".into(),
        cognition_model: "cognition-model".into(),
        embedding_model: "embedding-model".into(),
        dimensions: 3,
        max_tokens: 64,
        context_tokens: 4000,
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        max_retries: 3,
        stream_usage: true,
        extra_body: serde_json::Map::new(),
    }
}

fn llm(server: &MockServer) -> OpenAiLlm {
    OpenAiLlm::new(options(&server.uri())).unwrap()
}

fn render_request() -> RenderRequest {
    RenderRequest {
        character_name: "Ada".into(),
        persona: "A retired sea captain.".into(),
        traits: Default::default(),
        user_name: Some("Sam".into()),
        memories: vec!["Sam loves sailing".into()],
        history: vec![
            HistoryEntry::new(Role::User, "Hello"),
            HistoryEntry::new(Role::Character, "Ahoy"),
        ],
        message: "How are you?".into(),
        bearing: Default::default(),
    }
}

fn completion(text: &str) -> Value {
    json!({"model": "renderer-model", "choices": [{"message": {"role": "assistant", "content": text}}],
           "usage": {"prompt_tokens": 20, "completion_tokens": 4}})
}

fn sse(events: &[&str]) -> String {
    events.iter().map(|e| format!("data: {e}\n\n")).collect()
}

#[tokio::test]
async fn a_plain_reply_sends_the_renderer_model_persona_and_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test-key"))
        .and(body_partial_json(
            json!({"model": "renderer-model", "stream": false}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("Fine, thank you.")))
        .expect(1)
        .mount(&server)
        .await;
    let reply = llm(&server).render(&render_request()).await.unwrap();
    assert_eq!(reply.text, "Fine, thank you.");
    assert_eq!(reply.usage.total(), 24);
    let sent: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("A retired sea captain.")
    );
    // Recalled memories are data in their own block, never in the system message.
    assert!(
        !messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("Sam loves sailing")
    );
    assert_eq!(messages.last().unwrap()["role"], "user");
    assert_eq!(
        messages.last().unwrap()["content"],
        "<recalled_memories>\n[\"Sam loves sailing\"]\n</recalled_memories>\n\nHow are you?"
    );
}

#[tokio::test]
async fn a_streamed_reply_yields_deltas_usage_and_stops_at_done() {
    let server = MockServer::start().await;
    let body = sse(&[
        r#"{"choices":[{"delta":{"role":"assistant"}}]}"#,
        r#"{"choices":[{"delta":{"content":"Fair "}}]}"#,
        r#"{"choices":[{"delta":{"content":"winds."}}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#,
        "[DONE]",
        r#"{"choices":[{"delta":{"content":"after done"}}]}"#,
    ]);
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    let chunks: Vec<_> = llm(&server)
        .render_stream(&render_request())
        .await
        .unwrap()
        .collect()
        .await;
    let chunks: Vec<StreamChunk> = chunks.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        chunks,
        vec![
            StreamChunk::Delta("Fair ".into()),
            StreamChunk::Delta("winds.".into()),
            StreamChunk::Usage(virlife::core::domain::Usage {
                prompt_tokens: 9,
                completion_tokens: 2
            }),
        ]
    );
}

#[tokio::test]
async fn a_429_with_retry_after_twice_then_success_is_one_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("At last.")))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let reply = llm(&server).render(&render_request()).await.unwrap();
    assert_eq!(reply.text, "At last.");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "Retry-After was not honoured"
    );
}

#[tokio::test]
async fn odd_retry_after_headers_are_bounded_errors_never_panics() {
    for (value, retried) in [("inf", true), ("-1", true), ("NaN", true), ("1e20", false)] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", value))
            .mount(&server)
            .await;
        let started = Instant::now();
        let err = llm(&server).render(&render_request()).await.unwrap_err();
        let LlmError::RateLimited { retry_after } = err else {
            panic!("Retry-After {value}: expected RateLimited, got {err:?}");
        };
        let calls = server.received_requests().await.unwrap().len();
        if retried {
            // Unusable: our own backoff applies, and no wait is passed on.
            assert_eq!(retry_after, None, "{value}");
            assert!(calls > 1, "{value}: retried with our own backoff");
        } else {
            // Longer than we wait: fail at once, passing the wait on.
            assert_eq!(calls, 1, "{value}: not waited for");
            assert!(retry_after.is_some_and(|w| w > Duration::from_secs(30)));
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{value}");
    }
}

#[tokio::test]
async fn a_500_then_success_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string("internal details that must not leak"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("Recovered.")))
        .mount(&server)
        .await;
    assert_eq!(
        llm(&server).render(&render_request()).await.unwrap().text,
        "Recovered."
    );
}

#[tokio::test]
async fn persistent_failures_end_typed_without_the_upstream_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("secret upstream detail"))
        .expect(4)
        .mount(&server)
        .await;
    let err = llm(&server).render(&render_request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Unavailable(_)), "{err:?}");
    assert!(!format!("{err:?}").contains("secret"));

    let limited = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429))
        .mount(&limited)
        .await;
    let mut fast = options(&limited.uri());
    fast.max_retries = 1;
    let err = OpenAiLlm::new(fast)
        .unwrap()
        .render(&render_request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::RateLimited { .. }), "{err:?}");
}

#[tokio::test]
async fn a_rejected_key_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let err = llm(&server).render(&render_request()).await.unwrap_err();
    assert_eq!(
        err,
        LlmError::Unavailable("the provider rejected the API key".into())
    );
}

#[tokio::test]
async fn a_provider_that_hangs_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("late"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = llm(&server).render(&render_request()).await.unwrap_err();
    assert_eq!(err, LlmError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn malformed_json_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"choices\": [oops"))
        .mount(&server)
        .await;
    let err = llm(&server).render(&render_request()).await.unwrap_err();
    assert!(matches!(err, LlmError::BadResponse(_)), "{err:?}");
}

#[tokio::test]
async fn an_error_in_the_middle_of_a_stream_ends_it_with_an_error() {
    let server = MockServer::start().await;
    let body = sse(&[
        r#"{"choices":[{"delta":{"content":"Half "}}]}"#,
        r#"{"error":{"message":"overloaded"}}"#,
    ]);
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    let chunks: Vec<_> = llm(&server)
        .render_stream(&render_request())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(chunks[0], Ok(StreamChunk::Delta("Half ".into())));
    assert!(matches!(chunks.last(), Some(Err(LlmError::BadResponse(_)))));
}

#[tokio::test]
async fn cognition_uses_the_cognition_model_and_embeddings_come_in_batches() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": "cognition-model"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{\"facts\": []}")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(json!({"model": "embedding-model"})))
        .respond_with(|request: &wiremock::Request| {
            let body: Value = request.body_json().unwrap();
            let count = body["input"].as_array().unwrap().len();
            let data: Vec<Value> = (0..count)
                .map(|i| json!({"index": i, "embedding": [i as f32, 1.0, 0.0]}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
        })
        .expect(2)
        .mount(&server)
        .await;
    let llm = llm(&server);
    let reflect = ReflectRequest {
        character_name: "Ada".into(),
        persona: "p".into(),
        user_name: None,
        transcript: vec![HistoryEntry::new(Role::User, "I moved to Oslo")],
        known_facts: vec![],
        bearing: Default::default(),
        events: vec![],
        repair: None,
        problems: vec![],
    };
    assert_eq!(llm.reflect(&reflect).await.unwrap().text, "{\"facts\": []}");
    let texts: Vec<String> = (0..70).map(|i| format!("text {i}")).collect();
    let vectors = llm.embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), 70);
    assert_eq!(vectors[65][0], 1.0, "the second batch restarts its indexes");
}

#[tokio::test]
async fn an_embedding_of_the_wrong_size_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"index": 0, "embedding": [1.0, 2.0]}]})),
        )
        .mount(&server)
        .await;
    let err = llm(&server).embed(&["x".to_owned()]).await.unwrap_err();
    assert!(
        matches!(err, LlmError::BadResponse(ref m) if m.contains("EMBEDDING_DIMENSIONS")),
        "{err:?}"
    );
}

#[tokio::test]
async fn stream_pieces_split_mid_event_arrive_as_soon_as_the_provider_sends_them() {
    let pieces = vec![
        (
            Duration::ZERO,
            "data: {\"choices\":[{\"delta\":{\"content\":\"Fi".to_owned(),
        ),
        (Duration::from_millis(50), "rst\"}}]}\n\n".to_owned()),
        (
            Duration::from_millis(400),
            "data: {\"choices\":[{\"delta\":{\"content\":\" second\"}}]}\n\ndata: [DONE]\n\n"
                .to_owned(),
        ),
    ];
    let server = mock_provider::start(std::sync::Arc::new(move |_: &str, _: &Value, _: usize| {
        mock_provider::Reply::Stream(pieces.clone())
    }))
    .await;
    let llm = OpenAiLlm::new(options(&server.base_url)).unwrap();
    let started = Instant::now();
    let mut stream = llm.render_stream(&render_request()).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert_eq!(first, StreamChunk::Delta("First".into()));
    assert!(
        first_at < Duration::from_millis(300),
        "first delta after {first_at:?}: it was buffered"
    );
    let second = stream.next().await.unwrap().unwrap();
    assert_eq!(second, StreamChunk::Delta(" second".into()));
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(stream.next().await.is_none());
}
