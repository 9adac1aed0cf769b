//! Forming a memory: build it, store it (authoritative), index it. The one
//! way a memory comes to be, whether from a turn, a manual add, a world
//! event or a reflection.

use super::{Embedder, VectorSync};
use crate::core::domain::{Memory, MemoryKind, MemorySource, TenantId, id_at};
use crate::core::error::Result;
use crate::core::ports::MemoryStore;
use std::sync::Arc;
use uuid::Uuid;

/// What a memory is made of before it exists.
pub struct MemoryDraft {
    pub tenant: TenantId,
    pub character_id: Uuid,
    pub kind: MemoryKind,
    pub source: MemorySource,
    pub content: String,
    pub importance: f32,
    pub session_id: Option<Uuid>,
    /// The person it belongs to; `None` for the world's.
    pub user_id: Option<String>,
    /// When it was first stored, for memories brought from elsewhere; now
    /// otherwise.
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it happened in the world (an event's time); `created_at` otherwise.
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Already computed (a reflection compares it first); embedded here if `None`.
    pub embedding: Option<Vec<f32>>,
    /// The memories it was drawn from (a reflection's facts).
    pub evidence: Vec<Uuid>,
    /// The world event it remembers.
    pub event_id: Option<Uuid>,
}

#[derive(Clone)]
pub struct MemoryWriter {
    memories: Arc<dyn MemoryStore>,
    embedder: Embedder,
    sync: VectorSync,
}

impl MemoryWriter {
    pub fn new(memories: Arc<dyn MemoryStore>, embedder: Embedder, sync: VectorSync) -> Self {
        Self {
            memories,
            embedder,
            sync,
        }
    }

    /// Embeds (unless given), stores, then indexes; an index failure is
    /// deferred, not fatal: the Store keeps the embedding for a reindex.
    pub async fn form(&self, draft: MemoryDraft) -> Result<Memory> {
        let memory = self.prepare(draft).await?;
        self.memories.insert_memory(&memory).await?;
        self.sync.index(&memory).await;
        Ok(memory)
    }

    /// The memory a draft makes, embedded but not stored: for writes that
    /// store several in one transaction, then `index` them.
    pub async fn prepare(&self, draft: MemoryDraft) -> Result<Memory> {
        let embedding = match draft.embedding {
            Some(embedding) => embedding,
            None => self.embedder.embed_one(&draft.content).await?,
        };
        let created_at = draft.created_at.unwrap_or_else(chrono::Utc::now);
        let occurred_at = draft.occurred_at.unwrap_or(created_at);
        Ok(Memory {
            id: id_at(occurred_at),
            tenant: draft.tenant,
            character_id: draft.character_id,
            kind: draft.kind,
            source: draft.source,
            content: draft.content,
            importance: draft.importance,
            session_id: draft.session_id,
            user_id: draft.user_id,
            embedding,
            embedding_model: self.embedder.model(),
            superseded_by: None,
            evidence: draft.evidence,
            event_id: draft.event_id,
            occurred_at,
            created_at,
        })
    }

    /// Indexes memories stored elsewhere, in one call to the index
    /// (deferred on failure, as `form`).
    pub async fn index(&self, memories: &[Memory]) {
        self.sync.index_many(memories).await;
    }
}
