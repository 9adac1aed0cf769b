//! A span around every port call: `TracedStore` wraps the store,
//! `TracedVectors` the vector index where no resilience decorator does, and
//! the decorators in `resilience` open the same span around the cache,
//! Qdrant and language-model calls. The spans are at debug level under the
//! `virlife::port` target, so they cost nothing unless a subscriber asks
//! for them (the OTLP exporter does, see `telemetry`).

use crate::core::domain::{
    ApiKey, Character, Counterpart, Erasure, IdempotencyRecord, IndexHits, InnerState, Job,
    JobOutcome, JobStatus, KeyHash, Memory, MemoryKind, Message, PageRequest, PendingVector,
    PendingVectorRow, Place, Relationship, Role, ScopeFilter, Session, TenantId, VectorPoint,
    VectorQuery, Witness, WorldEvent,
};
use crate::core::ports::{
    ApiKeyStore, CharacterStore, IdempotencyStore, JobStore, MemoryStore, PoolReport, SessionStore,
    StorageReport, Store, StoreAdmin, StoreError, VectorError, VectorMemory, WorldStore,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

/// The span one call to a port runs in, named `port.call` for trace viewers.
pub fn port_span(port: &'static str, call: &'static str) -> tracing::Span {
    tracing::debug_span!(
        target: "virlife::port",
        "port",
        otel.name = format!("{port}.{call}"),
        port,
        call
    )
}

/// The store, each call in its own span.
pub struct TracedStore {
    inner: Arc<dyn Store>,
}

impl TracedStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl StoreAdmin for TracedStore {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn storage(&self) -> Option<StorageReport> {
        self.inner.storage()
    }

    fn connection_pool(&self) -> Option<PoolReport> {
        self.inner.connection_pool()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner
            .ping()
            .instrument(port_span("store", "ping"))
            .await
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner
            .migrate()
            .instrument(port_span("store", "migrate"))
            .await
    }
}

#[async_trait]
impl ApiKeyStore for TracedStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.inner
            .insert_api_key(key)
            .instrument(port_span("store", "insert_api_key"))
            .await
    }

    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.inner
            .find_api_key(hash)
            .instrument(port_span("store", "find_api_key"))
            .await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.inner
            .list_api_keys()
            .instrument(port_span("store", "list_api_keys"))
            .await
    }

    async fn revoke_api_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.inner
            .revoke_api_key(id, at)
            .instrument(port_span("store", "revoke_api_key"))
            .await
    }
}

#[async_trait]
impl CharacterStore for TracedStore {
    async fn insert_character(&self, character: &Character) -> Result<(), StoreError> {
        self.inner
            .insert_character(character)
            .instrument(port_span("store", "insert_character"))
            .await
    }

