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
    unit: Vec<f32>,
}

#[derive(Default)]
struct Index {
    by_scope: HashMap<Scope, Vec<Entry>>,
    scope_of: HashMap<Uuid, Scope>,
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
            .filter(|e| query.kind.is_none_or(|k| k == e.kind) && e.unit.len() == wanted.len())
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
        _model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        Ok(index
            .by_scope
            .values()
            .flatten()
            .find(|e| e.unit.len() != dimensions)
            .map(|e| format!("a vector has {} dimensions, not {dimensions}", e.unit.len())))
    }

    async fn reset(&self, _model: &str, _dimensions: usize) -> Result<(), VectorError> {
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Index::default();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(tenant: &str, character: Uuid, kind: MemoryKind, v: Vec<f32>) -> VectorPoint {
        VectorPoint {
            memory_id: Uuid::now_v7(),
            tenant: TenantId::parse(tenant).unwrap(),
            character_id: character,
            kind,
            embedding: v,
        }
    }

    #[tokio::test]
    async fn searches_stay_in_their_scope_and_rank_by_cosine() {
        let index = ExactVectorMemory::new();
        let character = Uuid::now_v7();
        let near = point("a", character, MemoryKind::Episodic, vec![2.0, 0.1]);
        let far = point("a", character, MemoryKind::Biographical, vec![0.1, 3.0]);
        let foreign = point("b", character, MemoryKind::Episodic, vec![1.0, 0.0]);
        index
            .upsert(&[near.clone(), far.clone(), foreign.clone()])
            .await
            .unwrap();
        let query = |tenant: &str, kind| VectorQuery {
            tenant: TenantId::parse(tenant).unwrap(),
            character_id: character,
            kind,
            embedding: vec![1.0, 0.0],
            k: 5,
        };
        let hits = index.search(&query("a", None)).await.unwrap();
        assert_eq!(
            hits.iter().map(|h| h.memory_id).collect::<Vec<_>>(),
            [near.memory_id, far.memory_id]
        );
        assert!((hits[0].score - 0.9988).abs() < 1e-3);
        let facts = index
            .search(&query("a", Some(MemoryKind::Biographical)))
            .await
            .unwrap();
        assert_eq!(facts.len(), 1);
        // Re-upserting moves a point instead of duplicating it.
        index.upsert(std::slice::from_ref(&near)).await.unwrap();
        assert_eq!(index.len(), 3);
        index.delete(&[near.memory_id]).await.unwrap();
        index
            .delete_character(&TenantId::parse("b").unwrap(), character)
            .await
            .unwrap();
        assert_eq!(index.len(), 1);
        assert!(index.search(&query("b", None)).await.unwrap().is_empty());
    }
}
