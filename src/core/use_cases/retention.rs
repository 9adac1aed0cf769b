//! The retention sweep: sessions idle longer than the retention period go,
//! and so do jobs that finished longer ago than that.

use super::CoreSettings;
use crate::core::error::Result;
use crate::core::ports::{JobStore, SessionStore};
use chrono::{DateTime, Utc};
use std::sync::Arc;

const BATCH: u32 = 500;

#[derive(Clone)]
pub struct Retention {
    sessions: Arc<dyn SessionStore>,
    jobs: Arc<dyn JobStore>,
    settings: CoreSettings,
}

impl Retention {
    pub(crate) fn new(
        sessions: Arc<dyn SessionStore>,
        jobs: Arc<dyn JobStore>,
        settings: CoreSettings,
    ) -> Self {
        Self {
            sessions,
            jobs,
            settings,
        }
    }

    /// Deletes sessions idle since before `now - retention`, and jobs that
    /// finished before then, in bounded batches; returns the sessions deleted.
    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<u64> {
        let cutoff = now - self.settings.session_retention;
        let mut total = 0;
        loop {
            let deleted = self.sessions.delete_idle_sessions(cutoff, BATCH).await?;
            total += deleted;
            if deleted < u64::from(BATCH) {
                break;
            }
        }
        if total > 0 {
            tracing::info!(deleted = total, "retention sweep removed idle sessions");
        }
        let mut jobs = 0;
        loop {
            let deleted = self.jobs.delete_finished_jobs(cutoff, BATCH).await?;
            jobs += deleted;
            if deleted < u64::from(BATCH) {
                break;
            }
        }
        if jobs > 0 {
            tracing::info!(deleted = jobs, "retention sweep removed finished jobs");
        }
        Ok(total)
    }
}
