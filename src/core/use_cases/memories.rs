//! Memories: add (embedded, stored, indexed), list, search, delete.

use super::support::{
    MemoryDraft, MemoryWriter, Recall, RecallQuery, SearchOutcome, VectorSync, require_character,
};
use crate::core::domain::{
    Importance, Memory, MemoryContent, MemoryKind, MemorySource, Page, PageRequest, TenantId,
    UserId, WorldTime,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{CharacterStore, MemoryStore};
use std::sync::Arc;
use uuid::Uuid;

pub struct NewMemory {
    pub kind: MemoryKind,
    pub source: MemorySource,
    pub content: MemoryContent,
    pub importance: Importance,
    /// The person it belongs to (recalled only with them); `None` for the
    /// world's.
    pub user_id: Option<UserId>,
    /// When it happened in the world; now by default.
    pub occurred_at: Option<WorldTime>,
}

#[derive(Clone)]
pub struct Memories {
    characters: Arc<dyn CharacterStore>,
    memories: Arc<dyn MemoryStore>,
    writer: MemoryWriter,
    recall: Recall,
    sync: VectorSync,
}

impl Memories {
    pub(crate) fn new(
        characters: Arc<dyn CharacterStore>,
        memories: Arc<dyn MemoryStore>,
        writer: MemoryWriter,
        recall: Recall,
        sync: VectorSync,
    ) -> Self {
        Self {
            characters,
            memories,
            writer,
            recall,
            sync,
        }
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn add(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        new: NewMemory,
    ) -> Result<Memory> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        self.writer
            .form(MemoryDraft {
                tenant: tenant.clone(),
                character_id,
                kind: new.kind,
                source: new.source,
                content: new.content.into_inner(),
                importance: new.importance.value(),
                session_id: None,
                user_id: new.user_id.map(UserId::into_inner),
                created_at: None,
                embedding: None,
                evidence: Vec::new(),
                occurred_at: new.occurred_at.map(WorldTime::value),
                event_id: None,
            })
            .await
    }

    pub async fn list(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        page: PageRequest,
    ) -> Result<Page<Memory>> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        let rows = self
            .memories
            .list_memories(tenant, character_id, kind, &page)
            .await?;
        Ok(Page::from_rows(rows, &page, |m| m.id))
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id, k))]
    pub async fn search(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        query: &str,
        recall: &RecallQuery,
    ) -> Result<SearchOutcome> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        self.recall
            .search(tenant, character_id, query, recall)
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, memory_id = %memory_id))]
    pub async fn delete(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        memory_id: Uuid,
    ) -> Result<()> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        if !self
            .memories
            .delete_memory(tenant, character_id, memory_id)
            .await?
        {
            return Err(Error::not_found("memory", memory_id));
        }
        self.sync.remove(memory_id).await;
        Ok(())
    }
}
