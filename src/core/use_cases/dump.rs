//! `virlife export` and `virlife import`: a tenant's data (or every
//! tenant's) written as dump records and read back into any store, so a
//! world that starts on SQLite moves to PostgreSQL without loss. Records
//! keep their ids, so API keys, links and cursors clients hold stay valid.
//! The world goes with them: places, world events, relationships and inner
//! states. Jobs and idempotency records are not carried (they are in
//! flight, not data); import skips what the target already has, so it can
//! be re-run.

use super::support::VectorSync;
use crate::core::domain::{
    Character, DUMP_FORMAT, DUMP_VERSION, DumpHeader, DumpRecord, InvalidInput, PageRequest,
    TenantId,
};
use crate::core::error::{Error, Result};
use crate::core::ports::{LlmDescription, Store, StoreError};
use chrono::Utc;
use std::sync::Arc;
use uuid::Uuid;

/// Rows read per page while exporting.
const PAGE: u32 = 100;

/// Where export writes records (the CLI: JSON lines to a file or stdout).
pub trait DumpSink: Send {
    fn write(&mut self, record: &DumpRecord) -> std::result::Result<(), String>;
}

/// Records of each kind, written or read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpCounts {
    pub api_keys: u64,
    pub characters: u64,
    pub sessions: u64,
    pub messages: u64,
    pub memories: u64,
    pub places: u64,
    pub events: u64,
    pub relationships: u64,
    pub states: u64,
}

