//! The knobs the use cases read, taken from `Settings` by the composition root.

use crate::core::domain::RankWeights;
use std::time::Duration;

/// Knobs the use cases read, taken from `Settings` by the composition root.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub environment: &'static str,
    pub version: &'static str,
    pub workflow_timeout: Duration,
    pub history_turns: u32,
    pub cache_enabled: bool,
    pub cache_ttl: Duration,
    pub cognition_every_n_turns: u32,
    pub cognition_cooldown: Duration,
    pub session_retention: chrono::Duration,
    /// The prompt budget (`LLM_CONTEXT_TOKENS`): a turn recalls as many
    /// memories as the room its persona, message and history leave.
    pub context_tokens: usize,
    /// How recall weighs recency and importance after fusing relevance.
    pub rank_weights: RankWeights,
    pub authentication_enabled: bool,
    /// First retry delay of a failed job; doubles with each attempt.
    pub job_retry_backoff: Duration,
    /// Turns running at once; more answer `Error::Overloaded` at once.
    pub max_concurrent_turns: usize,
    /// Share of the data disk in use (0–1) above which a file-backed store
    /// makes the service `degraded` (`DISK_ALERT_PERCENT`).
    pub disk_alert_fraction: f64,
}

impl Default for CoreSettings {
    fn default() -> Self {
        Self {
            environment: "development",
            version: env!("CARGO_PKG_VERSION"),
            workflow_timeout: Duration::from_secs(60),
            history_turns: 20,
            cache_enabled: true,
            cache_ttl: Duration::from_secs(3600),
            cognition_every_n_turns: 10,
            cognition_cooldown: Duration::from_secs(300),
            session_retention: chrono::Duration::days(7),
            context_tokens: 8000,
            rank_weights: RankWeights::default(),
            authentication_enabled: true,
            job_retry_backoff: Duration::from_secs(2),
            max_concurrent_turns: 1024,
            disk_alert_fraction: 0.8,
        }
    }
}
