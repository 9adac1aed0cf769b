//! Characters: create, read, update, delete (with everything they own).

use super::CoreSettings;
use super::support::{VectorSync, require_character, require_place};
use crate::core::domain::{
    Character, CharacterName, CharacterPatch, Page, PageRequest, Persona, TenantId, Traits, new_id,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{Cache, CharacterStore, WorldStore};
use std::sync::Arc;
use uuid::Uuid;

/// Where a character is cached for the turns that read it.
pub(crate) fn persona_key(character_id: Uuid) -> String {
    format!("character:{character_id}")
}

#[derive(Clone)]
pub struct Characters {
    store: Arc<dyn CharacterStore>,
    world: Arc<dyn WorldStore>,
    cache: Arc<dyn Cache>,
    sync: VectorSync,
    settings: CoreSettings,
}

impl Characters {
    pub(crate) fn new(
        store: Arc<dyn CharacterStore>,
        world: Arc<dyn WorldStore>,
        cache: Arc<dyn Cache>,
        sync: VectorSync,
        settings: CoreSettings,
    ) -> Self {
        Self {
            store,
            world,
            cache,
            sync,
            settings,
        }
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create(
        &self,
        tenant: TenantId,
        name: CharacterName,
        persona: Persona,
        traits: Option<Traits>,
    ) -> Result<Character> {
        let now = chrono::Utc::now();
        let character = Character {
            id: new_id(),
            tenant,
            name: name.into_inner(),
            persona: persona.into_inner(),
            traits: traits.map(Traits::into_inner).unwrap_or_default(),
            place_id: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_character(&character).await?;
        Ok(character)
    }

    pub async fn get(&self, tenant: &TenantId, id: Uuid) -> Result<Character> {
        require_character(self.store.as_ref(), tenant, id).await
    }

    /// A character named by its id or, failing that, by its exact name
    /// (the first so named): how OpenAI-style clients pick a "model".
    pub async fn find(&self, tenant: &TenantId, id_or_name: &str) -> Result<Character> {
        if let Ok(id) = Uuid::parse_str(id_or_name)
            && let Some(character) = self.store.get_character(tenant, id).await?
        {
            return Ok(character);
        }
        self.store
            .find_character_by_name(tenant, id_or_name)
            .await?
            .ok_or_else(|| Error::not_found("character", id_or_name))
    }

    pub async fn list(&self, tenant: &TenantId, page: PageRequest) -> Result<Page<Character>> {
        let rows = self.store.list_characters(tenant, &page).await?;
        Ok(Page::from_rows(rows, &page, |c| c.id))
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %id))]
    pub async fn update(
        &self,
        tenant: &TenantId,
        id: Uuid,
        patch: CharacterPatch,
    ) -> Result<Character> {
        let mut character = self.get(tenant, id).await?;
        if let Some(Some(place)) = patch.place_id {
            require_place(self.world.as_ref(), tenant, place).await?;
        }
        character.apply(patch, chrono::Utc::now());
        if !self.store.update_character(&character).await? {
            return Err(Error::not_found("character", id));
        }
        let _ = self.cache.delete(&persona_key(id)).await;
        Ok(character)
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %id))]
    pub async fn delete(&self, tenant: &TenantId, id: Uuid) -> Result<()> {
        if !self.store.delete_character(tenant, id).await? {
            return Err(Error::not_found("character", id));
        }
        let _ = self.cache.delete(&persona_key(id)).await;
        self.sync.remove_character(tenant, id).await;
        Ok(())
    }

    /// The character a turn speaks as: `cached` is what the cache held
    /// under `persona_key` (read with the turn's other keys), else the store
    /// (and the cache is filled).
    pub(crate) async fn for_turn(
        &self,
        tenant: &TenantId,
        id: Uuid,
        cached: Option<String>,
    ) -> Result<Character> {
        let key = persona_key(id);
        if let Some(json) = cached
            && let Ok(character) = serde_json::from_str::<Character>(&json)
            && &character.tenant == tenant
            && character.id == id
        {
            return Ok(character);
        }
        let character = self.get(tenant, id).await?;
        if self.settings.cache_enabled
            && let Ok(json) = serde_json::to_string(&character)
        {
            let _ = self.cache.set(&key, &json, self.settings.cache_ttl).await;
        }
        Ok(character)
    }
}
