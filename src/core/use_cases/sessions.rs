//! Sessions and their message history.

use super::support::{require_character, require_session};
use crate::core::domain::{
    Message, Page, PageRequest, Session, TenantId, UserId, UserName, new_id,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{Cache, CharacterStore, SessionStore};
use std::sync::Arc;
use uuid::Uuid;

/// Where a session's recent history is cached for the next turn.
pub(crate) fn history_key(session_id: Uuid) -> String {
    format!("history:{session_id}")
}

#[derive(Clone)]
pub struct Sessions {
    characters: Arc<dyn CharacterStore>,
    sessions: Arc<dyn SessionStore>,
    cache: Arc<dyn Cache>,
}

impl Sessions {
    pub(crate) fn new(
        characters: Arc<dyn CharacterStore>,
        sessions: Arc<dyn SessionStore>,
        cache: Arc<dyn Cache>,
    ) -> Self {
        Self {
            characters,
            sessions,
            cache,
        }
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn create(
        &self,
        tenant: TenantId,
        character_id: Uuid,
        user_id: Option<UserId>,
        user_name: Option<UserName>,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Session> {
        require_character(self.characters.as_ref(), &tenant, character_id).await?;
        let now = chrono::Utc::now();
        let id = new_id();
        let session = Session {
            id,
            tenant,
            character_id,
            // Someone the client did not name is a person of their own.
            user_id: user_id.map_or_else(|| id.to_string(), UserId::into_inner),
            user_name: user_name.map(UserName::into_inner),
            metadata,
            created_at: now,
            last_active_at: now,
        };
        self.sessions.insert_session(&session).await?;
        Ok(session)
    }

    /// The person's open session with a character: their latest, or a new
    /// one. What clients that send no session (OpenAI-style chat) talk in.
    pub async fn open_for(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: UserId,
    ) -> Result<Session> {
        if let Some(session) = self
            .sessions
            .latest_session_for(tenant, character_id, user_id.as_str())
            .await?
        {
            return Ok(session);
        }
        self.create(
            tenant.clone(),
            character_id,
            Some(user_id),
            None,
            Default::default(),
        )
        .await
    }

    pub async fn get(&self, tenant: &TenantId, id: Uuid) -> Result<Session> {
        require_session(self.sessions.as_ref(), tenant, id).await
    }

    pub async fn list(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Session>> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        let rows = self
            .sessions
            .list_sessions(tenant, character_id, &page)
            .await?;
        Ok(Page::from_rows(rows, &page, |s| s.id))
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, session_id = %id))]
    pub async fn delete(&self, tenant: &TenantId, id: Uuid) -> Result<()> {
        if !self.sessions.delete_session(tenant, id).await? {
            return Err(Error::not_found("session", id));
        }
        let _ = self.cache.delete(&history_key(id)).await;
        Ok(())
    }

    pub async fn messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Message>> {
        self.get(tenant, session_id).await?;
        let rows = self
            .sessions
            .list_messages(tenant, session_id, &page)
            .await?;
        Ok(Page::from_rows(rows, &page, |m| m.id))
    }
}
