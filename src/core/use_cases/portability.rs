//! Characters travel: a character exported with its memories (their scopes
//! and times) and, if asked, its sessions; imported the same way into any
//! store (memories are embedded again by the model in use).

use super::Characters;
use super::support::{MemoryDraft, MemoryWriter, all_messages, all_sessions, require_character};
use crate::core::domain::{
    Character, CharacterName, Importance, Memory, MemoryContent, MemoryKind, MemorySource, Message,
    MessageContent, Persona, Role, ScopeFilter, Session, TenantId, Traits, UserId, UserName,
    new_id,
};
use crate::core::error::Result;
use crate::core::ports::{CharacterStore, MemoryStore, SessionStore};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

/// Bounds on one import, so a request stays a request.
pub const MAX_IMPORTED_MEMORIES: usize = 2_000;
pub const MAX_IMPORTED_SESSIONS: usize = 200;
pub const MAX_IMPORTED_MESSAGES: usize = 5_000;

pub struct CharacterExport {
    pub character: Character,
    /// Oldest first, superseded ones included (marked).
    pub memories: Vec<Memory>,
    pub sessions: Option<Vec<(Session, Vec<Message>)>>,
}

pub struct ImportedMemory {
    pub kind: MemoryKind,
    pub source: MemorySource,
    pub content: MemoryContent,
    pub importance: Importance,
    pub user_id: Option<UserId>,
    pub created_at: Option<DateTime<Utc>>,
}

pub struct ImportedMessage {
    pub role: Role,
    pub content: MessageContent,
    pub created_at: Option<DateTime<Utc>>,
}

pub struct ImportedSession {
    pub user_id: Option<UserId>,
    pub user_name: Option<UserName>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: Option<DateTime<Utc>>,
    pub messages: Vec<ImportedMessage>,
}

pub struct CharacterImport {
    pub name: CharacterName,
    pub persona: Persona,
    pub traits: Option<Traits>,
    pub memories: Vec<ImportedMemory>,
    pub sessions: Vec<ImportedSession>,
}

#[derive(Clone)]
pub struct Portability {
    characters: Characters,
    store: Arc<dyn CharacterStore>,
    sessions: Arc<dyn SessionStore>,
    memories: Arc<dyn MemoryStore>,
    writer: MemoryWriter,
}

impl Portability {
    pub(crate) fn new(
        characters: Characters,
        store: Arc<dyn CharacterStore>,
        sessions: Arc<dyn SessionStore>,
        memories: Arc<dyn MemoryStore>,
        writer: MemoryWriter,
    ) -> Self {
        Self {
            characters,
            store,
            sessions,
            memories,
            writer,
        }
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %id))]
    pub async fn export(
        &self,
        tenant: &TenantId,
        id: Uuid,
        with_sessions: bool,
    ) -> Result<CharacterExport> {
        let character = require_character(self.store.as_ref(), tenant, id).await?;
        let mut memories = self
            .memories
            .all_memories(tenant, id, None, &ScopeFilter::Any)
            .await?;
        memories.sort_by_key(|m| m.id);
        let sessions = if with_sessions {
            let mut sessions = Vec::new();
            for session in all_sessions(self.sessions.as_ref(), tenant, id).await? {
                let messages = all_messages(self.sessions.as_ref(), tenant, session.id).await?;
                sessions.push((session, messages));
            }
            Some(sessions)
        } else {
            None
        };
        Ok(CharacterExport {
            character,
            memories,
            sessions,
        })
    }

    /// Creates the character, its memories and sessions; all or nothing
    /// (a failure part-way deletes what was made).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn import(&self, tenant: TenantId, import: CharacterImport) -> Result<Character> {
        let character = self
            .characters
            .create(tenant.clone(), import.name, import.persona, import.traits)
            .await?;
        if let Err(err) = self
            .fill(&character, import.memories, import.sessions)
            .await
        {
            tracing::warn!(error = %err, "import failed; removing the half-made character");
            let _ = self.characters.delete(&tenant, character.id).await;
            return Err(err);
        }
        tracing::info!(character_id = %character.id, "character imported");
        Ok(character)
    }

    async fn fill(
        &self,
        character: &Character,
        memories: Vec<ImportedMemory>,
        sessions: Vec<ImportedSession>,
    ) -> Result<()> {
        for memory in memories {
            self.writer
                .form(MemoryDraft {
                    tenant: character.tenant.clone(),
                    character_id: character.id,
                    kind: memory.kind,
                    source: memory.source,
                    content: memory.content.into_inner(),
                    importance: memory.importance.value(),
                    session_id: None,
                    user_id: memory.user_id.map(UserId::into_inner),
                    created_at: memory.created_at,
                    embedding: None,
                    evidence: Vec::new(),
                    occurred_at: None,
                    event_id: None,
                })
                .await?;
        }
        for imported in sessions {
            let now = Utc::now();
            let id = new_id();
            let created_at = imported.created_at.unwrap_or(now);
            let session = Session {
                id,
                tenant: character.tenant.clone(),
                character_id: character.id,
                user_id: imported
                    .user_id
                    .map_or_else(|| id.to_string(), UserId::into_inner),
                user_name: imported.user_name.map(UserName::into_inner),
                metadata: imported.metadata,
                created_at,
                last_active_at: created_at,
            };
            self.sessions.insert_session(&session).await?;
            for message in imported.messages {
                self.sessions
                    .append_message(&Message {
                        id: new_id(),
                        tenant: character.tenant.clone(),
                        session_id: session.id,
                        role: message.role,
                        content: message.content.into_inner(),
                        usage: None,
                        incomplete: false,
                        latency_ms: None,
                        created_at: message.created_at.unwrap_or(now),
                    })
                    .await?;
            }
        }
        Ok(())
    }
}
