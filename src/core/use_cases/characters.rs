//! Characters: create, read, update, delete (with everything they own).

use super::Core;
use crate::core::domain::{
    Character, CharacterName, CharacterPatch, Page, PageRequest, Persona, TenantId, Traits, new_id,
};
use crate::core::error::{Error, Result};
use uuid::Uuid;

pub(crate) fn persona_key(character_id: Uuid) -> String {
    format!("character:{character_id}")
}

impl Core {
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_character(
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
            created_at: now,
            updated_at: now,
        };
        self.store.insert_character(&character).await?;
        Ok(character)
    }

    pub async fn get_character(&self, tenant: &TenantId, id: Uuid) -> Result<Character> {
        self.require_character(tenant, id).await
    }

    pub async fn list_characters(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<Character>> {
        let rows = self.store.list_characters(tenant, &page).await?;
        Ok(Page::from_rows(rows, &page, |c| c.id))
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %id))]
    pub async fn update_character(
        &self,
        tenant: &TenantId,
        id: Uuid,
        patch: CharacterPatch,
    ) -> Result<Character> {
        let mut character = self.require_character(tenant, id).await?;
        character.apply(patch, chrono::Utc::now());
        if !self.store.update_character(&character).await? {
            return Err(Error::not_found("character", id));
        }
        let _ = self.cache.delete(&persona_key(id)).await;
        Ok(character)
    }

    /// Deletes the character, its sessions, messages and memories, then its vectors.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %id))]
    pub async fn delete_character(&self, tenant: &TenantId, id: Uuid) -> Result<()> {
        if !self.store.delete_character(tenant, id).await? {
            return Err(Error::not_found("character", id));
        }
        let _ = self.cache.delete(&persona_key(id)).await;
        if let Err(err) = self.vectors.delete_character(tenant, id).await {
            // The rows are gone, so searches cannot return these vectors;
            // the repair loop removes them once the index is back.
            tracing::warn!(error = %err, "character deleted, vector removal deferred");
            self.defer_vector_change(crate::core::domain::PendingVector::DeleteCharacter {
                tenant: tenant.clone(),
                character_id: id,
            })
            .await;
        }
        Ok(())
    }

    /// The character as the renderer needs it, from the cache when possible.
    pub(crate) async fn character_for_turn(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Character> {
        let key = persona_key(id);
        if self.settings.cache_enabled
            && let Ok(Some(json)) = self.cache.get(&key).await
            && let Ok(character) = serde_json::from_str::<Character>(&json)
            && &character.tenant == tenant
        {
            return Ok(character);
        }
        let character = self.require_character(tenant, id).await?;
        if self.settings.cache_enabled
            && let Ok(json) = serde_json::to_string(&character)
        {
            let _ = self.cache.set(&key, &json, self.settings.cache_ttl).await;
        }
        Ok(character)
    }
}
