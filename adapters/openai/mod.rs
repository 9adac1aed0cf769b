//! `Llm` over any OpenAI-compatible API (Venice.ai, OpenAI, Groq, OpenRouter,
//! Ollama, vLLM, LiteLLM) with reqwest: chat completions (plain and SSE),
//! embeddings. Transient failures (connect errors, 429 with `Retry-After`,
//! 5xx) are retried with jittered exponential backoff, never once a stream
//! has started. Errors are typed; the provider's body never goes upward.

pub mod prompt;
mod wire;

use crate::adapters::openai::prompt::{reflect_messages, render_messages};
use crate::core::ports::{
    ChunkStream, Completion, Llm, LlmDescription, LlmError, ReflectRequest, RenderRequest,
    StreamChunk,
};
use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;
use wire::{ChatOptions, StreamEvent};

pub use wire::{
    chat_body, embeddings_body, parse_completion, parse_embeddings, parse_stream_event,
};

/// Inputs per embeddings request.
const EMBED_BATCH: usize = 64;
/// A `Retry-After` longer than this is not waited for: the call fails at
/// once with the provider's wait, which the caller may pass on.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The longest `Retry-After` we represent; anything longer reads as this.
const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone)]
pub struct OpenAiOptions {
    pub base_url: String,
    pub api_key: SecretString,
    pub renderer_model: String,
    pub cognition_model: String,
    pub embedding_model: String,
    pub dimensions: usize,
    pub max_tokens: u32,
    /// Prompt budget: persona, memories, turns and message are packed into it.
    pub context_tokens: usize,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: usize,
    pub stream_usage: bool,
    /// Provider-specific body fields, e.g. Venice's `venice_parameters`.
    pub extra_body: serde_json::Map<String, Value>,
}

pub struct OpenAiLlm {
    client: reqwest::Client,
    options: OpenAiOptions,
}

