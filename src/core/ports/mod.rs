//! The ports: what the core needs from the outside world. Adapters in
//! `adapters/` implement them; the core never sees a driver type.
//!
//! - the authoritative store, one trait per aggregate (`StoreAdmin`,
//!   `ApiKeyStore`, `CharacterStore`, `SessionStore`, `MemoryStore`,
//!   `IdempotencyStore`, `JobStore`, `WorldStore`) summed up by `Store` (`store.rs`);
//! - the cache (`Cache`, `cache.rs`);
//! - the vector index (`VectorMemory`, `vectors.rs`);
//! - the language models (`Llm`, `llm.rs`);
//! - and `PortHealth`, what the decorators of the optional ports record.
//!
//! With the `mocks` feature (and in unit tests) each trait has a mockall
//! double, `Mock<Trait>`; `MockStore` doubles the whole store.

mod admin;
mod api_keys;
mod cache;
mod characters;
mod health;
mod idempotency;
mod jobs;
mod llm;
mod memories;
mod sessions;
mod store;
mod vectors;
mod world;

pub use admin::{PoolReport, StorageReport, StoreAdmin};
pub use api_keys::ApiKeyStore;
pub use cache::{Cache, CacheError, Throttle};
pub use characters::CharacterStore;
pub use health::PortHealth;
pub use idempotency::IdempotencyStore;
pub use jobs::JobStore;
pub use llm::{
    Bearing, ChunkStream, Completion, Llm, LlmDescription, LlmError, ReflectRequest,
    RelationshipView, RenderRequest, StreamChunk, estimate_tokens,
};
pub use memories::MemoryStore;
pub use sessions::SessionStore;
pub use store::{Store, StoreError};
pub use vectors::{VectorError, VectorMemory};
pub use world::WorldStore;

#[cfg(any(test, feature = "mocks"))]
pub use admin::MockStoreAdmin;
#[cfg(any(test, feature = "mocks"))]
pub use api_keys::MockApiKeyStore;
#[cfg(any(test, feature = "mocks"))]
pub use cache::MockCache;
#[cfg(any(test, feature = "mocks"))]
pub use characters::MockCharacterStore;
#[cfg(any(test, feature = "mocks"))]
pub use idempotency::MockIdempotencyStore;
#[cfg(any(test, feature = "mocks"))]
pub use jobs::MockJobStore;
#[cfg(any(test, feature = "mocks"))]
pub use llm::MockLlm;
#[cfg(any(test, feature = "mocks"))]
pub use memories::MockMemoryStore;
#[cfg(any(test, feature = "mocks"))]
pub use sessions::MockSessionStore;
#[cfg(any(test, feature = "mocks"))]
pub use store::MockStore;
#[cfg(any(test, feature = "mocks"))]
pub use vectors::MockVectorMemory;
#[cfg(any(test, feature = "mocks"))]
pub use world::MockWorldStore;
