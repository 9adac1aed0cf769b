//! A character's inner state: its mood and current goals, which colour its
//! answers; changed by cognition or set by game logic, with a bounded
//! history.

use super::relationship::{ChangeCause, HISTORY_LIMIT, short_text};
use super::{InvalidInput, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_MOOD_CHARS: usize = 200;
pub const MAX_GOALS: usize = 10;
pub const MAX_GOAL_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub at: DateTime<Utc>,
    pub cause: ChangeCause,
    pub mood: String,
    pub goals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InnerState {
    pub tenant: TenantId,
    pub character_id: Uuid,
    /// A few words: "wary", "cheerful but tired".
    pub mood: String,
    pub goals: Vec<String>,
    pub updated_at: DateTime<Utc>,
    /// The `created_at` of the latest world memory cognition has read, so
    /// the next appraisal reads only newer events.
    pub events_read_until: Option<DateTime<Utc>>,
    /// The latest changes, oldest first, at most `HISTORY_LIMIT`.
    pub history: Vec<StateChange>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct StateUpdate {
    pub mood: Option<String>,
    pub goals: Option<Vec<String>>,
}

impl StateUpdate {
    pub fn mood(value: &str) -> Result<String, InvalidInput> {
        short_text("mood", value, MAX_MOOD_CHARS)
    }
    pub fn goals(values: &[String]) -> Result<Vec<String>, InvalidInput> {
        if values.len() > MAX_GOALS {
            return Err(InvalidInput::new(
                "goals",
                format!("must have at most {MAX_GOALS} goals"),
            ));
        }
        values
            .iter()
            .map(|goal| short_text("goals", goal, MAX_GOAL_CHARS))
            .filter(|goal| !matches!(goal, Ok(g) if g.is_empty()))
            .collect()
    }
    pub fn is_empty(&self) -> bool {
        self.mood.is_none() && self.goals.is_none()
    }
}

impl InnerState {
    pub fn blank(tenant: TenantId, character_id: Uuid) -> Self {
        Self {
            tenant,
            character_id,
            mood: String::new(),
            goals: Vec::new(),
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            events_read_until: None,
            history: Vec::new(),
        }
    }

    pub fn apply(&mut self, update: StateUpdate, cause: ChangeCause, now: DateTime<Utc>) {
        if update.is_empty() {
            return;
        }
        if let Some(mood) = update.mood {
            self.mood = mood;
        }
        if let Some(goals) = update.goals {
            self.goals = goals;
        }
        self.updated_at = now;
        self.history.push(StateChange {
            at: now,
            cause,
            mood: self.mood.clone(),
            goals: self.goals.clone(),
        });
        let excess = self.history.len().saturating_sub(HISTORY_LIMIT);
        self.history.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_are_bounded_and_blank_ones_dropped() {
        assert_eq!(
            StateUpdate::goals(&["a".into(), " ".into()]).unwrap(),
            vec!["a".to_owned()]
        );
        assert!(StateUpdate::goals(&vec!["g".to_owned(); 11]).is_err());
        assert_eq!(
            StateUpdate::mood(&"m".repeat(201)).unwrap_err().field,
            "mood"
        );
    }
}
