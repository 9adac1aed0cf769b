//! The chat turn: store the user's message first, then context, memories,
//! the renderer model, the reply, and an episodic memory of the turn.

use super::Core;
use super::memories::ScoredMemory;
use super::sessions::history_key;
use crate::core::domain::{
    IdempotencyRecord, MemoryKind, MemorySource, Message, MessageContent, Role, Session, TenantId,
    Usage, new_id,
};
use crate::core::domain::{MAX_MEMORY_CHARS, Memory};
use crate::core::error::{Error, Result};
use crate::core::ports::{LlmError, RenderRequest, StreamChunk};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

pub struct TurnInput {
    pub tenant: TenantId,
    pub session_id: Uuid,
    pub content: MessageContent,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnOutcome {
    pub user_message: Message,
    pub reply: Message,
    pub memories_used: Vec<ScoredMemory>,
    pub usage: Usage,
    /// True when an `Idempotency-Key` replayed an earlier result.
    #[serde(skip)]
    pub replayed: bool,
}

/// What a streamed turn reports, in order: memories, deltas, then done or failed.
#[derive(Debug)]
pub enum TurnEvent {
    Memories(Vec<ScoredMemory>),
    Delta(String),
    Done(Box<TurnOutcome>),
    Failed(Error),
}

/// The user's message is stored; what is left is the model's part.
struct UserTurn {
    session: Session,
    user_message: Message,
    idempotency_key: Option<String>,
}

// One short-lived value per turn, so the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum TurnStart {
    Replay(Box<TurnOutcome>),
    Ready(UserTurn),
}

struct PreparedTurn {
    turn: UserTurn,
    character_name: String,
    request: RenderRequest,
    memories_used: Vec<ScoredMemory>,
}

#[derive(Serialize, Deserialize)]
struct HistoryEntry {
    role: Role,
    content: String,
}

impl Core {
    /// Runs one turn to completion.
    #[tracing::instrument(skip_all, fields(tenant = %input.tenant, session_id = %input.session_id))]
    pub async fn chat_turn(&self, input: TurnInput) -> Result<TurnOutcome> {
        let turn = match self.begin_turn(input).await? {
            TurnStart::Replay(outcome) => return Ok(*outcome),
            TurnStart::Ready(turn) => turn,
        };
        let deadline = Instant::now() + self.settings.workflow_timeout;
        let message_id = turn.user_message.id;
        let timed_out = || Error::WorkflowTimeout {
            message_id,
            timeout: self.settings.workflow_timeout,
        };
        let prepared = tokio::time::timeout_at(deadline, self.prepare_turn(turn))
            .await
            .map_err(|_| timed_out())??;
        let started = std::time::Instant::now();
        let completion = tokio::time::timeout_at(deadline, self.llm.render(&prepared.request))
            .await
            .map_err(|_| timed_out())?
            .map_err(|source| Error::Llm {
                source,
                message_id: Some(message_id),
            })?;
        metrics::histogram!("virlife_llm_seconds", "call" => "render")
            .record(started.elapsed().as_secs_f64());
        self.finish_turn(
            prepared,
            completion.text,
            completion.usage,
            started.elapsed(),
            false,
        )
        .await
    }

    /// Starts a streamed turn. Errors found before the model is called are
    /// returned directly; later ones arrive as `TurnEvent::Failed`. The turn
    /// runs in its own task, so the reply is stored even if the client leaves.
    #[tracing::instrument(skip_all, fields(tenant = %input.tenant, session_id = %input.session_id))]
    pub async fn chat_turn_stream(&self, input: TurnInput) -> Result<mpsc::Receiver<TurnEvent>> {
        let start = self.begin_turn(input).await?;
        let (events, receiver) = mpsc::channel(64);
        let core = self.clone();
        tokio::spawn(async move { core.drive_stream(start, events).await });
        Ok(receiver)
    }

