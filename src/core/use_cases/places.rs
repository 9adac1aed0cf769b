//! Places: create, read, nest, rename, delete; who is at a place; moving a
//! character, which it remembers.

use super::characters::persona_key;
use super::support::{MemoryDraft, MemoryWriter, require_character, require_place};
use crate::core::domain::{
    Character, Importance, InvalidInput, MAX_PLACE_DEPTH, Memory, MemoryKind, MemorySource, Page,
    PageRequest, Place, PlaceDescription, PlaceName, PlacePatch, TenantId, WorldTime, new_id,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{Cache, CharacterStore, WorldStore};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct Places {
    world: Arc<dyn WorldStore>,
    characters: Arc<dyn CharacterStore>,
    cache: Arc<dyn Cache>,
    writer: MemoryWriter,
}

/// Where a character goes: a place, or out of every place.
pub struct Move {
    pub place_id: Option<Uuid>,
    pub occurred_at: Option<WorldTime>,
}

impl Places {
    pub(crate) fn new(
        world: Arc<dyn WorldStore>,
        characters: Arc<dyn CharacterStore>,
        cache: Arc<dyn Cache>,
        writer: MemoryWriter,
    ) -> Self {
        Self {
            world,
            characters,
            cache,
            writer,
        }
    }

    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create(
        &self,
        tenant: TenantId,
        name: PlaceName,
        description: PlaceDescription,
        parent_id: Option<Uuid>,
    ) -> Result<Place> {
        if let Some(parent) = parent_id {
            self.parent(&tenant, parent).await?;
            if self.depth_above(&tenant, parent).await? >= MAX_PLACE_DEPTH {
                return Err(too_deep());
            }
        }
        let now = chrono::Utc::now();
        let place = Place {
            id: new_id(),
            tenant,
            name: name.into_inner(),
            description: description.into_inner(),
            parent_id,
            created_at: now,
            updated_at: now,
        };
        self.world.insert_place(&place).await?;
        Ok(place)
    }

    pub async fn get(&self, tenant: &TenantId, id: Uuid) -> Result<Place> {
        require_place(self.world.as_ref(), tenant, id).await
    }

    pub async fn list(
        &self,
        tenant: &TenantId,
        parent: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<Place>> {
        if let Some(parent) = parent {
            require_place(self.world.as_ref(), tenant, parent).await?;
        }
        let rows = self.world.list_places(tenant, parent, &page).await?;
        Ok(Page::from_rows(rows, &page, |p| p.id))
    }

    /// Renames, redescribes or moves a place; a place cannot go inside
    /// itself or a place nested in it.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, place_id = %id))]
    pub async fn update(&self, tenant: &TenantId, id: Uuid, patch: PlacePatch) -> Result<Place> {
        let mut place = self.get(tenant, id).await?;
        if let Some(Some(parent)) = patch.parent_id {
            self.parent(tenant, parent).await?;
            if self.world.place_tree(tenant, id).await?.contains(&parent) {
                return Err(InvalidInput::new(
                    "parent_id",
                    "cannot be the place itself or a place inside it",
                )
                .into());
            }
            if self.depth_above(tenant, parent).await? >= MAX_PLACE_DEPTH {
                return Err(too_deep());
            }
        }
        place.apply(patch, chrono::Utc::now());
        if !self.world.update_place(&place).await? {
            return Err(Error::not_found("place", id));
        }
        Ok(place)
    }

    /// Deletes a place: the places inside it become top-level and the
    /// characters there are in no place.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, place_id = %id))]
    pub async fn delete(&self, tenant: &TenantId, id: Uuid) -> Result<()> {
        let present = self
            .world
            .characters_at(
                tenant,
                &[id],
                &PageRequest {
                    limit: 1000,
                    after: None,
                },
            )
            .await?;
        if !self.world.delete_place(tenant, id).await? {
            return Err(Error::not_found("place", id));
        }
        for character in present {
            let _ = self.cache.delete(&persona_key(character.id)).await;
        }
        Ok(())
    }

    /// Who is at a place, and with `nested`, in the places inside it.
    pub async fn occupants(
        &self,
        tenant: &TenantId,
        id: Uuid,
        nested: bool,
        page: PageRequest,
    ) -> Result<Page<Character>> {
        let places = self.scope(tenant, id, nested).await?;
        let rows = self.world.characters_at(tenant, &places, &page).await?;
        Ok(Page::from_rows(rows, &page, |c| c.id))
    }

    /// The place and, with `nested`, every place inside it; 404 when the
    /// place is not the tenant's.
    pub(crate) async fn scope(
        &self,
        tenant: &TenantId,
        id: Uuid,
        nested: bool,
    ) -> Result<Vec<Uuid>> {
        if nested {
            let tree = self.world.place_tree(tenant, id).await?;
            if tree.is_empty() {
                return Err(Error::not_found("place", id));
            }
            Ok(tree)
        } else {
            require_place(self.world.as_ref(), tenant, id).await?;
            Ok(vec![id])
        }
    }

    /// Moves a character (or takes it out of every place) and gives it an
    /// episodic memory of going: "I went to the Tavern." The memory is the
    /// world's (any person the character talks with may hear of it).
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn move_character(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        to: Move,
    ) -> Result<(Character, Memory)> {
        let mut character =
            require_character(self.characters.as_ref(), tenant, character_id).await?;
        let from = match character.place_id {
            Some(id) => self.world.get_place(tenant, id).await?,
            None => None,
        };
        let destination = match to.place_id {
            Some(id) => Some(
                self.world
                    .get_place(tenant, id)
                    .await?
                    .ok_or_else(|| Error::not_found("place", id))?,
            ),
            None => None,
        };
        let content = match (&from, &destination) {
            (Some(from), Some(to)) if from.id == to.id => format!("I stayed at {}.", to.name),
            (Some(from), Some(to)) => format!("I left {} and went to {}.", from.name, to.name),
            (None, Some(to)) => format!("I went to {}.", to.name),
            (Some(from), None) => format!("I left {}.", from.name),
            (None, None) => {
                return Err(InvalidInput::new(
                    "place_id",
                    "the character is in no place; name one to move it to",
                )
                .into());
            }
        };
        let now = chrono::Utc::now();
        character.place_id = to.place_id;
        character.updated_at = now;
        if !self.characters.update_character(&character).await? {
            return Err(Error::not_found("character", character_id));
        }
        let _ = self.cache.delete(&persona_key(character_id)).await;
        let memory = self
            .writer
            .form(MemoryDraft {
                tenant: tenant.clone(),
                character_id,
                kind: MemoryKind::Episodic,
                source: MemorySource::Event,
                content,
                importance: Importance::DEFAULT.value(),
                session_id: None,
                user_id: None,
                created_at: None,
                occurred_at: to.occurred_at.map(WorldTime::value),
                embedding: None,
                evidence: Vec::new(),
                event_id: None,
            })
            .await?;
        tracing::info!(place_id = ?to.place_id, "character moved");
        Ok((character, memory))
    }

    async fn parent(&self, tenant: &TenantId, parent: Uuid) -> Result<Place> {
        self.world
            .get_place(tenant, parent)
            .await?
            .ok_or_else(|| InvalidInput::new("parent_id", "no such place").into())
    }

    /// How many places enclose `id` (itself included), bounded.
    async fn depth_above(&self, tenant: &TenantId, id: Uuid) -> Result<usize> {
        let mut depth = 1;
        let mut current = self.world.get_place(tenant, id).await?;
        while let Some(parent) = current.and_then(|p| p.parent_id) {
            depth += 1;
            if depth > MAX_PLACE_DEPTH {
                break;
            }
            current = self.world.get_place(tenant, parent).await?;
        }
        Ok(depth)
    }
}

fn too_deep() -> Error {
    InvalidInput::new(
        "parent_id",
        format!("places nest at most {MAX_PLACE_DEPTH} deep"),
    )
    .into()
}
