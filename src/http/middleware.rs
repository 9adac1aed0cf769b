//! Per-request context: request id, body limit, problem rendering of every
//! error, security headers, one log line and metrics per request.

use super::AppState;
use super::auth::{Principal, Resolution, look_up, resolve, resolve_cached};
use super::problem::{ProblemParts, from_core, from_framework};
use super::rate_limit::Decision;
use crate::core::error::Error;
use futures_util::FutureExt;
use poem::http::{HeaderMap, HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The id of the current request, as logged and returned in `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub struct RequestContext {
    pub max_body_bytes: usize,
}

impl<E: Endpoint> Middleware<E> for RequestContext {
    type Output = RequestContextEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestContextEndpoint {
            inner,
            max_body_bytes: self.max_body_bytes,
        }
    }
}

pub struct RequestContextEndpoint<E> {
    inner: E,
    max_body_bytes: usize,
}

/// Keeps a caller's id when it is short and plain, so traces can be joined.
fn request_id_of(request: &Request) -> String {
    request
        .header("X-Request-Id")
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// The client's address: the socket peer, or, behind `hops` proxies that
/// each append the address they saw to `X-Forwarded-For`, the entry `hops`
/// places from the right: what the outermost trusted proxy saw. Entries to
/// its left, and `X-Real-IP`, are whatever the client chose to send, so
/// they are never trusted.
fn client_address(request: &Request, hops: usize) -> String {
    if hops > 0 {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("X-Forwarded-For")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .collect();
        if let Some(seen) = forwarded
            .len()
            .checked_sub(hops)
            .map(|index| forwarded[index])
            .filter(|seen| seen.parse::<std::net::IpAddr>().is_ok())
        {
            return seen.to_owned();
        }
    }
    request
        .remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Routes that need a key (and count against the key's rate limit).
fn guarded(method: &Method, path: &str) -> bool {
    method != Method::OPTIONS
        && (path.starts_with("/v1/") || path == "/v1" || path == "/metrics" || path == "/mcp")
}

/// The liveness and readiness probes: platforms call them on a schedule,
/// and limiting them under a flood would have the platform restart or
/// unroute a healthy service. They are the only paths outside the
/// per-address limit; liveness touches nothing and readiness pings the
/// store at most a few times a second, whatever the traffic.
fn probe(path: &str) -> bool {
    path == "/health/live" || path == "/health/ready"
}

/// Authenticates and rate-limits a request: the principal (for guarded
/// routes), or the problem to answer with; and the limit decision for the
/// headers. Keyless traffic to any path pays per client address, and a key
/// the cache does not know spends a per-address lookup budget *before* the
/// store is asked, so guessing keys cannot reach the database faster than
/// the limit (unknown keys are then cached as unknown for a while).
async fn admit(
    state: &AppState,
    request: &Request,
    method: &Method,
    path: &str,
) -> (Result<Option<Principal>, Error>, Option<Decision>) {
    let is_guarded = guarded(method, path);
    let Some(limiter) = &state.limiter else {
        if !is_guarded {
            return (Ok(None), None);
        }
        return (resolve(state, request).await.map(Some), None);
    };
    let address_bucket = || format!("ip:{}", client_address(request, state.trusted_hops));
    if !is_guarded {
        if probe(path) || method == Method::OPTIONS {
            return (Ok(None), None);
        }
        let decision = limiter.check(&address_bucket()).await;
        return (refused(&decision).map_or(Ok(None), Err), Some(decision));
    }
    let principal = match resolve_cached(state, request).await {
        Resolution::Known(principal) => principal,
        Resolution::NeedsLookup(presented) => {
            // Store lookups have their own per-address budget, spent first.
            let address = client_address(request, state.trusted_hops);
            let decision = limiter.check(&format!("lookup:{address}")).await;
            if let Some(limited) = refused(&decision) {
                return (Err(limited), Some(decision));
            }
            look_up(state, &presented).await
        }
    };
    let bucket = match &principal {
        Ok(Principal::Tenant { key_id, .. }) => format!("key:{key_id}"),
        Ok(Principal::Admin) => "key:master".to_owned(),
        // Without a valid key, the client address pays (slows key guessing).
        Ok(Principal::Developer) | Err(_) => address_bucket(),
    };
    let decision = limiter.check(&bucket).await;
    if let Some(limited) = refused(&decision) {
        return (Err(limited), Some(decision));
    }
    (principal.map(Some), Some(decision))
}

fn refused(decision: &Decision) -> Option<Error> {
    decision.retry_after.map(|retry_after| Error::RateLimited {
        what: "rate limit exceeded",
        retry_after,
    })
}

fn rate_limit_headers(headers: &mut HeaderMap, decision: &Decision) {
    let reset = decision.retry_after.map_or(0, |d| d.as_secs().max(1));
    for (name, value) in [
        ("ratelimit-limit", decision.limit as u64),
        ("ratelimit-remaining", u64::from(decision.remaining)),
        ("ratelimit-reset", reset),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, value);
        }
    }
}

/// The route a request matched, as a metric label: a documented template,
/// one of the few routes outside the document, or `unmatched`. Never the raw
/// path, so unknown paths cannot grow the number of series.
fn route_label(path: &str) -> &'static str {
    if let Some(template) = super::field_locator::route_template(path) {
        return template;
    }
    match path {
        "/metrics" => "/metrics",
        "/mcp" => "/mcp",
        "/openapi.json" => "/openapi.json",
        _ if path == "/docs" || path.starts_with("/docs/") => "/docs",
        _ if path == "/playground" || path.starts_with("/playground/") => "/playground",
        _ => "unmatched",
    }
}

/// The request method as a metric label, from a closed set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl<E: Endpoint> Endpoint for RequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        let request_id = request_id_of(&request);
        let handled = AssertUnwindSafe(self.handle(request, request_id.clone())).catch_unwind();
        // Error tracking sees this request apart from the others, by its id.
        crate::telemetry::within_request(&request_id, async {
            match handled.await {
                Ok(result) => result,
                // A panic before the routes (authentication, limits): the
                // routes' own are caught closer to them, by CatchPanic.
                Err(_) => {
                    if crate::telemetry::reported_in_this_request() {
                        tracing::warn!(request_id, "a panic answered 500");
                    } else {
                        tracing::error!(request_id, "a panic answered 500");
                    }
                    let mut response = ProblemParts::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "an unexpected error occurred; it has been logged",
                    )
                    .into_response(&request_id);
                    if let Ok(value) = HeaderValue::from_str(&request_id) {
                        response.headers_mut().insert("x-request-id", value);
                    }
                    Ok(response)
                }
            }
        })
        .await
    }
}

impl<E: Endpoint> RequestContextEndpoint<E> {
    async fn handle(&self, mut request: Request, request_id: String) -> poem::Result<Response> {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);
        request
            .extensions_mut()
            .insert(RequestId(request_id.clone()));

        let mut body_copy = None;
        let too_large = if matches!(method, Method::POST | Method::PATCH | Method::PUT) {
            let declared = request
                .header("content-length")
                .and_then(|v| v.parse::<usize>().ok());
            if declared.is_some_and(|length| length > self.max_body_bytes) {
                true
            } else {
                // Bodies without a length are read up to the limit, no further.
                match request
                    .take_body()
                    .into_bytes_limit(self.max_body_bytes)
                    .await
                {
                    Ok(bytes) => {
                        body_copy = Some(bytes.clone());
                        request.set_body(bytes);
                        false
                    }
                    Err(_) => true,
                }
            }
        } else {
            false
        };

        let state = request.data::<Arc<AppState>>().cloned();
        let mut decision = None;
        // What went wrong behind a 5xx (its problem type and the error), for
        // the log and error tracking only.
        let mut server_error: Option<(&'static str, String)> = None;
        let mut response = if too_large {
            ProblemParts::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("the body must be at most {} bytes", self.max_body_bytes),
            )
            .into_response(&request_id)
        } else {
            let admitted = match &state {
                Some(state) => {
                    let (principal, limit) = admit(state, &request, &method, &path)
                        .instrument(span.clone())
                        .await;
                    decision = limit;
                    principal
                }
                None => Ok(None),
            };
            let mistyped = body_copy.as_deref().and_then(|body| {
                super::field_locator::mistyped_field(method.as_str(), &path, body)
            });
            match admitted {
                Err(error) => from_core(&error).into_response(&request_id),
                Ok(_) if mistyped.is_some() => {
                    let field = mistyped.unwrap_or_default();
                    ProblemParts {
                        field: Some(field.clone()),
                        ..ProblemParts::new(
                            StatusCode::BAD_REQUEST,
                            "invalid-body",
                            format!(
                                "the request body is invalid: `{field}` has the wrong JSON type"
                            ),
                        )
                    }
                    .into_response(&request_id)
                }
                Ok(principal) => {
                    if let Some(principal) = principal {
                        request.extensions_mut().insert(principal);
                    }
                    match self.inner.call(request).instrument(span.clone()).await {
                        Ok(output) => output.into_response(),
                        Err(error) => {
                            let parts = from_framework(&error, &path, body_copy.as_deref());
                            if parts.status.is_server_error() {
                                server_error = Some((parts.slug, error.to_string()));
                            }
                            parts.into_response(&request_id)
                        }
                    }
                }
            }
        };
        if let Some(decision) = &decision {
            rate_limit_headers(response.headers_mut(), decision);
        }
        // RFC 9110: a 405 names the methods the resource accepts.
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = super::field_locator::allowed_methods(&path)
            && let Ok(value) = HeaderValue::from_str(&allow)
        {
            response.headers_mut().insert("allow", value);
        }

        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert("x-request-id", value);
        }
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        if path.starts_with("/v1") || path.starts_with("/health") || path == "/metrics" {
            headers.insert("cache-control", HeaderValue::from_static("no-store"));
        }

        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        let route = route_label(&path);
        let method = method_label(&method);
        metrics::counter!("virlife_http_requests_total", "method" => method, "route" => route, "status" => status.to_string()).increment(1);
        metrics::histogram!("virlife_http_request_seconds", "method" => method, "route" => route)
            .record(elapsed.as_secs_f64());
        span.in_scope(|| {
            let (slug, error) = server_error
                .as_ref()
                .map_or(("", ""), |(slug, error)| (*slug, error.as_str()));
            // Shedding turns at MAX_CONCURRENT_TURNS is the service working as
            // designed (counted in virlife_turns_shed_total), not an error.
            if status >= 500 && slug != "overloaded" {
                // A panic was reported as itself; its 500 is only logged.
                if crate::telemetry::reported_in_this_request() {
                    tracing::warn!(status, route, error, "{method} {route} answered {status}");
                } else {
                    tracing::error!(status, route, error, "{method} {route} answered {status}");
                }
            }
            tracing::info!(
                route,
                status,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request finished"
            )
        });
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_hide_ids() {
        assert_eq!(
            route_label("/v1/sessions/0192f0c1-7d2c-7a3e-9d7e-2f0c1b2a3d4e/messages"),
            "/v1/sessions/{id}/messages"
        );
    }

    #[test]
    fn behind_a_proxy_the_right_most_forwarded_address_counts_and_x_real_ip_never() {
        let request = Request::builder()
            .header("X-Real-IP", "1.1.1.1")
            .header("X-Forwarded-For", "6.6.6.6, 203.0.113.9")
            .finish();
        assert_eq!(client_address(&request, 1), "203.0.113.9");
        // Rotating X-Real-IP changes nothing.
        let rotated = Request::builder()
            .header("X-Real-IP", "2.2.2.2")
            .header("X-Forwarded-For", "7.7.7.7, 203.0.113.9")
            .finish();
        assert_eq!(client_address(&rotated, 1), "203.0.113.9");
        // Two trusted hops (a CDN, then Railway): the CDN saw the client.
        let through_cdn = Request::builder()
            .header("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 203.0.113.9")
            .finish();
        assert_eq!(client_address(&through_cdn, 2), "198.51.100.7");
        // Not behind a proxy: the headers are ignored altogether.
        assert_ne!(client_address(&request, 0), "203.0.113.9");
    }

    #[test]
    fn unknown_paths_and_methods_share_one_label() {
        assert_eq!(route_label("/x-1"), "unmatched");
        assert_eq!(route_label("/v1/nothing/here"), "unmatched");
        assert_eq!(route_label("/health"), "/health");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
    }
}
