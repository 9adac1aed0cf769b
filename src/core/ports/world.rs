//! The world: places, who is where, world events and their witnesses,
//! relationships and inner states.

use super::StoreError;
use crate::core::domain::{
    Character, Counterpart, InnerState, Memory, PageRequest, Place, Relationship, TenantId,
    Witness, WorldEvent,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A character's world, authoritative like the rest of the store.
///
/// Contract:
/// - Reads scoped by `tenant` return `None`/empty for rows of another tenant,
///   exactly as for rows that do not exist.
/// - Listings are ordered by id (UUIDv7; an event's id is stamped with its
///   world time, so events list in world time), return rows strictly after
///   `page.after`, and at most `page.fetch_limit()` rows.
/// - Writes that reference a missing (or foreign) place, character or
///   parent fail with `StoreError::Conflict`.
/// - Deleting a place makes the places inside it top-level, takes the
///   characters there out of any place and leaves its events placeless.
/// - Deleting a character removes its relationships (either side) and its
///   inner state; erasing a person removes every relationship with them.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `StoreError::Conflict` as above; `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WorldStore: Send + Sync + 'static {
    async fn insert_place(&self, place: &Place) -> Result<(), StoreError>;
    async fn get_place(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Place>, StoreError>;
    /// The tenant's places; with `parent`, only the places directly in it.
    async fn list_places(
        &self,
        tenant: &TenantId,
        parent: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Vec<Place>, StoreError>;
    /// Returns false when the place does not exist for this tenant.
    async fn update_place(&self, place: &Place) -> Result<bool, StoreError>;
    async fn delete_place(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// Every tenant's places in id order, after `after`, at most `limit`:
    /// for a whole-store export.
    async fn places_after(&self, after: Option<Uuid>, limit: u32)
    -> Result<Vec<Place>, StoreError>;
    /// `root` and every place nested in it, at most `MAX_PLACE_DEPTH`
    /// levels down; empty when `root` is not the tenant's.
    async fn place_tree(&self, tenant: &TenantId, root: Uuid) -> Result<Vec<Uuid>, StoreError>;
    /// Characters whose current place is one of `places`, in id order.
    async fn characters_at(
        &self,
        tenant: &TenantId,
        places: &[Uuid],
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError>;

    /// Stores the event and each witness's memory of it, all or nothing.
    async fn record_world_event(
        &self,
        event: &WorldEvent,
        memories: &[Memory],
    ) -> Result<(), StoreError>;
    async fn get_world_event(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<WorldEvent>, StoreError>;
    /// The tenant's events, in world time; with `place`, only those there.
    async fn list_world_events(
        &self,
        tenant: &TenantId,
        place: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Vec<WorldEvent>, StoreError>;
    /// Every tenant's events in id order, after `after`, at most `limit`.
    async fn world_events_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<WorldEvent>, StoreError>;
    /// The characters that keep a memory of the event, in character order.
    async fn event_witnesses(
        &self,
        tenant: &TenantId,
        event_id: Uuid,
    ) -> Result<Vec<Witness>, StoreError>;
    /// A character's memories of world events stored after `after`, oldest
    /// (by storage) first, at most `limit`: what cognition has not read.
    async fn event_memories_since(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        after: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError>;

    async fn get_relationship(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        counterpart: &Counterpart,
    ) -> Result<Option<Relationship>, StoreError>;
    /// A character's relationships, the latest changed first, at most `limit`.
    async fn list_relationships(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Relationship>, StoreError>;
    /// Inserts or replaces.
    async fn put_relationship(&self, relationship: &Relationship) -> Result<(), StoreError>;
    async fn get_inner_state(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<Option<InnerState>, StoreError>;
    /// Inserts or replaces.
    async fn put_inner_state(&self, state: &InnerState) -> Result<(), StoreError>;
    /// What a turn with `user_id` needs, in one read: the character's inner
    /// state and its relationship with that person.
    async fn bearing(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<(Option<InnerState>, Option<Relationship>), StoreError>;
}
