//! What the renderer model reads for a turn: the character, the session's
//! recent history (cached between turns) and the memories it recalls.

use super::ChatTurns;
use super::begin::UserTurn;
use crate::core::domain::{HistoryEntry, Memory, MemoryKind, Message, Role, ScopeFilter, TenantId};
use crate::core::error::Result;
use crate::core::ports::{Bearing, RelationshipView, RenderRequest, estimate_tokens};
use crate::core::use_cases::characters::persona_key;
use crate::core::use_cases::sessions::history_key;
use crate::core::use_cases::support::{RecallQuery, ScoredMemory};
use uuid::Uuid;

/// A memory's share of the prompt is counted at about this many tokens
/// when deciding how many to recall (the renderer packs by real size).
const TYPICAL_MEMORY_TOKENS: usize = 60;
/// Bounds on how many memories one turn recalls.
const MIN_MEMORIES: usize = 3;
const MAX_MEMORIES: usize = 24;

/// How the model sees a memory: what happened, with the day it happened
/// (a question about "last spring" needs it); facts as they are.
fn as_prompt_text(memory: &Memory) -> String {
    match memory.kind {
        MemoryKind::Episodic => format!(
            "[{}] {}",
            memory.occurred_at.format("%Y-%m-%d"),
            memory.content
        ),
        MemoryKind::Biographical => memory.content.clone(),
    }
}

/// What the bearing takes of the prompt (with its framing).
fn bearing_tokens(bearing: &Bearing) -> usize {
    let text = bearing
        .mood
        .iter()
        .chain(&bearing.goals)
        .map(String::as_str);
    let note = bearing.relationship.iter().map(|r| r.note.as_str());
    text.chain(note).map(estimate_tokens).sum::<usize>() + 40
}

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
        // The persona and the history, when cached, in one round trip.
        let (persona, history) = self
            .cached(turn.session.character_id, turn.session.id)
            .await;
        let character = self
            .characters
            .for_turn(tenant, turn.session.character_id, persona)
            .await?;
        // Independent reads: side by side.
        let (history, bearing) = tokio::try_join!(
            self.history(tenant, turn.session.id, turn.user_message.id, history),
            self.bearing(tenant, character.id, &turn.session.user_id),
        )?;
        let room = self
            .memory_room(&character.persona, &character.traits, &history, &turn)
            .saturating_sub(bearing_tokens(&bearing));
        let mut memories_used = self
            .recall_for(
                tenant,
                character.id,
                &turn.session.user_id,
                &turn.user_message.content,
                (room / TYPICAL_MEMORY_TOKENS).clamp(MIN_MEMORIES, MAX_MEMORIES),
            )
            .await?;
        // Best first, as many as fit the room by their real size.
        let mut spent = 0;
        memories_used.retain(|m| {
            spent += estimate_tokens(&as_prompt_text(&m.memory));
            spent <= room
        });
        let request = RenderRequest {
            character_name: character.name.clone(),
            persona: character.persona,
            traits: character.traits,
            user_name: turn.session.user_name.clone(),
            memories: memories_used
                .iter()
                .map(|m| as_prompt_text(&m.memory))
                .collect(),
            history,
            message: turn.user_message.content.clone(),
            bearing,
        };
        Ok(PreparedTurn {
            turn,
            character_name: character.name,
            request,
            memories_used,
        })
    }

    /// The prompt budget left for memories: what the persona and message
    /// leave, less the history's share (at most half, as the renderer
    /// packs it).
    fn memory_room(
        &self,
        persona: &str,
        traits: &serde_json::Map<String, serde_json::Value>,
        history: &[HistoryEntry],
        turn: &UserTurn,
    ) -> usize {
        let fixed = estimate_tokens(persona)
            + estimate_tokens(&serde_json::Value::Object(traits.clone()).to_string())
            + estimate_tokens(&turn.user_message.content)
            // The instructions around them.
            + 200;
        let left = self.settings.context_tokens.saturating_sub(fixed);
        let history_cost: usize = history.iter().map(|h| estimate_tokens(&h.content)).sum();
        left - history_cost.min(left / 2)
    }

    /// The character's mood and goals and its relationship with this
    /// person, in one read.
    async fn bearing(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<Bearing> {
        let (state, relationship) = self.world.bearing(tenant, character_id, user_id).await?;
        Ok(Bearing {
            mood: state
                .as_ref()
                .map(|s| s.mood.clone())
                .filter(|m| !m.is_empty()),
            goals: state.map(|s| s.goals).unwrap_or_default(),
            relationship: relationship.map(|r| RelationshipView {
                affinity: r.affinity,
                trust: r.trust,
                note: r.note,
            }),
        })
    }

    /// What the cache holds for a turn: the character's persona and the
    /// session's history, read together (misses, or no cache, are `None`).
    async fn cached(
        &self,
        character_id: Uuid,
        session_id: Uuid,
    ) -> (Option<String>, Option<String>) {
        if !self.settings.cache_enabled {
            return (None, None);
        }
        let keys = [persona_key(character_id), history_key(session_id)];
        match self.cache.get_many(&keys).await {
            Ok(values) => {
                let mut values = values.into_iter();
                (values.next().flatten(), values.next().flatten())
            }
            Err(_) => (None, None),
        }
    }

    /// Earlier turns: `cached` when the cache held them (written through
    /// after each turn), else the store.
    async fn history(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        current_message: Uuid,
        cached: Option<String>,
    ) -> Result<Vec<HistoryEntry>> {
        if let Some(json) = cached
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
    /// never another person's. A failing embedder means recall by words
    /// alone for this turn, not a failed turn.
    async fn recall_for(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        person: &str,
        message: &str,
        k: usize,
    ) -> Result<Vec<ScoredMemory>> {
        // The same search as the API's (hybrid; words alone if the
        // embedder fails), scoped to the world and this person.
        let outcome = self
            .recall
            .search(
                tenant,
                character_id,
                message,
                &RecallQuery {
                    k,
                    scope: ScopeFilter::Person(person.to_owned()),
                    ..RecallQuery::default()
                },
            )
            .await?;
        Ok(outcome.hits)
    }
}
