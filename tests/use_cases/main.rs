//! The use cases over real in-memory adapters, with any port swapped for a
//! mockall double to inject failures. (They live here, not in `src/core`,
//! because the core names no adapter.)

mod api_keys;
mod chat;
mod jobs;
mod memories;
mod portability;
mod retention;
mod vector_index;

use std::sync::Arc;
use virlife::adapters::{
    exact_vectors::ExactVectorMemory, memory_cache::InMemoryCache, memory_store::InMemoryStore,
    offline_llm::OfflineLlm,
};
use virlife::core::ports::{Cache, Llm, Store, VectorMemory};
use virlife::core::use_cases::{CoreSettings, Ports, UseCases};

/// Real in-memory adapters; any port swappable for a double.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub cache: Arc<dyn Cache>,
    pub vectors: Arc<dyn VectorMemory>,
    pub llm: Arc<dyn Llm>,
    pub settings: CoreSettings,
}

impl Default for Parts {
    fn default() -> Self {
        Self {
            store: Arc::new(InMemoryStore::new()),
            cache: Arc::new(InMemoryCache::default()),
            vectors: Arc::new(ExactVectorMemory::new()),
            llm: Arc::new(OfflineLlm::new(256)),
            settings: CoreSettings::default(),
        }
    }
}

impl Parts {
    pub fn use_cases(self) -> UseCases {
        let ports = Ports::new(self.store, self.cache, self.vectors, self.llm);
        UseCases::new(ports, self.settings)
    }
}
