//! Sessions and messages in memory.

use super::InMemoryStore;
use super::{page_of, remove_session_rows};
use crate::core::domain::{Erasure, Message, PageRequest, Role, Session, TenantId};
use crate::core::ports::SessionStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use uuid::Uuid;

#[async_trait]
impl SessionStore for InMemoryStore {
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables
            .characters
            .get(&session.character_id)
            .is_none_or(|c| c.tenant != session.tenant)
        {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                session.character_id
            )));
        }
        tables.sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn get_session(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Session>, StoreError> {
        Ok(self
            .read()
            .sessions
            .get(&id)
            .filter(|s| &s.tenant == tenant)
            .cloned())
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Session>, StoreError> {
        Ok(page_of(&self.read().sessions, page, |s| {
            &s.tenant == tenant && s.character_id == character_id
        }))
    }

    async fn delete_session(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if tables.sessions.get(&id).is_none_or(|s| &s.tenant != tenant) {
            return Ok(false);
        }
        remove_session_rows(&mut tables, &[id]);
        Ok(true)
    }

    async fn latest_session_for(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        Ok(self
            .read()
            .sessions
            .values()
            .rev()
            .find(|s| &s.tenant == tenant && s.character_id == character_id && s.user_id == user_id)
            .cloned())
    }

    async fn delete_idle_sessions(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tables = self.write();
        let idle: Vec<Uuid> = tables
            .sessions
            .values()
            .filter(|s| s.last_active_at < cutoff)
            .take(limit as usize)
            .map(|s| s.id)
            .collect();
        remove_session_rows(&mut tables, &idle);
        Ok(idle.len() as u64)
    }

    async fn append_message(&self, message: &Message) -> Result<(), StoreError> {
        let mut tables = self.write();
        let Some(session) = tables
            .sessions
            .get_mut(&message.session_id)
            .filter(|s| s.tenant == message.tenant)
        else {
            return Err(StoreError::Conflict(format!(
                "session {} does not exist",
                message.session_id
            )));
        };
        session.last_active_at = session.last_active_at.max(message.created_at);
        tables
            .messages
            .entry(message.session_id)
            .or_default()
            .insert(message.id, message.clone());
        tables
            .message_session
            .insert(message.id, message.session_id);
        Ok(())
    }

    async fn get_message(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Message>, StoreError> {
        let tables = self.read();
        Ok(tables
            .message_session
            .get(&id)
            .and_then(|session| tables.messages.get(session)?.get(&id))
            .filter(|m| &m.tenant == tenant)
            .cloned())
    }

    async fn list_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        Ok(self
            .read()
            .messages
            .get(&session_id)
            .map(|messages| page_of(messages, page, |m| &m.tenant == tenant))
            .unwrap_or_default())
    }

    async fn recent_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let tables = self.read();
        let mut recent: Vec<Message> = tables
            .messages
            .get(&session_id)
            .into_iter()
            .flat_map(|messages| messages.values().rev())
            .filter(|m| &m.tenant == tenant)
            .take(limit as usize)
            .cloned()
            .collect();
        recent.reverse();
        Ok(recent)
    }

    async fn count_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        role: Role,
    ) -> Result<u64, StoreError> {
        Ok(self.read().messages.get(&session_id).map_or(0, |messages| {
            messages
                .values()
                .filter(|m| &m.tenant == tenant && m.role == role)
                .count()
        }) as u64)
    }

    async fn erase_person(
        &self,
        tenant: &TenantId,
        character_id: Option<Uuid>,
        user_id: &str,
    ) -> Result<Erasure, StoreError> {
        let mut tables = self.write();
        let of_character = |c: Uuid| character_id.is_none_or(|id| id == c);
        let sessions: Vec<Uuid> = tables
            .sessions
            .values()
            .filter(|s| &s.tenant == tenant && s.user_id == user_id && of_character(s.character_id))
            .map(|s| s.id)
            .collect();
        let memories: Vec<Uuid> = tables
            .memories
            .values()
            .filter(|m| {
                &m.tenant == tenant
                    && of_character(m.character_id)
                    && (m.user_id.as_deref() == Some(user_id)
                        || m.session_id.is_some_and(|s| sessions.contains(&s)))
            })
            .map(|m| m.id)
            .collect();
        let messages = sessions
            .iter()
            .filter_map(|s| tables.messages.get(s))
            .map(BTreeMap::len)
            .sum::<usize>() as u64;
        for id in &memories {
            tables.memories.remove(id);
        }
        for memory in tables.memories.values_mut() {
            if memory.superseded_by.is_some_and(|s| memories.contains(&s)) {
                memory.superseded_by = None;
            }
        }
        remove_session_rows(&mut tables, &sessions);
        super::world::remove_person_relationships(&mut tables, tenant, character_id, user_id);
        Ok(Erasure {
            sessions,
            messages,
            memories,
        })
    }
}
