//! People: erasing everything a person left with the characters, on request.

use super::sessions::history_key;
use super::support::{VectorSync, require_character};
use crate::core::domain::{TenantId, UserId};
use crate::core::error::Result;
use crate::core::ports::{Cache, CharacterStore, SessionStore};
use std::sync::Arc;
use uuid::Uuid;

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasureReport {
    pub sessions: u64,
    pub messages: u64,
    pub memories: u64,
}

#[derive(Clone)]
pub struct People {
    characters: Arc<dyn CharacterStore>,
    sessions: Arc<dyn SessionStore>,
    cache: Arc<dyn Cache>,
    sync: VectorSync,
}

impl People {
    pub(crate) fn new(
        characters: Arc<dyn CharacterStore>,
        sessions: Arc<dyn SessionStore>,
        cache: Arc<dyn Cache>,
        sync: VectorSync,
    ) -> Self {
        Self {
            characters,
            sessions,
            cache,
            sync,
        }
    }

    /// Erases a person from one character (or, with `None`, from every
    /// character of the tenant): their sessions and messages, the memories
    /// they own or that came from their sessions, those memories' vectors
    /// (deferred to the repair loop if the index is down) and their cached
    /// history. Erasing someone unknown erases nothing and says so.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = ?character_id))]
    pub async fn erase(
        &self,
        tenant: &TenantId,
        character_id: Option<Uuid>,
        user_id: &UserId,
    ) -> Result<ErasureReport> {
        if let Some(character_id) = character_id {
            require_character(self.characters.as_ref(), tenant, character_id).await?;
        }
        let erased = self
            .sessions
            .erase_person(tenant, character_id, user_id.as_str())
            .await?;
        self.sync.remove_many(&erased.memories).await;
        for session in &erased.sessions {
            if let Err(err) = self.cache.delete(&history_key(*session)).await {
                // The entry expires with the cache TTL; its session is gone,
                // so nothing reads it before then.
                tracing::warn!(error = %err, "cached history of an erased session not deleted");
            }
        }
        let report = ErasureReport {
            sessions: erased.sessions.len() as u64,
            messages: erased.messages,
            memories: erased.memories.len() as u64,
        };
        tracing::info!(
            sessions = report.sessions,
            messages = report.messages,
            memories = report.memories,
            "person erased"
        );
        Ok(report)
    }
}
