//! Idempotency keys in memory.

use super::InMemoryStore;
use crate::core::domain::{IdempotencyRecord, TenantId};
use crate::core::ports::IdempotencyStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;

#[async_trait]
impl IdempotencyStore for InMemoryStore {
    async fn claim_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut tables = self.write();
        let slot = (tenant.clone(), key.to_owned());
        if let Some(existing) = tables.idempotency.get(&slot) {
            return Ok(Some(existing.clone()));
        }
        tables.idempotency.insert(slot, record.clone());
        Ok(None)
    }

    async fn complete_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        response: &serde_json::Value,
    ) -> Result<(), StoreError> {
        if let Some(record) = self
            .write()
            .idempotency
            .get_mut(&(tenant.clone(), key.to_owned()))
        {
            record.response = Some(response.clone());
        }
        Ok(())
    }
}