/// One failed attempt, and whether another may help.
#[derive(Debug)]
struct AttemptError {
    error: LlmError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl AttemptError {
    fn fatal(error: LlmError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    fn transient(error: LlmError, retry_after: Option<Duration>) -> Self {
        Self {
            error,
            retryable: true,
            retry_after,
        }
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    parse_retry_after(value, chrono::Utc::now())
}

/// A `Retry-After` value (RFC 9110: delay-seconds or an HTTP-date), capped
/// at `RETRY_AFTER_CEILING`. Whatever a provider sends (`inf`, `-1`, `1e20`,
/// a date long past), the answer is a bounded wait or none; never a panic.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        let capped = seconds.min(RETRY_AFTER_CEILING.as_secs_f64());
        return Some(Duration::from_secs_f64(capped));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = (at.with_timezone(&chrono::Utc) - now)
        .to_std()
        .unwrap_or_default();
    Some(wait.min(RETRY_AFTER_CEILING))
}

fn transport_error(err: &reqwest::Error) -> AttemptError {
    if err.is_timeout() {
        AttemptError::fatal(LlmError::Timeout)
    } else if err.is_connect() {
        AttemptError::transient(
            LlmError::Unavailable("cannot reach the provider".into()),
            None,
        )
    } else {
        AttemptError::transient(
            LlmError::Unavailable("the connection to the provider failed".into()),
            None,
        )
    }
}

/// Sorts a response by status: success, retry, or give up.
fn classify(response: reqwest::Response) -> Result<reqwest::Response, AttemptError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let wait = retry_after(&response);
    Err(match status {
        StatusCode::TOO_MANY_REQUESTS if wait.is_some_and(|w| w > MAX_RETRY_AFTER) => {
            AttemptError::fatal(LlmError::RateLimited { retry_after: wait })
        }
        StatusCode::TOO_MANY_REQUESTS => {
            AttemptError::transient(LlmError::RateLimited { retry_after: wait }, wait)
        }
        status if status.is_server_error() => {
            let error = LlmError::Unavailable(format!("the provider answered {}", status.as_u16()));
            if wait.is_some_and(|w| w > MAX_RETRY_AFTER) {
                AttemptError::fatal(error)
            } else {
                AttemptError::transient(error, wait)
            }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => AttemptError::fatal(
            LlmError::Unavailable("the provider rejected the API key".into()),
        ),
        status => AttemptError::fatal(LlmError::BadResponse(format!(
            "the provider refused the request ({})",
            status.as_u16()
        ))),
    })
}

impl OpenAiLlm {
    pub fn new(options: OpenAiOptions) -> Result<Self, String> {
        // reqwest is built without a bundled crypto provider; use ring (already in the tree).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            // Between reads, so a long stream is fine but a stalled one is not.
            .read_timeout(options.request_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("virlife/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client, options })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.options.base_url.trim_end_matches('/'))
    }

    /// POSTs with retries on transient failures; returns the successful response.
    async fn post(
        &self,
        path: &str,
        body: &Value,
        total_timeout: Option<Duration>,
    ) -> Result<reqwest::Response, LlmError> {
        let url = self.url(path);
        let attempt = || async {
            let mut request = self
                .client
                .post(&url)
                .bearer_auth(self.options.api_key.expose_secret())
                .json(body);
            if let Some(timeout) = total_timeout {
                request = request.timeout(timeout);
            }
            let response = request.send().await.map_err(|e| transport_error(&e))?;
            classify(response)
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(self.options.max_retries)
            .with_jitter();
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e: &AttemptError| e.retryable)
            // A provider's Retry-After beats our own guess.
            .adjust(|e: &AttemptError, next| next.map(|d| e.retry_after.unwrap_or(d)))
            .notify(|e: &AttemptError, wait| {
                tracing::warn!(path, error = %e.error, wait_ms = wait.as_millis() as u64, "LLM call failed; retrying");
            })
            .await
            .map_err(|e| e.error)
    }

    async fn complete(
        &self,
        messages: &[crate::adapters::openai::prompt::ChatMessage],
        model: &str,
        temperature: f32,
    ) -> Result<Completion, LlmError> {
        let body = chat_body(
            messages,
            &ChatOptions {
                model,
                max_tokens: self.options.max_tokens,
                temperature,
                stream: false,
                stream_usage: false,
                extra: &self.options.extra_body,
            },
        );
        let response = self
            .post(
                "/chat/completions",
                &body,
                Some(self.options.request_timeout),
            )
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&e).error)?;
        let (text, usage, answered_by) = parse_completion(&bytes).map_err(LlmError::BadResponse)?;
        Ok(Completion {
            text,
            usage,
            model: answered_by.unwrap_or_else(|| model.to_owned()),
        })
    }
}

#[async_trait]
impl Llm for OpenAiLlm {
    fn describe(&self) -> LlmDescription {
        LlmDescription {
            kind: "openai-compatible",
            renderer_model: self.options.renderer_model.clone(),
            cognition_model: self.options.cognition_model.clone(),
            embedding_model: self.options.embedding_model.clone(),
            dimensions: self.options.dimensions,
        }
    }

    async fn render(&self, request: &RenderRequest) -> Result<Completion, LlmError> {
        let messages = render_messages(request, self.options.context_tokens);
        self.complete(&messages, &self.options.renderer_model, 0.8)
            .await
    }

    async fn render_stream(&self, request: &RenderRequest) -> Result<ChunkStream, LlmError> {
        let messages = render_messages(request, self.options.context_tokens);
        let body = chat_body(
            &messages,
            &ChatOptions {
                model: &self.options.renderer_model,
                max_tokens: self.options.max_tokens,
                temperature: 0.8,
                stream: true,
                stream_usage: self.options.stream_usage,
                extra: &self.options.extra_body,
            },
        );
        // Retries happen only here, before any token has been forwarded.
        let response = self.post("/chat/completions", &body, None).await?;
        let chunks = response
            .bytes_stream()
            .eventsource()
            .map(|event| match event {
                Ok(event) => parse_stream_event(&event.data).map_err(LlmError::BadResponse),
                Err(eventsource_stream::EventStreamError::Transport(e)) => {
                    Err(transport_error(&e).error)
                }
                Err(_) => Err(LlmError::BadResponse("malformed event stream".into())),
            })
            .flat_map(|parsed| {
                futures_util::stream::iter(match parsed {
                    Ok(events) => events.into_iter().map(Ok).collect::<Vec<_>>(),
                    Err(err) => vec![Err(err)],
                })
            })
            .take_while(|item| std::future::ready(!matches!(item, Ok(StreamEvent::Done))))
            .filter_map(|item| {
                std::future::ready(match item {
                    Ok(StreamEvent::Delta(text)) => Some(Ok(StreamChunk::Delta(text))),
                    Ok(StreamEvent::Usage(usage)) => Some(Ok(StreamChunk::Usage(usage))),
                    Ok(StreamEvent::Nothing | StreamEvent::Done) => None,
                    Err(err) => Some(Err(err)),
                })
            });
        Ok(chunks.boxed())
    }

    async fn reflect(&self, request: &ReflectRequest) -> Result<Completion, LlmError> {
        let messages = reflect_messages(request, self.options.context_tokens);
        self.complete(&messages, &self.options.cognition_model, 0.2)
            .await
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(EMBED_BATCH) {
            let body = embeddings_body(&self.options.embedding_model, batch);
            let response = self
                .post("/embeddings", &body, Some(self.options.request_timeout))
                .await?;
            let bytes = response
                .bytes()
                .await
                .map_err(|e| transport_error(&e).error)?;
            vectors.extend(
                parse_embeddings(&bytes, batch.len(), self.options.dimensions)
                    .map_err(LlmError::BadResponse)?,
            );
        }
        Ok(vectors)
    }

    async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        // One try, bounded: this is `check` asking, not a user waiting.
        let response = self
            .client
            .get(self.url("/models"))
            .bearer_auth(self.options.api_key.expose_secret())
            .timeout(self.options.request_timeout.min(Duration::from_secs(15)))
            .send()
            .await
            .map_err(|e| transport_error(&e).error)?;
        let response = classify(response).map_err(|e| e.error)?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&e).error)?;
        #[derive(serde::Deserialize)]
        struct Listed {
            id: String,
        }
        #[derive(serde::Deserialize)]
        struct Models {
            data: Vec<Listed>,
        }
        let models: Models = serde_json::from_slice(&bytes)
            .map_err(|e| LlmError::BadResponse(format!("malformed models list: {e}")))?;
        Ok(models.data.into_iter().map(|m| m.id).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_bounded_whatever_the_provider_sends() {
        let now = chrono::Utc::now();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 0.5 ", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_retry_after("1e20", now), Some(RETRY_AFTER_CEILING));
        for odd in ["inf", "-inf", "NaN", "-1", "soon", ""] {
            assert_eq!(parse_retry_after(odd, now), None, "{odd}");
        }
        let soon = (now + chrono::Duration::seconds(10)).to_rfc2822();
        let wait = parse_retry_after(&soon, now).unwrap();
        assert!(wait <= Duration::from_secs(10) && wait >= Duration::from_secs(9));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
    }
}
