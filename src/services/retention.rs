//! The retention sweep: sessions idle longer than the retention period go.

use super::Core;
use crate::error::Result;
use chrono::{DateTime, Utc};

const BATCH: u32 = 500;

impl Core {
    /// Deletes sessions idle since before `now - retention`, in bounded batches.
    #[tracing::instrument(skip_all)]
    pub async fn sweep_idle_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let cutoff = now - self.settings.session_retention;
        let mut total = 0;
        loop {
            let deleted = self.store.delete_idle_sessions(cutoff, BATCH).await?;
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
