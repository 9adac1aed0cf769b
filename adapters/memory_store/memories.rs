//! Memories, embeddings and pending vector changes in memory.

use super::InMemoryStore;
use super::page_of;
use crate::core::domain::{
    Memory, MemoryKind, PageRequest, PendingVector, PendingVectorRow, ScopeFilter, TenantId, new_id,
};
use crate::core::ports::MemoryStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use std::ops::Bound;
use uuid::Uuid;

#[async_trait]
impl MemoryStore for InMemoryStore {
    async fn insert_memory(&self, memory: &Memory) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables
            .characters
            .get(&memory.character_id)
            .is_none_or(|c| c.tenant != memory.tenant)
        {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                memory.character_id
            )));
        }
        tables.memories.insert(memory.id, memory.clone());
        Ok(())
    }

    async fn get_memories(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError> {
        let tables = self.read();
        Ok(ids
            .iter()
            .filter_map(|id| tables.memories.get(id))
            .filter(|m| &m.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn list_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        page: &PageRequest,
    ) -> Result<Vec<Memory>, StoreError> {
        Ok(page_of(&self.read().memories, page, |m| {
            &m.tenant == tenant
                && m.character_id == character_id
                && kind.is_none_or(|k| m.kind == k)
        }))
    }

    async fn all_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        scope: &ScopeFilter,
    ) -> Result<Vec<Memory>, StoreError> {
        Ok(self
            .read()
            .memories
            .values()
            .filter(|m| {
                &m.tenant == tenant
                    && m.character_id == character_id
                    && kind.is_none_or(|k| m.kind == k)
                    && scope.admits(m.user_id.as_deref())
            })
            .cloned()
            .collect())
    }

    async fn delete_memory(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if tables
            .memories
            .get(&id)
            .is_some_and(|m| &m.tenant == tenant && m.character_id == character_id)
        {
            tables.memories.remove(&id);
            // As PostgreSQL's ON DELETE SET NULL does.
            for memory in tables.memories.values_mut() {
                if memory.superseded_by == Some(id) {
                    memory.superseded_by = None;
                }
            }
            return Ok(true);
        }
        Ok(false)
    }

    async fn supersede_memory(
        &self,
        tenant: &TenantId,
        old: Uuid,
        new: Uuid,
    ) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if tables
            .memories
            .get(&new)
            .is_none_or(|m| &m.tenant != tenant)
        {
            return Ok(false);
        }
        match tables.memories.get_mut(&old) {
            Some(memory) if &memory.tenant == tenant => {
                memory.superseded_by = Some(new);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn update_embedding(
        &self,
        id: Uuid,
        embedding: &[f32],
        model: &str,
    ) -> Result<bool, StoreError> {
        match self.write().memories.get_mut(&id) {
            Some(memory) => {
                memory.embedding = embedding.to_vec();
                memory.embedding_model = model.to_owned();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn record_pending_vector(&self, change: &PendingVector) -> Result<(), StoreError> {
        self.write()
            .pending_vectors
            .insert(new_id(), change.clone());
        Ok(())
    }

    async fn pending_vectors(&self, limit: u32) -> Result<Vec<PendingVectorRow>, StoreError> {
        Ok(self
            .read()
            .pending_vectors
            .iter()
            .take(limit as usize)
            .map(|(id, change)| PendingVectorRow {
                id: *id,
                change: change.clone(),
            })
            .collect())
    }

    async fn clear_pending_vectors(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let mut tables = self.write();
        for id in ids {
            tables.pending_vectors.remove(id);
        }
        Ok(())
    }

    async fn memories_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .read()
            .memories
            .range((start, Bound::Unbounded))
            .take(limit as usize)
            .map(|(_, m)| m.clone())
            .collect())
    }
}
