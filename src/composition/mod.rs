//! The composition root: picks an adapter for each port from the settings,
//! wraps the optional ones in their decorators, and serves the HTTP app
//! (`server.rs`: the listener, shutdown and background loops).

#[cfg(feature = "sqlite")]
mod local;
mod server;

#[cfg(feature = "sqlite")]
pub use local::{backup as backup_sqlite, restore as restore_sqlite};
pub use server::{Application, NoDelay, shutdown_signal};

use crate::adapters::namespace::NamespacedCache;
use crate::adapters::resilience::{ObservedLlm, ResilientCache, ResilientVectors};
use crate::adapters::{
    exact_vectors::ExactVectorMemory,
    memory_cache::InMemoryCache,
    memory_store::InMemoryStore,
    offline_llm::OfflineLlm,
    traced::{TracedStore, TracedVectors},
};
use crate::config::{Database, Environment, Settings};
use crate::core::domain::KeyHash;
use crate::core::ports::PortHealth;
use crate::core::ports::{Cache, Llm, Store, VectorMemory};
use crate::core::use_cases::{CoreSettings, Ports, UseCases};
use crate::http::{self, AppState, HttpSettings, rate_limit::RateLimiter};
use poem::endpoint::BoxEndpoint;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

/// Why the service could not be put together; each line names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot start: {}", .0.join("; "))]
    Composition(Vec<String>),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

fn core_settings(settings: &Settings) -> CoreSettings {
    CoreSettings {
        environment: settings.environment.as_str(),
        version: env!("CARGO_PKG_VERSION"),
        workflow_timeout: settings.workflow_timeout(),
        history_turns: settings.history_turns,
        cache_enabled: settings.cache_enabled,
        cache_ttl: Duration::from_secs(settings.cache_ttl),
        cognition_every_n_turns: settings.cognition_every_n_turns,
        cognition_cooldown: Duration::from_secs(settings.cognition_cooldown_seconds),
        session_retention: chrono::Duration::days(i64::from(settings.session_retention_days)),
        context_tokens: settings.llm_context_tokens,
        rank_weights: crate::core::domain::RankWeights {
            vector: settings.recall_vector_weight,
            recency: settings.recall_recency_weight,
            importance: settings.recall_importance_weight,
            half_life_days: settings.recall_recency_half_life_days,
        },
        authentication_enabled: settings.master_api_key.is_some(),
        job_retry_backoff: Duration::from_millis(settings.job_retry_backoff_ms),
        disk_alert_fraction: f64::from(settings.disk_alert_percent) / 100.0,
        max_concurrent_turns: match settings.max_concurrent_turns {
            0 => 1024 * std::thread::available_parallelism().map_or(1, usize::from),
            bound => bound,
        },
    }
}

/// How search indexes write a memory's words: keyed hashes when text is
/// encrypted at rest, so no index holds plaintext words.
#[cfg(any(feature = "postgres", feature = "qdrant"))]
fn term_key(settings: &Settings) -> crate::adapters::term_key::TermKey {
    settings
        .encryption_key_bytes()
        .map(|key| crate::adapters::term_key::TermKey::keyed(&key))
        .unwrap_or_default()
}

/// The store, and memory search in the same database (for when there is
/// no Qdrant).
type StoreWithSearch = (Arc<dyn Store>, Arc<dyn VectorMemory>);

/// The key that seals text at rest, when `ENCRYPTION_KEY` is set.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
fn cipher(settings: &Settings) -> Option<Arc<crate::adapters::cipher::Cipher>> {
    settings.encryption_key_bytes().map(|key| {
        let previous = settings.encryption_previous_keys().unwrap_or_default();
        let cipher = crate::adapters::cipher::Cipher::new(&key, &previous);
        tracing::info!(
            key_id = cipher.key_id(),
            "message and memory text encrypted at rest"
        );
        Arc::new(cipher)
    })
}

