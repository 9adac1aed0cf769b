//! The turn after the user's message is stored: prepare under the
//! workflow deadline, render (whole or streamed), then store the reply,
//! cache the history, remember the turn and maybe queue a reflection.

use super::begin::{TurnStart, UserTurn};
use super::context::PreparedTurn;
use super::{ChatTurns, Render, TurnEvent, TurnOutcome};
use crate::core::domain::{
    MAX_MEMORY_CHARS, MemoryKind, MemorySource, Message, Role, Session, Usage, new_id,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{ChunkStream, LlmError, RenderRequest, StreamChunk};
use crate::core::use_cases::support::MemoryDraft;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long a caller may stop reading a turn's events before it is treated
/// as gone: the turn then goes on without it (and frees its slot), instead
/// of waiting on a stalled connection.
const STALLED_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

/// Sends a turn's events to its caller, unless the caller left or stalled.
pub(super) struct Reporter {
    events: mpsc::Sender<TurnEvent>,
    gone: bool,
}

impl Reporter {
    pub(super) fn new(events: mpsc::Sender<TurnEvent>) -> Self {
        Self {
            events,
            gone: false,
        }
    }

    async fn send(&mut self, event: TurnEvent) {
        if self.gone {
            return;
        }
        match tokio::time::timeout(STALLED_AFTER, self.events.send(event)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => self.gone = true,
        }
    }
}

/// How much of the reply a turn's memory keeps.
const REPLY_CHARS_REMEMBERED: usize = 280;

/// At most `max` characters of `text`, cut at a word boundary, with `…`
/// when cut.
fn clip_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let end = cut.rfind(char::is_whitespace).unwrap_or(cut.len());
    format!("{}…", cut[..end].trim_end())
}

/// Importance of the episodic memory every turn leaves.
const TURN_IMPORTANCE: f32 = 0.3;

impl Render {
    fn call(self) -> &'static str {
        match self {
            Self::Whole => "render",
            Self::Stream => "render_stream",
        }
    }
}

