use super::TenantId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Background work kept in the Store, so it survives restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Cognition: extract biographical facts from a character's recent turns.
    Reflect,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reflect => "reflect",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "reflect" => Some(Self::Reflect),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    /// Out of attempts; `last_error` says why. Never silently dropped.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: Uuid,
    pub tenant: TenantId,
    pub kind: JobKind,
    pub character_id: Uuid,
    pub status: JobStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    /// Not before this time (backoff between attempts).
    pub run_at: DateTime<Utc>,
    /// A running job whose lease has passed is taken again (its worker died).
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// What a finished job produced (e.g. the ids of new memories).
    pub result: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Done(serde_json::Value),
    Retry { at: DateTime<Utc>, error: String },
    Failed(String),
}

/// How a job that ran out of leases reads (`last_error`), in every store;
/// `{attempts}` stands for the count (a store filling it in SQL replaces it).
pub const LEASE_EXPIRED_REASON: &str =
    "its lease expired on its last attempt ({attempts} attempts); its worker stopped or stalled";

/// The reason a job ends failed when its lease ran out after `attempts`.
pub fn lease_expired(attempts: u32) -> String {
    LEASE_EXPIRED_REASON.replace("{attempts}", &attempts.to_string())
}
