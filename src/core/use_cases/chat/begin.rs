//! A turn's first step: the session, the idempotency key, and the user's
//! message stored before anything else happens.

use super::{ChatTurns, TurnInput, TurnOutcome};
use crate::core::domain::{IdempotencyRecord, Message, Role, Session, new_id};
use crate::core::error::{Error, Result};
use crate::core::use_cases::support::require_session;

/// The user's message is stored; what is left is the model's part.
pub(super) struct UserTurn {
    pub session: Session,
    pub user_message: Message,
    pub idempotency_key: Option<String>,
}

// One short-lived value per turn, so the size difference does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum TurnStart {
    Replay(Box<TurnOutcome>),
    Ready(UserTurn),
}

impl ChatTurns {
    /// Validates, applies the idempotency key, and stores the user's message.
    pub(super) async fn begin(&self, input: TurnInput) -> Result<TurnStart> {
        let session =
            require_session(self.sessions.as_ref(), &input.tenant, input.session_id).await?;
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
                .idempotency
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
                    .sessions
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
        self.sessions.append_message(&user_message).await?;
        tracing::debug!(message_id = %user_message.id, "user message stored");
        Ok(TurnStart::Ready(UserTurn {
            session,
            user_message,
            idempotency_key: input.idempotency_key,
        }))
    }
}
