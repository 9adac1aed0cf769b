//! The durable job queue: jobs go to the Store, and the worker on this
//! replica is woken at once instead of at its next poll.

use crate::core::domain::Job;
use crate::core::error::Result;
use crate::core::ports::JobStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct JobQueue {
    jobs: Arc<dyn JobStore>,
    waiting: Arc<Notify>,
}

impl JobQueue {
    pub fn new(jobs: Arc<dyn JobStore>) -> Self {
        Self {
            jobs,
            waiting: Arc::default(),
        }
    }

    pub async fn enqueue(&self, job: &Job) -> Result<()> {
        self.jobs.enqueue_job(job).await?;
        metrics::counter!("virlife_jobs_queued_total", "kind" => job.kind.as_str()).increment(1);
        self.waiting.notify_one();
        Ok(())
    }

    /// Returns when a job is queued on this replica or `idle` has passed.
    pub async fn wait(&self, idle: Duration) {
        tokio::select! {
            _ = self.waiting.notified() => {}
            _ = tokio::time::sleep(idle) => {}
        }
    }
}
