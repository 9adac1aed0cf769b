//! The authoritative store: its error type and `Store`, the sum of the
//! per-aggregate traits, which anything that implements all of them is.

use super::{
    ApiKeyStore, CharacterStore, IdempotencyStore, JobStore, MemoryStore, SessionStore, StoreAdmin,
    WorldStore,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached (down, pool exhausted, timed out). Maps to 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken. Maps to 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Encrypted data this instance has no key for (ENCRYPTION_KEY). A 500
    /// that says so; never returned as ciphertext.
    #[error("undecryptable: {0}")]
    Undecryptable(String),
    /// Anything else; logged, shown as a bare 500.
    #[error("store error: {0}")]
    Internal(String),
}

/// The authoritative store (PostgreSQL in production).
///
/// Contract for every implementation:
/// - Reads scoped by `tenant` return `None`/empty for rows of another tenant,
///   exactly as for rows that do not exist.
/// - Listings are ordered by id (UUIDv7, i.e. creation order), return rows
///   strictly after `page.after`, and at most `page.fetch_limit()` rows.
/// - Deleting a character removes its sessions, messages, memories and jobs;
///   deleting a session removes its messages and detaches its memories
///   (their `session_id` becomes `None`).
/// - Writes that reference a missing (or foreign) parent row fail with
///   `StoreError::Conflict`.
///
/// The methods live on one trait per aggregate (`StoreAdmin`,
/// `ApiKeyStore`, `CharacterStore`, `SessionStore`, `MemoryStore`,
/// `IdempotencyStore`, `JobStore`, `WorldStore`); an `Arc<dyn Store>` upcasts to any of
/// them, so a use case can ask for only the part it needs.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `StoreError::Conflict` on a uniqueness violation; `Internal` otherwise.
pub trait Store:
    StoreAdmin
    + ApiKeyStore
    + CharacterStore
    + SessionStore
    + MemoryStore
    + IdempotencyStore
    + JobStore
    + WorldStore
{
}

impl<T> Store for T where
    T: StoreAdmin
        + ApiKeyStore
        + CharacterStore
        + SessionStore
        + MemoryStore
        + IdempotencyStore
        + JobStore
        + WorldStore
{
}

#[cfg(any(test, feature = "mocks"))]
mod double {
    use super::super::{
        ApiKeyStore, CharacterStore, IdempotencyStore, JobStore, MemoryStore, SessionStore,
        StoreAdmin, StoreError, WorldStore,
    };
    use crate::core::domain::{
        ApiKey, Character, Counterpart, Erasure, IdempotencyRecord, InnerState, Job, JobOutcome,
        JobStatus, KeyHash, Memory, MemoryKind, Message, PageRequest, PendingVector,
        PendingVectorRow, Place, Relationship, Role, ScopeFilter, Session, TenantId, Witness,
        WorldEvent,
    };
    use async_trait::async_trait;
    use chrono::{DateTime, Utc};
    use std::time::Duration;
    use uuid::Uuid;

