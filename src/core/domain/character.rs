use super::{InvalidInput, TenantId, bounded_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_PERSONA_CHARS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Character {
    pub id: Uuid,
    pub tenant: TenantId,
    pub name: String,
    pub persona: String,
    pub traits: serde_json::Map<String, serde_json::Value>,
    /// Where the character is now, if anywhere.
    #[serde(default)]
    pub place_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct CharacterName(String);

impl CharacterName {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        bounded_text("name", value, MAX_NAME_CHARS).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[derive(Debug)]
pub struct Persona(String);

impl Persona {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        bounded_text("persona", value, MAX_PERSONA_CHARS).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Free-form traits: a JSON object of at most 64 keys and 16 KiB.
#[derive(Debug)]
pub struct Traits(serde_json::Map<String, serde_json::Value>);

impl Traits {
    pub fn parse(value: serde_json::Value) -> Result<Self, InvalidInput> {
        match value {
            serde_json::Value::Object(map) => {
                super::no_nul_in_object("traits", &map)?;
                if map.len() > 64 {
                    return Err(InvalidInput::new("traits", "must have at most 64 keys"));
                }
                if serde_json::Value::Object(map.clone()).to_string().len() > 16 * 1024 {
                    return Err(InvalidInput::new(
                        "traits",
                        "must be at most 16 KiB of JSON",
                    ));
                }
                Ok(Self(map))
            }
            _ => Err(InvalidInput::new("traits", "must be a JSON object")),
        }
    }
    pub fn into_inner(self) -> serde_json::Map<String, serde_json::Value> {
        self.0
    }
}

/// A validated partial update; `None` leaves the field as it was.
#[derive(Default)]
pub struct CharacterPatch {
    pub name: Option<CharacterName>,
    pub persona: Option<Persona>,
    pub traits: Option<Traits>,
    /// `Some(None)` takes the character out of every place.
    pub place_id: Option<Option<Uuid>>,
}

impl Character {
    pub fn apply(&mut self, patch: CharacterPatch, now: DateTime<Utc>) {
        if let Some(name) = patch.name {
            self.name = name.into_inner();
        }
        if let Some(persona) = patch.persona {
            self.persona = persona.into_inner();
        }
        if let Some(traits) = patch.traits {
            self.traits = traits.into_inner();
        }
        if let Some(place) = patch.place_id {
            self.place_id = place;
        }
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(CharacterName::parse("  Ada ").unwrap().into_inner(), "Ada");
        assert_eq!(CharacterName::parse("   ").unwrap_err().field, "name");
        assert!(CharacterName::parse(&"é".repeat(100)).is_ok());
        assert!(CharacterName::parse(&"é".repeat(101)).is_err());
        assert!(Persona::parse(&"x".repeat(20_001)).is_err());
    }

    #[test]
    fn nul_characters_are_refused_where_postgresql_would_fail() {
        assert_eq!(CharacterName::parse("A\0da").unwrap_err().field, "name");
        assert_eq!(
            Traits::parse(serde_json::json!({"k\0": 1}))
                .unwrap_err()
                .field,
            "traits"
        );
        assert_eq!(
            Traits::parse(serde_json::json!({"k": ["\0"]}))
                .unwrap_err()
                .field,
            "traits"
        );
    }

    #[test]
    fn traits_must_be_an_object() {
        assert!(Traits::parse(serde_json::json!({"brave": true})).is_ok());
        assert_eq!(
            Traits::parse(serde_json::json!([1])).unwrap_err().field,
            "traits"
        );
    }
}
