//! Relationships: how a character feels about a person it talks with or
//! another character, kept as numbers game logic can read and set, with a
//! bounded history of how they changed.

use super::{InvalidInput, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Changes kept per relationship (and per inner state); older ones drop.
pub const HISTORY_LIMIT: usize = 20;
pub const MAX_NOTE_CHARS: usize = 500;

/// Who the relationship is with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Counterpart {
    /// A person, by the `user_id` their sessions carry.
    User(String),
    /// Another character of the same tenant.
    Character(Uuid),
}

impl Counterpart {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Character(_) => "character",
        }
    }
    /// The id as stored: the user id, or the character's UUID as text.
    pub fn key(&self) -> String {
        match self {
            Self::User(user) => user.clone(),
            Self::Character(id) => id.to_string(),
        }
    }
    pub fn from_parts(kind: &str, key: &str) -> Option<Self> {
        match kind {
            "user" => Some(Self::User(key.to_owned())),
            "character" => Uuid::parse_str(key).ok().map(Self::Character),
            _ => None,
        }
    }
}

/// Who changed a relationship or an inner state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeCause {
    /// The cognition model, after turns or events.
    Cognition,
    /// A client through the API (game logic).
    Api,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipChange {
    pub at: DateTime<Utc>,
    pub cause: ChangeCause,
    pub affinity: f32,
    pub trust: f32,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    pub tenant: TenantId,
    pub character_id: Uuid,
    pub counterpart: Counterpart,
    /// −1 (hatred) to 1 (love); 0 neutral.
    pub affinity: f32,
    /// −1 (none at all) to 1 (complete).
    pub trust: f32,
    /// A short note of what matters between them.
    pub note: String,
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The latest changes, oldest first, at most `HISTORY_LIMIT`.
    pub history: Vec<RelationshipChange>,
}

/// A value in −1..1 (affinity, trust).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bipolar(f32);

impl Bipolar {
    pub fn parse(field: &'static str, value: f64) -> Result<Self, InvalidInput> {
        if value.is_finite() && (-1.0..=1.0).contains(&value) {
            Ok(Self(value as f32))
        } else {
            Err(InvalidInput::new(field, "must be between -1 and 1"))
        }
    }
    pub fn value(self) -> f32 {
        self.0
    }
}

/// A short text: trimmed, may be empty, at most `max` characters.
pub(crate) fn short_text(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<String, InvalidInput> {
    let value = value.trim();
    let count = value.chars().count();
    if count > max {
        return Err(InvalidInput::new(
            field,
            format!("must be at most {max} characters (got {count})"),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        // NUL included: PostgreSQL cannot store it.
        return Err(InvalidInput::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A validated change; `None` leaves a value as it was.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RelationshipUpdate {
    pub affinity: Option<Bipolar>,
    pub trust: Option<Bipolar>,
    pub note: Option<String>,
}

impl RelationshipUpdate {
    pub fn note(value: &str) -> Result<String, InvalidInput> {
        short_text("note", value, MAX_NOTE_CHARS)
    }
    pub fn is_empty(&self) -> bool {
        self.affinity.is_none() && self.trust.is_none() && self.note.is_none()
    }
}

impl Relationship {
    /// Neutral: where every relationship starts.
    pub fn neutral(tenant: TenantId, character_id: Uuid, counterpart: Counterpart) -> Self {
        Self {
            tenant,
            character_id,
            counterpart,
            affinity: 0.0,
            trust: 0.0,
            note: String::new(),
            last_interaction_at: None,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            history: Vec::new(),
        }
    }

    /// Applies an update and records it in the bounded history.
    pub fn apply(&mut self, update: RelationshipUpdate, cause: ChangeCause, now: DateTime<Utc>) {
        if let Some(affinity) = update.affinity {
            self.affinity = affinity.value();
        }
        if let Some(trust) = update.trust {
            self.trust = trust.value();
        }
        if let Some(note) = update.note {
            self.note = note;
        }
        self.updated_at = now;
        self.history.push(RelationshipChange {
            at: now,
            cause,
            affinity: self.affinity,
            trust: self.trust,
            note: self.note.clone(),
        });
        let excess = self.history.len().saturating_sub(HISTORY_LIMIT);
        self.history.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_in_range_and_history_is_bounded() {
        assert!(Bipolar::parse("affinity", 1.5).is_err());
        assert!(Bipolar::parse("affinity", f64::NAN).is_err());
        let tenant = TenantId::parse("acme").unwrap();
        let mut r = Relationship::neutral(tenant, Uuid::nil(), Counterpart::User("u".into()));
        for i in 0..30 {
            r.apply(
                RelationshipUpdate {
                    affinity: Some(Bipolar::parse("affinity", f64::from(i) / 100.0).unwrap()),
                    ..RelationshipUpdate::default()
                },
                ChangeCause::Api,
                Utc::now(),
            );
        }
        assert_eq!(r.history.len(), HISTORY_LIMIT);
        assert!((r.history.last().unwrap().affinity - 0.29).abs() < 1e-6);
    }

    #[test]
    fn counterparts_round_trip_through_their_stored_parts() {
        let id = Uuid::now_v7();
        let c = Counterpart::Character(id);
        assert_eq!(Counterpart::from_parts(c.kind(), &c.key()), Some(c));
        assert_eq!(Counterpart::from_parts("character", "nope"), None);
    }
}
