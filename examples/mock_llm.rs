//! A mock OpenAI-compatible provider for benchmarks: `/v1/chat/completions`
//! (plain and SSE) and `/v1/embeddings`, with a configurable latency and
//! token rate. Binds 127.0.0.1 only.
//!
//! MOCK_PORT (8089), MOCK_LATENCY_MS (0: time to the first token),
//! MOCK_TOKENS (20: words per reply), MOCK_TOKEN_INTERVAL_MS (0: between
//! streamed tokens), MOCK_DIMENSIONS (1024).

use futures_util::StreamExt;
use poem::listener::{Listener, TcpListener};
use poem::web::Json;
use poem::web::sse::{Event, SSE};
use poem::{EndpointExt, IntoResponse, Route, Server, handler, post};
use serde_json::{Value, json};
use std::time::Duration;
use virlife::adapters::offline_llm::hashed_embedding;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy)]
struct Pace {
    latency: Duration,
    tokens: u64,
    interval: Duration,
    dimensions: usize,
}

#[handler]
async fn chat(Json(body): Json<Value>, pace: poem::web::Data<&Pace>) -> poem::Response {
    let pace = **pace;
    tokio::time::sleep(pace.latency).await;
    let model = body["model"].as_str().unwrap_or("mock").to_owned();
    let is_cognition = body["messages"][0]["content"]
        .as_str()
        .is_some_and(|c| c.contains("extract lasting facts"));
    if is_cognition {
        return Json(json!({"model": model, "choices": [{"message": {"role": "assistant", "content": "{\"facts\": []}"}}],
                           "usage": {"prompt_tokens": 50, "completion_tokens": 5}}))
        .into_response();
    }
    let words: Vec<String> = (0..pace.tokens).map(|i| format!("word{i} ")).collect();
    if body["stream"] == true {
        let events = futures_util::stream::iter(words.into_iter().map(Some).chain([None])).then(
            move |word| async move {
                if !pace.interval.is_zero() {
                    tokio::time::sleep(pace.interval).await;
                }
                match word {
                    Some(word) => Event::message(
                        json!({"choices": [{"delta": {"content": word}}]}).to_string(),
                    ),
                    None => Event::message("[DONE]"),
                }
            },
        );
        return SSE::new(events).into_response();
    }
    Json(json!({"model": model, "choices": [{"message": {"role": "assistant", "content": words.concat()}}],
               "usage": {"prompt_tokens": 100, "completion_tokens": pace.tokens}}))
    .into_response()
}

#[handler]
async fn embeddings(Json(body): Json<Value>, pace: poem::web::Data<&Pace>) -> Json<Value> {
    let inputs = body["input"].as_array().cloned().unwrap_or_default();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"index": i, "embedding": hashed_embedding(text.as_str().unwrap_or(""), pace.dimensions)}))
        .collect();
    Json(json!({ "data": data }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let pace = Pace {
        latency: Duration::from_millis(setting("MOCK_LATENCY_MS", 0)),
        tokens: setting("MOCK_TOKENS", 20),
        interval: Duration::from_millis(setting("MOCK_TOKEN_INTERVAL_MS", 0)),
        dimensions: setting("MOCK_DIMENSIONS", 1024) as usize,
    };
    let port = setting("MOCK_PORT", 8089);
    let app = Route::new()
        .at("/v1/chat/completions", post(chat))
        .at("/v1/embeddings", post(embeddings))
        .data(pace);
    let acceptor = TcpListener::bind(format!("127.0.0.1:{port}"))
        .into_acceptor()
        .await?;
    Server::new_with_acceptor(virlife::composition::NoDelay(acceptor))
        .run(app)
        .await
}
