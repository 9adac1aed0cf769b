//! In-memory `Store`: the development default and the reference the contract
//! tests hold the PostgreSQL store to. Everything is lost on restart.

use crate::core::domain::{
    ApiKey, Character, Counterpart, IdempotencyRecord, InnerState, Job, Memory, Message,
    PageRequest, PendingVector, Place, Relationship, Session, TenantId, WorldEvent,
};
use crate::core::ports::{StoreAdmin, StoreError};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::RwLock;
use uuid::Uuid;

mod api_keys;
mod characters;
mod idempotency;
mod jobs;
mod memories;
mod sessions;
mod world;

#[derive(Default)]
struct Tables {
    api_keys: BTreeMap<Uuid, ApiKey>,
    characters: BTreeMap<Uuid, Character>,
    sessions: BTreeMap<Uuid, Session>,
    /// Each session's messages, so a turn's reads cost that session's
    /// length, never the number of messages stored.
    messages: HashMap<Uuid, BTreeMap<Uuid, Message>>,
    /// Which session each message is in.
    message_session: HashMap<Uuid, Uuid>,
    memories: BTreeMap<Uuid, Memory>,
    idempotency: HashMap<(TenantId, String), IdempotencyRecord>,
    jobs: BTreeMap<Uuid, Job>,
    pending_vectors: BTreeMap<Uuid, PendingVector>,
    places: BTreeMap<Uuid, Place>,
    events: BTreeMap<Uuid, WorldEvent>,
    relationships: HashMap<(Uuid, Counterpart), Relationship>,
    states: HashMap<Uuid, InnerState>,
}

#[derive(Default)]
pub struct InMemoryStore {
    tables: RwLock<Tables>,
}

impl InMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        // A poisoned lock means a panic mid-write elsewhere; the data is still usable.
        self.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Rows strictly after the cursor, in id order, filtered, at most `fetch_limit`.
fn page_of<T: Clone>(
    map: &BTreeMap<Uuid, T>,
    page: &PageRequest,
    keep: impl Fn(&T) -> bool,
) -> Vec<T> {
    let start = match page.after {
        Some(after) => Bound::Excluded(after),
        None => Bound::Unbounded,
    };
    map.range((start, Bound::Unbounded))
        .map(|(_, row)| row)
        .filter(|row| keep(row))
        .take(page.fetch_limit())
        .cloned()
        .collect()
}

fn remove_session_rows(tables: &mut Tables, session_ids: &[Uuid]) {
    for session in session_ids {
        for id in tables.messages.remove(session).unwrap_or_default().keys() {
            tables.message_session.remove(id);
        }
    }
    for memory in tables.memories.values_mut() {
        if memory.session_id.is_some_and(|s| session_ids.contains(&s)) {
            memory.session_id = None;
        }
    }
    tables
        .idempotency
        .retain(|_, record| !session_ids.contains(&record.session_id));
    for id in session_ids {
        tables.sessions.remove(id);
    }
}

#[async_trait]
impl StoreAdmin for InMemoryStore {
    fn kind(&self) -> &'static str {
        "in-memory"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
