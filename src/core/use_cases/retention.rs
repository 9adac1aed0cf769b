//! The retention sweep: sessions idle longer than the retention period go.

use super::CoreSettings;
use crate::core::error::Result;
use crate::core::ports::SessionStore;
use chrono::{DateTime, Utc};
use std::sync::Arc;

const BATCH: u32 = 500;

#[derive(Clone)]
pub struct Retention {
    sessions: Arc<dyn SessionStore>,
    settings: CoreSettings,
}

impl Retention {
    pub(crate) fn new(sessions: Arc<dyn SessionStore>, settings: CoreSettings) -> Self {
        Self { sessions, settings }
    }

    /// Deletes sessions idle since before `now - retention`, in bounded batches.
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
        Ok(total)
    }
}
