//! Sessions and their message history.

use super::Core;
use crate::core::domain::{Message, Page, PageRequest, Session, TenantId, UserName, new_id};
use crate::core::error::Result;
use uuid::Uuid;

pub(crate) fn history_key(session_id: Uuid) -> String {
    format!("history:{session_id}")
}

impl Core {
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn create_session(
        &self,
        tenant: TenantId,
        character_id: Uuid,
        user_name: Option<UserName>,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Session> {
        self.require_character(&tenant, character_id).await?;
        let now = chrono::Utc::now();
        let session = Session {
            id: new_id(),
            tenant,
            character_id,
            user_name: user_name.map(UserName::into_inner),
            metadata,
            created_at: now,
            last_active_at: now,
        };
        self.store.insert_session(&session).await?;
        Ok(session)
    }

    pub async fn get_session(&self, tenant: &TenantId, id: Uuid) -> Result<Session> {
        self.require_session(tenant, id).await
    }

    pub async fn list_sessions(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Session>> {
        self.require_character(tenant, character_id).await?;
        let rows = self
            .store
            .list_sessions(tenant, character_id, &page)
            .await?;
        Ok(Page::from_rows(rows, &page, |s| s.id))
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, session_id = %id))]
    pub async fn delete_session(&self, tenant: &TenantId, id: Uuid) -> Result<()> {
        if !self.store.delete_session(tenant, id).await? {
            return Err(crate::core::error::Error::not_found("session", id));
        }
        let _ = self.cache.delete(&history_key(id)).await;
        Ok(())
    }

    pub async fn list_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Message>> {
        self.require_session(tenant, session_id).await?;
        let rows = self.store.list_messages(tenant, session_id, &page).await?;
        Ok(Page::from_rows(rows, &page, |m| m.id))
    }
}
