//! In-process `VectorMemory`: exact vector search beside a BM25 inverted
//! index. Used when neither Qdrant nor a database answers search (the
//! in-memory store). Vectors are kept unit-length and grouped by tenant and
//! character, so a search is one dot product per memory of that character
//! (SIMD-friendly), never a scan of everyone's memories; the lexical side
//! reads only the postings of the query's words.
//!
//! A small inverted index rather than tantivy: memories are short, live in
//! per-character partitions that come and go with characters, and must be
//! scoped by person and kind at query time; tantivy's segment files, merge
//! threads and schema would cost more (build time included) than the
//! hundred lines it replaces, for no better ranking.

use crate::core::domain::{
    IndexHits, MemoryKind, ScoredId, TenantId, VectorPoint, VectorQuery, best_k, dot, dot_i8,
    idf, quantize, term_weight, unit,
};
use crate::core::ports::{VectorError, VectorMemory};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::RwLock;
use uuid::Uuid;

type Scope = (TenantId, Uuid);

/// How many more candidates than asked the 8-bit scan hands to the exact
/// pass (its ranking is within about a percent of cosine).
const RERANK_FACTOR: usize = 4;
const RERANK_MIN: usize = 32;

struct Entry {
    memory_id: Uuid,
    kind: MemoryKind,
    user_id: Option<String>,
    unit: Vec<f32>,
    /// `unit` in 8 bits: what the scan reads (a quarter of the bytes).
    code: Vec<i8>,
    scale: f32,
    /// The memory's distinct words (to unlink its postings) and its length.
    words: Vec<String>,
    length: u32,
}

/// One character's memories.
#[derive(Default)]
struct Partition {
    entries: Vec<Entry>,
    position: HashMap<Uuid, usize>,
    /// Word → the memories holding it, with how often.
    postings: HashMap<String, Vec<(Uuid, u32)>>,
}

impl Partition {
    fn insert(&mut self, point: &VectorPoint) {
        for (word, count) in &point.terms.counts {
            self.postings
                .entry(word.clone())
                .or_default()
                .push((point.memory_id, *count));
        }
        self.position.insert(point.memory_id, self.entries.len());
        let unit = unit(&point.embedding);
        let (scale, code) = quantize(&unit);
        self.entries.push(Entry {
            memory_id: point.memory_id,
            kind: point.kind,
            user_id: point.user_id.clone(),
            unit,
            code,
            scale,
            words: point.terms.counts.keys().cloned().collect(),
            length: point.terms.length,
        });
    }

    fn remove(&mut self, memory_id: Uuid) {
        let Some(at) = self.position.remove(&memory_id) else {
            return;
        };
        let entry = self.entries.swap_remove(at);
        if let Some(moved) = self.entries.get(at) {
            self.position.insert(moved.memory_id, at);
        }
        for word in entry.words {
            if let Some(list) = self.postings.get_mut(&word) {
                list.retain(|(id, _)| *id != memory_id);
                if list.is_empty() {
                    self.postings.remove(&word);
                }
            }
        }
    }

    fn admits(query: &VectorQuery, entry: &Entry) -> bool {
        query.kind.is_none_or(|k| k == entry.kind) && query.scope.admits(entry.user_id.as_deref())
    }

    /// Scans the 8-bit codes for the best few candidates, then orders
    /// those by their full vectors: exact cosine order at a quarter of the
    /// memory traffic of a full scan.
    fn vector_hits(&self, query: &VectorQuery) -> Vec<ScoredId> {
        let wanted = unit(&query.embedding);
        let (query_scale, query_code) = quantize(&wanted);
        let rescale = query_scale / (127.0 * 127.0);
        let approximate = self
            .entries
            .iter()
            .filter(|e| Self::admits(query, e) && e.unit.len() == wanted.len())
            .map(|e| ScoredId {
                memory_id: e.memory_id,
                // Slightly above zero, so near-orthogonal memories the
                // rounding pushed below it still reach the exact pass.
                score: dot_i8(&query_code, &e.code) as f32 * rescale * e.scale + 0.02,
            })
            .collect();
        let candidates = best_k(approximate, (query.k * RERANK_FACTOR).max(RERANK_MIN));
        let exact = candidates
            .into_iter()
            .filter_map(|c| {
                let entry = &self.entries[*self.position.get(&c.memory_id)?];
                Some(ScoredId {
                    memory_id: c.memory_id,
                    score: dot(&wanted, &entry.unit),
                })
            })
            .collect();
        best_k(exact, query.k)
    }

