//! Characters in memory; deleting one removes everything it owns.

use super::InMemoryStore;
use super::{page_of, remove_session_rows};
use crate::core::domain::{Character, PageRequest, TenantId};
use crate::core::ports::CharacterStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use std::ops::Bound;
use uuid::Uuid;

#[async_trait]
impl CharacterStore for InMemoryStore {
    async fn insert_character(&self, character: &Character) -> Result<(), StoreError> {
        if let Some(place) = character.place_id
            && self
                .read()
                .places
                .get(&place)
                .is_none_or(|p| p.tenant != character.tenant)
        {
            return Err(StoreError::Conflict(format!(
                "place {place} does not exist"
            )));
        }
        if self.read().characters.contains_key(&character.id) {
            return Err(StoreError::Conflict(format!(
                "character {} exists",
                character.id
            )));
        }
        self.write()
            .characters
            .insert(character.id, character.clone());
        Ok(())
    }

    async fn get_character(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Character>, StoreError> {
        Ok(self
            .read()
            .characters
            .get(&id)
            .filter(|c| &c.tenant == tenant)
            .cloned())
    }

    async fn list_characters(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError> {
        Ok(page_of(&self.read().characters, page, |c| {
            &c.tenant == tenant
        }))
    }

    async fn find_character_by_name(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<Character>, StoreError> {
        Ok(self
            .read()
            .characters
            .values()
            .find(|c| &c.tenant == tenant && c.name == name)
            .cloned())
    }

    async fn update_character(&self, character: &Character) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if let Some(place) = character.place_id
            && tables
                .places
                .get(&place)
                .is_none_or(|p| p.tenant != character.tenant)
        {
            return Err(StoreError::Conflict(format!(
                "place {place} does not exist"
            )));
        }
        match tables.characters.get_mut(&character.id) {
            Some(existing) if existing.tenant == character.tenant => {
                *existing = character.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_character(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if tables
            .characters
            .get(&id)
            .is_none_or(|c| &c.tenant != tenant)
        {
            return Ok(false);
        }
        tables.characters.remove(&id);
        let sessions: Vec<Uuid> = tables
            .sessions
            .values()
            .filter(|s| s.character_id == id)
            .map(|s| s.id)
            .collect();
        remove_session_rows(&mut tables, &sessions);
        tables.memories.retain(|_, m| m.character_id != id);
        tables.jobs.retain(|_, j| j.character_id != id);
        super::world::remove_character_world(&mut tables, id);
        Ok(true)
    }

    async fn characters_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Character>, StoreError> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .read()
            .characters
            .range((start, Bound::Unbounded))
            .map(|(_, c)| c.clone())
            .take(limit as usize)
            .collect())
    }
}
