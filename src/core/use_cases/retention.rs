//! The retention sweep: sessions idle longer than the retention period go.

use super::Core;
use crate::core::error::Result;
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

#[cfg(test)]
mod tests {
    use crate::core::domain::{CharacterName, Persona, TenantId};
    use crate::core::use_cases::testing::Parts;

    #[tokio::test]
    async fn sessions_idle_past_the_retention_period_are_swept() {
        let core = Parts::default().core();
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
        let session = core
            .create_session(tenant.clone(), character.id, None, Default::default())
            .await
            .unwrap();
        let now = chrono::Utc::now();
        assert_eq!(core.sweep_idle_sessions(now).await.unwrap(), 0);
        let later = now + core.settings.session_retention + chrono::Duration::minutes(1);
        assert_eq!(core.sweep_idle_sessions(later).await.unwrap(), 1);
        assert!(core.get_session(&tenant, session.id).await.is_err());
        // The character and its memories outlive its sessions.
        assert!(core.get_character(&tenant, character.id).await.is_ok());
    }
}