    /// BM25 with the statistics of the memories the query may see.
    fn lexical_hits(&self, query: &VectorQuery) -> Vec<ScoredId> {
        if query.terms.is_empty() {
            return Vec::new();
        }
        let (documents, total_length) = self
            .entries
            .iter()
            .filter(|e| Self::admits(query, e))
            .fold((0u64, 0u64), |(n, sum), e| (n + 1, sum + u64::from(e.length)));
        if documents == 0 {
            return Vec::new();
        }
        let average = total_length as f32 / documents as f32;
        let mut scores: HashMap<Uuid, f32> = HashMap::new();
        for word in query.terms.counts.keys() {
            let Some(list) = self.postings.get(word) else {
                continue;
            };
            let holding: Vec<(&Entry, u32)> = list
                .iter()
                .filter_map(|(id, count)| {
                    let entry = &self.entries[*self.position.get(id)?];
                    Self::admits(query, entry).then_some((entry, *count))
                })
                .collect();
            let weight = idf(documents, holding.len() as u64);
            for (entry, count) in holding {
                *scores.entry(entry.memory_id).or_insert(0.0) +=
                    weight * term_weight(count, entry.length, average);
            }
        }
        best_k(
            scores
                .into_iter()
                .map(|(memory_id, score)| ScoredId { memory_id, score })
                .collect(),
            query.k,
        )
    }
}

#[derive(Default)]
struct Index {
    by_scope: HashMap<Scope, Partition>,
    scope_of: HashMap<Uuid, Scope>,
    /// The model and size the last `reset` prepared the index for; an index
    /// never reset knows only the sizes of its vectors.
    prepared: Option<(String, usize)>,
}

impl Index {
    fn remove(&mut self, memory_id: Uuid) {
        if let Some(scope) = self.scope_of.remove(&memory_id)
            && let Some(partition) = self.by_scope.get_mut(&scope)
        {
            partition.remove(memory_id);
        }
    }
}

#[derive(Default)]
pub struct ExactVectorMemory {
    index: RwLock<Index>,
}

impl ExactVectorMemory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .scope_of
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl VectorMemory for ExactVectorMemory {
    fn kind(&self) -> &'static str {
        "in-memory"
    }

    async fn ping(&self) -> Result<(), VectorError> {
        Ok(())
    }

    async fn upsert(&self, points: &[VectorPoint]) -> Result<(), VectorError> {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        for point in points {
            index.remove(point.memory_id);
            let scope = (point.tenant.clone(), point.character_id);
            index.scope_of.insert(point.memory_id, scope.clone());
            index.by_scope.entry(scope).or_default().insert(point);
        }
        Ok(())
    }

    async fn search(&self, query: &VectorQuery) -> Result<IndexHits, VectorError> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let Some(partition) = index
            .by_scope
            .get(&(query.tenant.clone(), query.character_id))
        else {
            return Ok(IndexHits::default());
        };
        Ok(IndexHits {
            vector: if query.mode.uses_vector() {
                partition.vector_hits(query)
            } else {
                Vec::new()
            },
            lexical: if query.mode.uses_lexical() {
                partition.lexical_hits(query)
            } else {
                Vec::new()
            },
        })
    }

    async fn delete(&self, memory_ids: &[Uuid]) -> Result<(), VectorError> {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        for id in memory_ids {
            index.remove(*id);
        }
        Ok(())
    }

    async fn delete_character(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<(), VectorError> {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        if let Some(partition) = index.by_scope.remove(&(tenant.clone(), character_id)) {
            for entry in partition.entries {
                index.scope_of.remove(&entry.memory_id);
            }
        }
        Ok(())
    }

    async fn model_mismatch(
        &self,
        model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = index
            .by_scope
            .values()
            .flat_map(|p| &p.entries)
            .find(|e| e.unit.len() != dimensions)
        {
            return Ok(Some(format!(
                "a vector has {} dimensions, not {dimensions}",
                e.unit.len()
            )));
        }
        Ok(match &index.prepared {
            Some((recorded, _)) if recorded != model => Some(format!(
                "the index was prepared for {recorded}; the embedding model is now {model}"
            )),
            Some((_, size)) if *size != dimensions => Some(format!(
                "the index was prepared for {size}-dimension vectors; the embedding model makes {dimensions}"
            )),
            _ => None,
        })
    }

    async fn reset(&self, model: &str, dimensions: usize) -> Result<(), VectorError> {
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Index {
            prepared: Some((model.to_owned(), dimensions)),
            ..Index::default()
        };
        Ok(())
    }
}