/// The SQLite store a process owns, opened (folder and file created) but
/// not yet migrated.
#[cfg(feature = "sqlite")]
pub fn sqlite_store(
    path: &std::path::Path,
    settings: &Settings,
) -> Result<Arc<crate::adapters::sqlite::SqliteStore>, String> {
    use crate::adapters::sqlite::{SqliteOptions, SqliteStore};
    let store = SqliteStore::open(&SqliteOptions {
        path: path.to_owned(),
        cipher: cipher(settings),
        readers: settings.database_max_connections,
        acquire_timeout: Duration::from_secs(settings.database_acquire_timeout_seconds),
        query_timeout: Duration::from_secs(settings.database_query_timeout_seconds),
        volume: std::env::var_os("RAILWAY_VOLUME_MOUNT_PATH").map(Into::into),
    })
    .map_err(|err| format!("DATABASE_URL: {err}"))?;
    tracing::info!(path = %path.display(), "store: SQLite");
    Ok(Arc::new(store))
}

#[cfg(not(feature = "sqlite"))]
fn sqlite_store(_path: &std::path::Path, _settings: &Settings) -> Result<Arc<dyn Store>, String> {
    Err("DATABASE_URL is sqlite:, but this binary was built without the `sqlite` feature".into())
}

#[cfg(feature = "postgres")]
fn postgres_store(url: &str, settings: &Settings) -> Result<StoreWithSearch, String> {
    use crate::adapters::postgres::{PostgresOptions, PostgresStore};
    let cipher = cipher(settings);
    let store = PostgresStore::connect_lazy(&PostgresOptions {
        url: url.to_owned(),
        cipher,
        max_connections: settings.database_max_connections,
        acquire_timeout: Duration::from_secs(settings.database_acquire_timeout_seconds),
        query_timeout: Duration::from_secs(settings.database_query_timeout_seconds),
    })
    .map_err(|err| format!("DATABASE_URL: {err}"))?;
    tracing::info!("store: PostgreSQL");
    let search = store.vectors(
        &embedding_model(settings),
        settings.embedding_dimensions,
        term_key(settings),
    );
    Ok((Arc::new(store), Arc::new(search)))
}

#[cfg(feature = "openai")]
fn openai_llm(key: &SecretString, settings: &Settings) -> Result<Arc<dyn Llm>, String> {
    use crate::adapters::openai::{OpenAiLlm, OpenAiOptions};
    let llm = OpenAiLlm::new(OpenAiOptions {
        base_url: settings.venice_base_url.clone(),
        api_key: key.clone(),
        renderer_model: settings.renderer_model_id.clone(),
        cognition_model: settings.cognition_model_id.clone(),
        embedding_model: settings
            .embedding_model_id
            .clone()
            .unwrap_or_else(|| "text-embedding-bge-m3".into()),
        dimensions: settings.embedding_dimensions,
        max_tokens: settings.llm_max_tokens,
        context_tokens: settings.llm_context_tokens,
        request_timeout: Duration::from_secs(settings.llm_timeout_seconds),
        connect_timeout: Duration::from_secs(settings.llm_connect_timeout_seconds),
        max_retries: settings.llm_max_retries,
        stream_usage: settings.llm_stream_usage,
        extra_body: settings.llm_extra_body_object().unwrap_or_default(),
    })
    .map_err(|err| format!("VENICE_API_KEY: {err}"))?;
    tracing::info!(
        renderer = settings.renderer_model_id.as_str(),
        cognition = settings.cognition_model_id.as_str(),
        "llm: OpenAI-compatible provider"
    );
    if settings.embedding_model_id.as_deref() == Some("local") {
        tracing::info!("embeddings: local hashed words (EMBEDDING_MODEL_ID=local)");
        return Ok(Arc::new(crate::adapters::split_llm::SplitLlm::new(
            Arc::new(llm),
            Arc::new(OfflineLlm::new(settings.embedding_dimensions)),
        )));
    }
    Ok(Arc::new(llm))
}

#[cfg(not(feature = "openai"))]
fn openai_llm(_key: &SecretString, _settings: &Settings) -> Result<Arc<dyn Llm>, String> {
    Err("VENICE_API_KEY is set, but this binary was built without the `openai` feature".into())
}

#[cfg(feature = "qdrant")]
fn qdrant_vectors(url: &str, settings: &Settings) -> Result<Arc<dyn VectorMemory>, String> {
    use crate::adapters::qdrant::{QdrantOptions, QdrantVectors};
    let vectors = QdrantVectors::new(&QdrantOptions {
        url: url.to_owned(),
        api_key: settings.qdrant_api_key.clone(),
        collection: settings.qdrant_collection.clone(),
        embedding_model: embedding_model(settings),
        dimensions: settings.embedding_dimensions,
        timeout: Duration::from_millis(settings.qdrant_timeout_ms),
        term_key: term_key(settings),
    })
    .map_err(|err| format!("QDRANT_URL: {err}"))?;
    tracing::info!("vector memory: Qdrant");
    Ok(Arc::new(vectors))
}

