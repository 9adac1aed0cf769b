//! Memories, their embeddings, and the vector changes still to replay.

use super::StoreError;
use crate::core::domain::{
    Memory, MemoryKind, PageRequest, PendingVector, PendingVectorRow, ScopeFilter, TenantId,
};
use async_trait::async_trait;
use uuid::Uuid;

/// A character's memories, authoritative for the embeddings the vector
/// index is built from, and the queue of changes that index missed.
///
/// Contract:
/// - Reads scoped by `tenant` return `None`/empty for rows of another tenant,
///   exactly as for rows that do not exist.
/// - Listings are ordered by id (UUIDv7, i.e. creation order), return rows
///   strictly after `page.after`, and at most `page.fetch_limit()` rows.
/// - Writes that reference a missing (or foreign) parent row fail with
///   `StoreError::Conflict`.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `StoreError::Conflict` on a uniqueness violation; `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MemoryStore: Send + Sync + 'static {
    async fn insert_memory(&self, memory: &Memory) -> Result<(), StoreError>;
    /// The memories with these ids that belong to the tenant, in any order.
    async fn get_memories(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError>;
    /// `get_memories` for a search's hits: their embeddings may be left
    /// empty (a result needs the text; reading and sending dozens of
    /// vectors per search was a tenth of PostgreSQL's share of it).
    async fn get_memories_for_recall(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError> {
        self.get_memories(tenant, ids).await
    }
    async fn list_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        page: &PageRequest,
    ) -> Result<Vec<Memory>, StoreError>;
    /// Every memory of a character (with embeddings) that `scope` admits,
    /// for exact search and dedup.
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
    /// Marks `old` as superseded by `new` (both the tenant's); false when
    /// `old` does not exist for the tenant.
    async fn supersede_memory(
        &self,
        tenant: &TenantId,
        old: Uuid,
        new: Uuid,
    ) -> Result<bool, StoreError>;
    /// Replaces a memory's embedding (a reindex after the model changed).
    async fn update_embedding(
        &self,
        id: Uuid,
        embedding: &[f32],
        model: &str,
    ) -> Result<bool, StoreError>;
    /// Records a change the vector index could not take.
    async fn record_pending_vector(&self, change: &PendingVector) -> Result<(), StoreError>;
    /// The oldest pending changes, oldest first.
    async fn pending_vectors(&self, limit: u32) -> Result<Vec<PendingVectorRow>, StoreError>;
    async fn clear_pending_vectors(&self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Every tenant's memories in id order, after `after`, at most `limit`:
    /// the batches a reindex walks.
    async fn memories_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError>;
}
