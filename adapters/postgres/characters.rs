//! Characters in PostgreSQL; deleting one cascades through foreign keys.

use super::{PostgresStore, Within};
use crate::adapters::sql::*;
use crate::core::domain::{Character, PageRequest, TenantId};
use crate::core::ports::CharacterStore;
use crate::core::ports::StoreError;
use async_trait::async_trait;
use sqlx::types::Json;
use uuid::Uuid;

#[async_trait]
impl CharacterStore for PostgresStore {
    async fn insert_character(&self, c: &Character) -> Result<(), StoreError> {
        // A place, when given, must be the tenant's.
        let done = sqlx::query(
            "INSERT INTO characters (id, tenant, name, persona, traits, created_at, updated_at, place_id)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8
             WHERE $8::uuid IS NULL OR EXISTS (SELECT 1 FROM places WHERE id = $8 AND tenant = $2)",
        )
        .bind(c.id)
        .bind(c.tenant.as_str())
        .bind(&c.name)
        .bind(&c.persona)
        .bind(Json(&c.traits))
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.place_id)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the character's place does not exist".into(),
            ));
        }
        Ok(())
    }

    async fn get_character(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<Character>, StoreError> {
        sqlx::query_as::<_, CharacterRow>("SELECT * FROM characters WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .within(self.query_timeout)
            .await?
            .map(Character::try_from)
            .transpose()
    }

    async fn list_characters(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError> {
        let rows = sqlx::query_as::<_, CharacterRow>(
            "SELECT * FROM characters WHERE tenant = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(page.after)
        .bind(limit_of(page))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        convert(rows)
    }

    async fn find_character_by_name(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<Character>, StoreError> {
        sqlx::query_as::<_, CharacterRow>(
            "SELECT * FROM characters WHERE tenant = $1 AND name = $2 ORDER BY id LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await?
        .map(Character::try_from)
        .transpose()
    }

    async fn update_character(&self, c: &Character) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE characters SET name = $3, persona = $4, traits = $5, updated_at = $6, place_id = $7
             WHERE id = $1 AND tenant = $2
               AND ($7::uuid IS NULL OR EXISTS (SELECT 1 FROM places WHERE id = $7 AND tenant = $2))",
        )
        .bind(c.id)
        .bind(c.tenant.as_str())
        .bind(&c.name)
        .bind(&c.persona)
        .bind(Json(&c.traits))
        .bind(c.updated_at)
        .bind(c.place_id)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        match (c.place_id, self.get_character(&c.tenant, c.id).await?) {
            (Some(place), Some(_)) => Err(StoreError::Conflict(format!(
                "place {place} does not exist"
            ))),
            _ => Ok(false),
        }
    }

    async fn delete_character(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        // Foreign keys cascade to sessions, messages, memories and jobs.
        let done = sqlx::query("DELETE FROM characters WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn characters_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Character>, StoreError> {
        let rows = sqlx::query_as::<_, CharacterRow>(
            "SELECT * FROM characters WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        convert(rows)
    }
}
