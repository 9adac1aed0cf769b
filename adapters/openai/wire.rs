//! The OpenAI-compatible wire format: request bodies and the parts of the
//! responses VirLife reads. Pure functions, unit-tested without a server.

use crate::adapters::openai::prompt::ChatMessage;
use crate::core::domain::Usage;
use serde::Deserialize;
use serde_json::{Value, json};

/// Merges provider-specific parameters (e.g. Venice's `venice_parameters`)
/// into a request body; ours win on conflict, so the extras cannot break a call.
fn with_extra(mut body: Value, extra: &serde_json::Map<String, Value>) -> Value {
    if let Value::Object(fields) = &mut body {
        for (key, value) in extra {
            fields.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    body
}

pub struct ChatOptions<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    pub temperature: f32,
    pub stream: bool,
    /// Ask for usage in the last stream chunk (`stream_options.include_usage`).
    pub stream_usage: bool,
    pub extra: &'a serde_json::Map<String, Value>,
}

pub fn chat_body(messages: &[ChatMessage], options: &ChatOptions<'_>) -> Value {
    let mut body = json!({
        "model": options.model,
        "messages": messages,
        "max_tokens": options.max_tokens,
        "temperature": options.temperature,
        "stream": options.stream,
    });
    if options.stream && options.stream_usage {
        body["stream_options"] = json!({ "include_usage": true });
    }
    with_extra(body, options.extra)
}

pub fn embeddings_body(model: &str, texts: &[String]) -> Value {
    json!({ "model": model, "input": texts, "encoding_format": "float" })
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    delta: Option<WireMessage>,
}

#[derive(Deserialize)]
struct WireCompletion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

/// A whole (non-streamed) completion: text, usage, model.
pub fn parse_completion(body: &[u8]) -> Result<(String, Usage, Option<String>), String> {
    let completion: WireCompletion =
        serde_json::from_slice(body).map_err(|e| format!("malformed completion JSON: {e}"))?;
    if completion.error.is_some() {
        return Err("the provider returned an error object".into());
    }
    let text = completion
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message)
        .and_then(|m| m.content)
        .ok_or("the completion has no message content")?;
    Ok((
        text,
        completion.usage.map(Usage::from).unwrap_or_default(),
        completion.model,
    ))
}

/// What one stream event carries.
#[derive(Debug, PartialEq)]
pub enum StreamEvent {
    Delta(String),
    Usage(Usage),
    /// `[DONE]`: the stream is over.
    Done,
    /// Nothing we use (role-only deltas, keep-alives).
    Nothing,
}

pub fn parse_stream_event(data: &str) -> Result<Vec<StreamEvent>, String> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(vec![StreamEvent::Done]);
    }
    if data.is_empty() {
        return Ok(vec![StreamEvent::Nothing]);
    }
    let chunk: WireCompletion =
        serde_json::from_str(data).map_err(|e| format!("malformed stream chunk: {e}"))?;
    if chunk.error.is_some() {
        return Err("the provider reported an error mid-stream".into());
    }
    let mut events = Vec::new();
    for choice in chunk.choices {
        if let Some(text) = choice.delta.and_then(|d| d.content)
            && !text.is_empty()
        {
            events.push(StreamEvent::Delta(text));
        }
    }
    if let Some(usage) = chunk.usage {
        events.push(StreamEvent::Usage(usage.into()));
    }
    if events.is_empty() {
        events.push(StreamEvent::Nothing);
    }
    Ok(events)
}

#[derive(Deserialize)]
struct WireEmbedding {
    #[serde(default)]
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct WireEmbeddings {
    data: Vec<WireEmbedding>,
}

/// Embeddings in input order, each checked against the expected size.
pub fn parse_embeddings(
    body: &[u8],
    count: usize,
    dimensions: usize,
) -> Result<Vec<Vec<f32>>, String> {
    let mut parsed: WireEmbeddings =
        serde_json::from_slice(body).map_err(|e| format!("malformed embeddings JSON: {e}"))?;
    if parsed.data.len() != count {
        return Err(format!(
            "asked for {count} embeddings, got {}",
            parsed.data.len()
        ));
    }
    parsed.data.sort_by_key(|e| e.index);
    if let Some(bad) = parsed.data.iter().find(|e| e.embedding.len() != dimensions) {
        return Err(format!(
            "the embedding model returns {} dimensions but EMBEDDING_DIMENSIONS is {dimensions}",
            bad.embedding.len()
        ));
    }
    Ok(parsed.data.into_iter().map(|e| e.embedding).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_bodies_carry_model_messages_stream_options_and_extras() {
        let mut extra = serde_json::Map::new();
        extra.insert(
            "venice_parameters".into(),
            json!({"include_venice_system_prompt": false}),
        );
        extra.insert("model".into(), json!("must-not-win"));
        let messages = vec![ChatMessage {
            role: "user",
            content: "hi".into(),
        }];
        let body = chat_body(
            &messages,
            &ChatOptions {
                model: "llama-3.3-70b",
                max_tokens: 100,
                temperature: 0.7,
                stream: true,
                stream_usage: true,
                extra: &extra,
            },
        );
        assert_eq!(body["model"], "llama-3.3-70b");
        assert_eq!(body["messages"][0]["content"], "hi");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(
            body["venice_parameters"]["include_venice_system_prompt"],
            false
        );
    }

    #[test]
    fn completions_and_stream_chunks_parse() {
        let body = br#"{"model":"m","choices":[{"message":{"role":"assistant","content":"Ahoy"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let (text, usage, model) = parse_completion(body).unwrap();
        assert_eq!(
            (text.as_str(), usage.total(), model.as_deref()),
            ("Ahoy", 4, Some("m"))
        );
        assert!(parse_completion(b"{not json").is_err());
        assert!(parse_completion(br#"{"choices":[]}"#).is_err());

        assert_eq!(
            parse_stream_event("[DONE]").unwrap(),
            vec![StreamEvent::Done]
        );
        assert_eq!(
            parse_stream_event(r#"{"choices":[{"delta":{"content":"Ah"}}]}"#).unwrap(),
            vec![StreamEvent::Delta("Ah".into())]
        );
        assert_eq!(
            parse_stream_event(
                r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#
            )
            .unwrap(),
            vec![StreamEvent::Usage(Usage {
                prompt_tokens: 5,
                completion_tokens: 2
            })]
        );
        assert_eq!(
            parse_stream_event(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#).unwrap(),
            vec![StreamEvent::Nothing]
        );
        assert!(parse_stream_event(r#"{"error":{"message":"overloaded"}}"#).is_err());
    }

    #[test]
    fn embeddings_come_back_in_input_order_with_the_right_size() {
        let body =
            br#"{"data":[{"index":1,"embedding":[0.0,1.0]},{"index":0,"embedding":[1.0,0.0]}]}"#;
        assert_eq!(
            parse_embeddings(body, 2, 2).unwrap(),
            vec![vec![1.0, 0.0], vec![0.0, 1.0]]
        );
        assert!(
            parse_embeddings(body, 2, 3)
                .unwrap_err()
                .contains("EMBEDDING_DIMENSIONS")
        );
        assert!(parse_embeddings(body, 3, 2).is_err());
    }
}
