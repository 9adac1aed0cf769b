//! What the renderer model reads for a turn: the character, the session's
//! recent history (cached between turns) and the memories it recalls.

use super::ChatTurns;
use super::begin::UserTurn;
use crate::core::domain::{HistoryEntry, Message, Role, ScopeFilter, TenantId};
use crate::core::error::Result;
use crate::core::ports::RenderRequest;
use crate::core::use_cases::sessions::history_key;
use crate::core::use_cases::support::{RecallQuery, ScoredMemory};
use uuid::Uuid;

/// A turn ready for the model.
pub(super) struct PreparedTurn {
    pub turn: UserTurn,
    pub character_name: String,
    pub request: RenderRequest,
    pub memories_used: Vec<ScoredMemory>,
}

impl ChatTurns {
    pub(super) async fn prepare(&self, turn: UserTurn) -> Result<PreparedTurn> {
        let tenant = &turn.session.tenant;
        let character = self
            .characters
            .for_turn(tenant, turn.session.character_id)
            .await?;
        let history = self
            .history(tenant, turn.session.id, turn.user_message.id)
            .await?;
        let memories_used = self
            .recall_for(
                tenant,
                character.id,
                &turn.session.user_id,
                &turn.user_message.content,
            )
            .await?;
        let request = RenderRequest {
            character_name: character.name.clone(),
            persona: character.persona,
            traits: character.traits,
            user_name: turn.session.user_name.clone(),
            memories: memories_used
                .iter()
                .map(|m| m.memory.content.clone())
                .collect(),
            history,
            message: turn.user_message.content.clone(),
        };
        Ok(PreparedTurn {
            turn,
            character_name: character.name,
            request,
            memories_used,
        })
    }

    /// Earlier turns, from the cache when warm (written through after each turn).
    async fn history(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        current_message: Uuid,
    ) -> Result<Vec<HistoryEntry>> {
        if self.settings.cache_enabled
            && let Ok(Some(json)) = self.cache.get(&history_key(session_id)).await
            && let Ok(history) = serde_json::from_str::<Vec<HistoryEntry>>(&json)
        {
            return Ok(history);
        }
        let limit = self.settings.history_turns;
        let recent = self
            .sessions
            .recent_messages(tenant, session_id, limit + 1)
            .await?;
        let mut history: Vec<HistoryEntry> = recent
            .into_iter()
            .filter(|m| m.id != current_message)
            .map(|m| HistoryEntry {
                role: m.role,
                content: m.content,
            })
            .collect();
        let excess = history.len().saturating_sub(limit as usize);
        history.drain(..excess);
        Ok(history)
    }

    /// Writes the history the next turn will read through to the cache.
    pub(super) async fn write_history(
        &self,
        turn: &UserTurn,
        mut history: Vec<HistoryEntry>,
        reply: &Message,
    ) {
        if !self.settings.cache_enabled {
            return;
        }
        history.push(HistoryEntry {
            role: Role::User,
            content: turn.user_message.content.clone(),
        });
        history.push(HistoryEntry {
            role: Role::Character,
            content: reply.content.clone(),
        });
        let excess = history
            .len()
            .saturating_sub(self.settings.history_turns as usize);
        history.drain(..excess);
        if let Ok(json) = serde_json::to_string(&history) {
            let _ = self
                .cache
                .set(
                    &history_key(turn.session.id),
                    &json,
                    self.settings.cache_ttl,
                )
                .await;
        }
    }

    /// Memories relevant to the message: the world's and this person's,
    /// never another person's. A failing embedder means no memories for
    /// this turn, not a failed turn.
    async fn recall_for(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        person: &str,
        message: &str,
    ) -> Result<Vec<ScoredMemory>> {
        let embedding = match self.embedder.embed_one(message).await {
            Ok(embedding) => embedding,
            Err(err) => {
                tracing::warn!(error = %err, "could not embed the message; answering without memories");
                return Ok(Vec::new());
            }
        };
        let outcome = self
            .recall
            .search(
                tenant,
                character_id,
                embedding,
                &RecallQuery {
                    k: self.settings.memories_per_turn,
                    scope: ScopeFilter::Person(person.to_owned()),
                    ..RecallQuery::default()
                },
            )
            .await?;
        Ok(outcome.hits)
    }
}
