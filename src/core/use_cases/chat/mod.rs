//! The chat turn: store the user's message first, then context, memories,
//! the renderer model, the reply, and an episodic memory of the turn.
//!
//! One pipeline serves both ways of asking: `stream` hands the caller the
//! events as they come; `send` runs the same turn and collects them.

mod begin;
mod context;
mod pipeline;

use super::CoreSettings;
use super::characters::Characters;
use super::reflection::Reflection;
use super::support::{MemoryWriter, Recall, ScoredMemory};
use crate::core::domain::{Message, MessageContent, TenantId, Usage};
use crate::core::error::{Error, Result};
use crate::core::ports::{Cache, IdempotencyStore, Llm, SessionStore, WorldStore};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;
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

/// What a turn reports, in order: memories, deltas, then done or failed.
#[derive(Debug)]
pub enum TurnEvent {
    Memories(Vec<ScoredMemory>),
    Delta(String),
    Done(Box<TurnOutcome>),
    Failed(Error),
}

/// How the renderer model is asked: for the whole reply at once, or for a
/// stream of pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Render {
    Whole,
    Stream,
}

#[derive(Clone)]
pub struct ChatTurns {
    sessions: Arc<dyn SessionStore>,
    idempotency: Arc<dyn IdempotencyStore>,
    characters: Characters,
    world: Arc<dyn WorldStore>,
    cache: Arc<dyn Cache>,
    llm: Arc<dyn Llm>,
    writer: MemoryWriter,
    recall: Recall,
    reflection: Reflection,
    settings: CoreSettings,
    /// One permit per running turn: the bound on concurrent turns.
    running: Arc<Semaphore>,
}

/// What a refused turn tells the client to wait.
const OVERLOADED_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

impl ChatTurns {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        sessions: Arc<dyn SessionStore>,
        idempotency: Arc<dyn IdempotencyStore>,
        characters: Characters,
        world: Arc<dyn WorldStore>,
        cache: Arc<dyn Cache>,
        llm: Arc<dyn Llm>,
        writer: MemoryWriter,
        recall: Recall,
        reflection: Reflection,
        settings: CoreSettings,
    ) -> Self {
        Self {
            sessions,
            idempotency,
            characters,
            world,
            cache,
            llm,
            writer,
            recall,
            reflection,
            running: Arc::new(Semaphore::new(settings.max_concurrent_turns.max(1))),
            settings,
        }
    }

    /// Runs one turn to completion.
    #[tracing::instrument(skip_all, fields(tenant = %input.tenant, session_id = %input.session_id))]
    pub async fn send(&self, input: TurnInput) -> Result<TurnOutcome> {
        let mut events = self.start(input, Render::Whole).await?;
        while let Some(event) = events.recv().await {
            match event {
                TurnEvent::Done(outcome) => return Ok(*outcome),
                TurnEvent::Failed(err) => return Err(err),
                TurnEvent::Memories(_) | TurnEvent::Delta(_) => {}
            }
        }
        Err(Error::Internal("the turn ended without an outcome".into()))
    }

    /// Starts a streamed turn. Errors found before the model is called are
    /// returned directly; later ones arrive as `TurnEvent::Failed`.
    #[tracing::instrument(skip_all, fields(tenant = %input.tenant, session_id = %input.session_id))]
    pub async fn stream(&self, input: TurnInput) -> Result<mpsc::Receiver<TurnEvent>> {
        self.start(input, Render::Stream).await
    }

    /// Stores the user's message, then runs the rest in its own task, so
    /// the reply is stored even if the caller leaves. Above the bound on
    /// concurrent turns it refuses at once, before storing anything.
    async fn start(&self, input: TurnInput, render: Render) -> Result<mpsc::Receiver<TurnEvent>> {
        let permit = self.running.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!("virlife_turns_shed_total").increment(1);
            Error::Overloaded {
                retry_after: OVERLOADED_RETRY,
            }
        })?;
        let start = self.begin(input).await?;
        let (events, receiver) = mpsc::channel(64);
        let turns = self.clone();
        tokio::spawn(
            async move {
                turns
                    .drive(start, render, pipeline::Reporter::new(events))
                    .await;
                drop(permit);
            }
            .instrument(tracing::Span::current()),
        );
        Ok(receiver)
    }
}
