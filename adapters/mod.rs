//! Adapters: one module per outside system. The in-memory ones are always
//! compiled; each real one sits behind its Cargo feature (`sql` holds what
//! the PostgreSQL and SQLite stores share). Beside them, the
//! decorators the composition root wraps the ports in (`resilience`,
//! `namespace`, `traced`) and the rate-limit arithmetic the caches share (`gcra`).

#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub mod cipher;
pub mod exact_vectors;
pub mod gcra;
pub mod memory_cache;
pub mod memory_store;
pub mod namespace;
pub mod offline_llm;
#[cfg(feature = "openai")]
pub mod openai;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "qdrant")]
pub mod qdrant;
#[cfg(feature = "redis")]
pub mod redis_cache;
pub mod resilience;
pub mod split_llm;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod term_key;
pub mod traced;
