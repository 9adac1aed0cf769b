//! The store's own upkeep: what it is, whether it answers, its schema.

use super::StoreError;
use async_trait::async_trait;

/// Identity, readiness and schema of the store.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StoreAdmin: Send + Sync + 'static {
    /// "in-memory" or "postgres", for `/health`.
    fn kind(&self) -> &'static str;
    /// Ok when the store answers and its schema is up to date.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Brings the schema up to date; idempotent and safe when several
    /// replicas call it at once.
    async fn migrate(&self) -> Result<(), StoreError>;
}
