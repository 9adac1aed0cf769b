//! The parent rows a request names, or the 404 that says which is missing.

use crate::core::domain::{Character, Session, TenantId};
use crate::core::error::{Error, Result};
use crate::core::ports::{CharacterStore, SessionStore};
use uuid::Uuid;

pub async fn require_character(
    store: &dyn CharacterStore,
    tenant: &TenantId,
    id: Uuid,
) -> Result<Character> {
    store
        .get_character(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("character", id))
}

pub async fn require_session(
    store: &dyn SessionStore,
    tenant: &TenantId,
    id: Uuid,
) -> Result<Session> {
    store
        .get_session(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("session", id))
}

pub async fn require_place(
    store: &dyn crate::core::ports::WorldStore,
    tenant: &TenantId,
    id: Uuid,
) -> Result<crate::core::domain::Place> {
    store
        .get_place(tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("place", id))
}
