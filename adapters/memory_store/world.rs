//! The world in memory: places, presence, events, relationships and
//! inner states.

use super::{InMemoryStore, Tables, page_of};
use crate::core::domain::{
    Character, Counterpart, InnerState, MAX_PLACE_DEPTH, Memory, PageRequest, Place, Relationship,
    TenantId, Witness, WorldEvent,
};
use crate::core::ports::{StoreError, WorldStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

fn place_exists(tables: &Tables, tenant: &TenantId, id: Uuid) -> bool {
    tables.places.get(&id).is_some_and(|p| &p.tenant == tenant)
}

fn character_exists(tables: &Tables, tenant: &TenantId, id: Uuid) -> bool {
    tables
        .characters
        .get(&id)
        .is_some_and(|c| &c.tenant == tenant)
}

fn missing(what: &str, id: Uuid) -> StoreError {
    StoreError::Conflict(format!("{what} {id} does not exist"))
}

/// Drops a character's relationships (either side) and inner state.
pub(super) fn remove_character_world(tables: &mut Tables, id: Uuid) {
    tables.relationships.retain(|(character, counterpart), _| {
        *character != id && *counterpart != Counterpart::Character(id)
    });
    tables.states.remove(&id);
}

/// Drops every relationship with a person (of one character, or all).
pub(super) fn remove_person_relationships(
    tables: &mut Tables,
    tenant: &TenantId,
    character_id: Option<Uuid>,
    user_id: &str,
) {
    let person = Counterpart::User(user_id.to_owned());
    tables.relationships.retain(|(character, counterpart), r| {
        !(&r.tenant == tenant
            && *counterpart == person
            && character_id.is_none_or(|c| c == *character))
    });
}

#[async_trait]
impl WorldStore for InMemoryStore {
    async fn insert_place(&self, place: &Place) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables.places.contains_key(&place.id) {
            return Err(StoreError::Conflict(format!("place {} exists", place.id)));
        }
        if let Some(parent) = place.parent_id
            && !place_exists(&tables, &place.tenant, parent)
        {
            return Err(missing("place", parent));
        }
        tables.places.insert(place.id, place.clone());
        Ok(())
    }

    async fn get_place(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Place>, StoreError> {
        Ok(self
            .read()
            .places
            .get(&id)
            .filter(|p| &p.tenant == tenant)
            .cloned())
    }

    async fn list_places(
        &self,
        tenant: &TenantId,
        parent: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Vec<Place>, StoreError> {
        Ok(page_of(&self.read().places, page, |p| {
            &p.tenant == tenant && parent.is_none_or(|parent| p.parent_id == Some(parent))
        }))
    }

    async fn update_place(&self, place: &Place) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if !place_exists(&tables, &place.tenant, place.id) {
            return Ok(false);
        }
        if let Some(parent) = place.parent_id
            && !place_exists(&tables, &place.tenant, parent)
        {
            return Err(missing("place", parent));
        }
        tables.places.insert(place.id, place.clone());
        Ok(true)
    }

    async fn delete_place(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if !place_exists(&tables, tenant, id) {
            return Ok(false);
        }
        tables.places.remove(&id);
        for place in tables.places.values_mut() {
            if place.parent_id == Some(id) {
                place.parent_id = None;
            }
        }
        for character in tables.characters.values_mut() {
            if character.place_id == Some(id) {
                character.place_id = None;
            }
        }
        for event in tables.events.values_mut() {
            if event.place_id == Some(id) {
                event.place_id = None;
            }
        }
        Ok(true)
    }

    async fn places_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Place>, StoreError> {
        let page = PageRequest {
            limit: limit.saturating_sub(1),
            after,
        };
        Ok(page_of(&self.read().places, &page, |_| true))
    }

    async fn world_events_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<WorldEvent>, StoreError> {
        let page = PageRequest {
            limit: limit.saturating_sub(1),
            after,
        };
        Ok(page_of(&self.read().events, &page, |_| true))
    }

    async fn place_tree(&self, tenant: &TenantId, root: Uuid) -> Result<Vec<Uuid>, StoreError> {
        let tables = self.read();
        if !place_exists(&tables, tenant, root) {
            return Ok(Vec::new());
        }
        let mut tree = vec![root];
        let mut level = vec![root];
        for _ in 0..MAX_PLACE_DEPTH {
            level = tables
                .places
                .values()
                .filter(|p| p.parent_id.is_some_and(|parent| level.contains(&parent)))
                .map(|p| p.id)
                .filter(|id| !tree.contains(id))
                .collect();
            if level.is_empty() {
                break;
            }
            tree.extend(&level);
        }
        Ok(tree)
    }

    async fn characters_at(
        &self,
        tenant: &TenantId,
        places: &[Uuid],
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError> {
        Ok(page_of(&self.read().characters, page, |c| {
            &c.tenant == tenant && c.place_id.is_some_and(|p| places.contains(&p))
        }))
    }

    async fn record_world_event(
        &self,
        event: &WorldEvent,
        memories: &[Memory],
    ) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables.events.contains_key(&event.id) {
            return Err(StoreError::Conflict(format!("event {} exists", event.id)));
        }
        if let Some(place) = event.place_id
            && !place_exists(&tables, &event.tenant, place)
        {
            return Err(missing("place", place));
        }
        if let Some(m) = memories.iter().find(|m| {
            m.tenant != event.tenant || !character_exists(&tables, &m.tenant, m.character_id)
        }) {
            return Err(missing("character", m.character_id));
        }
        tables.events.insert(event.id, event.clone());
        for memory in memories {
            tables.memories.insert(memory.id, memory.clone());
        }
        Ok(())
    }

    async fn get_world_event(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<WorldEvent>, StoreError> {
        Ok(self
            .read()
            .events
            .get(&id)
            .filter(|e| &e.tenant == tenant)
            .cloned())
    }

    async fn list_world_events(
        &self,
        tenant: &TenantId,
        place: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Vec<WorldEvent>, StoreError> {
        Ok(page_of(&self.read().events, page, |e| {
            &e.tenant == tenant && place.is_none_or(|p| e.place_id == Some(p))
        }))
    }

    async fn event_witnesses(
        &self,
        tenant: &TenantId,
        event_id: Uuid,
    ) -> Result<Vec<Witness>, StoreError> {
        let mut witnesses: Vec<Witness> = self
            .read()
            .memories
            .values()
            .filter(|m| &m.tenant == tenant && m.event_id == Some(event_id))
            .map(|m| Witness {
                character_id: m.character_id,
                memory_id: m.id,
            })
            .collect();
        witnesses.sort_by_key(|w| w.character_id);
        Ok(witnesses)
    }

    async fn event_memories_since(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        after: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError> {
        let mut memories: Vec<Memory> = self
            .read()
            .memories
            .values()
            .filter(|m| {
                &m.tenant == tenant
                    && m.character_id == character_id
                    && m.event_id.is_some()
                    && after.is_none_or(|after| m.created_at > after)
            })
            .cloned()
            .collect();
        memories.sort_by_key(|m| (m.created_at, m.id));
        memories.truncate(limit as usize);
        Ok(memories)
    }

    async fn get_relationship(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        counterpart: &Counterpart,
    ) -> Result<Option<Relationship>, StoreError> {
        Ok(self
            .read()
            .relationships
            .get(&(character_id, counterpart.clone()))
            .filter(|r| &r.tenant == tenant)
            .cloned())
    }

    async fn list_relationships(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Relationship>, StoreError> {
        let mut all: Vec<Relationship> = self
            .read()
            .relationships
            .values()
            .filter(|r| &r.tenant == tenant && r.character_id == character_id)
            .cloned()
            .collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
        all.truncate(limit as usize);
        Ok(all)
    }

    async fn put_relationship(&self, relationship: &Relationship) -> Result<(), StoreError> {
        let mut tables = self.write();
        let tenant = &relationship.tenant;
        if !character_exists(&tables, tenant, relationship.character_id) {
            return Err(missing("character", relationship.character_id));
        }
        if let Counterpart::Character(other) = relationship.counterpart
            && !character_exists(&tables, tenant, other)
        {
            return Err(missing("character", other));
        }
        tables.relationships.insert(
            (relationship.character_id, relationship.counterpart.clone()),
            relationship.clone(),
        );
        Ok(())
    }

    async fn get_inner_state(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<Option<InnerState>, StoreError> {
        Ok(self
            .read()
            .states
            .get(&character_id)
            .filter(|s| &s.tenant == tenant)
            .cloned())
    }

    async fn put_inner_state(&self, state: &InnerState) -> Result<(), StoreError> {
        let mut tables = self.write();
        if !character_exists(&tables, &state.tenant, state.character_id) {
            return Err(missing("character", state.character_id));
        }
        tables.states.insert(state.character_id, state.clone());
        Ok(())
    }

    async fn bearing(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<(Option<InnerState>, Option<Relationship>), StoreError> {
        let tables = self.read();
        let state = tables
            .states
            .get(&character_id)
            .filter(|s| &s.tenant == tenant)
            .cloned();
        let relationship = tables
            .relationships
            .get(&(character_id, Counterpart::User(user_id.to_owned())))
            .filter(|r| &r.tenant == tenant)
            .cloned();
        Ok((state, relationship))
    }
}
