//! Sessions and their messages.

use super::StoreError;
use crate::core::domain::{Erasure, Message, PageRequest, Role, Session, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Sessions with a character, and the messages exchanged in them.
///
/// Contract:
/// - Reads scoped by `tenant` return `None`/empty for rows of another tenant,
///   exactly as for rows that do not exist.
/// - Listings are ordered by id (UUIDv7, i.e. creation order), return rows
///   strictly after `page.after`, and at most `page.fetch_limit()` rows.
/// - Deleting a session removes its messages and detaches its memories
///   (their `session_id` becomes `None`).
/// - Writes that reference a missing (or foreign) parent row fail with
///   `StoreError::Conflict`.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `StoreError::Conflict` on a uniqueness violation; `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn get_session(&self, tenant: &TenantId, id: Uuid)
    -> Result<Option<Session>, StoreError>;
    async fn list_sessions(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Session>, StoreError>;
    async fn delete_session(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// The person's latest session with a character, if any.
    async fn latest_session_for(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<Option<Session>, StoreError>;
    /// Deletes up to `limit` sessions idle since before `cutoff`; returns how many.
    async fn delete_idle_sessions(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Stores a message and moves its session's `last_active_at`.
    async fn append_message(&self, message: &Message) -> Result<(), StoreError>;
    async fn get_message(&self, tenant: &TenantId, id: Uuid)
    -> Result<Option<Message>, StoreError>;
    async fn list_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<Message>, StoreError>;
    /// The last `limit` messages of a session, oldest first.
    async fn recent_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
    async fn count_messages(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        role: Role,
    ) -> Result<u64, StoreError>;
    /// Erases a person: their sessions (with messages) and every memory
    /// they own or that came from their sessions, of one character or, with
    /// `None`, of all the tenant's characters; all or nothing.
    async fn erase_person(
        &self,
        tenant: &TenantId,
        character_id: Option<Uuid>,
        user_id: &str,
    ) -> Result<Erasure, StoreError>;
}
