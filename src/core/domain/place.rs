//! Places: where characters are, nested (a room in a tavern in a town).
//! Who is at a place decides who perceives what happens there.

use super::{InvalidInput, TenantId, bounded_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_PLACE_NAME_CHARS: usize = 100;
pub const MAX_PLACE_DESCRIPTION_CHARS: usize = 4_000;
/// How deep places nest (a town, a tavern, a room, ...); also bounds the
/// walk that finds a place's nested places.
pub const MAX_PLACE_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub id: Uuid,
    pub tenant: TenantId,
    pub name: String,
    pub description: String,
    /// The place this one is inside, if any.
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct PlaceName(String);

impl PlaceName {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        bounded_text("name", value, MAX_PLACE_NAME_CHARS).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A place's description: may be empty, at most 4,000 characters.
#[derive(Debug)]
pub struct PlaceDescription(String);

impl PlaceDescription {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        let value = value.trim();
        super::no_nul("description", value)?;
        let count = value.chars().count();
        if count > MAX_PLACE_DESCRIPTION_CHARS {
            return Err(InvalidInput::new(
                "description",
                format!("must be at most {MAX_PLACE_DESCRIPTION_CHARS} characters (got {count})"),
            ));
        }
        Ok(Self(value.to_owned()))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A validated partial update; `None` leaves the field as it was, and
/// `parent_id: Some(None)` makes the place top-level.
#[derive(Default)]
pub struct PlacePatch {
    pub name: Option<PlaceName>,
    pub description: Option<PlaceDescription>,
    pub parent_id: Option<Option<Uuid>>,
}

impl Place {
    pub fn apply(&mut self, patch: PlacePatch, now: DateTime<Utc>) {
        if let Some(name) = patch.name {
            self.name = name.into_inner();
        }
        if let Some(description) = patch.description {
            self.description = description.into_inner();
        }
        if let Some(parent) = patch.parent_id {
            self.parent_id = parent;
        }
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_required_and_descriptions_bounded() {
        assert_eq!(PlaceName::parse("  ").unwrap_err().field, "name");
        assert_eq!(PlaceDescription::parse("").unwrap().into_inner(), "");
        assert_eq!(
            PlaceDescription::parse(&"x".repeat(4_001))
                .unwrap_err()
                .field,
            "description"
        );
    }
}
