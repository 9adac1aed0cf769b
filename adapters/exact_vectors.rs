//! In-process `VectorMemory`: exact search. Used when `QDRANT_URL` is unset.
//! Vectors are kept unit-length and grouped by tenant and character, so a
//! search is one dot product per memory of that character (SIMD-friendly),
//! never a scan of everyone's memories.

use crate::core::domain::{
    MemoryKind, ScoredId, TenantId, VectorPoint, VectorQuery, best_k, dot, unit,
};
use crate::core::ports::{VectorError, VectorMemory};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::RwLock;
use uuid::Uuid;

type Scope = (TenantId, Uuid);

struct Entry {
    memory_id: Uuid,
    kind: MemoryKind,
    user_id: Option<String>,
    unit: Vec<f32>,
}

#[derive(Default)]
struct Index {
    by_scope: HashMap<Scope, Vec<Entry>>,
    scope_of: HashMap<Uuid, Scope>,
    /// The model and size the last `reset` prepared the index for; an index
    /// never reset knows only the sizes of its vectors.
    prepared: Option<(String, usize)>,
}

impl Index {
    fn remove(&mut self, memory_id: Uuid) {
        if let Some(scope) = self.scope_of.remove(&memory_id)
            && let Some(entries) = self.by_scope.get_mut(&scope)
        {
            entries.retain(|e| e.memory_id != memory_id);
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
            index.by_scope.entry(scope).or_default().push(Entry {
                memory_id: point.memory_id,
                kind: point.kind,
                user_id: point.user_id.clone(),
                unit: unit(&point.embedding),
            });
        }
        Ok(())
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredId>, VectorError> {
        let wanted = unit(&query.embedding);
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let Some(entries) = index
            .by_scope
            .get(&(query.tenant.clone(), query.character_id))
        else {
            return Ok(Vec::new());
        };
        let scored = entries
            .iter()
            .filter(|e| {
                query.kind.is_none_or(|k| k == e.kind)
                    && query.scope.admits(e.user_id.as_deref())
                    && e.unit.len() == wanted.len()
            })
            .map(|e| ScoredId {
                memory_id: e.memory_id,
                score: dot(&wanted, &e.unit),
            })
            .collect();
        Ok(best_k(scored, query.k))
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
        if let Some(entries) = index.by_scope.remove(&(tenant.clone(), character_id)) {
            for entry in entries {
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
            .flatten()
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

    fn point(tenant: &str, character: Uuid, v: Vec<f32>) -> VectorPoint {
        VectorPoint {
            memory_id: Uuid::now_v7(),
            tenant: TenantId::parse(tenant).unwrap(),
            character_id: character,
            kind: MemoryKind::Episodic,
            user_id: None,
            embedding: v,
        }
    }

    /// Entries over every scope: must always equal `len()`.
    fn entries(index: &ExactVectorMemory) -> usize {
        let index = index.index.read().unwrap();
        index.by_scope.values().map(Vec::len).sum()
    }

    fn ids_in(index: &ExactVectorMemory, tenant: &TenantId, character: Uuid) -> Vec<Uuid> {
        let index = index.index.read().unwrap();
        index
            .by_scope
            .get(&(tenant.clone(), character))
            .map(|entries| entries.iter().map(|e| e.memory_id).collect())
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
        index.delete(&[moving.memory_id]).await.unwrap();
        assert_eq!((index.len(), entries(&index)), (1, 1));
        index.delete_character(&tenant, ada).await.unwrap();
        assert_eq!((index.len(), entries(&index)), (0, 0));
    }
}
