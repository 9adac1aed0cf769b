//! The job queue in PostgreSQL (`FOR UPDATE SKIP LOCKED`).

use super::{PostgresStore, Within};
use crate::adapters::sql::*;
use crate::core::domain::{Job, JobOutcome, JobStatus, LEASE_EXPIRED_REASON, TenantId};
use crate::core::ports::JobStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use sqlx::types::Json;
use std::time::Duration;
use uuid::Uuid;

#[async_trait]
impl JobStore for PostgresStore {
    async fn enqueue_job(&self, job: &Job) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO jobs (id, tenant, kind, character_id, status, attempts, max_attempts, run_at, locked_until, last_error, result, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
             WHERE EXISTS (SELECT 1 FROM characters WHERE id = $4 AND tenant = $2)",
        )
        .bind(job.id)
        .bind(job.tenant.as_str())
        .bind(job.kind.as_str())
        .bind(job.character_id)
        .bind(job.status.as_str())
        .bind(job.attempts as i32)
        .bind(job.max_attempts as i32)
        .bind(job.run_at)
        .bind(job.locked_until)
        .bind(&job.last_error)
        .bind(job.result.as_ref().map(Json))
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                job.character_id
            )));
        }
        Ok(())
    }

    async fn claim_job(&self, lease: Duration) -> Result<Option<Job>, StoreError> {
        // Jobs whose lease ran out after their last attempt end here.
        sqlx::query(
            "UPDATE jobs SET status = 'failed', locked_until = NULL, updated_at = now(),
                 last_error = replace($1, '{attempts}', attempts::text)
             WHERE status = 'running' AND locked_until < now() AND attempts >= max_attempts",
        )
        .bind(LEASE_EXPIRED_REASON)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        // SKIP LOCKED: concurrent workers (other replicas) never take the same job.
        let row = sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1,
                 locked_until = now() + make_interval(secs => $1), updated_at = now()
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE (status = 'queued' AND run_at <= now())
                    OR (status = 'running' AND locked_until < now() AND attempts < max_attempts)
                 ORDER BY run_at, id
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await?;
        row.map(Job::try_from).transpose()
    }

    async fn finish_job(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &JobOutcome,
    ) -> Result<bool, StoreError> {
        // Only the holder of the current lease: running, at the claimed attempt.
        let query = match outcome {
            JobOutcome::Done(result) => sqlx::query(
                "UPDATE jobs SET status = 'done', result = $3, locked_until = NULL, updated_at = now()
                 WHERE id = $1 AND status = 'running' AND attempts = $2",
            )
            .bind(id)
            .bind(attempt as i32)
            .bind(Json(result)),
            JobOutcome::Retry { at, error } => sqlx::query(
                "UPDATE jobs SET status = 'queued', run_at = $3, last_error = $4, locked_until = NULL, updated_at = now()
                 WHERE id = $1 AND status = 'running' AND attempts = $2",
            )
            .bind(id)
            .bind(attempt as i32)
            .bind(*at)
            .bind(error),
            JobOutcome::Failed(error) => sqlx::query(
                "UPDATE jobs SET status = 'failed', last_error = $3, locked_until = NULL, updated_at = now()
                 WHERE id = $1 AND status = 'running' AND attempts = $2",
            )
            .bind(id)
            .bind(attempt as i32)
            .bind(error),
        };
        let done = query.execute(&self.pool).within(self.query_timeout).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_finished_jobs(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM jobs WHERE id IN (
                 SELECT id FROM jobs
                 WHERE status IN ('done', 'failed') AND updated_at < $1
                 LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(done.rows_affected())
    }

    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .within(self.query_timeout)
            .await?
            .map(Job::try_from)
            .transpose()
    }

    async fn count_jobs_by_status(&self) -> Result<Vec<(JobStatus, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(JOB_COUNTS)
            .fetch_all(&self.pool)
            .within(self.query_timeout)
            .await?;
        Ok(job_counts(rows))
    }
}
