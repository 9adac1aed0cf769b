//! RFC 9457 problem documents: the one place where errors become HTTP.
//! Core errors map exhaustively (no `_` arm), so a new variant cannot ship
//! with a default status.

use crate::core::error::Error;
use crate::core::ports::LlmError;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use uuid::Uuid;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
#[oai(rename = "Problem")]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The id of this request in the logs (and in `X-Request-Id`).
    pub request_id: String,
    /// The input field at fault, for validation errors.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The stored user message, when a model call failed after storing it.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Uuid>,
}

/// A problem before the request id is known: status, type slug, detail.
#[derive(Debug)]
pub struct ProblemParts {
    pub status: StatusCode,
    pub slug: &'static str,
    pub detail: String,
    pub field: Option<String>,
    pub message_id: Option<Uuid>,
    pub retry_after: Option<u64>,
}

impl ProblemParts {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            detail: detail.into(),
            field: None,
            message_id: None,
            retry_after: None,
        }
    }

    pub fn into_problem(self, request_id: &str) -> (Problem, Option<u64>) {
        let problem = Problem {
            problem_type: format!("/problems/{}", self.slug),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            request_id: request_id.to_owned(),
            field: self.field,
            message_id: self.message_id,
        };
        (problem, self.retry_after)
    }

    pub fn into_response(self, request_id: &str) -> Response {
        let status = self.status;
        let (mut problem, retry_after) = self.into_problem(request_id);
        if let Some(field) = &problem.field
            && !problem.detail.contains(field.as_str())
        {
            problem.detail = format!("{} (field `{field}`)", problem.detail);
        }
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut builder = Response::builder()
            .status(status)
            .content_type(PROBLEM_JSON);
        if let Some(seconds) = retry_after {
            builder = builder.header("Retry-After", seconds.to_string());
        }
        builder.body(body)
    }
}

/// Maps every core error to its problem; 5xx details stay in the log.
pub fn from_core(error: &Error) -> ProblemParts {
    match error {
        Error::Invalid(invalid) => ProblemParts {
            field: Some(invalid.field.to_owned()),
            ..ProblemParts::new(
                StatusCode::BAD_REQUEST,
                "invalid-input",
                invalid.to_string(),
            )
        },
        Error::Unprocessable(detail) => {
            ProblemParts::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", detail)
        }
        Error::NotFound { .. } => {
            ProblemParts::new(StatusCode::NOT_FOUND, "not-found", error.to_string())
        }
        Error::Conflict(detail) => ProblemParts::new(StatusCode::CONFLICT, "conflict", detail),
        Error::Unauthenticated => ProblemParts::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            error.to_string(),
        ),
        Error::Forbidden(detail) => ProblemParts::new(StatusCode::FORBIDDEN, "forbidden", *detail),
        Error::RateLimited { retry_after, .. } => ProblemParts {
            retry_after: Some(retry_after.as_secs().max(1)),
            ..ProblemParts::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                error.to_string(),
            )
        },
        Error::Overloaded { retry_after } => ProblemParts {
            retry_after: Some(retry_after.as_secs().max(1)),
            ..ProblemParts::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                error.to_string(),
            )
        },
        Error::StoreUnavailable => ProblemParts {
            retry_after: Some(5),
            ..ProblemParts::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                error.to_string(),
            )
        },
        Error::Llm { source, message_id } => {
            let (status, slug) = match source {
                LlmError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "llm-timeout"),
                LlmError::RateLimited { .. } => (StatusCode::BAD_GATEWAY, "llm-rate-limited"),
                LlmError::Unavailable(_) => (StatusCode::BAD_GATEWAY, "llm-unavailable"),
                LlmError::BadResponse(_) => (StatusCode::BAD_GATEWAY, "llm-bad-response"),
            };
            ProblemParts {
                message_id: *message_id,
                ..ProblemParts::new(status, slug, error.to_string())
            }
        }
        Error::WorkflowTimeout { message_id, .. } => ProblemParts {
            message_id: Some(*message_id),
            ..ProblemParts::new(
                StatusCode::GATEWAY_TIMEOUT,
                "workflow-timeout",
                error.to_string(),
            )
        },
        Error::Undecryptable(_) => ProblemParts::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "undecryptable",
            "stored data is encrypted and this instance cannot decrypt it; check ENCRYPTION_KEY",
        ),
        Error::Internal(_) => ProblemParts::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an unexpected error occurred; it has been logged",
        ),
    }
}

/// The error every operation returns: a core error on its way to becoming
/// a problem document (the request-context middleware adds the request id).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub Error);

