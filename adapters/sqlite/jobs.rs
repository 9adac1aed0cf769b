//! The job queue in SQLite: durable, so a job queued before a crash runs
//! after the restart. One writer connection makes a claim atomic without
//! row locks.

use super::{SqliteStore, Within, micros};
use crate::adapters::sql::*;
use crate::core::domain::{Job, JobOutcome, JobStatus, LEASE_EXPIRED_REASON, TenantId};
use crate::core::ports::{JobStore, StoreError};
use async_trait::async_trait;
use chrono::Utc;
use sqlx::types::Json;
use std::time::Duration;
use uuid::Uuid;

#[async_trait]
impl JobStore for SqliteStore {
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
        .bind(micros(job.run_at))
        .bind(job.locked_until.map(micros))
        .bind(&job.last_error)
        .bind(job.result.as_ref().map(Json))
        .bind(micros(job.created_at))
        .bind(micros(job.updated_at))
        .execute(&self.writer)
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
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        sqlx::query(
            "UPDATE jobs SET status = 'failed', locked_until = NULL, updated_at = $2,
                 last_error = replace($1, '{attempts}', CAST(attempts AS TEXT))
             WHERE status = 'running' AND locked_until < $2 AND attempts >= max_attempts",
        )
        .bind(LEASE_EXPIRED_REASON)
        .bind(micros(now))
        .execute(&self.writer)
        .within(self.query_timeout)
        .await?;
        let row = sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $2, updated_at = $1
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE (status = 'queued' AND run_at <= $1)
                    OR (status = 'running' AND locked_until < $1 AND attempts < max_attempts)
                 ORDER BY run_at, id
                 LIMIT 1)
             RETURNING *",
        )
        .bind(micros(now))
        .bind(micros(until))
        .fetch_optional(&self.writer)
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
        let now = Utc::now();
        let query = match outcome {
            JobOutcome::Done(result) => sqlx::query(
                "UPDATE jobs SET status = 'done', result = $3, locked_until = NULL, updated_at = $4
                 WHERE id = $1 AND status = 'running' AND attempts = $2",
            )
            .bind(id)
            .bind(attempt as i32)
            .bind(Json(result))
            .bind(micros(now)),
            JobOutcome::Retry { at, error } => sqlx::query(
                "UPDATE jobs SET status = 'queued', run_at = $3, last_error = $4, locked_until = NULL, updated_at = $5
                 WHERE id = $1 AND status = 'running' AND attempts = $2",
            )
            .bind(id)
            .bind(attempt as i32)
            .bind(micros(*at))
            .bind(error)
            .bind(micros(now)),
            JobOutcome::Failed(error) => sqlx::query(
                "UPDATE jobs SET status = 'failed', last_error = $3, locked_until = NULL, updated_at = $4
                 WHERE id = $1 AND status = 'running' AND attempts = $2",
            )
            .bind(id)
            .bind(attempt as i32)
            .bind(error)
            .bind(micros(now)),
        };
        let done = query
            .execute(&self.writer)
            .within(self.query_timeout)
            .await?;
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
        .bind(micros(before))
        .bind(i64::from(limit))
        .execute(&self.writer)
        .within(self.query_timeout)
        .await?;
        Ok(done.rows_affected())
    }

    async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Job>, StoreError> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.reader)
            .within(self.query_timeout)
            .await?
            .map(Job::try_from)
            .transpose()
    }

    async fn count_jobs_by_status(&self) -> Result<Vec<(JobStatus, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(JOB_COUNTS)
            .fetch_all(&self.reader)
            .within(self.query_timeout)
            .await?;
        Ok(job_counts(rows))
    }
}
