//! A dump: a tenant's data (or every tenant's) as one record per line, to
//! move a world between stores (SQLite to PostgreSQL) without loss. Ids,
//! times, people, key hashes and embeddings are kept as they are.

use super::{
    ApiKey, Character, InnerState, Memory, Message, Place, Relationship, Session, TenantId,
    WorldEvent,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const DUMP_FORMAT: &str = "virlife-dump";
pub const DUMP_VERSION: u32 = 1;

/// One line of a dump, tagged by `type`. Places and world events come
/// before the characters in them, a character before its sessions, a
/// session before its messages, memories after the sessions they were said
/// in, and relationships and inner states after every character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DumpRecord {
    Header(DumpHeader),
    ApiKey(ApiKey),
    Character(Character),
    Session(Session),
    Message(Message),
    Memory(Memory),
    Place(Place),
    WorldEvent(WorldEvent),
    Relationship(Relationship),
    InnerState(InnerState),
}

/// The first line: what wrote the dump, when, and of which tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpHeader {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    /// `None`: every tenant.
    pub tenant: Option<TenantId>,
}

impl DumpRecord {
    /// The tenant a record belongs to (none for the header).
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Self::Header(_) => None,
            Self::ApiKey(key) => Some(&key.tenant),
            Self::Character(character) => Some(&character.tenant),
            Self::Session(session) => Some(&session.tenant),
            Self::Message(message) => Some(&message.tenant),
            Self::Memory(memory) => Some(&memory.tenant),
            Self::Place(place) => Some(&place.tenant),
            Self::WorldEvent(event) => Some(&event.tenant),
            Self::Relationship(relationship) => Some(&relationship.tenant),
            Self::InnerState(state) => Some(&state.tenant),
        }
    }
}
