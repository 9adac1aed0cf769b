//! Error tracking with Sentry (`SENTRY_DSN`): every 5xx (an `error` event
//! from the request middleware) and every panic, each with the environment,
//! the release and the request id. Reports carry no request body, header,
//! user or persona (nothing puts them there), and before one leaves, every
//! configured secret and anything shaped like an API key is blanked.

use super::BoxedLayer;
use crate::config::Settings;
use secrecy::{ExposeSecret, SecretString};
use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
use sentry::protocol::Event;
use sentry::{Hub, SentryFutureExt};
use std::borrow::Cow;
use std::sync::Arc;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;

const REDACTED: &str = "[redacted]";

/// Starts the client (and its panic hook); reports go out until the
/// guard is dropped, which sends what is still queued.
pub fn start(dsn: &SecretString, settings: &Settings) -> Result<sentry::ClientInitGuard, String> {
    let dsn: sentry::types::Dsn = dsn
        .expose_secret()
        .parse()
        .map_err(|e| format!("not a Sentry DSN ({e})"))?;
    // Reports go through reqwest with rustls on ring, as the LLM calls do.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secrets = Arc::new(secrets_of(settings));
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(Cow::Owned(format!("virlife@{}", env!("CARGO_PKG_VERSION"))));
    options.environment = Some(Cow::Borrowed(settings.environment.as_str()));
    options.send_default_pii = false;
    options.max_breadcrumbs = 20;
    options.before_send = Some(Arc::new(move |event| Some(scrub(event, &secrets))));
    Ok(sentry::init(options))
}

/// `error` events become reports; `warn` ones the breadcrumbs before them.
pub fn layer() -> BoxedLayer {
    vec![
        ErrorLayer::new().with_filter(LevelFilter::ERROR).boxed(),
        BreadcrumbLayer::new()
            .with_filter(LevelFilter::WARN)
            .boxed(),
    ]
    .boxed()
}

pub async fn within_request<F: Future>(request_id: &str, request: F) -> F::Output {
    if Hub::main().client().is_none() {
        return request.await;
    }
    let hub = Arc::new(Hub::new_from_top(Hub::main()));
    hub.configure_scope(|scope| scope.set_tag("request_id", request_id));
    request.bind_hub(hub).await
}

pub fn reported_in_this_request() -> bool {
    let hub = Hub::current();
    !Arc::ptr_eq(&hub, &Hub::main()) && hub.last_event_id().is_some()
}

/// The configured secrets a report must never carry (short ones are left
/// out: blanking "abc" everywhere would garble the report, not protect it).
fn secrets_of(settings: &Settings) -> Vec<String> {
    let mut secrets = Vec::new();
    for secret in [
        &settings.master_api_key,
        &settings.venice_api_key,
        &settings.encryption_key,
        &settings.encryption_previous_keys,
        &settings.qdrant_api_key,
        &settings.redis_url,
        &settings.database_url,
        &settings.sentry_dsn,
    ]
    .into_iter()
    .flatten()
    {
        let secret = secret.expose_secret();
        secrets.push(secret.to_owned());
        secrets.extend(secret.split(',').map(|s| s.trim().to_owned()));
        // The password inside a connection URL, on its own.
        if let Some((userinfo, _)) = secret.split_once('@')
            && let Some((_, password)) = userinfo.rsplit_once(':')
        {
            secrets.push(password.to_owned());
        }
    }
    secrets.retain(|s| s.len() >= 6);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// The event with every configured secret and every API-key-shaped token
/// blanked, wherever in it they are.
fn scrub(event: Event<'static>, secrets: &[String]) -> Event<'static> {
    let Ok(mut json) = serde_json::to_value(&event) else {
        return event;
    };
    scrub_value(&mut json, secrets);
    let mut scrubbed: Event<'static> = serde_json::from_value(json).unwrap_or(event);
    scrubbed.user = None;
    scrubbed.request = None;
    scrubbed
}

fn scrub_value(value: &mut serde_json::Value, secrets: &[String]) {
    match value {
        serde_json::Value::String(text) => {
            if let Some(clean) = scrub_text(text, secrets) {
                *text = clean;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, secrets)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| scrub_value(v, secrets)),
        _ => {}
    }
}

/// `None` when the text holds nothing to blank.
fn scrub_text(text: &str, secrets: &[String]) -> Option<String> {
    let mut clean = text.to_owned();
    for secret in secrets {
        if clean.contains(secret.as_str()) {
            clean = clean.replace(secret.as_str(), REDACTED);
        }
    }
    // Our API keys (vl_…), OpenAI-style keys (sk-…) and bearer tokens.
    for prefix in ["vl_", "sk-", "Bearer "] {
        let mut from = 0;
        while let Some(found) = clean[from..].find(prefix) {
            let start = from + found;
            let token_start = start + prefix.len();
            let token_len = clean[token_start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
                .unwrap_or(clean.len() - token_start);
            if token_len >= 8 {
                clean.replace_range(token_start..token_start + token_len, REDACTED);
                from = token_start + REDACTED.len();
            } else {
                from = token_start;
            }
        }
    }
    (clean != text).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_bearer_tokens_and_configured_secrets_are_blanked() {
        let secrets = vec!["hunter2-password".to_owned()];
        let text = "auth vl_0123456789abcdef failed; Bearer abcdefgh1234 and sk-proj-ABCDEFGH; \
                    postgres://u:hunter2-password@db; vl_ok";
        let clean = scrub_text(text, &secrets).unwrap();
        assert!(!clean.contains("0123456789abcdef"), "{clean}");
        assert!(!clean.contains("abcdefgh1234"), "{clean}");
        assert!(!clean.contains("ABCDEFGH"), "{clean}");
        assert!(!clean.contains("hunter2"), "{clean}");
        assert!(clean.ends_with("vl_ok"), "{clean}");
        assert_eq!(scrub_text("nothing here", &secrets), None);
    }
}
