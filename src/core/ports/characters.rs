//! Characters: the aggregate every session, memory and job hangs from.

use super::StoreError;
use crate::core::domain::{Character, PageRequest, TenantId};
use async_trait::async_trait;
use uuid::Uuid;

/// Characters of a tenant.
///
/// Contract:
/// - Reads scoped by `tenant` return `None`/empty for rows of another tenant,
///   exactly as for rows that do not exist.
/// - Listings are ordered by id (UUIDv7, i.e. creation order), return rows
///   strictly after `page.after`, and at most `page.fetch_limit()` rows.
/// - Deleting a character removes its sessions, messages, memories and jobs.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `StoreError::Conflict` on a uniqueness violation; `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CharacterStore: Send + Sync + 'static {
    async fn insert_character(&self, character: &Character) -> Result<(), StoreError>;
    async fn get_character(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Character>, StoreError>;
    async fn list_characters(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError>;
    /// The tenant's first character (in creation order) with exactly this name.
    async fn find_character_by_name(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<Character>, StoreError>;
    /// Returns false when the character does not exist for this tenant.
    async fn update_character(&self, character: &Character) -> Result<bool, StoreError>;
    async fn delete_character(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// Characters of every tenant with ids after `after`, oldest first, at
    /// most `limit`: for a whole-store export.
    async fn characters_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Character>, StoreError>;
}
