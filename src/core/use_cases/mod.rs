//! Use cases. They depend only on the ports, never on HTTP or a driver.

mod api_keys;
mod characters;
mod chat;
mod health;
mod jobs;
mod memories;
mod reflection;
mod retention;
mod sessions;
mod vectors;

pub use chat::{TurnEvent, TurnInput, TurnOutcome};
pub use health::{HealthReport, OverallStatus, ServiceReport};
pub use memories::{NewMemory, ScoredMemory, SearchOutcome};
pub use reflection::ReflectionOutcome;
pub use vectors::ReindexOutcome;

use crate::core::domain::{Character, Session, TenantId};
use crate::core::error::{Error, Result};
use crate::core::ports::PortHealth;
use crate::core::ports::{Cache, Llm, Store, VectorMemory};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

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
    pub memories_per_turn: usize,
    pub authentication_enabled: bool,
    /// First retry delay of a failed job; doubles with each attempt.
    pub job_retry_backoff: Duration,
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
            memories_per_turn: 5,
            authentication_enabled: true,
            job_retry_backoff: Duration::from_secs(2),
        }
    }
}

/// The application core: the four ports and the settings, cheap to clone
/// (background work takes its own copy).
#[derive(Clone)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub cache: Arc<dyn Cache>,
    pub vectors: Arc<dyn VectorMemory>,
    pub llm: Arc<dyn Llm>,
    pub settings: CoreSettings,
    pub cache_health: Arc<PortHealth>,
    pub vector_health: Arc<PortHealth>,
    pub llm_health: Arc<PortHealth>,
    /// Wakes the job worker when this replica queues a job.
    jobs_waiting: Arc<tokio::sync::Notify>,
    started: Instant,
}

impl Core {
    pub fn new(
        store: Arc<dyn Store>,
        cache: Arc<dyn Cache>,
        vectors: Arc<dyn VectorMemory>,
        llm: Arc<dyn Llm>,
        settings: CoreSettings,
    ) -> Self {
        Self {
            store,
            cache,
            vectors,
            llm,
            settings,
            cache_health: Arc::default(),
            vector_health: Arc::default(),
            llm_health: Arc::default(),
            jobs_waiting: Arc::default(),
            started: Instant::now(),
        }
    }

    /// Shares the health the decorators report into, so `/health` shows it.
    pub fn with_health(
        mut self,
        cache: Arc<PortHealth>,
        vectors: Arc<PortHealth>,
        llm: Arc<PortHealth>,
    ) -> Self {
        self.cache_health = cache;
        self.vector_health = vectors;
        self.llm_health = llm;
        self
    }

    pub(crate) fn embedding_model(&self) -> String {
        self.llm.describe().embedding_model
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    async fn require_character(&self, tenant: &TenantId, id: Uuid) -> Result<Character> {
        self.store
            .get_character(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("character", id))
    }

    async fn require_session(&self, tenant: &TenantId, id: Uuid) -> Result<Session> {
        self.store
            .get_session(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("session", id))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for unit tests: real in-memory adapters, any port swappable for a mock.
    use super::*;
    use crate::adapters::{
        exact_vectors::ExactVectorMemory, memory_cache::InMemoryCache, memory_store::InMemoryStore,
        offline_llm::OfflineLlm,
    };

    pub struct Parts {
        pub store: Arc<dyn Store>,
        pub cache: Arc<dyn Cache>,
        pub vectors: Arc<dyn VectorMemory>,
        pub llm: Arc<dyn Llm>,
    }

    impl Default for Parts {
        fn default() -> Self {
            Self {
                store: Arc::new(InMemoryStore::new()),
                cache: Arc::new(InMemoryCache::default()),
                vectors: Arc::new(ExactVectorMemory::new()),
                llm: Arc::new(OfflineLlm::new(256)),
            }
        }
    }

    impl Parts {
        pub fn core(self) -> Core {
            Core::new(
                self.store,
                self.cache,
                self.vectors,
                self.llm,
                CoreSettings::default(),
            )
        }
    }
}