    async fn get_character(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Character>, StoreError> {
        self.inner
            .get_character(tenant, id)
            .instrument(port_span("store", "get_character"))
            .await
    }

    async fn list_characters(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError> {
        self.inner
            .list_characters(tenant, page)
            .instrument(port_span("store", "list_characters"))
            .await
    }

    async fn find_character_by_name(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<Character>, StoreError> {
        self.inner
            .find_character_by_name(tenant, name)
            .instrument(port_span("store", "find_character_by_name"))
            .await
    }

    async fn update_character(&self, character: &Character) -> Result<bool, StoreError> {
        self.inner
            .update_character(character)
            .instrument(port_span("store", "update_character"))
            .await
    }

    async fn delete_character(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.inner
            .delete_character(tenant, id)
            .instrument(port_span("store", "delete_character"))
            .await
    }

    async fn characters_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Character>, StoreError> {
        self.inner
            .characters_after(after, limit)
            .instrument(port_span("store", "characters_after"))
            .await
    }
}

#[async_trait]
impl SessionStore for TracedStore {
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        self.inner
            .insert_session(session)
            .instrument(port_span("store", "insert_session"))
            .await
    }

    async fn get_session(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Session>, StoreError> {
        self.inner
            .get_session(tenant, id)
            .instrument(port_span("store", "get_session"))
            .await
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Session>, StoreError> {
        self.inner
            .list_sessions(tenant, character_id, page)
            .instrument(port_span("store", "list_sessions"))
            .await
    }

    async fn delete_session(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.inner
            .delete_session(tenant, id)
            .instrument(port_span("store", "delete_session"))
            .await
    }

    async fn latest_session_for(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        self.inner
            .latest_session_for(tenant, character_id, user_id)
            .instrument(port_span("store", "latest_session_for"))
            .await
    }

    async fn delete_idle_sessions(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_idle_sessions(cutoff, limit)
            .instrument(port_span("store", "delete_idle_sessions"))
            .await
    }

    async fn append_message(&self, message: &Message) -> Result<(), StoreError> {
        self.inner
            .append_message(message)
            .instrument(port_span("store", "append_message"))
            .await
    }

    async fn get_message(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Message>, StoreError> {
        self.inner
            .get_message(tenant, id)
            .instrument(port_span("store", "get_message"))
            .await
    }

    async fn list_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        self.inner
            .list_messages(tenant, session_id, page)
            .instrument(port_span("store", "list_messages"))
            .await
    }

    async fn recent_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        self.inner
            .recent_messages(tenant, session_id, limit)
            .instrument(port_span("store", "recent_messages"))
            .await
    }

    async fn count_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        role: Role,
    ) -> Result<u64, StoreError> {
        self.inner
            .count_messages(tenant, session_id, role)
            .instrument(port_span("store", "count_messages"))
            .await
    }

    async fn erase_person(
        &self,
        tenant: &TenantId,
        character_id: Option<Uuid>,
        user_id: &str,
    ) -> Result<Erasure, StoreError> {
        self.inner
            .erase_person(tenant, character_id, user_id)
            .instrument(port_span("store", "erase_person"))
            .await
    }
}

#[async_trait]
impl MemoryStore for TracedStore {
    async fn insert_memory(&self, memory: &Memory) -> Result<(), StoreError> {
        self.inner
            .insert_memory(memory)
            .instrument(port_span("store", "insert_memory"))
            .await
    }

    async fn get_memories(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError> {
        self.inner
            .get_memories(tenant, ids)
            .instrument(port_span("store", "get_memories"))
            .await
    }

    async fn get_memories_for_recall(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError> {
        self.inner
            .get_memories_for_recall(tenant, ids)
            .instrument(port_span("store", "get_memories_for_recall"))
            .await
    }

    async fn list_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        page: &PageRequest,
    ) -> Result<Vec<Memory>, StoreError> {
        self.inner
            .list_memories(tenant, character_id, kind, page)
            .instrument(port_span("store", "list_memories"))
            .await
    }

    async fn all_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        scope: &ScopeFilter,
    ) -> Result<Vec<Memory>, StoreError> {
        self.inner
            .all_memories(tenant, character_id, kind, scope)
            .instrument(port_span("store", "all_memories"))
            .await
    }

    async fn delete_memory(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        self.inner
            .delete_memory(tenant, character_id, id)
            .instrument(port_span("store", "delete_memory"))
            .await
    }

    async fn supersede_memory(
        &self,
        tenant: &TenantId,
        old: Uuid,
        new: Uuid,
    ) -> Result<bool, StoreError> {
        self.inner
            .supersede_memory(tenant, old, new)
            .instrument(port_span("store", "supersede_memory"))
            .await
    }

    async fn update_embedding(
        &self,
        id: Uuid,
        embedding: &[f32],
        model: &str,
    ) -> Result<bool, StoreError> {
        self.inner
            .update_embedding(id, embedding, model)
            .instrument(port_span("store", "update_embedding"))
            .await
    }

    async fn record_pending_vector(&self, change: &PendingVector) -> Result<(), StoreError> {
        self.inner
            .record_pending_vector(change)
            .instrument(port_span("store", "record_pending_vector"))
            .await
    }

    async fn pending_vectors(&self, limit: u32) -> Result<Vec<PendingVectorRow>, StoreError> {
        self.inner
            .pending_vectors(limit)
            .instrument(port_span("store", "pending_vectors"))
            .await
    }

    async fn clear_pending_vectors(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        self.inner
            .clear_pending_vectors(ids)
            .instrument(port_span("store", "clear_pending_vectors"))
            .await
    }

    async fn memories_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError> {
        self.inner
            .memories_after(after, limit)
            .instrument(port_span("store", "memories_after"))
            .await
    }
}

#[async_trait]
impl IdempotencyStore for TracedStore {
    async fn claim_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner
            .claim_idempotency_key(tenant, key, record)
            .instrument(port_span("store", "claim_idempotency_key"))
            .await
    }

    async fn complete_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        response: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.inner
            .complete_idempotency_key(tenant, key, response)
            .instrument(port_span("store", "complete_idempotency_key"))
            .await
    }
}

