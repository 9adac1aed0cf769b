//! The durable job queue.

use super::StoreError;
use crate::core::domain::{Job, JobOutcome, TenantId};
use async_trait::async_trait;
use std::time::Duration;
use uuid::Uuid;

/// Background jobs, claimed under a lease.
///
/// Contract: reads scoped by `tenant` return `None` for another tenant's
/// jobs; enqueueing a job for a missing (or foreign) character fails with
/// `StoreError::Conflict`.
///
/// # Errors
/// `StoreError::Unavailable` when the backing service cannot be reached;
/// `StoreError::Conflict` on a missing parent; `Internal` otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    async fn enqueue_job(&self, job: &Job) -> Result<(), StoreError>;
    /// Takes the oldest runnable job (queued and due, or running with an
    /// expired lease), marks it running for `lease` and counts the attempt.
    /// Concurrent callers never get the same job.
    async fn claim_job(&self, lease: Duration) -> Result<Option<Job>, StoreError>;
    async fn finish_job(&self, id: Uuid, outcome: &JobOutcome) -> Result<(), StoreError>;
    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError>;
}
