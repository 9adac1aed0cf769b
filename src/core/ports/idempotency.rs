//! Idempotency keys: a retried turn is answered once.

use super::StoreError;
use crate::core::domain::{IdempotencyRecord, TenantId};
use async_trait::async_trait;

/// Idempotency keys, unique per tenant, with the response once known.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Records the key if new and returns `None`; otherwise returns the
    /// record already stored (the key is unique per tenant).
    async fn claim_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    async fn complete_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        response: &serde_json::Value,
    ) -> Result<(), StoreError>;
}
