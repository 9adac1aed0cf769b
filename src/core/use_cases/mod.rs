//! What VirLife does, one type per use case. Each holds only the ports it
//! uses and exposes a handful of methods; the shell calls them by name
//! (`use_cases.chat.send(…)`). Parts several use cases share live in
//! `support/`: embedding, forming a memory, recall, the job queue.

mod api_keys;
mod characters;
mod chat;
mod dump;
mod gauges;
mod health;
mod inner_states;
mod jobs;
mod memories;
mod people;
mod places;
mod portability;
mod reflection;
mod relationships;
mod retention;
mod sessions;
mod settings;
mod support;
mod vector_index;
mod world_events;

pub use api_keys::ApiKeys;
pub use characters::Characters;
pub use chat::{ChatTurns, TurnEvent, TurnInput, TurnOutcome};
pub use dump::{DumpCounts, DumpImport, DumpSink, Dumps, ImportOutcome};
pub use gauges::Gauges;
pub use health::{Health, HealthReport, OverallStatus, ServiceReport, StorageHealth};
pub use inner_states::InnerStates;
pub use jobs::{Jobs, MAX_ATTEMPTS};
pub use memories::{Memories, NewMemory};
pub use people::{ErasureReport, People};
pub use places::{Move, Places};
pub use portability::{
    CharacterExport, CharacterImport, ImportedMemory, ImportedMessage, ImportedSession,
    MAX_IMPORTED_MEMORIES, MAX_IMPORTED_MESSAGES, MAX_IMPORTED_SESSIONS, Portability,
};
pub use reflection::{Reflection, ReflectionOutcome};
pub use relationships::{MAX_LISTED_RELATIONSHIPS, Relationships};
pub use retention::Retention;
pub use sessions::Sessions;
pub use settings::CoreSettings;
pub use support::{RecallQuery, ScoredMemory, SearchOutcome};
pub use vector_index::{ReindexOutcome, VectorIndex};
pub use world_events::{APPRAISE_FROM_IMPORTANCE, NewWorldEvent, PerceivedEvent, WorldEvents};

use crate::core::ports::{Cache, Llm, PortHealth, Store, VectorMemory};
use std::sync::Arc;
use support::{Embedder, JobQueue, MemoryWriter, Recall, VectorSync};

/// The ports as the composition root built them, with the health records
/// their decorators report into.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub cache: Arc<dyn Cache>,
    pub vectors: Arc<dyn VectorMemory>,
    pub llm: Arc<dyn Llm>,
    pub cache_health: Arc<PortHealth>,
    pub vector_health: Arc<PortHealth>,
    pub llm_health: Arc<PortHealth>,
}

impl Ports {
    /// Ports with fresh health records (tests and tools; the composition
    /// root passes the ones its decorators write).
    pub fn new(
        store: Arc<dyn Store>,
        cache: Arc<dyn Cache>,
        vectors: Arc<dyn VectorMemory>,
        llm: Arc<dyn Llm>,
    ) -> Self {
        Self {
            store,
            cache,
            vectors,
            llm,
            cache_health: Arc::default(),
            vector_health: Arc::default(),
            llm_health: Arc::default(),
        }
    }
}

/// Every use case, wired once over the same ports; cheap to clone.
#[derive(Clone)]
pub struct UseCases {
    pub characters: Characters,
    pub places: Places,
    pub world_events: WorldEvents,
    pub relationships: Relationships,
    pub inner_states: InnerStates,
    pub sessions: Sessions,
    pub chat: ChatTurns,
    pub memories: Memories,
    pub people: People,
    pub portability: Portability,
    pub dumps: Dumps,
    pub reflection: Reflection,
    pub jobs: Jobs,
    pub api_keys: ApiKeys,
    pub health: Health,
    pub gauges: Gauges,
    pub retention: Retention,
    pub vector_index: VectorIndex,
    pub settings: CoreSettings,
    /// What they were built from, for the shell's maintenance commands.
    pub ports: Ports,
}

impl UseCases {
    pub fn new(ports: Ports, settings: CoreSettings) -> Self {
        let store = &ports.store;
        let embedder = Embedder::new(ports.llm.clone());
        let sync = VectorSync::new(ports.vectors.clone(), store.clone());
        let writer = MemoryWriter::new(store.clone(), embedder.clone(), sync.clone());
        let recall = Recall::new(
            store.clone(),
            ports.vectors.clone(),
            ports.vector_health.clone(),
            embedder.clone(),
            settings.rank_weights,
        );
        let queue = JobQueue::new(store.clone());
        let characters = Characters::new(
            store.clone(),
            store.clone(),
            ports.cache.clone(),
            sync.clone(),
            settings.clone(),
        );
        let reflection = Reflection::new(
            store.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            ports.cache.clone(),
            ports.llm.clone(),
            embedder.clone(),
            writer.clone(),
            recall.clone(),
            queue.clone(),
            settings.clone(),
        );
        let portability = Portability::new(
            characters.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            writer.clone(),
        );
        let places = Places::new(
            store.clone(),
            store.clone(),
            ports.cache.clone(),
            writer.clone(),
        );
        Self {
            world_events: WorldEvents::new(
                store.clone(),
                store.clone(),
                places.clone(),
                embedder.clone(),
                writer.clone(),
                reflection.clone(),
            ),
            places,
            relationships: Relationships::new(store.clone(), store.clone()),
            inner_states: InnerStates::new(store.clone(), store.clone()),
            portability,
            dumps: Dumps::new(store.clone(), sync.clone(), ports.llm.describe()),
            chat: ChatTurns::new(
                store.clone(),
                store.clone(),
                characters.clone(),
                store.clone(),
                ports.cache.clone(),
                ports.llm.clone(),
                writer.clone(),
                recall.clone(),
                reflection.clone(),
                settings.clone(),
            ),
            characters,
            sessions: Sessions::new(store.clone(), store.clone(), ports.cache.clone()),
            people: People::new(
                store.clone(),
                store.clone(),
                ports.cache.clone(),
                sync.clone(),
            ),
            memories: Memories::new(store.clone(), store.clone(), writer, recall, sync),
            jobs: Jobs::new(store.clone(), queue, reflection.clone(), settings.clone()),
            reflection,
            api_keys: ApiKeys::new(store.clone(), ports.cache.clone()),
            health: Health::new(&ports, settings.clone()),
            gauges: Gauges::new(store.clone(), store.clone(), ports.cache.clone()),
            retention: Retention::new(store.clone(), store.clone(), settings.clone()),
            vector_index: VectorIndex::new(store.clone(), ports.vectors.clone(), embedder),
            settings,
            ports,
        }
    }
}