#[cfg(not(feature = "qdrant"))]
fn qdrant_vectors(_url: &str, _settings: &Settings) -> Result<Arc<dyn VectorMemory>, String> {
    Err("QDRANT_URL is set, but this binary was built without the `qdrant` feature".into())
}

/// The embedding model the LLM side will use (recorded with the index).
#[cfg(any(feature = "qdrant", feature = "postgres"))]
fn embedding_model(settings: &Settings) -> String {
    if settings.venice_api_key.is_none() {
        return format!(
            "{}-hashed-words",
            crate::adapters::offline_llm::OFFLINE_MODEL
        );
    }
    match settings.embedding_model_id.as_deref() {
        Some("local") => format!(
            "{}-hashed-words",
            crate::adapters::offline_llm::OFFLINE_MODEL
        ),
        Some(model) => model.to_owned(),
        None => "text-embedding-bge-m3".to_owned(),
    }
}

#[cfg(feature = "redis")]
fn redis_cache(url: &str, settings: &Settings) -> Result<Arc<dyn Cache>, String> {
    use crate::adapters::redis_cache::{RedisCache, RedisOptions};
    let cache = RedisCache::new(&RedisOptions {
        url: url.to_owned(),
        pool_size: settings.redis_pool_size,
        command_timeout: Duration::from_millis(settings.redis_timeout_ms),
    })
    .map_err(|err| format!("REDIS_URL: {err}"))?;
    tracing::info!("cache: Redis");
    Ok(Arc::new(cache))
}

#[cfg(not(feature = "redis"))]
fn redis_cache(_url: &str, _settings: &Settings) -> Result<Arc<dyn Cache>, String> {
    Err("REDIS_URL is set, but this binary was built without the `redis` feature".into())
}

#[cfg(not(feature = "postgres"))]
fn postgres_store(_url: &str, _settings: &Settings) -> Result<StoreWithSearch, String> {
    Err("DATABASE_URL is set, but this binary was built without the `postgres` feature".into())
}

/// Builds the use cases over the adapters the settings call for.
pub fn compose(settings: &Settings) -> Result<UseCases, StartupError> {
    compose_with_store(settings, None)
}