    async fn drive_stream(&self, start: TurnStart, events: mpsc::Sender<TurnEvent>) {
        // Send errors mean the client left; the turn goes on regardless.
        let turn = match start {
            TurnStart::Replay(outcome) => {
                let _ = events
                    .send(TurnEvent::Memories(outcome.memories_used.clone()))
                    .await;
                let _ = events
                    .send(TurnEvent::Delta(outcome.reply.content.clone()))
                    .await;
                let _ = events.send(TurnEvent::Done(outcome)).await;
                return;
            }
            TurnStart::Ready(turn) => turn,
        };
        let deadline = Instant::now() + self.settings.workflow_timeout;
        let message_id = turn.user_message.id;
        let timed_out = Error::WorkflowTimeout {
            message_id,
            timeout: self.settings.workflow_timeout,
        };
        let prepared = match tokio::time::timeout_at(deadline, self.prepare_turn(turn)).await {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(err)) => {
                let _ = events.send(TurnEvent::Failed(err)).await;
                return;
            }
            Err(_) => {
                let _ = events.send(TurnEvent::Failed(timed_out)).await;
                return;
            }
        };
        let _ = events
            .send(TurnEvent::Memories(prepared.memories_used.clone()))
            .await;
        let mut text = String::new();
        let mut usage = None;
        let started = std::time::Instant::now();
        let streamed = tokio::time::timeout_at(deadline, async {
            let mut stream = self.llm.render_stream(&prepared.request).await?;
            while let Some(chunk) = stream.next().await {
                match chunk? {
                    StreamChunk::Delta(delta) => {
                        text.push_str(&delta);
                        let _ = events.send(TurnEvent::Delta(delta)).await;
                    }
                    StreamChunk::Usage(reported) => usage = Some(reported),
                }
            }
            Ok::<_, LlmError>(())
        })
        .await;
        metrics::histogram!("virlife_llm_seconds", "call" => "render_stream")
            .record(started.elapsed().as_secs_f64());
        let failure = match streamed {
            Ok(Ok(())) => {
                let event = match self
                    .finish_turn(
                        prepared,
                        text,
                        usage.unwrap_or_default(),
                        started.elapsed(),
                        false,
                    )
                    .await
                {
                    Ok(outcome) => TurnEvent::Done(Box::new(outcome)),
                    Err(err) => TurnEvent::Failed(err),
                };
                let _ = events.send(event).await;
                return;
            }
            Ok(Err(source)) => Error::Llm {
                source,
                message_id: Some(message_id),
            },
            Err(_) => timed_out,
        };
        if !text.is_empty() {
            // Keep what the client already saw, marked incomplete.
            if let Err(err) = self
                .finish_turn(
                    prepared,
                    text,
                    usage.unwrap_or_default(),
                    started.elapsed(),
                    true,
                )
                .await
            {
                tracing::warn!(error = %err, "could not store the partial reply");
            }
        }
        let _ = events.send(TurnEvent::Failed(failure)).await;
    }

    /// Validates, applies the idempotency key, and stores the user's message.
    async fn begin_turn(&self, input: TurnInput) -> Result<TurnStart> {
        let session = self
            .require_session(&input.tenant, input.session_id)
            .await?;
        let mut user_message = Message {
            id: new_id(),
            tenant: input.tenant.clone(),
            session_id: session.id,
            role: Role::User,
            content: input.content.into_inner(),
            usage: None,
            incomplete: false,
            latency_ms: None,
            created_at: chrono::Utc::now(),
        };
        if let Some(key) = &input.idempotency_key {
            let claim = IdempotencyRecord {
                session_id: session.id,
                user_message_id: user_message.id,
                claimed_at: user_message.created_at,
                response: None,
            };
            if let Some(existing) = self
                .store
                .claim_idempotency_key(&input.tenant, key, &claim)
                .await?
            {
                let reused = || {
                    Error::Unprocessable(
                        "this Idempotency-Key was already used for a different request".into(),
                    )
                };
                if existing.session_id != session.id {
                    return Err(reused());
                }
                if let Some(response) = existing.response {
                    let mut outcome: TurnOutcome = serde_json::from_value(response)
                        .map_err(|e| Error::Internal(format!("stored turn unreadable: {e}")))?;
                    if outcome.user_message.content != user_message.content {
                        return Err(reused());
                    }
                    outcome.replayed = true;
                    tracing::info!("idempotent replay");
                    return Ok(TurnStart::Replay(Box::new(outcome)));
                }
                let running_until = existing.claimed_at
                    + chrono::Duration::from_std(self.settings.workflow_timeout)
                        .unwrap_or_default();
                if chrono::Utc::now() < running_until {
                    return Err(Error::Conflict(
                        "a turn with this Idempotency-Key is still in progress; retry later".into(),
                    ));
                }
                // The earlier attempt failed or died: carry on from its message.
                match self
                    .store
                    .get_message(&input.tenant, existing.user_message_id)
                    .await?
                {
                    Some(stored) if stored.content != user_message.content => {
                        return Err(reused());
                    }
                    Some(stored) => {
                        return Ok(TurnStart::Ready(UserTurn {
                            session,
                            user_message: stored,
                            idempotency_key: input.idempotency_key,
                        }));
                    }
                    None => user_message.id = existing.user_message_id,
                }
            }
        }
        self.store.append_message(&user_message).await?;
        tracing::debug!(message_id = %user_message.id, "user message stored");
        Ok(TurnStart::Ready(UserTurn {
            session,
            user_message,
            idempotency_key: input.idempotency_key,
        }))
    }

    async fn prepare_turn(&self, turn: UserTurn) -> Result<PreparedTurn> {
        let tenant = &turn.session.tenant;
        let character = self
            .character_for_turn(tenant, turn.session.character_id)
            .await?;
        let history = self
            .history_for_turn(tenant, turn.session.id, turn.user_message.id)
            .await?;
        let memories_used = self
            .recall(tenant, character.id, &turn.user_message.content)
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
            history: history.into_iter().map(|e| (e.role, e.content)).collect(),
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
    async fn history_for_turn(
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
            .store
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

    /// Memories relevant to the message. A failing embedder means no
    /// memories for this turn, not a failed turn.
    async fn recall(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        message: &str,
    ) -> Result<Vec<ScoredMemory>> {
        let embedding = match self.embed_one(message).await {
            Ok(embedding) => embedding,
            Err(err) => {
                tracing::warn!(error = %err, "could not embed the message; answering without memories");
                return Ok(Vec::new());
            }
        };
        let outcome = self
            .search_by_embedding(
                tenant,
                character_id,
                embedding,
                self.settings.memories_per_turn,
                None,
                false,
            )
            .await?;
        Ok(outcome.hits)
    }

    async fn finish_turn(
        &self,
        prepared: PreparedTurn,
        text: String,
        usage: Usage,
        latency: std::time::Duration,
        incomplete: bool,
    ) -> Result<TurnOutcome> {
        let PreparedTurn {
            turn,
            character_name,
            request,
            memories_used,
        } = prepared;
        let tenant = turn.session.tenant.clone();
        let reply = Message {
            id: new_id(),
            tenant: tenant.clone(),
            session_id: turn.session.id,
            role: Role::Character,
            content: text,
            usage: Some(usage),
            incomplete,
            latency_ms: Some(latency.as_millis().min(u128::from(u32::MAX)) as u32),
            created_at: chrono::Utc::now(),
        };
        self.store.append_message(&reply).await?;
        metrics::counter!("virlife_llm_tokens_total", "kind" => "prompt")
            .increment(u64::from(usage.prompt_tokens));
        metrics::counter!("virlife_llm_tokens_total", "kind" => "completion")
            .increment(u64::from(usage.completion_tokens));
        self.write_history(&turn, request.history, &reply).await;
        self.remember_turn(&turn, &character_name, &reply).await;
        let outcome = TurnOutcome {
            user_message: turn.user_message,
            reply,
            memories_used,
            usage,
            replayed: false,
        };
        if let Some(key) = &turn.idempotency_key
            && !incomplete
        {
            match serde_json::to_value(&outcome) {
                Ok(value) => {
                    if let Err(err) = self
                        .store
                        .complete_idempotency_key(&tenant, key, &value)
                        .await
                    {
                        tracing::warn!(error = %err, "could not record the idempotent result");
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not serialise the turn"),
            }
        }
        if !incomplete {
            self.maybe_reflect_in_background(&turn.session).await;
        }
        Ok(outcome)
    }

    async fn write_history(
        &self,
        turn: &UserTurn,
        mut history: Vec<(Role, String)>,
        reply: &Message,
    ) {
        if !self.settings.cache_enabled {
            return;
        }
        history.push((Role::User, turn.user_message.content.clone()));
        history.push((Role::Character, reply.content.clone()));
        let excess = history
            .len()
            .saturating_sub(self.settings.history_turns as usize);
        history.drain(..excess);
        let entries: Vec<HistoryEntry> = history
            .into_iter()
            .map(|(role, content)| HistoryEntry { role, content })
            .collect();
        if let Ok(json) = serde_json::to_string(&entries) {
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

    /// Writes the turn as an episodic memory; failures are logged, since the
    /// messages themselves are already stored.
    async fn remember_turn(&self, turn: &UserTurn, character_name: &str, reply: &Message) {
        let speaker = turn.session.user_name.as_deref().unwrap_or("User");
        let mut content = format!(
            "{speaker}: {}\n{character_name}: {}",
            turn.user_message.content, reply.content
        );
        if content.chars().count() > MAX_MEMORY_CHARS {
            content = content.chars().take(MAX_MEMORY_CHARS).collect();
        }
        let embedding = match self.embed_one(&content).await {
            Ok(embedding) => embedding,
            Err(err) => {
                tracing::warn!(error = %err, "turn not remembered: embedding failed");
                return;
            }
        };
        let memory = Memory {
            id: new_id(),
            tenant: turn.session.tenant.clone(),
            character_id: turn.session.character_id,
            kind: MemoryKind::Episodic,
            source: MemorySource::Chat,
            content,
            importance: 0.3,
            session_id: Some(turn.session.id),
            embedding,
            embedding_model: self.embedding_model(),
            superseded_by: None,
            created_at: chrono::Utc::now(),
        };
        match self.store.insert_memory(&memory).await {
            Ok(()) => self.index(&memory).await,
            Err(err) => tracing::warn!(error = %err, "turn not remembered: store failed"),
        }
    }

    /// Every N user turns, queue a reflection (the cooldown makes one
    /// replica of many do it).
    async fn maybe_reflect_in_background(&self, session: &Session) {
        let every = u64::from(self.settings.cognition_every_n_turns.max(1));
        let turns = match self
            .store
            .count_messages(&session.tenant, session.id, Role::User)
            .await
        {
            Ok(turns) => turns,
            Err(err) => {
                tracing::warn!(error = %err, "could not count turns for cognition");
                return;
            }
        };
        if turns == 0 || turns % every != 0 {
            return;
        }
        match self
            .request_reflection(&session.tenant, session.character_id)
            .await
        {
            Ok(job) => tracing::debug!(job_id = %job.id, "background reflection queued"),
            Err(Error::RateLimited { .. }) => tracing::debug!("reflection cooling down"),
            Err(err) => tracing::warn!(error = %err, "could not queue a reflection"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::domain::{CharacterName, Persona};
    use crate::core::ports::{
        CacheError, Llm as _, MockCache, MockLlm, MockVectorMemory, VectorError,
    };
    use crate::core::use_cases::testing::Parts;
    use std::sync::Arc;

    async fn session(core: &Core) -> (TenantId, Session) {
        let tenant = TenantId::parse("acme").unwrap();
        let character = core
            .create_character(
                tenant.clone(),
                CharacterName::parse("Ada").unwrap(),
                Persona::parse("A retired sea captain.").unwrap(),
                None,
            )
            .await
            .unwrap();
        let session = core
            .create_session(tenant.clone(), character.id, None, Default::default())
            .await
            .unwrap();
        (tenant, session)
    }

    fn say(tenant: &TenantId, session: &Session, text: &str) -> TurnInput {
        TurnInput {
            tenant: tenant.clone(),
            session_id: session.id,
            content: MessageContent::parse(text).unwrap(),
            idempotency_key: None,
        }
    }

    #[tokio::test]
    async fn a_failing_cache_does_not_fail_a_turn() {
        let mut cache = MockCache::new();
        let down = || CacheError::Unavailable("connection refused".into());
        cache.expect_get().returning(move |_| Err(down()));
        cache.expect_set().returning(move |_, _, _| Err(down()));
        cache.expect_delete().returning(move |_| Err(down()));
        cache
            .expect_set_if_absent()
            .returning(move |_, _, _| Err(down()));
        let core = Parts {
            cache: Arc::new(cache),
            ..Parts::default()
        }
        .core();
        let (tenant, session) = session(&core).await;
        let first = core
            .chat_turn(say(&tenant, &session, "I love sailing"))
            .await
            .unwrap();
        let second = core
            .chat_turn(say(&tenant, &session, "Sailing again?"))
            .await
            .unwrap();
        assert!(!first.reply.content.is_empty());
        assert_eq!(second.memories_used[0].memory.session_id, Some(session.id));
    }

    #[tokio::test]
    async fn a_failing_vector_memory_does_not_fail_a_turn() {
        let mut vectors = MockVectorMemory::new();
        vectors
            .expect_search()
            .returning(|_| Err(VectorError::Unavailable("timeout".into())));
        vectors
            .expect_upsert()
            .returning(|_| Err(VectorError::Unavailable("timeout".into())));
        let core = Parts {
            vectors: Arc::new(vectors),
            ..Parts::default()
        }
        .core();
        let (tenant, session) = session(&core).await;
        core.chat_turn(say(&tenant, &session, "I love sailing"))
            .await
            .unwrap();
        let second = core
            .chat_turn(say(&tenant, &session, "Sailing again?"))
            .await
            .unwrap();
        // Answered from the store's embeddings instead.
        assert!(
            second.memories_used[0]
                .memory
                .content
                .contains("I love sailing")
        );
    }

    #[tokio::test]
    async fn a_failing_llm_keeps_the_user_message_and_names_it() {
        let mut llm = MockLlm::new();
        llm.expect_describe()
            .returning(|| crate::adapters::offline_llm::OfflineLlm::new(8).describe());
        llm.expect_embed()
            .returning(|texts| Ok(texts.iter().map(|_| vec![1.0; 64]).collect()));
        llm.expect_render()
            .returning(|_| Err(LlmError::Unavailable("connection reset".into())));
        let parts = Parts {
            llm: Arc::new(llm),
            ..Parts::default()
        };
        let store = parts.store.clone();
        let core = parts.core();
        let (tenant, session) = session(&core).await;
        let err = core
            .chat_turn(say(&tenant, &session, "Are you there?"))
            .await
            .unwrap_err();
        let Error::Llm {
            message_id: Some(id),
            ..
        } = err
        else {
            panic!("expected an LLM error naming the message, got {err:?}");
        };
        let stored = store.get_message(&tenant, id).await.unwrap().unwrap();
        assert_eq!(stored.content, "Are you there?");
        assert_eq!(stored.role, Role::User);
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_the_first_result() {
        let parts = Parts::default();
        let store = parts.store.clone();
        let core = parts.core();
        let (tenant, session) = session(&core).await;
        let keyed = |text: &str| TurnInput {
            idempotency_key: Some("retry-1".into()),
            ..say(&tenant, &session, text)
        };
        let first = core.chat_turn(keyed("Hello")).await.unwrap();
        let again = core.chat_turn(keyed("Hello")).await.unwrap();
        assert!(again.replayed);
        assert_eq!(first.reply.id, again.reply.id);
        assert_eq!(
            store
                .count_messages(&tenant, session.id, Role::User)
                .await
                .unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn a_stream_that_breaks_stores_the_partial_reply_as_incomplete() {
        let mut llm = MockLlm::new();
        llm.expect_describe()
            .returning(|| crate::adapters::offline_llm::OfflineLlm::new(8).describe());
        llm.expect_embed()
            .returning(|texts| Ok(texts.iter().map(|_| vec![1.0; 8]).collect()));
        llm.expect_render_stream().returning(|_| {
            Ok(futures_util::stream::iter(vec![
                Ok(StreamChunk::Delta("Half a ".into())),
                Err(LlmError::Unavailable("reset".into())),
            ])
            .boxed())
        });
        let parts = Parts {
            llm: Arc::new(llm),
            ..Parts::default()
        };
        let store = parts.store.clone();
        let core = parts.core();
        let (tenant, session) = session(&core).await;
        let mut events = core
            .chat_turn_stream(say(&tenant, &session, "Tell me a story"))
            .await
            .unwrap();
        let mut seen = Vec::new();
        while let Some(event) = events.recv().await {
            seen.push(event);
        }
        assert!(matches!(
            seen.last(),
            Some(TurnEvent::Failed(Error::Llm { .. }))
        ));
        let messages = store
            .recent_messages(&tenant, session.id, 10)
            .await
            .unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].content, "Half a ");
        assert!(messages[1].incomplete);
    }
}
