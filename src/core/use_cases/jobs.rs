//! Background jobs: durable in the Store, run by a worker on every replica,
//! retried with backoff, visible through `GET /v1/jobs/{id}`.

use super::CoreSettings;
use super::reflection::Reflection;
use super::support::JobQueue;
use crate::core::domain::{Job, JobKind, JobOutcome, TenantId};
use crate::core::error::{Error, Result};
use crate::core::ports::{JobStore, LlmError};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

/// The text a panic carried, if it carried text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

/// How many times a job runs before it is failed for good.
pub const MAX_ATTEMPTS: u32 = 3;

#[derive(Clone)]
pub struct Jobs {
    jobs: Arc<dyn JobStore>,
    queue: JobQueue,
    reflection: Reflection,
    settings: CoreSettings,
}

impl Jobs {
    pub(crate) fn new(
        jobs: Arc<dyn JobStore>,
        queue: JobQueue,
        reflection: Reflection,
        settings: CoreSettings,
    ) -> Self {
        Self {
            jobs,
            queue,
            reflection,
            settings,
        }
    }

    pub async fn get(&self, tenant: &TenantId, id: Uuid) -> Result<Job> {
        self.jobs
            .get_job(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("job", id))
    }

    fn lease(&self) -> Duration {
        self.settings.workflow_timeout + Duration::from_secs(30)
    }

    /// Runs the oldest runnable job, if any; false when there was none.
    pub async fn run_next(&self) -> Result<bool> {
        let Some(job) = self.jobs.claim_job(self.lease()).await? else {
            return Ok(false);
        };
        let span = tracing::info_span!("job", job_id = %job.id, kind = job.kind.as_str(), attempt = job.attempts);
        let run = match job.kind {
            JobKind::Reflect => tokio::time::timeout(
                self.settings.workflow_timeout,
                self.reflection
                    .run(&job.tenant, job.character_id)
                    .instrument(span),
            ),
        };
        // A panic in a job fails that job, with its reason; the worker goes on.
        let outcome = match AssertUnwindSafe(run).catch_unwind().await {
            Ok(finished) => finished.unwrap_or(Err(Error::Llm {
                source: LlmError::Timeout,
                message_id: None,
            })),
            Err(panic) => {
                let reason = panic_message(panic.as_ref());
                tracing::error!(job_id = %job.id, %reason, "job panicked");
                metrics::counter!("virlife_jobs_failed_total", "kind" => job.kind.as_str())
                    .increment(1);
                let failed = JobOutcome::Failed(format!("the job crashed: {reason}"));
                self.finish(&job, &failed).await?;
                return Ok(true);
            }
        };
        let finished = match outcome {
            Ok(outcome) => {
                tracing::info!(job_id = %job.id, created = outcome.created.len(), "job done");
                JobOutcome::Done(serde_json::json!({
                    "created": outcome.created.iter().map(|m| m.id).collect::<Vec<_>>(),
                    "duplicates": outcome.duplicates,
                    "superseded": outcome.superseded,
                    "relationships": outcome.relationships,
                    "state_changed": outcome.state_changed,
                    "rejected": outcome.rejected,
                }))
            }
            Err(err @ Error::NotFound { .. }) => JobOutcome::Failed(err.public_message()),
            Err(err) if job.attempts < job.max_attempts => {
                let backoff =
                    self.settings.job_retry_backoff * 2u32.pow(job.attempts.saturating_sub(1));
                tracing::warn!(job_id = %job.id, error = %err, attempt = job.attempts, "job failed; will retry");
                JobOutcome::Retry {
                    at: chrono::Utc::now()
                        + chrono::Duration::from_std(backoff).unwrap_or_default(),
                    error: err.public_message(),
                }
            }
            Err(err) => {
                tracing::error!(job_id = %job.id, error = %err, "job failed for good");
                metrics::counter!("virlife_jobs_failed_total", "kind" => job.kind.as_str())
                    .increment(1);
                JobOutcome::Failed(err.public_message())
            }
        };
        self.finish(&job, &finished).await?;
        Ok(true)
    }

    /// Records the outcome, unless the lease ran out and another worker
    /// took the job meanwhile: then its result is the one that counts.
    async fn finish(&self, job: &Job, outcome: &JobOutcome) -> Result<()> {
        if !self.jobs.finish_job(job.id, job.attempts, outcome).await? {
            tracing::warn!(job_id = %job.id, attempt = job.attempts, "lease lost; another worker holds the job");
        }
        Ok(())
    }

    /// The worker loop: runs jobs until `stop` turns true.
    pub async fn work(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let idle = match self.run_next().await {
                Ok(true) => Duration::ZERO,
                Ok(false) => Duration::from_secs(1),
                Err(err) => {
                    tracing::warn!(error = %err, "job worker could not reach the store");
                    Duration::from_secs(2)
                }
            };
            if idle.is_zero() {
                continue;
            }
            tokio::select! {
                _ = self.queue.wait(idle) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
