//! The world in PostgreSQL: places, presence, events with their witnesses'
//! memories (one transaction), relationships and inner states.

use super::{PostgresStore, Within};
use crate::adapters::sql::*;
use crate::core::domain::{
    Character, Counterpart, InnerState, MAX_PLACE_DEPTH, Memory, PageRequest, Place, Relationship,
    TenantId, Witness, WorldEvent,
};
use crate::core::ports::{StoreError, WorldStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[async_trait]
impl WorldStore for PostgresStore {
    async fn insert_place(&self, p: &Place) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO places (id, tenant, name, description, parent_id, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7
             WHERE $5::uuid IS NULL OR EXISTS (SELECT 1 FROM places WHERE id = $5 AND tenant = $2)",
        )
        .bind(p.id)
        .bind(p.tenant.as_str())
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.parent_id)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the parent place does not exist".into(),
            ));
        }
        Ok(())
    }

    async fn get_place(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Place>, StoreError> {
        sqlx::query_as::<_, PlaceRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {PLACE_COLUMNS} FROM places WHERE id = $1 AND tenant = $2"
        )))
        .bind(id)
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await?
        .map(Place::try_from)
        .transpose()
    }

    async fn list_places(
        &self,
        tenant: &TenantId,
        parent: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Vec<Place>, StoreError> {
        let rows = sqlx::query_as::<_, PlaceRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {PLACE_COLUMNS} FROM places
             WHERE tenant = $1 AND ($2::uuid IS NULL OR parent_id = $2)
               AND ($3::uuid IS NULL OR id > $3)
             ORDER BY id LIMIT $4"
        )))
        .bind(tenant.as_str())
        .bind(parent)
        .bind(page.after)
        .bind(limit_of(page))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        convert(rows)
    }

    async fn update_place(&self, p: &Place) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE places SET name = $3, description = $4, parent_id = $5, updated_at = $6
             WHERE id = $1 AND tenant = $2
               AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM places WHERE id = $5 AND tenant = $2))",
        )
        .bind(p.id)
        .bind(p.tenant.as_str())
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.parent_id)
        .bind(p.updated_at)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        match (p.parent_id, self.get_place(&p.tenant, p.id).await?) {
            (Some(parent), Some(_)) => Err(StoreError::Conflict(format!(
                "place {parent} does not exist"
            ))),
            _ => Ok(false),
        }
    }

    async fn delete_place(&self, tenant: &TenantId, id: Uuid) -> Result<bool, StoreError> {
        // Nested places, characters and events let go through ON DELETE SET NULL.
        let done = sqlx::query("DELETE FROM places WHERE id = $1 AND tenant = $2")
            .bind(id)
            .bind(tenant.as_str())
            .execute(&self.pool)
            .within(self.query_timeout)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn places_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Place>, StoreError> {
        let rows = sqlx::query_as::<_, PlaceRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {PLACE_COLUMNS} FROM places WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        convert(rows)
    }

    async fn world_events_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<WorldEvent>, StoreError> {
        let rows = sqlx::query_as::<_, WorldEventRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM world_events WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        rows.into_iter().map(|r| r.open(&self.sealer)).collect()
    }

    async fn place_tree(&self, tenant: &TenantId, root: Uuid) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "WITH RECURSIVE tree (id, depth) AS (
                 SELECT id, 0 FROM places WHERE id = $1 AND tenant = $2
                 UNION
                 SELECT p.id, t.depth + 1 FROM places p JOIN tree t ON p.parent_id = t.id
                 WHERE t.depth < $3
             )
             SELECT DISTINCT id FROM tree",
        )
        .bind(root)
        .bind(tenant.as_str())
        .bind(MAX_PLACE_DEPTH as i32)
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(ids)
    }

    async fn characters_at(
        &self,
        tenant: &TenantId,
        places: &[Uuid],
        page: &PageRequest,
    ) -> Result<Vec<Character>, StoreError> {
        let rows = sqlx::query_as::<_, CharacterRow>(
            "SELECT * FROM characters
             WHERE tenant = $1 AND place_id = ANY($2) AND ($3::uuid IS NULL OR id > $3)
             ORDER BY id LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(places)
        .bind(page.after)
        .bind(limit_of(page))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        convert(rows)
    }

    async fn record_world_event(
        &self,
        e: &WorldEvent,
        memories: &[Memory],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().within(self.query_timeout).await?;
        let done = sqlx::query(
            "INSERT INTO world_events (id, tenant, place_id, description, sealed, importance, occurred_at, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8
             WHERE $3::uuid IS NULL OR EXISTS (SELECT 1 FROM places WHERE id = $3 AND tenant = $2)",
        )
        .bind(e.id)
        .bind(e.tenant.as_str())
        .bind(e.place_id)
        .bind(self.sealer.seal(&e.description, e.id))
        .bind(self.sealer.sealing())
        .bind(e.importance)
        .bind(e.occurred_at)
        .bind(e.created_at)
        .execute(&mut *tx)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the event's place does not exist".into(),
            ));
        }
        for m in memories {
            if m.tenant != e.tenant {
                return Err(StoreError::Conflict(format!(
                    "character {} does not exist",
                    m.character_id
                )));
            }
            let done = self
                .memory_insert(m)
                .execute(&mut *tx)
                .within(self.query_timeout)
                .await?;
            if done.rows_affected() == 0 {
                // Dropping the transaction rolls the event back with it.
                return Err(StoreError::Conflict(format!(
                    "character {} does not exist",
                    m.character_id
                )));
            }
        }
        tx.commit().within(self.query_timeout).await?;
        Ok(())
    }

    async fn get_world_event(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<WorldEvent>, StoreError> {
        sqlx::query_as::<_, WorldEventRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM world_events WHERE id = $1 AND tenant = $2"
        )))
        .bind(id)
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await?
        .map(|row| row.open(&self.sealer))
        .transpose()
    }

    async fn list_world_events(
        &self,
        tenant: &TenantId,
        place: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Vec<WorldEvent>, StoreError> {
        let rows = sqlx::query_as::<_, WorldEventRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM world_events
             WHERE tenant = $1 AND ($2::uuid IS NULL OR place_id = $2)
               AND ($3::uuid IS NULL OR id > $3)
             ORDER BY id LIMIT $4"
        )))
        .bind(tenant.as_str())
        .bind(place)
        .bind(page.after)
        .bind(limit_of(page))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        rows.into_iter().map(|r| r.open(&self.sealer)).collect()
    }

    async fn event_witnesses(
        &self,
        tenant: &TenantId,
        event_id: Uuid,
    ) -> Result<Vec<Witness>, StoreError> {
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT character_id, id FROM memories WHERE event_id = $1 AND tenant = $2
             ORDER BY character_id",
        )
        .bind(event_id)
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(character_id, memory_id)| Witness {
                character_id,
                memory_id,
            })
            .collect())
    }

    async fn event_memories_since(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        after: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query_as::<_, super::rows::MemoryRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM memories
             WHERE tenant = $1 AND character_id = $2 AND event_id IS NOT NULL
               AND ($3::timestamptz IS NULL OR created_at > $3)
             ORDER BY created_at, id LIMIT $4",
            super::rows::MEMORY_COLUMNS
        )))
        .bind(tenant.as_str())
        .bind(character_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        self.open_memories(rows)
    }

    async fn get_relationship(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        counterpart: &Counterpart,
    ) -> Result<Option<Relationship>, StoreError> {
        sqlx::query_as::<_, BodyRow>(
            "SELECT character_id, other_kind, other_key, body FROM relationships
             WHERE character_id = $1 AND tenant = $2 AND other_kind = $3 AND other_key = $4",
        )
        .bind(character_id)
        .bind(tenant.as_str())
        .bind(counterpart.kind())
        .bind(counterpart.key())
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await?
        .map(|row| open_relationship(&self.sealer, row))
        .transpose()
    }

    async fn list_relationships(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Relationship>, StoreError> {
        let rows = sqlx::query_as::<_, BodyRow>(
            "SELECT character_id, other_kind, other_key, body FROM relationships
             WHERE character_id = $1 AND tenant = $2
             ORDER BY updated_at DESC, other_kind, other_key LIMIT $3",
        )
        .bind(character_id)
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .within(self.query_timeout)
        .await?;
        rows.into_iter()
            .map(|row| open_relationship(&self.sealer, row))
            .collect()
    }

    async fn put_relationship(&self, r: &Relationship) -> Result<(), StoreError> {
        let other_character = match r.counterpart {
            Counterpart::Character(id) => Some(id),
            Counterpart::User(_) => None,
        };
        let done = sqlx::query(
            "INSERT INTO relationships (tenant, character_id, other_kind, other_key, other_character_id, updated_at, body)
             SELECT $1, $2, $3, $4, $5, $6, $7
             WHERE EXISTS (SELECT 1 FROM characters WHERE id = $2 AND tenant = $1)
               AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM characters WHERE id = $5 AND tenant = $1))
             ON CONFLICT (character_id, other_kind, other_key)
             DO UPDATE SET updated_at = EXCLUDED.updated_at, body = EXCLUDED.body",
        )
        .bind(r.tenant.as_str())
        .bind(r.character_id)
        .bind(r.counterpart.kind())
        .bind(r.counterpart.key())
        .bind(other_character)
        .bind(r.updated_at)
        .bind(seal_relationship(&self.sealer, r)?)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the relationship's characters do not exist".into(),
            ));
        }
        Ok(())
    }

    async fn get_inner_state(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
    ) -> Result<Option<InnerState>, StoreError> {
        let body: Option<Json<serde_json::Value>> = sqlx::query_scalar(
            "SELECT body FROM character_states WHERE character_id = $1 AND tenant = $2",
        )
        .bind(character_id)
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .within(self.query_timeout)
        .await?;
        body.map(|b| open_state(&self.sealer, character_id, b.0))
            .transpose()
    }

    async fn put_inner_state(&self, s: &InnerState) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO character_states (character_id, tenant, updated_at, body)
             SELECT $1, $2, $3, $4
             WHERE EXISTS (SELECT 1 FROM characters WHERE id = $1 AND tenant = $2)
             ON CONFLICT (character_id)
             DO UPDATE SET updated_at = EXCLUDED.updated_at, body = EXCLUDED.body",
        )
        .bind(s.character_id)
        .bind(s.tenant.as_str())
        .bind(s.updated_at)
        .bind(seal_state(&self.sealer, s)?)
        .execute(&self.pool)
        .within(self.query_timeout)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "character {} does not exist",
                s.character_id
            )));
        }
        Ok(())
    }

    async fn bearing(
        &self,
        tenant: &TenantId,
        character_id: Uuid,
        user_id: &str,
    ) -> Result<(Option<InnerState>, Option<Relationship>), StoreError> {
        // One round trip for both: a turn pays for it on every message.
        let (state, relationship): (
            Option<Json<serde_json::Value>>,
            Option<Json<serde_json::Value>>,
        ) = sqlx::query_as(
            "SELECT
                   (SELECT body FROM character_states WHERE character_id = $1 AND tenant = $2),
                   (SELECT body FROM relationships WHERE character_id = $1 AND tenant = $2
                      AND other_kind = 'user' AND other_key = $3)",
        )
        .bind(character_id)
        .bind(tenant.as_str())
        .bind(user_id)
        .fetch_one(&self.pool)
        .within(self.query_timeout)
        .await?;
        let state = state
            .map(|b| open_state(&self.sealer, character_id, b.0))
            .transpose()?;
        let relationship = relationship
            .map(|body| {
                open_relationship(
                    &self.sealer,
                    BodyRow {
                        character_id,
                        other_kind: "user".into(),
                        other_key: user_id.to_owned(),
                        body,
                    },
                )
            })
            .transpose()?;
        Ok((state, relationship))
    }
}
