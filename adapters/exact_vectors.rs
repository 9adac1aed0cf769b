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
    IndexHits, MemoryKind, ScoredId, TenantId, VectorPoint, VectorQuery, best_k, dot, hamming, idf,
    sign_bits, term_weight, unit,
};
use crate::core::ports::{VectorError, VectorMemory};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::RwLock;
use uuid::Uuid;

type Scope = (TenantId, Uuid);

/// The exact pass orders at least this many candidates (all of a smaller
/// character), or ten times what was asked, whichever is more.
const EXACT_POOL_MIN: usize = 300;
const EXACT_POOL_FACTOR: usize = 10;

struct Entry {
    memory_id: Uuid,
    kind: MemoryKind,
    user_id: Option<String>,
    unit: Vec<f32>,
    /// The memory's distinct words (to unlink its postings) and its length.
    words: Vec<String>,
    length: u32,
}

/// One character's memories, in slots that are reused, so postings can
/// name a slot (an index) rather than hash an id per posting.
#[derive(Default)]
struct Partition {
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    position: HashMap<Uuid, u32>,
    /// Word → the slots holding it, with how often.
    postings: HashMap<String, Vec<(u32, u32)>>,
    /// The sign bits of every slot's vector, `sign_words` words each, side
    /// by side: what the scan of a large character reads (1/32 of the
    /// bytes of the vectors, in one sequential sweep).
    signs: Vec<u64>,
    sign_words: usize,
}

impl Partition {
    fn live(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, entry)| Some((slot as u32, entry.as_ref()?)))
    }

    fn len(&self) -> usize {
        self.position.len()
    }

    fn insert(&mut self, point: &VectorPoint) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        for (word, count) in &point.terms.counts {
            self.postings
                .entry(word.clone())
                .or_default()
                .push((slot, *count));
        }
        self.position.insert(point.memory_id, slot);
        let unit = unit(&point.embedding);
        let signs = sign_bits(&unit);
        if self.sign_words == 0 {
            self.sign_words = signs.len();
        }
        let at = slot as usize * self.sign_words;
        if self.signs.len() < at + self.sign_words {
            self.signs.resize(at + self.sign_words, 0);
        }
        // A vector of another size (another model, until a reindex) is
        // never a candidate of this size's queries; its bits stay zero.
        if signs.len() == self.sign_words {
            self.signs[at..at + self.sign_words].copy_from_slice(&signs);
        }
        self.slots[slot as usize] = Some(Entry {
            memory_id: point.memory_id,
            kind: point.kind,
            user_id: point.user_id.clone(),
            unit,
            words: point.terms.counts.keys().cloned().collect(),
            length: point.terms.length,
        });
    }

    fn remove(&mut self, memory_id: Uuid) {
        let Some(slot) = self.position.remove(&memory_id) else {
            return;
        };
        let Some(entry) = self.slots[slot as usize].take() else {
            return;
        };
        self.free.push(slot);
        for word in entry.words {
            if let Some(list) = self.postings.get_mut(&word) {
                list.retain(|(s, _)| *s != slot);
                if list.is_empty() {
                    self.postings.remove(&word);
                }
            }
        }
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.live().map(|(_, entry)| entry)
    }

    fn admits(query: &VectorQuery, entry: &Entry) -> bool {
        query.kind.is_none_or(|k| k == entry.kind) && query.scope.admits(entry.user_id.as_deref())
    }

    /// Exact cosine over a pool of candidates: every memory the query may
    /// see when they are few; for a large character, those whose sign bits
    /// agree most with the query's (a Hamming scan over 1/32 of the
    /// bytes), ten times as many as asked. Exact for characters up to the
    /// pool's size, approximate (like an HNSW index) above it.
    fn vector_hits(&self, query: &VectorQuery) -> Vec<ScoredId> {
        let wanted = unit(&query.embedding);
        let pool = (query.k * EXACT_POOL_FACTOR).max(EXACT_POOL_MIN);
        let admitted = self
            .live()
            .filter(|(_, e)| Self::admits(query, e) && e.unit.len() == wanted.len());
        let signs = sign_bits(&wanted);
        let slots: Vec<u32> = if self.len() <= pool || signs.len() != self.sign_words {
            admitted.map(|(slot, _)| slot).collect()
        } else {
            let words = self.sign_words;
            let mut nearest: Vec<(u32, u32)> = admitted
                .map(|(slot, _)| {
                    let at = slot as usize * words;
                    (hamming(&signs, &self.signs[at..at + words]), slot)
                })
                .collect();
            if nearest.len() > pool {
                nearest.select_nth_unstable(pool - 1);
                nearest.truncate(pool);
            }
            nearest.into_iter().map(|(_, slot)| slot).collect()
        };
        let exact = slots
            .into_iter()
            .filter_map(|slot| {
                let entry = self.slots[slot as usize].as_ref()?;
                Some(ScoredId {
                    memory_id: entry.memory_id,
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
            .entries()
            .filter(|e| Self::admits(query, e))
            .fold((0u64, 0u64), |(n, sum), e| {
                (n + 1, sum + u64::from(e.length))
            });
        if documents == 0 {
            return Vec::new();
        }
        let average = total_length as f32 / documents as f32;
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for word in query.terms.counts.keys() {
            let Some(list) = self.postings.get(word) else {
                continue;
            };
            let holding: Vec<(u32, &Entry, u32)> = list
                .iter()
                .filter_map(|(slot, count)| {
                    let entry = self.slots[*slot as usize].as_ref()?;
                    Self::admits(query, entry).then_some((*slot, entry, *count))
                })
                .collect();
            let weight = idf(documents, holding.len() as u64);
            for (slot, entry, count) in holding {
                *scores.entry(slot).or_insert(0.0) +=
                    weight * term_weight(count, entry.length, average);
            }
        }
        best_k(
            scores
                .into_iter()
                .filter_map(|(slot, score)| {
                    Some(ScoredId {
                        memory_id: self.slots[slot as usize].as_ref()?.memory_id,
                        score,
                    })
                })
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
            for entry in partition.slots.into_iter().flatten() {
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
            .flat_map(|p| p.entries())
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
        index.by_scope.values().map(|p| p.entries().count()).sum()
    }

    fn ids_in(index: &ExactVectorMemory, tenant: &TenantId, character: Uuid) -> Vec<Uuid> {
        let index = index.index.read().unwrap();
        index
            .by_scope
            .get(&(tenant.clone(), character))
            .map(|p| p.entries().map(|e| e.memory_id).collect())
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
                .entries()
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
            assert_eq!(
                inner.by_scope[&(tenant.clone(), bob)].postings["river"].len(),
                1
            );
            assert_eq!(
                inner.by_scope[&(tenant.clone(), ada)].postings["river"].len(),
                1
            );
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
