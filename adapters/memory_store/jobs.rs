//! The job queue in memory.

use super::InMemoryStore;
use crate::core::domain::{Job, JobOutcome, JobStatus, TenantId, lease_expired};
use crate::core::ports::JobStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use chrono::Utc;
use std::time::Duration;
use uuid::Uuid;

#[async_trait]
impl JobStore for InMemoryStore {
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
        for job in tables.jobs.values_mut() {
            if job.status == JobStatus::Running
                && job.locked_until.is_some_and(|until| until < now)
                && job.attempts >= job.max_attempts
            {
                job.status = JobStatus::Failed;
                job.locked_until = None;
                job.last_error = Some(lease_expired(job.attempts));
                job.updated_at = now;
            }
        }
        let runnable = tables
            .jobs
            .values_mut()
            .filter(|j| match j.status {
                JobStatus::Queued => j.run_at <= now,
                JobStatus::Running => {
                    j.locked_until.is_some_and(|until| until < now) && j.attempts < j.max_attempts
                }
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

    async fn finish_job(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &JobOutcome,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let mut tables = self.write();
        let Some(job) = tables
            .jobs
            .get_mut(&id)
            .filter(|j| j.status == JobStatus::Running && j.attempts == attempt)
        else {
            return Ok(false);
        };
        {
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
        Ok(true)
    }

    async fn delete_finished_jobs(
        &self,
        before: chrono::DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tables = self.write();
        let doomed: Vec<Uuid> = tables
            .jobs
            .values()
            .filter(|j| matches!(j.status, JobStatus::Done | JobStatus::Failed))
            .filter(|j| j.updated_at < before)
            .map(|j| j.id)
            .take(limit as usize)
            .collect();
        for id in &doomed {
            tables.jobs.remove(id);
        }
        Ok(doomed.len() as u64)
    }

    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError> {
        Ok(self
            .read()
            .jobs
            .get(&id)
            .filter(|j| &j.tenant == tenant)
            .cloned())
    }

    async fn count_jobs_by_status(&self) -> Result<Vec<(JobStatus, u64)>, StoreError> {
        let mut counts = std::collections::BTreeMap::<&'static str, (JobStatus, u64)>::new();
        for job in self.read().jobs.values() {
            counts
                .entry(job.status.as_str())
                .or_insert((job.status, 0))
                .1 += 1;
        }
        Ok(counts.into_values().collect())
    }
}