    mockall::mock! {
        /// A whole-store double: every aggregate trait, so it is a `Store`.
        pub Store {}
        #[async_trait]
        impl StoreAdmin for Store {
        fn kind(&self) -> &'static str;
        async fn ping(&self) -> Result<(), StoreError>;
        async fn migrate(&self) -> Result<(), StoreError>;
        }
        #[async_trait]
        impl ApiKeyStore for Store {
        async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
        async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError>;
        async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
        async fn revoke_api_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;
        }
        #[async_trait]
        impl CharacterStore for Store {
        async fn insert_character(&self, character: &Character) -> Result<(), StoreError>;
        async fn get_character(
            &self,
            tenant: &TenantId,
            id: Uuid,
        ) -> Result<Option<Character>, StoreError>;
        async fn list_characters(
            &self,
            tenant: &TenantId,
            page: &PageRequest,
        ) -> Result<Vec<Character>, StoreError>;
        /// The tenant's first character (in creation order) with exactly this name.
        async fn find_character_by_name(
            &self,
            tenant: &TenantId,
            name: &str,
        ) -> Result<Option<Character>, StoreError>;
        async fn update_character(&self, character: &Character) -> Result<bool, StoreError>;
        async fn delete_character(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError>;
        async fn characters_after(
            &self,
            after: Option<Uuid>,
            limit: u32,
        ) -> Result<Vec<Character>, StoreError>;
        }
        #[async_trait]
        impl SessionStore for Store {
        async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
        async fn get_session(&self, tenant: &TenantId, id: Uuid)
        -> Result<Option<Session>, StoreError>;
        async fn list_sessions(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            page: &PageRequest,
        ) -> Result<Vec<Session>, StoreError>;
        async fn delete_session(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError>;
        /// The person's latest session with a character, if any.
        async fn latest_session_for(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            user_id: &str,
        ) -> Result<Option<Session>, StoreError>;
        async fn delete_idle_sessions(
            &self,
            cutoff: DateTime<Utc>,
            limit: u32,
        ) -> Result<u64, StoreError>;
        async fn append_message(&self, message: &Message) -> Result<(), StoreError>;
        async fn get_message(&self, tenant: &TenantId, id: Uuid)
        -> Result<Option<Message>, StoreError>;
        async fn list_messages(
            &self,
            tenant: &TenantId,
            session_id: Uuid,
            page: &PageRequest,
        ) -> Result<Vec<Message>, StoreError>;
        async fn recent_messages(
            &self,
            tenant: &TenantId,
            session_id: Uuid,
            limit: u32,
        ) -> Result<Vec<Message>, StoreError>;
        async fn count_messages(
            &self,
            tenant: &TenantId,
            session_id: Uuid,
            role: Role,
        ) -> Result<u64, StoreError>;
        /// Erases a person: their sessions (with messages) and every memory
        /// they own or that came from their sessions, of one character or, with
        /// `None`, of all the tenant's characters; all or nothing.
        async fn erase_person(
            &self,
            tenant: &TenantId,
            character_id: Option<Uuid>,
            user_id: &str,
        ) -> Result<Erasure, StoreError>;
        }
        #[async_trait]
        impl MemoryStore for Store {
        async fn insert_memory(&self, memory: &Memory) -> Result<(), StoreError>;
        async fn get_memories(
            &self,
            tenant: &TenantId,
            ids: &[Uuid],
        ) -> Result<Vec<Memory>, StoreError>;
        async fn list_memories(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            kind: Option<MemoryKind>,
            page: &PageRequest,
        ) -> Result<Vec<Memory>, StoreError>;
        async fn all_memories(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            kind: Option<MemoryKind>,
            scope: &ScopeFilter,
        ) -> Result<Vec<Memory>, StoreError>;
        async fn delete_memory(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            id: Uuid,
        ) -> Result<bool, StoreError>;
        async fn supersede_memory(
            &self,
            tenant: &TenantId,
            old: Uuid,
            new: Uuid,
        ) -> Result<bool, StoreError>;
        async fn update_embedding(
            &self,
            id: Uuid,
            embedding: &[f32],
            model: &str,
        ) -> Result<bool, StoreError>;
        async fn record_pending_vector(&self, change: &PendingVector) -> Result<(), StoreError>;
        async fn pending_vectors(&self, limit: u32) -> Result<Vec<PendingVectorRow>, StoreError>;
        async fn clear_pending_vectors(&self, ids: &[Uuid]) -> Result<(), StoreError>;
        async fn memories_after(
            &self,
            after: Option<Uuid>,
            limit: u32,
        ) -> Result<Vec<Memory>, StoreError>;
        }
        #[async_trait]
        impl IdempotencyStore for Store {
        async fn claim_idempotency_key(
            &self,
            tenant: &TenantId,
            key: &str,
            record: &IdempotencyRecord,
        ) -> Result<Option<IdempotencyRecord>, StoreError>;
        async fn complete_idempotency_key(
            &self,
            tenant: &TenantId,
            key: &str,
            response: &serde_json::Value,
        ) -> Result<(), StoreError>;
        }
        #[async_trait]
        impl JobStore for Store {
        async fn enqueue_job(&self, job: &Job) -> Result<(), StoreError>;
        async fn claim_job(&self, lease: Duration) -> Result<Option<Job>, StoreError>;
        async fn finish_job(
            &self,
            id: Uuid,
            attempt: u32,
            outcome: &JobOutcome,
        ) -> Result<bool, StoreError>;
        async fn delete_finished_jobs(
            &self,
            before: chrono::DateTime<chrono::Utc>,
            limit: u32,
        ) -> Result<u64, StoreError>;
        async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError>;
        async fn count_jobs_by_status(&self) -> Result<Vec<(JobStatus, u64)>, StoreError>;
        }
        #[async_trait]
        impl WorldStore for Store {
        async fn insert_place(&self, place: &Place) -> Result<(), StoreError>;
        async fn get_place(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Place>, StoreError>;
        async fn list_places(
            &self,
            tenant: &TenantId,
            parent: Option<Uuid>,
            page: &PageRequest,
        ) -> Result<Vec<Place>, StoreError>;
        async fn update_place(&self, place: &Place) -> Result<bool, StoreError>;
        async fn delete_place(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError>;
        async fn places_after(&self, after: Option<Uuid>, limit: u32)
        -> Result<Vec<Place>, StoreError>;
        async fn place_tree(&self, tenant: &TenantId, root: Uuid) -> Result<Vec<Uuid>, StoreError>;
        async fn characters_at(
            &self,
            tenant: &TenantId,
            places: &[Uuid],
            page: &PageRequest,
        ) -> Result<Vec<Character>, StoreError>;
        async fn record_world_event(
            &self,
            event: &WorldEvent,
            memories: &[Memory],
        ) -> Result<(), StoreError>;
        async fn get_world_event(
            &self,
            tenant: &TenantId,
            id: Uuid,
        ) -> Result<Option<WorldEvent>, StoreError>;
        async fn list_world_events(
            &self,
            tenant: &TenantId,
            place: Option<Uuid>,
            page: &PageRequest,
        ) -> Result<Vec<WorldEvent>, StoreError>;
        async fn world_events_after(
            &self,
            after: Option<Uuid>,
            limit: u32,
        ) -> Result<Vec<WorldEvent>, StoreError>;
        async fn event_witnesses(
            &self,
            tenant: &TenantId,
            event_id: Uuid,
        ) -> Result<Vec<Witness>, StoreError>;
        async fn event_memories_since(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            after: Option<DateTime<Utc>>,
            limit: u32,
        ) -> Result<Vec<Memory>, StoreError>;
        async fn get_relationship(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            counterpart: &Counterpart,
        ) -> Result<Option<Relationship>, StoreError>;
        async fn list_relationships(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            limit: u32,
        ) -> Result<Vec<Relationship>, StoreError>;
        async fn put_relationship(&self, relationship: &Relationship) -> Result<(), StoreError>;
        async fn get_inner_state(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
        ) -> Result<Option<InnerState>, StoreError>;
        async fn put_inner_state(&self, state: &InnerState) -> Result<(), StoreError>;
        async fn bearing(
            &self,
            tenant: &TenantId,
            character_id: Uuid,
            user_id: &str,
        ) -> Result<(Option<InnerState>, Option<Relationship>), StoreError>;
        }
    }
}

#[cfg(any(test, feature = "mocks"))]
pub use double::MockStore;

#[cfg(test)]
mod tests {
    use super::super::{CharacterStore, StoreAdmin};
    use super::{MockStore, Store, StoreError};
    use crate::core::domain::TenantId;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_whole_store_upcasts_to_each_aggregate() {
        let mut double = MockStore::new();
        double.expect_kind().return_const("postgres");
        double
            .expect_get_character()
            .returning(|_, _| Err(StoreError::Unavailable("down".into())));
        let store: Arc<dyn Store> = Arc::new(double);
        let admin: Arc<dyn StoreAdmin> = store.clone();
        assert_eq!(admin.kind(), "postgres");
        let characters: Arc<dyn CharacterStore> = store;
        let tenant = TenantId::parse("acme").unwrap();
        assert!(matches!(
            characters.get_character(&tenant, uuid::Uuid::nil()).await,
            Err(StoreError::Unavailable(_))
        ));
    }
}
