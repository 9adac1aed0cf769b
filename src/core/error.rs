//! The core error: every use case returns it, and `http::problem` maps each
//! variant to one HTTP status, exhaustively.

use crate::core::domain::InvalidInput;
use crate::core::ports::{LlmError, StoreError};
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a rule; the field is named.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Well-formed but not acceptable in the current state.
    #[error("{0}")]
    Unprocessable(String),
    /// Absent, or owned by another tenant: callers cannot tell which.
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("a valid API key is required (Authorization: Bearer <key> or X-API-Key)")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{what}; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        what: &'static str,
        retry_after: Duration,
    },
    /// The authoritative store cannot be reached.
    #[error("the database is unavailable; retry shortly")]
    StoreUnavailable,
    /// More turns are running than `MAX_CONCURRENT_TURNS` allows; nothing
    /// of this request was stored.
    #[error("the service is at its limit of concurrent turns; retry shortly")]
    Overloaded { retry_after: Duration },
    /// The language model failed; the user's message (if any) is stored.
    #[error("{}", llm_detail(.source, .message_id))]
    Llm {
        source: LlmError,
        message_id: Option<Uuid>,
    },
    /// The turn exceeded `WORKFLOW_TIMEOUT_SECONDS`; the user's message is stored.
    #[error("the turn took longer than {} s; your message {message_id} is stored", timeout.as_secs())]
    WorkflowTimeout { message_id: Uuid, timeout: Duration },
    /// Stored data is encrypted with a key this instance does not have.
    #[error("stored data is encrypted and this instance cannot decrypt it: {0}")]
    Undecryptable(String),
    /// A bug or an unexpected state; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

fn llm_detail(source: &LlmError, message_id: &Option<Uuid>) -> String {
    let what = match source {
        LlmError::Timeout => "the language model did not answer in time",
        LlmError::RateLimited { .. } => "the language model provider is rate limiting us",
        LlmError::Unavailable(_) => "the language model is unavailable",
        LlmError::BadResponse(_) => "the language model returned an unusable response",
    };
    match message_id {
        Some(id) => format!("{what}; your message {id} is stored"),
        None => what.to_owned(),
    }
}

impl Error {
    /// Text safe to show a client or store on a job: no internals.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            Self::Undecryptable(_) => {
                "stored data is encrypted and this instance cannot decrypt it".to_owned()
            }
            other => other.to_string(),
        }
    }

    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "store unavailable");
                Self::StoreUnavailable
            }
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Undecryptable(why) => Self::Undecryptable(why),
            StoreError::Internal(reason) => Self::Internal(reason),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