impl ChatTurns {
    /// Runs a started turn to its end, reporting each step on `events`;
    /// a caller that left or stalled misses the rest, the turn goes on.
    pub(super) async fn drive(&self, start: TurnStart, render: Render, mut events: Reporter) {
        let turn = match start {
            TurnStart::Replay(outcome) => {
                events
                    .send(TurnEvent::Memories(outcome.memories_used.clone()))
                    .await;
                events
                    .send(TurnEvent::Delta(outcome.reply.content.clone()))
                    .await;
                events.send(TurnEvent::Done(outcome)).await;
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
        let prepared = match tokio::time::timeout_at(deadline, self.prepare(turn)).await {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(err)) => {
                events.send(TurnEvent::Failed(err)).await;
                return;
            }
            Err(_) => {
                events.send(TurnEvent::Failed(timed_out)).await;
                return;
            }
        };
        events
            .send(TurnEvent::Memories(prepared.memories_used.clone()))
            .await;
        let mut text = String::new();
        let mut usage = None;
        let started = std::time::Instant::now();
        let rendered = tokio::time::timeout_at(deadline, async {
            let mut chunks = self.render(&prepared.request, render).await?;
            while let Some(chunk) = chunks.next().await {
                match chunk? {
                    StreamChunk::Delta(delta) => {
                        text.push_str(&delta);
                        events.send(TurnEvent::Delta(delta)).await;
                    }
                    StreamChunk::Usage(reported) => usage = Some(reported),
                }
            }
            Ok::<_, LlmError>(())
        })
        .await;
        metrics::histogram!("virlife_llm_seconds", "call" => render.call())
            .record(started.elapsed().as_secs_f64());
        let failure = match rendered {
            Ok(Ok(())) => {
                let event = match self
                    .finish(
                        prepared,
                        text,
                        usage.unwrap_or_default(),
                        started.elapsed(),
                        false,
                        deadline,
                    )
                    .await
                {
                    Ok(outcome) => TurnEvent::Done(Box::new(outcome)),
                    Err(err) => TurnEvent::Failed(err),
                };
                events.send(event).await;
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
                .finish(
                    prepared,
                    text,
                    usage.unwrap_or_default(),
                    started.elapsed(),
                    true,
                    deadline,
                )
                .await
            {
                tracing::warn!(error = %err, "could not store the partial reply");
            }
        }
        events.send(TurnEvent::Failed(failure)).await;
    }

    /// The reply as chunks: a whole reply is one delta and its usage.
    async fn render(
        &self,
        request: &RenderRequest,
        render: Render,
    ) -> std::result::Result<ChunkStream, LlmError> {
        match render {
            Render::Stream => self.llm.render_stream(request).await,
            Render::Whole => {
                let completion = self.llm.render(request).await?;
                Ok(futures_util::stream::iter([
                    Ok(StreamChunk::Delta(completion.text)),
                    Ok(StreamChunk::Usage(completion.usage)),
                ])
                .boxed())
            }
        }
    }

    async fn finish(
        &self,
        prepared: PreparedTurn,
        text: String,
        usage: Usage,
        latency: std::time::Duration,
        incomplete: bool,
        deadline: Instant,
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
        self.sessions.append_message(&reply).await?;
        metrics::counter!("virlife_llm_tokens_total", "kind" => "prompt")
            .increment(u64::from(usage.prompt_tokens));
        metrics::counter!("virlife_llm_tokens_total", "kind" => "completion")
            .increment(u64::from(usage.completion_tokens));
        self.write_history(&turn, request.history, &reply).await;
        // The turn's memory (an embedding call) is bounded by the same deadline.
        if tokio::time::timeout_at(deadline, self.remember(&turn, &character_name, &reply))
            .await
            .is_err()
        {
            tracing::warn!("turn not remembered: the workflow deadline passed");
        }
        let outcome = TurnOutcome {
            user_message: turn.user_message,
            reply,
            memories_used,
            usage,
            replayed: false,
        };
        // With an Idempotency-Key, success means the result a retry will
        // replay is stored: a turn that cannot store it does not succeed.
        if let Some(key) = &turn.idempotency_key
            && !incomplete
        {
            let value = serde_json::to_value(&outcome)
                .map_err(|e| Error::Internal(format!("could not serialise the turn: {e}")))?;
            self.idempotency
                .complete_idempotency_key(&tenant, key, &value)
                .await
                .inspect_err(
                    |err| tracing::warn!(error = %err, "could not record the idempotent result"),
                )?;
        }
        if !incomplete {
            self.maybe_reflect(&turn.session).await;
        }
        Ok(outcome)
    }

    /// Writes the turn as an episodic memory; failures are logged, since the
    /// messages themselves are already stored.
    async fn remember(&self, turn: &UserTurn, character_name: &str, reply: &Message) {
        let speaker = turn.session.user_name.as_deref().unwrap_or("User");
        // The person's words are what later questions are about; the reply
        // rides along clipped, so a long answer cannot drown them (in the
        // embedding, or in BM25's length normalisation).
        let mut content = format!(
            "{speaker}: {}\n{character_name}: {}",
            turn.user_message.content,
            clip_words(&reply.content, REPLY_CHARS_REMEMBERED)
        );
        if content.chars().count() > MAX_MEMORY_CHARS {
            content = content.chars().take(MAX_MEMORY_CHARS).collect();
        }
        let draft = MemoryDraft {
            tenant: turn.session.tenant.clone(),
            character_id: turn.session.character_id,
            kind: MemoryKind::Episodic,
            source: MemorySource::Chat,
            content,
            importance: TURN_IMPORTANCE,
            session_id: Some(turn.session.id),
            user_id: Some(turn.session.user_id.clone()),
            created_at: None,
            embedding: None,
            evidence: Vec::new(),
            occurred_at: None,
            event_id: None,
        };
        if let Err(err) = self.writer.form(draft).await {
            tracing::warn!(error = %err, "turn not remembered");
        }
    }

    /// Every N user turns, queue a reflection (the cooldown makes one
    /// replica of many do it).
    async fn maybe_reflect(&self, session: &Session) {
        let every = u64::from(self.settings.cognition_every_n_turns.max(1));
        let turns = match self
            .sessions
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
            .reflection
            .request(&session.tenant, session.character_id)
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
    use super::clip_words;

    #[test]
    fn replies_are_clipped_at_a_word() {
        assert_eq!(clip_words("short", 10), "short");
        assert_eq!(clip_words("one two three four", 10), "one two…");
        assert_eq!(clip_words("ééééééééééééé", 4), "éééé…");
    }
}
