//! Keeping the vector index in step with the Store: replaying changes it
//! missed while down, and rebuilding it (re-embedding memories whose
//! embedding model is not the current one).

use super::support::Embedder;
use crate::core::domain::{PendingVector, TenantId, VectorPoint};
use crate::core::error::Result;
use crate::core::ports::{MemoryStore, VectorError, VectorMemory};
use std::sync::Arc;
use uuid::Uuid;

/// Counts from a reindex.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReindexOutcome {
    pub memories: u64,
    pub indexed: u64,
    pub reembedded: u64,
    pub failed: u64,
}

const REINDEX_BATCH: u32 = 256;
const REPAIR_BATCH: u32 = 256;

#[derive(Clone)]
pub struct VectorIndex {
    memories: Arc<dyn MemoryStore>,
    vectors: Arc<dyn VectorMemory>,
    embedder: Embedder,
}

impl VectorIndex {
    pub(crate) fn new(
        memories: Arc<dyn MemoryStore>,
        vectors: Arc<dyn VectorMemory>,
        embedder: Embedder,
    ) -> Self {
        Self {
            memories,
            vectors,
            embedder,
        }
    }

    /// Replays changes the index missed, oldest first; stops at the first
    /// failure (the index is still down) and returns how many were applied.
    pub async fn repair(&self) -> Result<u64> {
        let mut applied = 0;
        loop {
            let pending = self.memories.pending_vectors(REPAIR_BATCH).await?;
            if pending.is_empty() {
                return Ok(applied);
            }
            let mut done = Vec::new();
            for row in &pending {
                let result = match &row.change {
                    PendingVector::Upsert { tenant, memory_id } => {
                        self.reupsert(tenant, *memory_id).await
                    }
                    PendingVector::Delete { memory_id } => self.vectors.delete(&[*memory_id]).await,
                    PendingVector::DeleteCharacter {
                        tenant,
                        character_id,
                    } => self.vectors.delete_character(tenant, *character_id).await,
                };
                match result {
                    Ok(()) => done.push(row.id),
                    Err(err) => {
                        tracing::debug!(error = %err, "vector index still unavailable; repair paused");
                        break;
                    }
                }
            }
            self.memories.clear_pending_vectors(&done).await?;
            applied += done.len() as u64;
            if done.len() < pending.len() {
                return Ok(applied);
            }
            tracing::info!(applied, "vector index repaired");
        }
    }

    /// Upserts one memory's vector from the Store (gone memories need nothing).
    async fn reupsert(
        &self,
        tenant: &TenantId,
        memory_id: Uuid,
    ) -> std::result::Result<(), VectorError> {
        let memory = match self.memories.get_memories(tenant, &[memory_id]).await {
            Ok(mut found) if !found.is_empty() => found.remove(0),
            Ok(_) => return Ok(()),
            Err(err) => {
                return Err(VectorError::Unavailable(err.to_string()));
            }
        };
        self.vectors.upsert(&[VectorPoint::of(&memory)]).await
    }

    /// Loads into the index the Store's memories with ids after `from`
    /// (every memory when `None`), in batches, skipping any embedded by
    /// another model (a reindex deals with those). For an index that lives
    /// in this process over a shared store: at start-up it brings back what
    /// earlier runs stored, then, called again and again, what other
    /// replicas stored. Returns the newest id seen (or `from`). Idempotent:
    /// upserts of the same ids.
    pub async fn catch_up(&self, from: Option<Uuid>) -> Result<Option<Uuid>> {
        let model = self.embedder.describe();
        let mut after = from;
        let mut loaded = 0u64;
        loop {
            let batch = self.memories.memories_after(after, REINDEX_BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let points: Vec<VectorPoint> = batch
                .iter()
                .filter(|m| {
                    m.embedding_model == model.embedding_model
                        && m.embedding.len() == model.dimensions
                })
                .map(VectorPoint::of)
                .collect();
            if let Err(err) = self.vectors.upsert(&points).await {
                tracing::warn!(error = %err, "catching up the vector index failed; will retry");
                return Ok(from);
            }
            loaded += points.len() as u64;
        }
        if loaded > 0 {
            tracing::info!(loaded, "vector index caught up with the store");
        }
        Ok(after)
    }

    /// Rebuilds the index from the Store in batches. Memories embedded by
    /// another model (or size) are re-embedded first; if the index itself
    /// was built for another model it is reset. Idempotent, and safe under
    /// traffic (upserts of the same ids).
    #[tracing::instrument(skip_all)]
    pub async fn reindex(&self) -> Result<ReindexOutcome> {
        let model = self.embedder.describe();
        // Lets the index recreate a collection that was wiped.
        if let Err(err) = self.vectors.ping().await {
            tracing::warn!(error = %err, "vector index not answering; reindex will count failures");
        }
        if let Ok(Some(mismatch)) = self
            .vectors
            .model_mismatch(&model.embedding_model, model.dimensions)
            .await
        {
            tracing::warn!(%mismatch, "vector index built for another model; resetting it");
            if let Err(err) = self
                .vectors
                .reset(&model.embedding_model, model.dimensions)
                .await
            {
                tracing::error!(error = %err, "could not reset the vector index");
            }
        }
        let mut outcome = ReindexOutcome::default();
        let mut after = None;
        loop {
            let batch = self.memories.memories_after(after, REINDEX_BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let mut points = Vec::with_capacity(batch.len());
            for mut memory in batch {
                outcome.memories += 1;
                if memory.embedding_model != model.embedding_model
                    || memory.embedding.len() != model.dimensions
                {
                    match self.embedder.embed_one(&memory.content).await {
                        Ok(embedding) => {
                            self.memories
                                .update_embedding(memory.id, &embedding, &model.embedding_model)
                                .await?;
                            memory.embedding = embedding;
                            outcome.reembedded += 1;
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, memory_id = %memory.id, "could not re-embed");
                            outcome.failed += 1;
                            continue;
                        }
                    }
                }
                points.push(VectorPoint::of(&memory));
            }
            let count = points.len() as u64;
            match self.vectors.upsert(&points).await {
                Ok(()) => outcome.indexed += count,
                Err(err) => {
                    tracing::warn!(error = %err, "reindex batch failed");
                    outcome.failed += count;
                }
            }
            tracing::info!(
                memories = outcome.memories,
                indexed = outcome.indexed,
                "reindex progress"
            );
        }
        Ok(outcome)
    }
}