impl From<crate::core::domain::InvalidInput> for ApiError {
    fn from(invalid: crate::core::domain::InvalidInput) -> Self {
        Self(Error::Invalid(invalid))
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        from_core(&self.0).status
    }

    fn as_response(&self) -> Response {
        from_core(&self.0).into_response("")
    }
}

/// The statuses any operation may answer with, documented once.
const ERROR_STATUSES: &[(u16, &str)] = &[
    (
        400,
        "Malformed input or a failed constraint; `field` names it",
    ),
    (401, "Missing, unknown or revoked API key"),
    (403, "The key lacks the right for this route"),
    (404, "Not found (or owned by another tenant)"),
    (409, "Conflict"),
    (413, "Body too large"),
    (
        415,
        "The body must be JSON (Content-Type: application/json)",
    ),
    (422, "Semantically invalid"),
    (429, "Rate limited; see `Retry-After`"),
    (500, "Unexpected error (no details are exposed)"),
    (
        502,
        "The language model failed; `message_id` names the stored message",
    ),
    (503, "The database is unavailable"),
    (
        504,
        "The turn timed out; `message_id` names the stored message",
    ),
];

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: ERROR_STATUSES
                .iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: Problem::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        from_core(&self.0).into_response("")
    }
}

/// Problems for errors raised by poem / poem-openapi themselves (bad JSON,
/// bad parameters, unknown routes...), keeping their status.
pub fn from_framework(error: &poem::Error, path: &str, body: Option<&[u8]>) -> ProblemParts {
    use poem_openapi::error::{ParseParamError, ParsePathError, ParseRequestPayloadError};
    if let Some(api) = error.downcast_ref::<ApiError>() {
        return from_core(&api.0);
    }
    let status = error.status();
    if let Some(param) = error.downcast_ref::<ParseParamError>() {
        return ProblemParts {
            field: Some(param.name.to_owned()),
            ..ProblemParts::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!("parameter `{}` is invalid: {}", param.name, param.reason),
            )
        };
    }
    if let Some(invalid) = error.downcast_ref::<ParsePathError>() {
        // poem-openapi names path parameters by position; name the documented one.
        let field = super::field_locator::locate_path_parameter(path);
        let detail = match &field {
            Some(name) => format!("path parameter `{name}` is not a valid id"),
            None => format!("a path parameter is invalid: {}", invalid.reason),
        };
        return ProblemParts {
            field,
            ..ProblemParts::new(StatusCode::BAD_REQUEST, "invalid-parameter", detail)
        };
    }
    if let Some(payload) = error.downcast_ref::<ParseRequestPayloadError>() {
        return ProblemParts {
            field: field_in(&payload.reason).or_else(|| {
                body.and_then(|body| super::field_locator::locate(&payload.reason, body))
            }),
            ..ProblemParts::new(
                StatusCode::BAD_REQUEST,
                "invalid-body",
                format!("the request body is invalid: {}", payload.reason),
            )
        };
    }
    let slug = match status.as_u16() {
        404 => "not-found",
        405 => "method-not-allowed",
        413 => "body-too-large",
        415 => "unsupported-media-type",
        401 => "unauthenticated",
        400..=499 => "bad-request",
        _ => "internal",
    };
    if status.is_server_error() {
        // The request middleware logs (and reports) it, with the request id.
        return ProblemParts::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an unexpected error occurred; it has been logged",
        );
    }
    let detail = match status.as_u16() {
        404 => "no such route".to_owned(),
        _ => error.to_string(),
    };
    ProblemParts::new(status, slug, detail)
}

/// poem-openapi says "field `name` verification failed"; pull out `name`.
fn field_in(reason: &str) -> Option<String> {
    let start = reason.find("field `")? + "field `".len();
    let end = reason[start..].find('`')? + start;
    Some(reason[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_found_in_payload_errors() {
        assert_eq!(
            field_in("failed to parse \"X\": field `name` verification failed. maxLength(100)")
                .as_deref(),
            Some("name")
        );
        assert_eq!(field_in("expected value at line 1"), None);
    }

    #[test]
    fn server_errors_never_carry_internals() {
        let parts = from_core(&Error::Internal("SELECT * FROM secrets failed".into()));
        assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!parts.detail.contains("SELECT"));
        let parts = from_core(&Error::Llm {
            source: LlmError::Unavailable("upstream said: internal key xyz".into()),
            message_id: None,
        });
        assert_eq!(parts.status, StatusCode::BAD_GATEWAY);
        assert!(!parts.detail.contains("xyz"));
    }
}