#[async_trait]
impl JobStore for TracedStore {
    async fn enqueue_job(&self, job: &Job) -> Result<(), StoreError> {
        self.inner
            .enqueue_job(job)
            .instrument(port_span("store", "enqueue_job"))
            .await
    }

    async fn claim_job(&self, lease: Duration) -> Result<Option<Job>, StoreError> {
        self.inner
            .claim_job(lease)
            .instrument(port_span("store", "claim_job"))
            .await
    }

    async fn finish_job(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &JobOutcome,
    ) -> Result<bool, StoreError> {
        self.inner
            .finish_job(id, attempt, outcome)
            .instrument(port_span("store", "finish_job"))
            .await
    }

    async fn delete_finished_jobs(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.inner
            .delete_finished_jobs(before, limit)
            .instrument(port_span("store", "delete_finished_jobs"))
            .await
    }

    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError> {
        self.inner
            .get_job(tenant, id)
            .instrument(port_span("store", "get_job"))
            .await
    }

    async fn count_jobs_by_status(&self) -> Result<Vec<(JobStatus, u64)>, StoreError> {
        self.inner
            .count_jobs_by_status()
            .instrument(port_span("store", "count_jobs_by_status"))
            .await
    }
}

#[async_trait]
impl WorldStore for TracedStore {
    async fn insert_place(&self, place: &Place) -> Result<(), StoreError> {
        self.inner
            .insert_place(place)
            .instrument(port_span("store", "insert_place"))
            .await
    }