/// `compose`, over a store already opened (the SQLite file `serve` has
/// locked) when one is given.
fn compose_with_store(
    settings: &Settings,
    given: Option<Arc<dyn Store>>,
) -> Result<UseCases, StartupError> {
    let mut problems = Vec::new();
    let strict = settings.environment != Environment::Development;

    // The authoritative store: never a fake outside development.
    let mut store_search: Option<Arc<dyn VectorMemory>> = None;
    let store: Arc<dyn Store> = match (given, settings.database()) {
        (Some(store), _) => store,
        (None, database) => match database {
            Database::Postgres(url) => match postgres_store(url.expose_secret(), settings) {
                Ok((store, search)) => {
                    store_search = Some(search);
                    store
                }
                Err(problem) => {
                    problems.push(problem);
                    Arc::new(InMemoryStore::new())
                }
            },
            Database::Sqlite(path) => match sqlite_store(&path, settings) {
                Ok(store) => store,
                Err(problem) => {
                    problems.push(problem);
                    Arc::new(InMemoryStore::new())
                }
            },
            Database::Memory if strict => {
                problems.push(format!(
                    "DATABASE_URL: {} never runs on the in-memory store",
                    settings.environment.as_str()
                ));
                Arc::new(InMemoryStore::new())
            }
            Database::Memory => {
                tracing::info!("store: in-memory (data is lost on restart)");
                Arc::new(InMemoryStore::new())
            }
        },
    };
    // Each store call in a span of its own (exported with OTLP traces).
    let store: Arc<dyn Store> = Arc::new(TracedStore::new(store));

    let cache_health = Arc::new(PortHealth::with_circuit());
    let redis_timeout = Duration::from_millis(settings.redis_timeout_ms);
    let redis_url = match &settings.redis_url {
        Some(_) if !settings.redis_enabled => {
            tracing::info!("REDIS_ENABLED=false: REDIS_URL is ignored");
            None
        }
        url => url.as_ref(),
    };
    let inner_cache: Arc<dyn Cache> = match redis_url {
        Some(url) => match redis_cache(url.expose_secret(), settings) {
            Ok(cache) => cache,
            Err(problem) => {
                problems.push(problem);
                Arc::new(InMemoryCache::default())
            }
        },
        None => {
            tracing::info!("cache: in process (not shared between replicas)");
            Arc::new(InMemoryCache::default())
        }
    };
    // Errors and timeouts become misses; repeated failures open a circuit.
    let cache: Arc<dyn Cache> = Arc::new(ResilientCache::new(
        Arc::new(NamespacedCache::new(inner_cache, &settings.cache_namespace)),
        cache_health.clone(),
        redis_timeout + Duration::from_millis(50),
    ));

    let (vectors, vector_health): (Arc<dyn VectorMemory>, _) = match &settings.qdrant_url {
        Some(url) => match qdrant_vectors(url, settings) {
            // Timeouts and a circuit breaker; search then falls back to the Store.
            Ok(qdrant) => {
                let health = Arc::new(PortHealth::with_circuit());
                let guarded = ResilientVectors::new(
                    qdrant,
                    health.clone(),
                    Duration::from_millis(settings.qdrant_timeout_ms),
                );
                (Arc::new(guarded), health)
            }
            Err(problem) => {
                problems.push(problem);
                (Arc::new(ExactVectorMemory::new()), Arc::default())
            }
        },
        // Without Qdrant PostgreSQL answers search itself (shared by every
        // replica, kept across restarts); on SQLite and in memory, an exact
        // index in process (loaded from SQLite at start-up).
        None => match store_search {
            Some(search) => {
                tracing::info!("vector memory: PostgreSQL (pgvector where available, else exact)");
                (Arc::new(TracedVectors::new(search)), Arc::default())
            }
            None => {
                tracing::info!("vector memory: exact search in process");
                let exact: Arc<dyn VectorMemory> = Arc::new(ExactVectorMemory::new());
                (Arc::new(TracedVectors::new(exact)), Arc::default())
            }
        },
    };

    let llm: Arc<dyn Llm> = match &settings.venice_api_key {
        Some(key) => match openai_llm(key, settings) {
            Ok(llm) => llm,
            Err(problem) => {
                problems.push(problem);
                Arc::new(OfflineLlm::new(settings.embedding_dimensions))
            }
        },
        None if strict => {
            problems.push(format!(
                "VENICE_API_KEY: {} never runs on the offline LLM",
                settings.environment.as_str()
            ));
            Arc::new(OfflineLlm::new(settings.embedding_dimensions))
        }
        None => {
            tracing::info!("llm: offline deterministic fake (set VENICE_API_KEY for a real model)");
            Arc::new(OfflineLlm::new(settings.embedding_dimensions))
        }
    };

    if !problems.is_empty() {
        return Err(StartupError::Composition(problems));
    }
    let llm_health = Arc::new(PortHealth::default());
    let llm: Arc<dyn Llm> = Arc::new(ObservedLlm::new(llm, llm_health.clone()));
    let ports = Ports {
        store,
        cache,
        vectors,
        llm,
        cache_health,
        vector_health,
        llm_health,
    };
    Ok(UseCases::new(ports, core_settings(settings)))
}

/// The HTTP app over the use cases, with the settings' auth, limits, CORS and docs.
pub fn http_app(use_cases: UseCases, settings: &Settings) -> BoxEndpoint<'static> {
    let state = Arc::new(AppState {
        app_name: settings.app_name.clone(),
        master_key: settings
            .master_api_key
            .as_ref()
            .map(|key| KeyHash::of(key.expose_secret())),
        limiter: settings.rate_limit_enabled.then(|| {
            RateLimiter::per_minute(
                settings.rate_limit_per_minute,
                use_cases.ports.cache.clone(),
            )
        }),
        trusted_hops: if settings.trust_proxy {
            settings.trusted_proxy_hops.max(1) as usize
        } else {
            0
        },
        use_cases,
    });
    http::app(
        state,
        &HttpSettings {
            enable_api_docs: settings.enable_api_docs,
            // Without a master key every caller is an admin: only pages
            // served from this machine may call from a browser.
            cors_origins: if settings.master_api_key.is_some() {
                settings.cors_origins()
            } else {
                vec![http::LOCALHOST_ORIGINS.to_owned()]
            },
            max_body_bytes: settings.max_body_bytes,
        },
    )
}
