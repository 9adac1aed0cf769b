//! World rows both engines read alike, and the documents relationships and
//! inner states are kept as (one JSON value each, sealed as one string
//! when a key is set, to the row it belongs to).

use super::{Sealer, tenant_of};
use crate::core::domain::{Counterpart, InnerState, Place, Relationship, WorldEvent};
use crate::core::ports::StoreError;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct PlaceRow {
    id: Uuid,
    tenant: String,
    name: String,
    description: String,
    parent_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<PlaceRow> for Place {
    type Error = StoreError;
    fn try_from(row: PlaceRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            tenant: tenant_of(row.tenant)?,
            name: row.name,
            description: row.description,
            parent_id: row.parent_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub const PLACE_COLUMNS: &str = "id, tenant, name, description, parent_id, created_at, updated_at";
pub const EVENT_COLUMNS: &str =
    "id, tenant, place_id, description, sealed, importance, occurred_at, created_at";

#[derive(sqlx::FromRow)]
pub struct WorldEventRow {
    id: Uuid,
    tenant: String,
    place_id: Option<Uuid>,
    description: String,
    sealed: bool,
    importance: f32,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl WorldEventRow {
    pub fn open(self, sealer: &Sealer) -> Result<WorldEvent, StoreError> {
        Ok(WorldEvent {
            description: sealer.open_marked(
                &self.description,
                self.id.as_bytes(),
                Some(self.sealed),
            )?,
            id: self.id,
            tenant: tenant_of(self.tenant)?,
            place_id: self.place_id,
            importance: self.importance,
            occurred_at: self.occurred_at,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct BodyRow {
    pub character_id: Uuid,
    pub other_kind: String,
    pub other_key: String,
    pub body: Json<serde_json::Value>,
}

/// What a relationship's document is sealed to.
pub fn relationship_row(character_id: Uuid, counterpart: &Counterpart) -> Vec<u8> {
    format!(
        "relationship/{character_id}/{}/{}",
        counterpart.kind(),
        counterpart.key()
    )
    .into_bytes()
}

fn state_row(character_id: Uuid) -> Vec<u8> {
    format!("state/{character_id}").into_bytes()
}

fn unreadable(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored {what} unreadable: {err}"))
}

pub fn seal_relationship(
    sealer: &Sealer,
    r: &Relationship,
) -> Result<Json<serde_json::Value>, StoreError> {
    let value = serde_json::to_value(r).map_err(|e| unreadable("relationship", e))?;
    Ok(Json(sealer.seal_response(
        &value,
        &relationship_row(r.character_id, &r.counterpart),
    )))
}

pub fn open_relationship(sealer: &Sealer, row: BodyRow) -> Result<Relationship, StoreError> {
    let counterpart = Counterpart::from_parts(&row.other_kind, &row.other_key)
        .ok_or_else(|| super::corrupt("relationship counterpart", &row.other_kind))?;
    let value = sealer.open_response(
        row.body.0,
        &relationship_row(row.character_id, &counterpart),
    )?;
    serde_json::from_value(value).map_err(|e| unreadable("relationship", e))
}

pub fn seal_state(sealer: &Sealer, s: &InnerState) -> Result<Json<serde_json::Value>, StoreError> {
    let value = serde_json::to_value(s).map_err(|e| unreadable("inner state", e))?;
    Ok(Json(
        sealer.seal_response(&value, &state_row(s.character_id)),
    ))
}

pub fn open_state(
    sealer: &Sealer,
    character_id: Uuid,
    body: serde_json::Value,
) -> Result<InnerState, StoreError> {
    let value = sealer.open_response(body, &state_row(character_id))?;
    serde_json::from_value(value).map_err(|e| unreadable("inner state", e))
}