    async fn get_place(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Place>, StoreError> {
        self.inner
            .get_place(tenant, id)
            .instrument(port_span("store", "get_place"))
            .await
    }

    async fn list_places(
        &self,
        tenant: &TenantId,
        parent: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Vec<Place>, StoreError> {
        self.inner
            .list_places(tenant, parent, page)
            .instrument(port_span("store", "list_places"))
            .await
    }

    async fn update_place(&self, place: &Place) -> Result<bool, StoreError> {
        self.inner
            .update_place(place)
            .instrument(port_span("store", "update_place"))
            .await
    }

    async fn delete_place(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.inner
            .delete_place(tenant, id)
            .instrument(port_span("store", "delete_place"))
            .await
    }

    async fn places_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Place>, StoreError> {
        self.inner
            .places_after(after, limit)
            .instrument(port_span("store", "places_after"))
            .await
    }

    async fn world_events_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<WorldEvent>, StoreError> {
        self.inner
            .world_events_after(after, limit)
            .instrument(port_span("store", "world_events_after"))
            .await
    }

    async fn place_tree(&self, tenant: &TenantId, root: Uuid) -> Result<Vec<Uuid>, StoreError> {
        self.inner
            .place_tree(tenant, root)
            .instrument(port_span("store", "place_tree"))
            .await
    }

    async fn characters_at(
        &self,
        tenant: &TenantId,
        places: &[Uuid],
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError> {
        self.inner
            .characters_at(tenant, places, page)
            .instrument(port_span("store", "characters_at"))
            .await
    }

    async fn record_world_event(
        &self,
        event: &WorldEvent,
        memories: &[Memory],
    ) -> Result<(), StoreError> {
        self.inner
            .record_world_event(event, memories)
            .instrument(port_span("store", "record_world_event"))
            .await
    }

    async fn get_world_event(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<WorldEvent>, StoreError> {
        self.inner
            .get_world_event(tenant, id)
            .instrument(port_span("store", "get_world_event"))
            .await
    }

    async fn list_world_events(
        &self,
        tenant: &TenantId,
        place: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Vec<WorldEvent>, StoreError> {
        self.inner
            .list_world_events(tenant, place, page)
            .instrument(port_span("store", "list_world_events"))
            .await
    }

    async fn event_witnesses(
        &self,
        tenant: &TenantId,
        event_id: Uuid,
    ) -> Result<Vec<Witness>, StoreError> {
        self.inner
            .event_witnesses(tenant, event_id)
            .instrument(port_span("store", "event_witnesses"))
            .await
    }

    async fn event_memories_since(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        after: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError> {
        self.inner
            .event_memories_since(tenant, character_id, after, limit)
            .instrument(port_span("store", "event_memories_since"))
            .await
    }

    async fn get_relationship(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        counterpart: &Counterpart,
    ) -> Result<Option<Relationship>, StoreError> {
        self.inner
            .get_relationship(tenant, character_id, counterpart)
            .instrument(port_span("store", "get_relationship"))
            .await
    }

    async fn list_relationships(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Relationship>, StoreError> {
        self.inner
            .list_relationships(tenant, character_id, limit)
            .instrument(port_span("store", "list_relationships"))
            .await
    }

    async fn put_relationship(&self, relationship: &Relationship) -> Result<(), StoreError> {
        self.inner
            .put_relationship(relationship)
            .instrument(port_span("store", "put_relationship"))
            .await
    }

    async fn get_inner_state(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<Option<InnerState>, StoreError> {
        self.inner
            .get_inner_state(tenant, character_id)
            .instrument(port_span("store", "get_inner_state"))
            .await
    }

    async fn put_inner_state(&self, state: &InnerState) -> Result<(), StoreError> {
        self.inner
            .put_inner_state(state)
            .instrument(port_span("store", "put_inner_state"))
            .await
    }

    async fn bearing(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<(Option<InnerState>, Option<Relationship>), StoreError> {
        self.inner
            .bearing(tenant, character_id, user_id)
            .instrument(port_span("store", "bearing"))
            .await
    }
}

/// A vector index without the resilience decorator (PostgreSQL's own
/// search, the in-process index), each call in its own span.
pub struct TracedVectors {
    inner: Arc<dyn VectorMemory>,
}

impl TracedVectors {
    pub fn new(inner: Arc<dyn VectorMemory>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl VectorMemory for TracedVectors {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn ping(&self) -> Result<(), VectorError> {
        self.inner
            .ping()
            .instrument(port_span("vector_memory", "ping"))
            .await
    }

    async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError> {
        self.inner
            .upsert(points)
            .instrument(port_span("vector_memory", "upsert"))
            .await
    }

    async fn search(&self, query: &VectorQuery) -> Result<IndexHits, VectorError> {
        self.inner
            .search(query)
            .instrument(port_span("vector_memory", "search"))
            .await
    }

    async fn delete(&self, memory_ids: &[Uuid]) -> Result<(), VectorError> {
        self.inner
            .delete(memory_ids)
            .instrument(port_span("vector_memory", "delete"))
            .await
    }

    async fn delete_character(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<(), VectorError> {
        self.inner
            .delete_character(tenant, character_id)
            .instrument(port_span("vector_memory", "delete_character"))
            .await
    }

    async fn model_mismatch(
        &self,
        model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError> {
        self.inner
            .model_mismatch(model, dimensions)
            .instrument(port_span("vector_memory", "model_mismatch"))
            .await
    }

    async fn reset(&self, model: &str, dimensions: usize) -> Result<(), VectorError> {
        self.inner
            .reset(model, dimensions)
            .instrument(port_span("vector_memory", "reset"))
            .await
    }
}
