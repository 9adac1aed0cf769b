//! Recall: the memories nearest an embedding, from the vector index, or,
//! when the index fails, from an exact scan of the Store's embeddings.

use crate::core::domain::{Memory, MemoryKind, ScopeFilter, TenantId, VectorQuery, rank_exact};
use crate::core::error::Result;
use crate::core::ports::{MemoryStore, PortHealth, VectorMemory};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredMemory {
    pub memory: Memory,
    pub score: f32,
}

/// What a recall looks for, besides the embedding.
#[derive(Debug, Clone, Default)]
pub struct RecallQuery {
    pub k: usize,
    pub kind: Option<MemoryKind>,
    /// Whose memories may come back: a turn passes its person.
    pub scope: ScopeFilter,
    /// Superseded facts are left out unless asked for.
    pub include_superseded: bool,
}

pub struct SearchOutcome {
    pub hits: Vec<ScoredMemory>,
    /// True when the vector index failed and the Store answered instead.
    pub degraded: bool,
}

#[derive(Clone)]
pub struct Recall {
    memories: Arc<dyn MemoryStore>,
    vectors: Arc<dyn VectorMemory>,
    vector_health: Arc<PortHealth>,
}

impl Recall {
    pub fn new(
        memories: Arc<dyn MemoryStore>,
        vectors: Arc<dyn VectorMemory>,
        vector_health: Arc<PortHealth>,
    ) -> Self {
        Self {
            memories,
            vectors,
            vector_health,
        }
    }

    /// The `k` best memories of a character that the query's scope admits.
    pub async fn search(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        embedding: Vec<f32>,
        recall: &RecallQuery,
    ) -> Result<SearchOutcome> {
        let query = VectorQuery {
            tenant: tenant.clone(),
            character_id,
            kind: recall.kind,
            scope: recall.scope.clone(),
            embedding,
            k: recall.k * 2,
        };
        let mut outcome = self.candidates(&query).await?;
        // The index filters by scope too; this keeps a stale or foreign
        // point from ever reaching someone else's prompt.
        outcome.hits.retain(|hit| {
            recall.scope.admits(hit.memory.user_id.as_deref())
                && (recall.include_superseded || hit.memory.superseded_by.is_none())
        });
        outcome.hits.truncate(recall.k);
        Ok(outcome)
    }

    async fn candidates(&self, query: &VectorQuery) -> Result<SearchOutcome> {
        let (tenant, character_id, k) = (&query.tenant, query.character_id, query.k);
        match self.vectors.search(query).await {
            Ok(ids) => {
                let ids_only: Vec<Uuid> = ids.iter().map(|hit| hit.memory_id).collect();
                let mut memories = self.memories.get_memories(tenant, &ids_only).await?;
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
                let all = self
                    .memories
                    .all_memories(tenant, character_id, query.kind, &query.scope)
                    .await?;
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
}
