//! A character's mood and goals as game logic sees them: read, set.

use super::support::require_character;
use crate::core::domain::{ChangeCause, InnerState, StateUpdate, TenantId};
use crate::core::error::Result;
use crate::core::ports::{CharacterStore, WorldStore};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct InnerStates {
    world: Arc<dyn WorldStore>,
    characters: Arc<dyn CharacterStore>,
}

impl InnerStates {
    pub(crate) fn new(world: Arc<dyn WorldStore>, characters: Arc<dyn CharacterStore>) -> Self {
        Self { world, characters }
    }

    /// The character's state; blank (no mood, no goals) until one is set.
    pub async fn get(&self, tenant: &TenantId, character_id: Uuid) -> Result<InnerState> {
        require_character(self.characters.as_ref(), tenant, character_id).await?;
        Ok(self
            .world
            .get_inner_state(tenant, character_id)
            .await?
            .unwrap_or_else(|| InnerState::blank(tenant.clone(), character_id)))
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn set(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        update: StateUpdate,
    ) -> Result<InnerState> {
        let mut state = self.get(tenant, character_id).await?;
        state.apply(update, ChangeCause::Api, chrono::Utc::now());
        self.world.put_inner_state(&state).await?;
        Ok(state)
    }
}
