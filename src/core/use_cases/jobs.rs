//! Durable background work: jobs live in the Store, are claimed with a
//! lease (so a crashed worker's job is taken again), retried with backoff,
//! and end `done` or visibly `failed`.

use super::Core;
use crate::core::domain::{Job, JobKind, JobOutcome, JobStatus, TenantId, new_id};
use crate::core::error::{Error, Result};
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

pub const MAX_ATTEMPTS: u32 = 3;

fn cooldown_key(character_id: Uuid) -> String {
    format!("cooldown:reflect:{character_id}")
}

impl Core {
    /// Queues a reflection unless one was queued for this character within
    /// the cooldown (then `RateLimited` with the time left). A cache outage
    /// fails open: reflecting twice is better than never.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, character_id = %character_id))]
    pub async fn request_reflection(&self, tenant: &TenantId, character_id: Uuid) -> Result<Job> {
        self.require_character(tenant, character_id).await?;
        let cooldown = self.settings.cognition_cooldown;
        let until = chrono::Utc::now().timestamp() + cooldown.as_secs() as i64;
        let key = cooldown_key(character_id);
        match self
            .cache
            .set_if_absent(&key, &until.to_string(), cooldown)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                let ends = self
                    .cache
                    .get(&key)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(until);
                let left = (ends - chrono::Utc::now().timestamp()).max(1) as u64;
                return Err(Error::RateLimited {
                    what: "this character reflected recently",
                    retry_after: Duration::from_secs(left),
                });
            }
            Err(err) => tracing::warn!(error = %err, "cooldown unavailable; reflecting anyway"),
        }
        let now = chrono::Utc::now();
        let job = Job {
            id: new_id(),
            tenant: tenant.clone(),
            kind: JobKind::Reflect,
            character_id,
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: MAX_ATTEMPTS,
            run_at: now,
            locked_until: None,
            last_error: None,
            result: None,
            created_at: now,
            updated_at: now,
        };
        self.store.enqueue_job(&job).await?;
        metrics::counter!("virlife_jobs_queued_total", "kind" => job.kind.as_str()).increment(1);
        self.jobs_waiting.notify_one();
        tracing::info!(job_id = %job.id, "reflection queued");
        Ok(job)
    }

    pub async fn get_job(&self, tenant: &TenantId, id: Uuid) -> Result<Job> {
        self.store
            .get_job(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("job", id))
    }

    /// How long a claimed job is ours before another worker may take it.
    fn job_lease(&self) -> Duration {
        self.settings.workflow_timeout + Duration::from_secs(30)
    }

    /// Claims and runs one job; `Ok(false)` when none was runnable.
    pub async fn run_next_job(&self) -> Result<bool> {
        let Some(job) = self.store.claim_job(self.job_lease()).await? else {
            return Ok(false);
        };
        let span = tracing::info_span!("job", job_id = %job.id, kind = job.kind.as_str(), attempt = job.attempts);
        let outcome = match job.kind {
            JobKind::Reflect => tokio::time::timeout(
                self.settings.workflow_timeout,
                self.run_reflection(&job.tenant, job.character_id)
                    .instrument(span),
            )
            .await
            .unwrap_or(Err(Error::Llm {
                source: crate::core::ports::LlmError::Timeout,
                message_id: None,
            })),
        };
        let finished = match outcome {
            Ok(outcome) => {
                tracing::info!(job_id = %job.id, created = outcome.created.len(), "job done");
                JobOutcome::Done(serde_json::json!({
                    "created": outcome.created.iter().map(|m| m.id).collect::<Vec<_>>(),
                    "duplicates": outcome.duplicates,
                    "superseded": outcome.superseded,
                }))
            }
            // The character is gone: retrying cannot help.
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
        self.store.finish_job(job.id, &finished).await?;
        Ok(true)
    }

    /// Runs jobs until `stop` turns true; checks it only between jobs, so a
    /// job is never cut in half by a shutdown.
    pub async fn work_jobs(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let idle = match self.run_next_job().await {
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
                _ = self.jobs_waiting.notified() => {}
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::domain::{CharacterName, Persona};
    use crate::core::ports::{Llm as _, LlmError, MockLlm};
    use crate::core::use_cases::testing::Parts;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_job_whose_model_fails_is_retried_then_ends_failed_with_its_error() {
        let mut llm = MockLlm::new();
        llm.expect_describe()
            .returning(|| crate::adapters::offline_llm::OfflineLlm::new(8).describe());
        llm.expect_embed()
            .returning(|texts| Ok(texts.iter().map(|_| vec![1.0; 8]).collect()));
        llm.expect_reflect()
            .times(MAX_ATTEMPTS as usize)
            .returning(|_| Err(LlmError::Unavailable("boom".into())));
        let mut core = Parts {
            llm: Arc::new(llm),
            ..Parts::default()
        }
        .core();
        core.settings.job_retry_backoff = Duration::ZERO;
        let tenant = TenantId::parse("acme").unwrap();
        let character = core
            .create_character(
                tenant.clone(),
                CharacterName::parse("Ada").unwrap(),
                Persona::parse("p").unwrap(),
                None,
            )
            .await
            .unwrap();
        let job = core
            .request_reflection(&tenant, character.id)
            .await
            .unwrap();
        while core.run_next_job().await.unwrap() {}
        let job = core.get_job(&tenant, job.id).await.unwrap();
        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(job.attempts, MAX_ATTEMPTS);
        assert!(job.last_error.unwrap().contains("language model"));
    }
}