impl DumpCounts {
    fn count(&mut self, record: &DumpRecord) {
        match record {
            DumpRecord::Header(_) => {}
            DumpRecord::ApiKey(_) => self.api_keys += 1,
            DumpRecord::Character(_) => self.characters += 1,
            DumpRecord::Session(_) => self.sessions += 1,
            DumpRecord::Message(_) => self.messages += 1,
            DumpRecord::Memory(_) => self.memories += 1,
            DumpRecord::Place(_) => self.places += 1,
            DumpRecord::WorldEvent(_) => self.events += 1,
            DumpRecord::Relationship(_) => self.relationships += 1,
            DumpRecord::InnerState(_) => self.states += 1,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub imported: DumpCounts,
    /// Already in the target (an import run again), or under a parent
    /// that was not there.
    pub skipped: DumpCounts,
    /// Memories embedded by another model than the one configured here:
    /// stored, and searchable after `virlife reindex`.
    pub other_model: u64,
}

#[derive(Clone)]
pub struct Dumps {
    store: Arc<dyn Store>,
    sync: VectorSync,
    model: LlmDescription,
}

fn store_error(err: StoreError) -> Error {
    err.into()
}

fn sink_error(reason: String) -> Error {
    Error::Unprocessable(format!("cannot write the dump: {reason}"))
}

impl Dumps {
    pub(crate) fn new(store: Arc<dyn Store>, sync: VectorSync, model: LlmDescription) -> Self {
        Self { store, sync, model }
    }

    /// Writes the header, the API keys, then each character with its
    /// sessions (each followed by its messages) and its memories, oldest
    /// first, one page at a time.
    #[tracing::instrument(skip_all, fields(tenant = ?tenant))]
    pub async fn export(
        &self,
        tenant: Option<&TenantId>,
        sink: &mut dyn DumpSink,
    ) -> Result<DumpCounts> {
        let mut counts = DumpCounts::default();
        let mut emit = |record: DumpRecord, counts: &mut DumpCounts| {
            counts.count(&record);
            sink.write(&record).map_err(sink_error)
        };
        emit(
            DumpRecord::Header(DumpHeader {
                format: DUMP_FORMAT.to_owned(),
                version: DUMP_VERSION,
                exported_at: Utc::now(),
                tenant: tenant.cloned(),
            }),
            &mut counts,
        )?;
        for key in self.store.list_api_keys().await? {
            if tenant.is_none_or(|t| *t == key.tenant) {
                emit(DumpRecord::ApiKey(key), &mut counts)?;
            }
        }
        self.export_world(tenant, &mut |r| emit(r, &mut counts))
            .await?;
        let mut after = None;
        loop {
            let characters = self.characters_page(tenant, after).await?;
            let Some(last) = characters.last() else { break };
            after = Some(last.id);
            for character in characters {
                let (tenant, id) = (character.tenant.clone(), character.id);
                emit(DumpRecord::Character(character), &mut counts)?;
                self.export_sessions(&tenant, id, &mut |r| emit(r, &mut counts))
                    .await?;
                self.export_memories(&tenant, id, &mut |r| emit(r, &mut counts))
                    .await?;
            }
        }
        // Relationships may name any character: after all of them.
        let mut after = None;
        loop {
            let characters = self.characters_page(tenant, after).await?;
            let Some(last) = characters.last() else { break };
            after = Some(last.id);
            for character in characters {
                let (tenant, id) = (&character.tenant, character.id);
                for relationship in self.store.list_relationships(tenant, id, u32::MAX).await? {
                    emit(DumpRecord::Relationship(relationship), &mut counts)?;
                }
                if let Some(state) = self.store.get_inner_state(tenant, id).await? {
                    emit(DumpRecord::InnerState(state), &mut counts)?;
                }
            }
        }
        Ok(counts)
    }

    /// Places, then world events (both in id order), before the characters
    /// that are in them and the memories that name them.
    async fn export_world(
        &self,
        tenant: Option<&TenantId>,
        emit: &mut (dyn FnMut(DumpRecord) -> Result<()> + Send),
    ) -> Result<()> {
        let mut after = None;
        loop {
            let places = match tenant {
                Some(tenant) => {
                    let page = PageRequest {
                        limit: PAGE - 1,
                        after,
                    };
                    self.store.list_places(tenant, None, &page).await?
                }
                None => self.store.places_after(after, PAGE).await?,
            };
            let Some(last) = places.last() else { break };
            after = Some(last.id);
            for place in places {
                emit(DumpRecord::Place(place))?;
            }
        }
        let mut after = None;
        loop {
            let events = match tenant {
                Some(tenant) => {
                    let page = PageRequest {
                        limit: PAGE - 1,
                        after,
                    };
                    self.store.list_world_events(tenant, None, &page).await?
                }
                None => self.store.world_events_after(after, PAGE).await?,
            };
            let Some(last) = events.last() else { break };
            after = Some(last.id);
            for event in events {
                emit(DumpRecord::WorldEvent(event))?;
            }
        }
        Ok(())
    }

    async fn characters_page(
        &self,
        tenant: Option<&TenantId>,
        after: Option<Uuid>,
    ) -> Result<Vec<Character>> {
        Ok(match tenant {
            Some(tenant) => {
                let mut page = PageRequest::parse(Some(i64::from(PAGE)), None)?;
                page.after = after;
                let mut rows = self.store.list_characters(tenant, &page).await?;
                rows.truncate(PAGE as usize);
                rows
            }
            None => self.store.characters_after(after, PAGE).await?,
        })
    }

    async fn export_sessions(
        &self,
        tenant: &TenantId,
        character: Uuid,
        emit: &mut (dyn FnMut(DumpRecord) -> Result<()> + Send),
    ) -> Result<()> {
        let mut page = PageRequest::parse(Some(i64::from(PAGE)), None)?;
        loop {
            let mut sessions = self.store.list_sessions(tenant, character, &page).await?;
            let more = sessions.len() > PAGE as usize;
            sessions.truncate(PAGE as usize);
            page.after = sessions.last().map(|s| s.id);
            for session in sessions {
                let id = session.id;
                emit(DumpRecord::Session(session))?;
                let mut messages_page = PageRequest::parse(Some(i64::from(PAGE)), None)?;
                loop {
                    let mut messages = self.store.list_messages(tenant, id, &messages_page).await?;
                    let more = messages.len() > PAGE as usize;
                    messages.truncate(PAGE as usize);
                    messages_page.after = messages.last().map(|m| m.id);
                    for message in messages {
                        emit(DumpRecord::Message(message))?;
                    }
                    if !more {
                        break;
                    }
                }
            }
            if !more {
                return Ok(());
            }
        }
    }

    async fn export_memories(
        &self,
        tenant: &TenantId,
        character: Uuid,
        emit: &mut (dyn FnMut(DumpRecord) -> Result<()> + Send),
    ) -> Result<()> {
        let mut page = PageRequest::parse(Some(i64::from(PAGE)), None)?;
        loop {
            let mut memories = self
                .store
                .list_memories(tenant, character, None, &page)
                .await?;
            let more = memories.len() > PAGE as usize;
            memories.truncate(PAGE as usize);
            page.after = memories.last().map(|m| m.id);
            for memory in memories {
                emit(DumpRecord::Memory(memory))?;
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// Starts an import into this store.
    pub fn importer(&self) -> DumpImport {
        DumpImport {
            dumps: self.clone(),
            outcome: ImportOutcome::default(),
            supersessions: Vec::new(),
            parents: Vec::new(),
            header_seen: false,
        }
    }
}

/// One import in progress: records go in one by one, in dump order; a
/// memory's successor is linked at `finish`, once both are stored.
pub struct DumpImport {
    dumps: Dumps,
    outcome: ImportOutcome,
    supersessions: Vec<(TenantId, Uuid, Uuid)>,
    /// Places whose parent is set once every place is in.
    parents: Vec<(TenantId, Uuid, Uuid)>,
    header_seen: bool,
}

impl DumpImport {
    /// Stores one record; one the target already has (or whose parent it
    /// lacks) is skipped and counted.
    pub async fn add(&mut self, record: DumpRecord) -> Result<()> {
        if let Some(tenant) = record.tenant() {
            TenantId::parse(tenant.as_str())?;
        }
        let store = &self.dumps.store;
        let stored = match &record {
            DumpRecord::Header(header) => {
                if header.format != DUMP_FORMAT || header.version != DUMP_VERSION {
                    return Err(InvalidInput::new(
                        "header",
                        format!(
                            "not a {DUMP_FORMAT} version {DUMP_VERSION} dump ({} {})",
                            header.format, header.version
                        ),
                    )
                    .into());
                }
                self.header_seen = true;
                return Ok(());
            }
            _ if !self.header_seen => {
                return Err(InvalidInput::new(
                    "header",
                    format!("a dump starts with its {DUMP_FORMAT} header line"),
                )
                .into());
            }
            DumpRecord::ApiKey(key) => store.insert_api_key(key).await,
            DumpRecord::Character(character) => store.insert_character(character).await,
            DumpRecord::Session(session) => store.insert_session(session).await,
            DumpRecord::Message(message) => store.append_message(message).await,
            DumpRecord::Place(place) => {
                // Parents are linked at the end: a place may have been
                // moved into one created after it.
                let mut place = place.clone();
                if let Some(parent) = place.parent_id.take() {
                    self.parents.push((place.tenant.clone(), place.id, parent));
                }
                store.insert_place(&place).await
            }
            DumpRecord::WorldEvent(event) => store.record_world_event(event, &[]).await,
            DumpRecord::Relationship(relationship) => store.put_relationship(relationship).await,
            DumpRecord::InnerState(state) => store.put_inner_state(state).await,
            DumpRecord::Memory(memory) => {
                let mut memory = memory.clone();
                if let Some(successor) = memory.superseded_by.take() {
                    self.supersessions
                        .push((memory.tenant.clone(), memory.id, successor));
                }
                let stored = store.insert_memory(&memory).await;
                if stored.is_ok() {
                    if memory.embedding_model == self.dumps.model.embedding_model
                        && memory.embedding.len() == self.dumps.model.dimensions
                    {
                        self.dumps.sync.index(&memory).await;
                    } else {
                        self.outcome.other_model += 1;
                    }
                }
                stored
            }
        };
        match stored {
            Ok(()) => self.outcome.imported.count(&record),
            Err(StoreError::Conflict(_)) => self.outcome.skipped.count(&record),
            Err(err) => return Err(store_error(err)),
        }
        Ok(())
    }

    /// Links superseded memories to their successors, and reports.
    pub async fn finish(self) -> Result<ImportOutcome> {
        for (tenant, id, parent) in &self.parents {
            if let Some(mut place) = self.dumps.store.get_place(tenant, *id).await?
                && place.parent_id.is_none()
            {
                place.parent_id = Some(*parent);
                match self.dumps.store.update_place(&place).await {
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    Err(err) => return Err(store_error(err)),
                }
            }
        }
        for (tenant, old, new) in &self.supersessions {
            self.dumps
                .store
                .supersede_memory(tenant, *old, *new)
                .await?;
        }
        Ok(self.outcome)
    }
}
