//! World events: one description, perceived by every witness (the listed
//! characters, else everyone at the place), each keeping its own episodic
//! memory of it; all stored in one transaction.

use super::places::Places;
use super::reflection::Reflection;
use super::support::{Embedder, MemoryDraft, MemoryWriter, require_character};
use crate::core::domain::{
    Importance, InvalidInput, MAX_WITNESSES, Memory, MemoryContent, MemoryKind, MemorySource, Page,
    PageRequest, TenantId, Witness, WorldEvent, WorldTime, id_at,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{CharacterStore, WorldStore};
use std::sync::Arc;
use uuid::Uuid;

/// Events at least this important queue an appraisal for each witness
/// (its cooldown still applies), so feelings follow what happens.
pub const APPRAISE_FROM_IMPORTANCE: f32 = 0.7;

pub struct NewWorldEvent {
    pub description: MemoryContent,
    pub place_id: Option<Uuid>,
    /// Explicit witnesses; `None`: everyone at the place.
    pub witnesses: Option<Vec<Uuid>>,
    /// With a place and no explicit witnesses: the places inside it too.
    pub nested: bool,
    pub importance: Importance,
    pub occurred_at: Option<WorldTime>,
}

/// An event and who perceived it.
#[derive(Debug)]
pub struct PerceivedEvent {
    pub event: WorldEvent,
    pub witnesses: Vec<Witness>,
}

#[derive(Clone)]
pub struct WorldEvents {
    world: Arc<dyn WorldStore>,
    characters: Arc<dyn CharacterStore>,
    places: Places,
    embedder: Embedder,
    writer: MemoryWriter,
    reflection: Reflection,
}

impl WorldEvents {
    pub(crate) fn new(
        world: Arc<dyn WorldStore>,
        characters: Arc<dyn CharacterStore>,
        places: Places,
        embedder: Embedder,
        writer: MemoryWriter,
        reflection: Reflection,
    ) -> Self {
        Self {
            world,
            characters,
            places,
            embedder,
            writer,
            reflection,
        }
    }

    /// Stores the event and every witness's memory of it, then indexes the
    /// memories and queues the witnesses' appraisals.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn record(&self, tenant: &TenantId, new: NewWorldEvent) -> Result<PerceivedEvent> {
        let (event, memories) = self.fan_out(tenant, new).await?;
        let mut witnesses: Vec<Witness> = memories
            .iter()
            .map(|m| Witness {
                character_id: m.character_id,
                memory_id: m.id,
            })
            .collect();
        witnesses.sort_by_key(|w| w.character_id);
        Ok(PerceivedEvent { event, witnesses })
    }

    /// An event one character perceives (the per-character route): its
    /// memory of it.
    pub async fn perceive(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        description: MemoryContent,
        importance: Importance,
        occurred_at: Option<WorldTime>,
    ) -> Result<Memory> {
        let new = NewWorldEvent {
            description,
            place_id: None,
            witnesses: Some(vec![character_id]),
            nested: false,
            importance,
            occurred_at,
        };
        let (_, memories) = self.fan_out(tenant, new).await?;
        memories
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("character", character_id))
    }

    async fn fan_out(
        &self,
        tenant: &TenantId,
        new: NewWorldEvent,
    ) -> Result<(WorldEvent, Vec<Memory>)> {
        let witnesses = self.witnesses(tenant, &new).await?;
        let occurred_at = new
            .occurred_at
            .map_or_else(chrono::Utc::now, WorldTime::value);
        let description = new.description.into_inner();
        // One embedding for every witness; none when nobody was there.
        let embedding = if witnesses.is_empty() {
            Vec::new()
        } else {
            self.embedder.embed_one(&description).await?
        };
        let event = WorldEvent {
            id: id_at(occurred_at),
            tenant: tenant.clone(),
            place_id: new.place_id,
            description: description.clone(),
            importance: new.importance.value(),
            occurred_at,
            created_at: chrono::Utc::now(),
        };
        let mut memories = Vec::with_capacity(witnesses.len());
        for character_id in &witnesses {
            memories.push(
                self.writer
                    .prepare(MemoryDraft {
                        tenant: tenant.clone(),
                        character_id: *character_id,
                        kind: MemoryKind::Episodic,
                        source: MemorySource::Event,
                        content: description.clone(),
                        importance: event.importance,
                        session_id: None,
                        user_id: None,
                        created_at: Some(event.created_at),
                        occurred_at: Some(occurred_at),
                        embedding: Some(embedding.clone()),
                        evidence: Vec::new(),
                        event_id: Some(event.id),
                    })
                    .await?,
            );
        }
        self.world.record_world_event(&event, &memories).await?;
        self.writer.index(&memories).await;
        tracing::info!(event_id = %event.id, witnesses = memories.len(), "world event recorded");
        if event.importance >= APPRAISE_FROM_IMPORTANCE {
            for character_id in &witnesses {
                self.reflection.request_soon(tenant, *character_id).await;
            }
        }
        Ok((event, memories))
    }

    pub async fn get(&self, tenant: &TenantId, id: Uuid) -> Result<PerceivedEvent> {
        let event = self
            .world
            .get_world_event(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("event", id))?;
        let witnesses = self.world.event_witnesses(tenant, id).await?;
        Ok(PerceivedEvent { event, witnesses })
    }

    pub async fn list(
        &self,
        tenant: &TenantId,
        place: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<WorldEvent>> {
        if let Some(place) = place {
            self.places.get(tenant, place).await?;
        }
        let rows = self.world.list_world_events(tenant, place, &page).await?;
        Ok(Page::from_rows(rows, &page, |e| e.id))
    }

    /// The listed characters (each the tenant's), else everyone at the place.
    async fn witnesses(&self, tenant: &TenantId, new: &NewWorldEvent) -> Result<Vec<Uuid>> {
        if let Some(listed) = &new.witnesses {
            if let Some(place) = new.place_id {
                self.places.get(tenant, place).await?;
            }
            if listed.is_empty() {
                return Err(InvalidInput::new("witnesses", "must not be empty when given").into());
            }
            if listed.len() > MAX_WITNESSES {
                return Err(InvalidInput::new(
                    "witnesses",
                    format!("must list at most {MAX_WITNESSES} characters"),
                )
                .into());
            }
            let mut ids = listed.clone();
            ids.sort();
            ids.dedup();
            for id in &ids {
                require_character(self.characters.as_ref(), tenant, *id).await?;
            }
            return Ok(ids);
        }
        // Everyone at the place; `scope` answers 404 for a place not the tenant's.
        let Some(place) = new.place_id else {
            return Err(InvalidInput::new(
                "witnesses",
                "name the witnesses or the place where the event happened",
            )
            .into());
        };
        let places = self.places.scope(tenant, place, new.nested).await?;
        let mut ids = Vec::new();
        let mut page = PageRequest {
            limit: 100,
            after: None,
        };
        loop {
            let rows = self.world.characters_at(tenant, &places, &page).await?;
            let more = rows.len() > page.limit as usize;
            ids.extend(rows.iter().take(page.limit as usize).map(|c| c.id));
            if ids.len() > MAX_WITNESSES {
                return Err(Error::Unprocessable(format!(
                    "more than {MAX_WITNESSES} characters are there; list the witnesses"
                )));
            }
            if !more {
                break;
            }
            page.after = ids.last().copied();
        }
        Ok(ids)
    }
}