// What every VectorMemory must do is checked in tests/vector_contract; these
// look at the bookkeeping behind it.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::domain::Terms;

    fn point(tenant: &str, character: Uuid, v: Vec<f32>) -> VectorPoint {
        VectorPoint {
            memory_id: Uuid::now_v7(),
            tenant: TenantId::parse(tenant).unwrap(),
            character_id: character,
            kind: MemoryKind::Episodic,
            user_id: None,
            embedding: v,
            terms: Terms::of("a walk by the river"),
        }
    }

    /// Entries over every scope: must always equal `len()`.
    fn entries(index: &ExactVectorMemory) -> usize {
        let index = index.index.read().unwrap();
        index.by_scope.values().map(|p| p.entries.len()).sum()
    }

    fn ids_in(index: &ExactVectorMemory, tenant: &TenantId, character: Uuid) -> Vec<Uuid> {
        let index = index.index.read().unwrap();
        index
            .by_scope
            .get(&(tenant.clone(), character))
            .map(|p| p.entries.iter().map(|e| e.memory_id).collect())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_point_lives_in_exactly_one_scope_and_is_kept_unit_length() {
        let index = ExactVectorMemory::new();
        let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let mut moving = point("a", ada, vec![3.0, 4.0]);
        let staying = point("a", ada, vec![1.0, 0.0]);
        let tenant = staying.tenant.clone();
        index
            .upsert(&[moving.clone(), staying.clone()])
            .await
            .unwrap();
        index.upsert(std::slice::from_ref(&moving)).await.unwrap();
        assert_eq!((index.len(), entries(&index)), (2, 2));
        {
            let inner = index.index.read().unwrap();
            let entry = inner.by_scope[&(tenant.clone(), ada)]
                .entries
                .iter()
                .find(|e| e.memory_id == moving.memory_id)
                .unwrap();
            assert_eq!(entry.unit, [0.6, 0.8]);
        }
        // Moved to another character: no stale entry left behind.
        moving.character_id = bob;
        index.upsert(std::slice::from_ref(&moving)).await.unwrap();
        assert_eq!((index.len(), entries(&index)), (2, 2));
        assert_eq!(ids_in(&index, &tenant, ada), [staying.memory_id]);
        assert_eq!(ids_in(&index, &tenant, bob), [moving.memory_id]);
        {
            // The words moved with it: one posting each, in the new partition.
            let inner = index.index.read().unwrap();
            assert_eq!(inner.by_scope[&(tenant.clone(), bob)].postings["river"].len(), 1);
            assert_eq!(inner.by_scope[&(tenant.clone(), ada)].postings["river"].len(), 1);
        }
        index.delete(&[moving.memory_id]).await.unwrap();
        assert_eq!((index.len(), entries(&index)), (1, 1));
        assert!(
            !index.index.read().unwrap().by_scope[&(tenant.clone(), bob)]
                .postings
                .contains_key("river"),
            "a deleted memory leaves no posting behind"
        );
        index.delete_character(&tenant, ada).await.unwrap();
        assert_eq!((index.len(), entries(&index)), (0, 0));
    }
}
