//! Relationships as game logic sees them: read a character's, set values
//! directly (recorded in the history as the API's change).

use super::support::require_character;
use crate::core::domain::{ChangeCause, Counterpart, Relationship, RelationshipUpdate, TenantId};
use crate::core::error::Result;
use crate::core::ports::{CharacterStore, WorldStore};
use std::sync::Arc;
use uuid::Uuid;

/// The most relationships one listing returns.
pub const MAX_LISTED_RELATIONSHIPS: u32 = 100;

#[derive(Clone)]
pub struct Relationships {
    world: Arc<dyn WorldStore>,
    characters: Arc<dyn CharacterStore>,
}

impl Relationships {
    pub(crate) fn new(world: Arc<dyn WorldStore>, characters: Arc<dyn CharacterStore>) -> Self {
        Self { world, characters }
    }

    /// The character's relationships, the latest changed first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Relationship>> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        Ok(self
            .world
            .list_relationships(tenant, character_id, limit.min(MAX_LISTED_RELATIONSHIPS))
            .await?)
    }

    /// Sets values of one relationship (neutral where it did not exist).
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn set(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        counterpart: Counterpart,
        update: RelationshipUpdate,
    ) -> Result<Relationship> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        if let Counterpart::Character(other) = counterpart {
            require_character(self.characters.as_ref(), tenant, other).await?;
        }
        let mut relationship = self
            .world
            .get_relationship(tenant, character_id, &counterpart)
            .await?
            .unwrap_or_else(|| Relationship::neutral(tenant.clone(), character_id, counterpart));
        relationship.apply(update, ChangeCause::Api, chrono::Utc::now());
        self.world.put_relationship(&relationship).await?;
        Ok(relationship)
    }
}
