//! Keeping the vector index in step with the Store as memories come and go.
//! The Store is authoritative: a change the index cannot take is recorded
//! as pending, and the repair loop (`VectorIndex::repair`) replays it.

use crate::core::domain::{Memory, PendingVector, TenantId, VectorPoint};
use crate::core::ports::{MemoryStore, VectorMemory};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct VectorSync {
    vectors: Arc<dyn VectorMemory>,
    pending: Arc<dyn MemoryStore>,
}

impl VectorSync {
    pub fn new(vectors: Arc<dyn VectorMemory>, pending: Arc<dyn MemoryStore>) -> Self {
        Self { vectors, pending }
    }

    /// Indexes a stored memory; a failure is logged and deferred, not fatal.
    pub async fn index(&self, memory: &Memory) {
        if let Err(err) = self.vectors.upsert(&[VectorPoint::of(memory)]).await {
            tracing::warn!(error = %err, memory_id = %memory.id, "memory stored, indexing deferred");
            self.defer(PendingVector::Upsert {
                tenant: memory.tenant.clone(),
                memory_id: memory.id,
            })
            .await;
        }
    }

    /// Indexes many stored memories in one call (an event's witnesses);
    /// deferred one by one if the index cannot take them.
    pub async fn index_many(&self, memories: &[Memory]) {
        if memories.is_empty() {
            return;
        }
        let points: Vec<VectorPoint> = memories.iter().map(VectorPoint::of).collect();
        if let Err(err) = self.vectors.upsert(&points).await {
            tracing::warn!(error = %err, count = memories.len(), "memories stored, indexing deferred");
            for memory in memories {
                self.defer(PendingVector::Upsert {
                    tenant: memory.tenant.clone(),
                    memory_id: memory.id,
                })
                .await;
            }
        }
    }

    pub async fn remove(&self, memory_id: Uuid) {
        if let Err(err) = self.vectors.delete(&[memory_id]).await {
            tracing::warn!(error = %err, "memory deleted, vector removal deferred");
            self.defer(PendingVector::Delete { memory_id }).await;
        }
    }

    /// Removes many vectors at once (an erasure); deferred one by one if
    /// the index is down.
    pub async fn remove_many(&self, memory_ids: &[Uuid]) {
        if memory_ids.is_empty() {
            return;
        }
        if let Err(err) = self.vectors.delete(memory_ids).await {
            tracing::warn!(error = %err, count = memory_ids.len(), "memories deleted, vector removal deferred");
            for memory_id in memory_ids {
                self.defer(PendingVector::Delete {
                    memory_id: *memory_id,
                })
                .await;
            }
        }
    }

    pub async fn remove_character(&self, tenant: &TenantId, character_id: Uuid) {
        if let Err(err) = self.vectors.delete_character(tenant, character_id).await {
            // The rows are gone, so searches cannot return these vectors;
            // the repair loop removes them once the index is back.
            tracing::warn!(error = %err, "character deleted, vector removal deferred");
            self.defer(PendingVector::DeleteCharacter {
                tenant: tenant.clone(),
                character_id,
            })
            .await;
        }
    }

    async fn defer(&self, change: PendingVector) {
        if let Err(err) = self.pending.record_pending_vector(&change).await {
            tracing::error!(error = %err, ?change, "could not record a pending vector change; a reindex will fix it");
        }
    }
}
