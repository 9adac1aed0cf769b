//! In-process `VectorMemory`: exact (brute-force cosine) search. Used when
//! `QDRANT_URL` is unset; fine for thousands of memories per character.

use crate::domain::{ScoredId, TenantId, VectorPoint, VectorQuery, rank_exact};
use crate::ports::{VectorError, VectorMemory};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::RwLock;
use uuid::Uuid;

#[derive(Default)]
pub struct ExactVectorMemory {
    points: RwLock<HashMap<Uuid, VectorPoint>>,
}

impl ExactVectorMemory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.points.read().unwrap_or_else(|e| e.into_inner()).len()
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
        let mut map = self.points.write().unwrap_or_else(|e| e.into_inner());
        for point in points {
            map.insert(point.memory_id, point.clone());
        }
        Ok(())
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredId>, VectorError> {
        let map = self.points.read().unwrap_or_else(|e| e.into_inner());
        let candidates = map
            .values()
            .filter(|p| {
                p.tenant == query.tenant
                    && p.character_id == query.character_id
                    && query.kind.is_none_or(|k| k == p.kind)
            })
            .map(|p| (p.memory_id, p.embedding.as_slice()));
        Ok(rank_exact(&query.embedding, candidates, query.k))
    }

    async fn delete(&self, memory_ids: &[Uuid]) -> Result<(), VectorError> {
        let mut map = self.points.write().unwrap_or_else(|e| e.into_inner());
        for id in memory_ids {
            map.remove(id);
        }
        Ok(())
    }

    async fn delete_character(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<(), VectorError> {
        self.points
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, p| !(p.tenant == *tenant && p.character_id == character_id));
        Ok(())
    }

    async fn model_mismatch(
        &self,
        _model: &str,
        dimensions: usize,
    ) -> Result<Option<String>, VectorError> {
        let map = self.points.read().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .values()
            .find(|p| p.embedding.len() != dimensions)
            .map(|p| {
                format!(
                    "a vector has {} dimensions, not {dimensions}",
                    p.embedding.len()
                )
            }))
    }

    async fn reset(&self, _model: &str, _dimensions: usize) -> Result<(), VectorError> {
        self.points
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }
}
