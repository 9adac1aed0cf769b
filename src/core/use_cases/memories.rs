//! Memories: add (embedded, stored, indexed), list, search, delete.

use super::Core;
use crate::core::domain::{
    Importance, Memory, MemoryContent, MemoryKind, MemorySource, Page, PageRequest, PendingVector,
    TenantId, VectorPoint, VectorQuery, new_id, rank_exact,
};
use crate::core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub struct NewMemory {
    pub kind: MemoryKind,
    pub source: MemorySource,
    pub content: MemoryContent,
    pub importance: Importance,
    pub session_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredMemory {
    pub memory: Memory,
    pub score: f32,
}

pub struct SearchOutcome {
    pub hits: Vec<ScoredMemory>,
    /// True when the vector index failed and the Store answered instead.
    pub degraded: bool,
}

impl Core {
    /// Embeds, stores (authoritative), then indexes; an index failure is
    /// logged, not fatal: the Store keeps the embedding for a reindex.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn add_memory(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        new: NewMemory,
    ) -> Result<Memory> {
        self.require_character(tenant, character_id).await?;
        let content = new.content.into_inner();
        let embedding = self.embed_one(&content).await?;
        let memory = Memory {
            id: new_id(),
            tenant: tenant.clone(),
            character_id,
            kind: new.kind,
            source: new.source,
            content,
            importance: new.importance.value(),
            session_id: new.session_id,
            embedding,
            embedding_model: self.embedding_model(),
            superseded_by: None,
            created_at: chrono::Utc::now(),
        };
        self.store.insert_memory(&memory).await?;
        self.index(&memory).await;
        Ok(memory)
    }

    pub(crate) async fn index(&self, memory: &Memory) {
        let point = VectorPoint {
            memory_id: memory.id,
            tenant: memory.tenant.clone(),
            character_id: memory.character_id,
            kind: memory.kind,
            embedding: memory.embedding.clone(),
        };
        if let Err(err) = self.vectors.upsert(&[point]).await {
            tracing::warn!(error = %err, memory_id = %memory.id, "memory stored, indexing deferred");
            self.defer_vector_change(PendingVector::Upsert {
                tenant: memory.tenant.clone(),
                memory_id: memory.id,
            })
            .await;
        }
    }

    /// Records a change the index missed; the repair loop replays it.
    pub(crate) async fn defer_vector_change(&self, change: PendingVector) {
        if let Err(err) = self.store.record_pending_vector(&change).await {
            tracing::error!(error = %err, ?change, "could not record a pending vector change; a reindex will fix it");
        }
    }

    pub(crate) async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut vectors =
            self.llm
                .embed(&[text.to_owned()])
                .await
                .map_err(|source| Error::Llm {
                    source,
                    message_id: None,
                })?;
        vectors.pop().ok_or_else(|| Error::Llm {
            source: crate::core::ports::LlmError::BadResponse("no embedding returned".into()),
            message_id: None,
        })
    }

    pub async fn list_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        page: PageRequest,
    ) -> Result<Page<Memory>> {
        self.require_character(tenant, character_id).await?;
        let rows = self
            .store
            .list_memories(tenant, character_id, kind, &page)
            .await?;
        Ok(Page::from_rows(rows, &page, |m| m.id))
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id, k))]
    pub async fn search_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        query: &str,
        k: usize,
        kind: Option<MemoryKind>,
        include_superseded: bool,
    ) -> Result<SearchOutcome> {
        self.require_character(tenant, character_id).await?;
        let embedding = self.embed_one(query).await?;
        self.search_by_embedding(tenant, character_id, embedding, k, kind, include_superseded)
            .await
    }

    /// Vector index first; on failure an exact scan of the Store's embeddings.
    /// Superseded facts are left out unless asked for.
    pub(crate) async fn search_by_embedding(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        embedding: Vec<f32>,
        k: usize,
        kind: Option<MemoryKind>,
        include_superseded: bool,
    ) -> Result<SearchOutcome> {
        let mut outcome = self
            .search_candidates(tenant, character_id, embedding, k * 2, kind)
            .await?;
        outcome
            .hits
            .retain(|hit| include_superseded || hit.memory.superseded_by.is_none());
        outcome.hits.truncate(k);
        Ok(outcome)
    }

    async fn search_candidates(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        embedding: Vec<f32>,
        k: usize,
        kind: Option<MemoryKind>,
    ) -> Result<SearchOutcome> {
        let query = VectorQuery {
            tenant: tenant.clone(),
            character_id,
            kind,
            embedding,
            k,
        };
        match self.vectors.search(&query).await {
            Ok(ids) => {
                let ids_only: Vec<Uuid> = ids.iter().map(|hit| hit.memory_id).collect();
                let mut memories = self.store.get_memories(tenant, &ids_only).await?;
                // The index may still hold vectors of deleted rows; they simply drop out here.
                let hits = ids
                    .iter()
                    .filter_map(|hit| {
                        let position = memories.iter().position(|m| m.id == hit.memory_id)?;
                        Some(ScoredMemory {
                            memory: memories.swap_remove(position),
                            score: hit.score,
                        })
                    })
                    .filter(|hit| hit.memory.character_id == character_id)
                    .collect();
                Ok(SearchOutcome {
                    hits,
                    degraded: false,
                })
            }
            Err(err) => {
                tracing::warn!(error = %err, "vector search failed; answering from the store");
                self.vector_health.record_fallback("vector_memory");
                let all = self.store.all_memories(tenant, character_id, kind).await?;
                let ranked = rank_exact(
                    &query.embedding,
                    all.iter().map(|m| (m.id, m.embedding.as_slice())),
                    k,
                );
                let hits = ranked
                    .into_iter()
                    .filter_map(|hit| {
                        all.iter()
                            .find(|m| m.id == hit.memory_id)
                            .map(|m| ScoredMemory {
                                memory: m.clone(),
                                score: hit.score,
                            })
                    })
                    .collect();
                Ok(SearchOutcome {
                    hits,
                    degraded: true,
                })
            }
        }
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, memory_id = %memory_id))]
    pub async fn delete_memory(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        memory_id: Uuid,
    ) -> Result<()> {
        self.require_character(tenant, character_id).await?;
        if !self
            .store
            .delete_memory(tenant, character_id, memory_id)
            .await?
        {
            return Err(Error::not_found("memory", memory_id));
        }
        if let Err(err) = self.vectors.delete(&[memory_id]).await {
            tracing::warn!(error = %err, "memory deleted, vector removal deferred");
            self.defer_vector_change(PendingVector::Delete { memory_id })
                .await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::domain::{CharacterName, Persona};
    use crate::core::ports::{MockVectorMemory, VectorError};
    use crate::core::use_cases::testing::Parts;
    use std::sync::Arc;

    #[tokio::test]
    async fn search_falls_back_to_the_store_when_the_index_fails() {
        let mut vectors = MockVectorMemory::new();
        vectors.expect_upsert().returning(|_| Ok(()));
        vectors
            .expect_search()
            .returning(|_| Err(VectorError::Unavailable("down".into())));
        let core = Parts {
            vectors: Arc::new(vectors),
            ..Parts::default()
        }
        .core();
        let tenant = TenantId::parse("t").unwrap();
        let character = core
            .create_character(
                tenant.clone(),
                CharacterName::parse("Ada").unwrap(),
                Persona::parse("A sailor").unwrap(),
                None,
            )
            .await
            .unwrap();
        for text in ["Sam loves sailing boats", "Taxes are due in April"] {
            core.add_memory(
                &tenant,
                character.id,
                NewMemory {
                    kind: MemoryKind::Episodic,
                    source: MemorySource::Manual,
                    content: MemoryContent::parse("content", text).unwrap(),
                    importance: Importance::DEFAULT,
                    session_id: None,
                },
            )
            .await
            .unwrap();
        }
        let outcome = core
            .search_memories(&tenant, character.id, "sailing", 5, None, false)
            .await
            .unwrap();
        assert!(outcome.degraded);
        assert_eq!(outcome.hits[0].memory.content, "Sam loves sailing boats");
        assert_eq!(core.vector_health.fallbacks(), 1);
    }
}
