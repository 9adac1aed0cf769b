//! API keys: the tenants' credentials, stored by hash.

use super::StoreError;
use crate::core::domain::{ApiKey, KeyHash};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// API keys, found by the hash of the secret (never the secret itself).
///
/// Contract: a key hash is unique (a second insert is `StoreError::Conflict`).
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `StoreError::Conflict` on a uniqueness violation; `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// Returns false when no live key has this id.
    async fn revoke_api_key(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;
}
