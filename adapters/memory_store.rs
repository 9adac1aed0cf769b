//! In-memory `Store`: the development default and the reference the contract
//! tests hold the PostgreSQL store to. Everything is lost on restart.

use crate::core::domain::{
    ApiKey, Character, IdempotencyRecord, Job, JobOutcome, JobStatus, KeyHash, Memory, MemoryKind,
    Message, PageRequest, PendingVector, PendingVectorRow, Role, Session, TenantId, new_id,
};
use crate::core::ports::{Store, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::RwLock;
use std::time::Duration;
use uuid::Uuid;

#[derive(Default)]
struct Tables {
    api_keys: BTreeMap<Uuid, ApiKey>,
    characters: BTreeMap<Uuid, Character>,
    sessions: BTreeMap<Uuid, Session>,
    messages: BTreeMap<Uuid, Message>,
    memories: BTreeMap<Uuid, Memory>,
    idempotency: HashMap<(TenantId, String), IdempotencyRecord>,
    jobs: BTreeMap<Uuid, Job>,
    pending_vectors: BTreeMap<Uuid, PendingVector>,
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
    tables
        .messages
        .retain(|_, m| !session_ids.contains(&m.session_id));
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
impl Store for InMemoryStore {
    fn kind(&self) -> &'static str {
        "in-memory"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables.api_keys.values().any(|k| k.key_hash == key.key_hash) {
            return Err(StoreError::Conflict("api key already exists".into()));
        }
        tables.api_keys.insert(key.id, key.clone());
        Ok(())
    }

    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError> {
        Ok(self
            .read()
            .api_keys
            .values()
            .find(|k| &k.key_hash == hash)
            .cloned())
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self.read().api_keys.values().cloned().collect())
    }

    async fn revoke_api_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tables = self.write();
        match tables.api_keys.get_mut(&id) {
            Some(key) if key.revoked_at.is_none() => {
                key.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn insert_character(&self, character: &Character) -> Result<(), StoreError> {
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

    async fn update_character(&self, character: &Character) -> Result<bool, StoreError> {
        let mut tables = self.write();
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
        Ok(true)
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables
            .characters
            .get(&session.character_id)
            .is_none_or(|c| c.tenant != session.tenant)
        {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                session.character_id
            )));
        }
        tables.sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn get_session(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Session>, StoreError> {
        Ok(self
            .read()
            .sessions
            .get(&id)
            .filter(|s| &s.tenant == tenant)
            .cloned())
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Session>, StoreError> {
        Ok(page_of(&self.read().sessions, page, |s| {
            &s.tenant == tenant && s.character_id == character_id
        }))
    }

    async fn delete_session(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if tables.sessions.get(&id).is_none_or(|s| &s.tenant != tenant) {
            return Ok(false);
        }
        remove_session_rows(&mut tables, &[id]);
        Ok(true)
    }

    async fn delete_idle_sessions(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tables = self.write();
        let idle: Vec<Uuid> = tables
            .sessions
            .values()
            .filter(|s| s.last_active_at < cutoff)
            .take(limit as usize)
            .map(|s| s.id)
            .collect();
        remove_session_rows(&mut tables, &idle);
        Ok(idle.len() as u64)
    }

    async fn append_message(&self, message: &Message) -> Result<(), StoreError> {
        let mut tables = self.write();
        let Some(session) = tables
            .sessions
            .get_mut(&message.session_id)
            .filter(|s| s.tenant == message.tenant)
        else {
            return Err(StoreError::Conflict(format!(
                "session {} does not exist",
                message.session_id
            )));
        };
        session.last_active_at = session.last_active_at.max(message.created_at);
        tables.messages.insert(message.id, message.clone());
        Ok(())
    }

    async fn get_message(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Message>, StoreError> {
        Ok(self
            .read()
            .messages
            .get(&id)
            .filter(|m| &m.tenant == tenant)
            .cloned())
    }

    async fn list_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Message>, StoreError> {
        Ok(page_of(&self.read().messages, page, |m| {
            &m.tenant == tenant && m.session_id == session_id
        }))
    }

    async fn recent_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let tables = self.read();
        let mut recent: Vec<Message> = tables
            .messages
            .values()
            .rev()
            .filter(|m| &m.tenant == tenant && m.session_id == session_id)
            .take(limit as usize)
            .cloned()
            .collect();
        recent.reverse();
        Ok(recent)
    }

    async fn count_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        role: Role,
    ) -> Result<u64, StoreError> {
        Ok(self
            .read()
            .messages
            .values()
            .filter(|m| &m.tenant == tenant && m.session_id == session_id && m.role == role)
            .count() as u64)
    }

    async fn insert_memory(&self, memory: &Memory) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables
            .characters
            .get(&memory.character_id)
            .is_none_or(|c| c.tenant != memory.tenant)
        {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                memory.character_id
            )));
        }
        tables.memories.insert(memory.id, memory.clone());
        Ok(())
    }

    async fn get_memories(
        &self,
        tenant: &TenantId,
        ids: &[Uuid],
    ) -> Result<Vec<Memory>, StoreError> {
        let tables = self.read();
        Ok(ids
            .iter()
            .filter_map(|id| tables.memories.get(id))
            .filter(|m| &m.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn list_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
        page: &PageRequest,
    ) -> Result<Vec<Memory>, StoreError> {
        Ok(page_of(&self.read().memories, page, |m| {
            &m.tenant == tenant
                && m.character_id == character_id
                && kind.is_none_or(|k| m.kind == k)
        }))
    }

    async fn all_memories(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        kind: Option<MemoryKind>,
    ) -> Result<Vec<Memory>, StoreError> {
        Ok(self
            .read()
            .memories
            .values()
            .filter(|m| {
                &m.tenant == tenant
                    && m.character_id == character_id
                    && kind.is_none_or(|k| m.kind == k)
            })
            .cloned()
            .collect())
    }

    async fn delete_memory(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if tables
            .memories
            .get(&id)
            .is_some_and(|m| &m.tenant == tenant && m.character_id == character_id)
        {
            tables.memories.remove(&id);
            // As PostgreSQL's ON DELETE SET NULL does.
            for memory in tables.memories.values_mut() {
                if memory.superseded_by == Some(id) {
                    memory.superseded_by = None;
                }
            }
            return Ok(true);
        }
        Ok(false)
    }

    async fn supersede_memory(
        &self,
        tenant: &TenantId,
        old: Uuid,
        new: Uuid,
    ) -> Result<bool, StoreError> {
        let mut tables = self.write();
        if tables
            .memories
            .get(&new)
            .is_none_or(|m| &m.tenant != tenant)
        {
            return Ok(false);
        }
        match tables.memories.get_mut(&old) {
            Some(memory) if &memory.tenant == tenant => {
                memory.superseded_by = Some(new);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn update_embedding(
        &self,
        id: Uuid,
        embedding: &[f32],
        model: &str,
    ) -> Result<bool, StoreError> {
        match self.write().memories.get_mut(&id) {
            Some(memory) => {
                memory.embedding = embedding.to_vec();
                memory.embedding_model = model.to_owned();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn record_pending_vector(&self, change: &PendingVector) -> Result<(), StoreError> {
        self.write()
            .pending_vectors
            .insert(new_id(), change.clone());
        Ok(())
    }

    async fn pending_vectors(&self, limit: u32) -> Result<Vec<PendingVectorRow>, StoreError> {
        Ok(self
            .read()
            .pending_vectors
            .iter()
            .take(limit as usize)
            .map(|(id, change)| PendingVectorRow {
                id: *id,
                change: change.clone(),
            })
            .collect())
    }

    async fn clear_pending_vectors(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let mut tables = self.write();
        for id in ids {
            tables.pending_vectors.remove(id);
        }
        Ok(())
    }

    async fn memories_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .read()
            .memories
            .range((start, Bound::Unbounded))
            .take(limit as usize)
            .map(|(_, m)| m.clone())
            .collect())
    }

    async fn claim_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut tables = self.write();
        let slot = (tenant.clone(), key.to_owned());
        if let Some(existing) = tables.idempotency.get(&slot) {
            return Ok(Some(existing.clone()));
        }
        tables.idempotency.insert(slot, record.clone());
        Ok(None)
    }

    async fn complete_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        response: &serde_json::Value,
    ) -> Result<(), StoreError> {
        if let Some(record) = self
            .write()
            .idempotency
            .get_mut(&(tenant.clone(), key.to_owned()))
        {
            record.response = Some(response.clone());
        }
        Ok(())
    }
    async fn enqueue_job(&self, job: &Job) -> Result<(), StoreError> {
        let mut tables = self.write();
        if tables
            .characters
            .get(&job.character_id)
            .is_none_or(|c| c.tenant != job.tenant)
        {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                job.character_id
            )));
        }
        tables.jobs.insert(job.id, job.clone());
        Ok(())
    }

    async fn claim_job(&self, lease: Duration) -> Result<Option<Job>, StoreError> {
        let now = Utc::now();
        let mut tables = self.write();
        let runnable = tables
            .jobs
            .values_mut()
            .filter(|j| match j.status {
                JobStatus::Queued => j.run_at <= now,
                JobStatus::Running => j.locked_until.is_some_and(|until| until < now),
                JobStatus::Done | JobStatus::Failed => false,
            })
            .min_by_key(|j| (j.run_at, j.id));
        Ok(runnable.map(|job| {
            job.status = JobStatus::Running;
            job.attempts += 1;
            job.locked_until = Some(now + chrono::Duration::from_std(lease).unwrap_or_default());
            job.updated_at = now;
            job.clone()
        }))
    }

    async fn finish_job(&self, id: Uuid, outcome: &JobOutcome) -> Result<(), StoreError> {
        let now = Utc::now();
        if let Some(job) = self.write().jobs.get_mut(&id) {
            job.locked_until = None;
            job.updated_at = now;
            match outcome {
                JobOutcome::Done(result) => {
                    job.status = JobStatus::Done;
                    job.result = Some(result.clone());
                }
                JobOutcome::Retry { at, error } => {
                    job.status = JobStatus::Queued;
                    job.run_at = *at;
                    job.last_error = Some(error.clone());
                }
                JobOutcome::Failed(error) => {
                    job.status = JobStatus::Failed;
                    job.last_error = Some(error.clone());
                }
            }
        }
        Ok(())
    }

    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError> {
        Ok(self
            .read()
            .jobs
            .get(&id)
            .filter(|j| &j.tenant == tenant)
            .cloned())
    }
}
