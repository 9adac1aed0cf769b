//! Recall: the memories that matter for a text. The search index fills a
//! vector list and a lexical (BM25) list; their normalised scores are
//! blended, then recency and importance adjust the order (`domain::ranking`). When
//! the index fails, an exact scan of the Store's memories answers instead.

use super::Embedder;
use crate::core::domain::{
    IndexHits, Memory, MemoryKind, RankScores, RankWeights, ScopeFilter, SearchMode, TenantId,
    Terms, VectorQuery, finish, fuse, rank_exact, rank_lexical,
};
use crate::core::error::Result;
use crate::core::ports::{MemoryStore, PortHealth, VectorMemory};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

/// How deep each list goes for `k` results: deep enough that fusion sees
/// what either side ranks a little lower, and that filtering (superseded
/// facts) still leaves `k`.
fn list_depth(k: usize) -> usize {
    (k * 3).clamp(30, 150)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredMemory {
    pub memory: Memory,
    /// The final score the order follows (`scores.score`).
    pub score: f32,
    #[serde(default)]
    pub scores: RankScores,
}

/// What a recall looks for, besides the text.
#[derive(Debug, Clone, Default)]
pub struct RecallQuery {
    pub k: usize,
    pub kind: Option<MemoryKind>,
    /// Whose memories may come back: a turn passes its person.
    pub scope: ScopeFilter,
    /// Superseded facts are left out unless asked for.
    pub include_superseded: bool,
    pub mode: SearchMode,
}

pub struct SearchOutcome {
    pub hits: Vec<ScoredMemory>,
    /// True when a part failed and the answer is weaker for it: the index
    /// (the Store answered) or the embedder (hybrid fell back to lexical).
    pub degraded: bool,
    /// The mode that actually ranked (hybrid becomes lexical when the
    /// embedder fails).
    pub mode: SearchMode,
}

#[derive(Clone)]
pub struct Recall {
    memories: Arc<dyn MemoryStore>,
    vectors: Arc<dyn VectorMemory>,
    vector_health: Arc<PortHealth>,
    embedder: Embedder,
    weights: RankWeights,
}

impl Recall {
    pub fn new(
        memories: Arc<dyn MemoryStore>,
        vectors: Arc<dyn VectorMemory>,
        vector_health: Arc<PortHealth>,
        embedder: Embedder,
        weights: RankWeights,
    ) -> Self {
        Self {
            memories,
            vectors,
            vector_health,
            embedder,
            weights,
        }
    }

    /// The `k` best memories of a character for `text` that the query's
    /// scope admits. Hybrid falls back to lexical if the text cannot be
    /// embedded; vector mode cannot, and fails.
    pub async fn search(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        text: &str,
        recall: &RecallQuery,
    ) -> Result<SearchOutcome> {
        self.search_embedded(tenant, character_id, text, None, recall)
            .await
    }

    /// `search`, with the text's embedding when the caller has it already.
    pub async fn search_embedded(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        text: &str,
        embedding: Option<Vec<f32>>,
        recall: &RecallQuery,
    ) -> Result<SearchOutcome> {
        let mut mode = recall.mode;
        let mut degraded = false;
        let embedding = if !mode.uses_vector() {
            Vec::new()
        } else if let Some(embedding) = embedding {
            embedding
        } else {
            match self.embedder.embed_one(text).await {
                Ok(embedding) => embedding,
                Err(err) if mode == SearchMode::Hybrid => {
                    tracing::warn!(error = %err, "could not embed the query; searching by words alone");
                    mode = SearchMode::Lexical;
                    degraded = true;
                    Vec::new()
                }
                Err(err) => return Err(err),
            }
        };
        let query = VectorQuery {
            tenant: tenant.clone(),
            character_id,
            kind: recall.kind,
            scope: recall.scope.clone(),
            mode,
            embedding,
            terms: if mode.uses_lexical() {
                Terms::of(text)
            } else {
                Terms::default()
            },
            k: list_depth(recall.k),
        };
        let (hits, memories, fell_back) = self.candidates(&query).await?;
        let now = chrono::Utc::now();
        let fused = fuse(&hits, mode, self.weights.vector);
        let mut ranked: Vec<ScoredMemory> = memories
            .into_iter()
            // The index filters by scope too; this keeps a stale or foreign
            // point from ever reaching someone else's prompt.
            .filter(|m| {
                m.character_id == character_id
                    && recall.scope.admits(m.user_id.as_deref())
                    && recall.kind.is_none_or(|kind| kind == m.kind)
                    && (recall.include_superseded || m.superseded_by.is_none())
            })
            .filter_map(|memory| {
                let scores = finish(
                    *fused.get(&memory.id)?,
                    memory.occurred_at,
                    memory.importance,
                    now,
                    &self.weights,
                );
                Some(ScoredMemory {
                    score: scores.score,
                    scores,
                    memory,
                })
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.memory.id.cmp(&b.memory.id))
        });
        ranked.truncate(recall.k);
        Ok(SearchOutcome {
            hits: ranked,
            degraded: degraded || fell_back,
            mode,
        })
    }

    /// Both lists and the memories they name: from the index, or, when it
    /// fails, from the Store (exact cosine and BM25 over every memory the
    /// query may see; slower, still correct).
    async fn candidates(&self, query: &VectorQuery) -> Result<(IndexHits, Vec<Memory>, bool)> {
        let tenant = &query.tenant;
        match self.vectors.search(query).await {
            Ok(hits) => {
                let mut ids: Vec<Uuid> = hits
                    .vector
                    .iter()
                    .chain(&hits.lexical)
                    .map(|hit| hit.memory_id)
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                // The index may still hold points of deleted rows; they
                // simply drop out here.
                let memories = self.memories.get_memories_for_recall(tenant, &ids).await?;
                Ok((hits, memories, false))
            }
            Err(err) => {
                tracing::warn!(error = %err, "memory search failed; answering from the store");
                self.vector_health.record_fallback("vector_memory");
                let all = self
                    .memories
                    .all_memories(tenant, query.character_id, query.kind, &query.scope)
                    .await?;
                let mut hits = IndexHits::default();
                if query.mode.uses_vector() {
                    hits.vector = rank_exact(
                        &query.embedding,
                        all.iter().map(|m| (m.id, m.embedding.as_slice())),
                        query.k,
                    );
                }
                if query.mode.uses_lexical() {
                    let terms: Vec<(Uuid, Terms)> =
                        all.iter().map(|m| (m.id, Terms::of(&m.content))).collect();
                    hits.lexical =
                        rank_lexical(&query.terms, terms.iter().map(|(id, t)| (*id, t)), query.k);
                }
                Ok((hits, all, true))
            }
        }
    }
}
