//! People: the users characters talk with. A memory belongs to the world
//! (anyone talking with the character may recall it) or to one person
//! (recalled only in that person's sessions).

use super::InvalidInput;

pub const MAX_USER_ID_CHARS: usize = 128;

/// A person's stable id, chosen by the client (the player's or account's
/// id); compared exactly, so it is never trimmed or case-folded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, InvalidInput> {
        if value.is_empty() {
            return Err(InvalidInput::new(field, "must not be empty"));
        }
        let count = value.chars().count();
        if count > MAX_USER_ID_CHARS {
            return Err(InvalidInput::new(
                field,
                format!("must be at most {MAX_USER_ID_CHARS} characters (got {count})"),
            ));
        }
        if value.trim() != value || value.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                field,
                "must not start or end with spaces or contain control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Which memories a read may see, by their owner.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ScopeFilter {
    /// Every memory of the character: the tenant's own view.
    #[default]
    Any,
    /// The world's memories and this person's, never another person's:
    /// what a turn with this person recalls.
    Person(String),
}

impl ScopeFilter {
    /// Whether a memory owned by `user_id` (`None`: the world) passes.
    pub fn admits(&self, user_id: Option<&str>) -> bool {
        match (self, user_id) {
            (Self::Any, _) | (Self::Person(_), None) => true,
            (Self::Person(person), Some(owner)) => person == owner,
        }
    }

    /// The person, for filters that name one.
    pub fn person(&self) -> Option<&str> {
        match self {
            Self::Any => None,
            Self::Person(person) => Some(person),
        }
    }
}

/// What erasing a person removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    pub sessions: Vec<uuid::Uuid>,
    pub messages: u64,
    pub memories: Vec<uuid::Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_exact() {
        assert!(UserId::parse("user_id", "discord:1234").is_ok());
        assert!(UserId::parse("user_id", "").is_err());
        assert!(UserId::parse("user_id", " sam").is_err());
        assert!(UserId::parse("user_id", "sam\n").is_err());
        assert!(UserId::parse("user_id", &"x".repeat(129)).is_err());
    }

    #[test]
    fn a_person_sees_the_world_and_themselves() {
        let sam = ScopeFilter::Person("sam".into());
        assert!(sam.admits(None));
        assert!(sam.admits(Some("sam")));
        assert!(!sam.admits(Some("alex")));
        assert!(ScopeFilter::Any.admits(Some("alex")));
    }
}
