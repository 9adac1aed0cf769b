//! The durable job queue.

use super::StoreError;
use crate::core::domain::{Job, JobOutcome, JobStatus, TenantId};
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
    /// Concurrent callers never get the same job. A running job whose lease
    /// expired after its last allowed attempt is not taken again: it is
    /// marked failed, with a reason that says so.
    async fn claim_job(&self, lease: Duration) -> Result<Option<Job>, StoreError>;
    /// Records how a claimed job ended, only if the caller still holds it:
    /// the job is running and `attempt` is the attempt its claim returned.
    /// Returns false when the lease was lost (another worker took the job
    /// after it expired), changing nothing.
    async fn finish_job(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &JobOutcome,
    ) -> Result<bool, StoreError>;
    /// Deletes up to `limit` done or failed jobs last updated before
    /// `before`; returns how many.
    async fn delete_finished_jobs(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<u64, StoreError>;
    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError>;
    /// How many jobs each status holds, across tenants (for `/metrics`);
    /// statuses with none may be left out.
    async fn count_jobs_by_status(&self) -> Result<Vec<(JobStatus, u64)>, StoreError>;
}
