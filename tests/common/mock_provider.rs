//! A small OpenAI-compatible provider on 127.0.0.1 for tests: raw HTTP/1.1,
//! so streams can be written in timed pieces exactly as real providers do.
//! Each request is recorded; a handler decides each reply.

#![allow(dead_code)] // Shared by several test binaries; each uses a part of it.
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use virlife::adapters::offline_llm::hashed_embedding;

#[derive(Clone)]
pub enum Reply {
    Json(Value),
    Status(u16, Vec<(&'static str, String)>),
    /// An event stream, written piece by piece after each delay.
    Stream(Vec<(Duration, String)>),
    /// Never answers.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub body: Value,
}

pub type Handler = Arc<dyn Fn(&str, &Value, usize) -> Reply + Send + Sync>;

pub struct MockProvider {
    pub base_url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl MockProvider {
    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// Answers `/embeddings` with the offline hashed embedding, anything else per `chat`.
pub fn with_embeddings(
    dimensions: usize,
    chat: impl Fn(&Value, usize) -> Reply + Send + Sync + 'static,
) -> Handler {
    Arc::new(move |path, body, count| {
        if path.ends_with("/embeddings") {
            let data: Vec<Value> = body["input"]
                .as_array()
                .map(|inputs| {
                    inputs
                        .iter()
                        .enumerate()
                        .map(|(i, t)| json!({"index": i, "embedding": hashed_embedding(t.as_str().unwrap_or(""), dimensions)}))
                        .collect()
                })
                .unwrap_or_default();
            Reply::Json(json!({ "data": data }))
        } else {
            chat(body, count)
        }
    })
}

pub fn completion(text: &str, model: &str) -> Value {
    json!({"model": model, "choices": [{"message": {"role": "assistant", "content": text}}],
           "usage": {"prompt_tokens": 12, "completion_tokens": 4}})
}

pub fn sse_delta(text: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"delta": {"content": text}}]})
    )
}

pub async fn start(handler: Handler) -> MockProvider {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
    let recorded = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let handler = handler.clone();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                loop {
                    // One request: head, then Content-Length bytes of body.
                    let mut seen = Vec::new();
                    let mut buffer = [0u8; 8192];
                    let (path, body) = loop {
                        let Ok(n) = socket.read(&mut buffer).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buffer[..n]);
                        let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&seen[..end]).to_string();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                            let body = serde_json::from_slice(&seen[end + 4..end + 4 + length])
                                .unwrap_or(Value::Null);
                            break (path, body);
                        }
                    };
                    let count = {
                        let mut log = recorded.lock().unwrap();
                        log.push(Recorded {
                            path: path.clone(),
                            body: body.clone(),
                        });
                        log.iter().filter(|r| r.path == path).count()
                    };
                    let written = match handler(&path, &body, count) {
                        Reply::Json(value) => {
                            let text = value.to_string();
                            let response = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
                                text.len()
                            );
                            socket.write_all(response.as_bytes()).await
                        }
                        Reply::Status(status, headers) => {
                            let mut response =
                                format!("HTTP/1.1 {status} Status\r\ncontent-length: 0\r\n");
                            for (name, value) in headers {
                                response.push_str(&format!("{name}: {value}\r\n"));
                            }
                            response.push_str("\r\n");
                            socket.write_all(response.as_bytes()).await
                        }
                        Reply::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        Reply::Stream(pieces) => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                            if socket.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            for (delay, piece) in pieces {
                                tokio::time::sleep(delay).await;
                                let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
                                if socket.write_all(chunk.as_bytes()).await.is_err() {
                                    return;
                                }
                                let _ = socket.flush().await;
                            }
                            socket.write_all(b"0\r\n\r\n").await
                        }
                    };
                    if written.is_err() {
                        return;
                    }
                }
            });
        }
    });
    MockProvider {
        base_url: format!("http://{address}"),
        requests,
    }
}
