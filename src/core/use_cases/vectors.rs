//! Keeping the vector index in step with the Store: replaying changes it
//! missed while down, and rebuilding it (re-embedding memories whose
//! embedding model is not the current one).

use super::Core;
use crate::core::domain::{PendingVector, VectorPoint};
use crate::core::error::Result;

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

impl Core {
    /// Replays changes the index missed, oldest first; stops at the first
    /// failure (the index is still down) and returns how many were applied.
    pub async fn repair_vectors(&self) -> Result<u64> {
        let mut applied = 0;
        loop {
            let pending = self.store.pending_vectors(REPAIR_BATCH).await?;
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
            self.store.clear_pending_vectors(&done).await?;
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
        tenant: &crate::core::domain::TenantId,
        memory_id: uuid::Uuid,
    ) -> std::result::Result<(), crate::core::ports::VectorError> {
        let memory = match self.store.get_memories(tenant, &[memory_id]).await {
            Ok(mut found) if !found.is_empty() => found.remove(0),
            Ok(_) => return Ok(()),
            Err(err) => {
                return Err(crate::core::ports::VectorError::Unavailable(
                    err.to_string(),
                ));
            }
        };
        self.vectors
            .upsert(&[VectorPoint {
                memory_id: memory.id,
                tenant: memory.tenant.clone(),
                character_id: memory.character_id,
                kind: memory.kind,
                embedding: memory.embedding.clone(),
            }])
            .await
    }

    /// Rebuilds the index from the Store in batches. Memories embedded by
    /// another model (or size) are re-embedded first; if the index itself
    /// was built for another model it is reset. Idempotent, and safe under
    /// traffic (upserts of the same ids).
    #[tracing::instrument(skip_all)]
    pub async fn reindex(&self) -> Result<ReindexOutcome> {
        let model = self.llm.describe();
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
            let batch = self.store.memories_after(after, REINDEX_BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let mut points = Vec::with_capacity(batch.len());
            for mut memory in batch {
                outcome.memories += 1;
                if memory.embedding_model != model.embedding_model
                    || memory.embedding.len() != model.dimensions
                {
                    match self.embed_one(&memory.content).await {
                        Ok(embedding) => {
                            self.store
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
                points.push(VectorPoint {
                    memory_id: memory.id,
                    tenant: memory.tenant,
                    character_id: memory.character_id,
                    kind: memory.kind,
                    embedding: memory.embedding,
                });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::exact_vectors::ExactVectorMemory;
    use crate::core::domain::{
        CharacterName, Importance, MemoryContent, MemoryKind, MemorySource, Persona, ScoredId,
        TenantId, VectorQuery,
    };
    use crate::core::ports::{VectorError, VectorMemory};
    use crate::core::use_cases::NewMemory;
    use crate::core::use_cases::testing::Parts;
    use async_trait::async_trait;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use uuid::Uuid;

    /// An index that can go down and come back.
    #[derive(Default)]
    struct Flaky {
        index: ExactVectorMemory,
        down: AtomicBool,
    }

    impl Flaky {
        fn check(&self) -> std::result::Result<(), VectorError> {
            if self.down.load(Ordering::SeqCst) {
                Err(VectorError::Unavailable("down".into()))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl VectorMemory for Flaky {
        fn kind(&self) -> &'static str {
            "flaky"
        }
        async fn ping(&self) -> std::result::Result<(), VectorError> {
            self.check()
        }
        async fn upsert(&self, points: &[VectorPoint]) -> std::result::Result<(), VectorError> {
            self.check()?;
            self.index.upsert(points).await
        }
        async fn search(
            &self,
            query: &VectorQuery,
        ) -> std::result::Result<Vec<ScoredId>, VectorError> {
            self.check()?;
            self.index.search(query).await
        }
        async fn delete(&self, ids: &[Uuid]) -> std::result::Result<(), VectorError> {
            self.check()?;
            self.index.delete(ids).await
        }
        async fn delete_character(
            &self,
            tenant: &TenantId,
            id: Uuid,
        ) -> std::result::Result<(), VectorError> {
            self.check()?;
            self.index.delete_character(tenant, id).await
        }
        async fn model_mismatch(
            &self,
            model: &str,
            dimensions: usize,
        ) -> std::result::Result<Option<String>, VectorError> {
            self.check()?;
            self.index.model_mismatch(model, dimensions).await
        }
        async fn reset(
            &self,
            model: &str,
            dimensions: usize,
        ) -> std::result::Result<(), VectorError> {
            self.check()?;
            self.index.reset(model, dimensions).await
        }
    }

    async fn remember(core: &Core, tenant: &TenantId, character: Uuid, text: &str) -> Uuid {
        core.add_memory(
            tenant,
            character,
            NewMemory {
                kind: MemoryKind::Episodic,
                source: MemorySource::Manual,
                content: MemoryContent::parse("content", text).unwrap(),
                importance: Importance::DEFAULT,
                session_id: None,
            },
        )
        .await
        .unwrap()
        .id
    }

    async fn character(core: &Core, tenant: &TenantId, name: &str) -> Uuid {
        core.create_character(
            tenant.clone(),
            CharacterName::parse(name).unwrap(),
            Persona::parse("p").unwrap(),
            None,
        )
        .await
        .unwrap()
        .id
    }

    #[tokio::test]
    async fn writes_missed_while_the_index_was_down_are_repaired_with_nothing_orphaned() {
        let flaky = Arc::new(Flaky::default());
        let core = Parts {
            vectors: flaky.clone(),
            ..Parts::default()
        }
        .core();
        let tenant = TenantId::parse("acme").unwrap();
        let ada = character(&core, &tenant, "Ada").await;
        let bo = character(&core, &tenant, "Bo").await;
        let kept = remember(&core, &tenant, ada, "before the outage").await;
        let doomed = remember(&core, &tenant, ada, "deleted later").await;
        remember(&core, &tenant, bo, "Bo's memory").await;

        flaky.down.store(true, Ordering::SeqCst);
        let during = remember(&core, &tenant, ada, "written during the outage").await;
        core.delete_memory(&tenant, ada, doomed).await.unwrap();
        core.delete_character(&tenant, bo).await.unwrap();
        // Searches still answer, from the store.
        let found = core
            .search_memories(&tenant, ada, "outage", 5, None, false)
            .await
            .unwrap();
        assert!(found.degraded);
        assert_eq!(core.store.pending_vectors(100).await.unwrap().len(), 3);
        assert_eq!(
            core.repair_vectors().await.unwrap(),
            0,
            "nothing applies while down"
        );

        flaky.down.store(false, Ordering::SeqCst);
        assert_eq!(core.repair_vectors().await.unwrap(), 3);
        assert!(core.store.pending_vectors(100).await.unwrap().is_empty());
        // The index now holds exactly the stored memories: none missing, none orphaned.
        let stored: Vec<Uuid> = core
            .store
            .memories_after(None, 100)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(stored.len(), 2);
        assert_eq!(flaky.index.len(), 2);
        for id in [kept, during] {
            assert!(stored.contains(&id));
        }
        let found = core
            .search_memories(&tenant, ada, "outage", 5, None, false)
            .await
            .unwrap();
        assert!(!found.degraded);
        assert_eq!(found.hits[0].memory.id, during);
    }

    #[tokio::test]
    async fn reindex_rebuilds_a_wiped_index_and_reembeds_memories_of_another_model() {
        let flaky = Arc::new(Flaky::default());
        let core = Parts {
            vectors: flaky.clone(),
            ..Parts::default()
        }
        .core();
        let tenant = TenantId::parse("acme").unwrap();
        let ada = character(&core, &tenant, "Ada").await;
        let first = remember(&core, &tenant, ada, "sailing at dawn").await;
        remember(&core, &tenant, ada, "storms at dusk").await;
        let before = core
            .search_memories(&tenant, ada, "sailing", 5, None, false)
            .await
            .unwrap();
        // An older model wrote this one.
        core.store
            .update_embedding(first, &[1.0, 0.0], "old-model")
            .await
            .unwrap();
        flaky.index.reset("x", 0).await.unwrap();
        assert!(flaky.index.is_empty());

        let outcome = core.reindex().await.unwrap();
        assert_eq!(
            (
                outcome.memories,
                outcome.indexed,
                outcome.reembedded,
                outcome.failed
            ),
            (2, 2, 1, 0)
        );
        assert_eq!(flaky.index.len(), 2);
        let after = core
            .search_memories(&tenant, ada, "sailing", 5, None, false)
            .await
            .unwrap();
        let ids = |o: &crate::core::use_cases::SearchOutcome| {
            o.hits.iter().map(|h| h.memory.id).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&before),
            ids(&after),
            "the same results before and after"
        );
        // Idempotent: a second run changes nothing.
        let again = core.reindex().await.unwrap();
        assert_eq!((again.indexed, again.reembedded), (2, 0));
    }
}
