//! Whole listings read page by page, for work that needs all of them
//! (reflection's recent sessions, an export).

use crate::core::domain::{Message, PageRequest, Session, TenantId};
use crate::core::error::Result;
use crate::core::ports::SessionStore;
use uuid::Uuid;

const PAGE: i64 = 100;

/// Every session of a character, oldest first.
pub async fn all_sessions(
    store: &dyn SessionStore,
    tenant: &TenantId,
    character_id: Uuid,
) -> Result<Vec<Session>> {
    let mut all = Vec::new();
    let mut page = PageRequest::parse(Some(PAGE), None)?;
    loop {
        let rows = store.list_sessions(tenant, character_id, &page).await?;
        let more = rows.len() >= page.fetch_limit();
        // The extra row only says there is more; the next page starts
        // after the last row kept.
        let kept: Vec<Session> = rows.into_iter().take(page.limit as usize).collect();
        page.after = kept.last().map(|s| s.id);
        all.extend(kept);
        if !more {
            return Ok(all);
        }
    }
}

/// Every message of a session, oldest first.
pub async fn all_messages(
    store: &dyn SessionStore,
    tenant: &TenantId,
    session_id: Uuid,
) -> Result<Vec<Message>> {
    let mut all = Vec::new();
    let mut page = PageRequest::parse(Some(PAGE), None)?;
    loop {
        let rows = store.list_messages(tenant, session_id, &page).await?;
        let more = rows.len() >= page.fetch_limit();
        let kept: Vec<Message> = rows.into_iter().take(page.limit as usize).collect();
        page.after = kept.last().map(|m| m.id);
        all.extend(kept);
        if !more {
            return Ok(all);
        }
    }
}
