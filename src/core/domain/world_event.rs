//! World events: something that happened somewhere, at a world time, and
//! the characters who perceived it (each remembers it as its own memory).

use super::{InvalidInput, TenantId};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// At most this many witnesses per event (listed or found at the place).
pub const MAX_WITNESSES: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldEvent {
    pub id: Uuid,
    pub tenant: TenantId,
    pub place_id: Option<Uuid>,
    pub description: String,
    pub importance: f32,
    /// When it happened in the world (client-supplied; now by default).
    pub occurred_at: DateTime<Utc>,
    /// When the service stored it.
    pub created_at: DateTime<Utc>,
}

/// A character that perceived an event, and the memory it keeps of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    pub character_id: Uuid,
    pub memory_id: Uuid,
}

/// When something happened in the world. Ids of memories and events are
/// UUIDv7s stamped with it, so listings (in id order) follow world time;
/// hence the range a UUIDv7 can carry, 1970 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorldTime(DateTime<Utc>);

impl WorldTime {
    pub fn parse(field: &'static str, value: DateTime<Utc>) -> Result<Self, InvalidInput> {
        let latest = Utc
            .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if value < DateTime::<Utc>::UNIX_EPOCH || value > latest {
            return Err(InvalidInput::new(
                field,
                "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
            ));
        }
        Ok(Self(value))
    }
    pub fn value(self) -> DateTime<Utc> {
        self.0
    }
}

/// A new id for something that happened at `at`: a UUIDv7 of that time,
/// or of now (monotonic within this process) when `at` is within a second
/// of now.
pub fn id_at(at: DateTime<Utc>) -> Uuid {
    let now = Utc::now();
    if (now - at).num_milliseconds().abs() < 1_000 || at.timestamp() < 0 {
        return super::new_id();
    }
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp() as u64,
        at.timestamp_subsec_nanos(),
    );
    Uuid::new_v7(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_time_is_what_a_uuid_v7_can_carry() {
        assert!(WorldTime::parse("occurred_at", Utc::now()).is_ok());
        let before = Utc.with_ymd_and_hms(1969, 12, 31, 0, 0, 0).unwrap();
        assert_eq!(
            WorldTime::parse("occurred_at", before).unwrap_err().field,
            "occurred_at"
        );
    }

    #[test]
    fn ids_follow_world_time() {
        let old = Utc.with_ymd_and_hms(1999, 5, 1, 12, 0, 0).unwrap();
        let older = Utc.with_ymd_and_hms(1990, 5, 1, 12, 0, 0).unwrap();
        assert!(id_at(older) < id_at(old));
        assert!(id_at(old) < id_at(Utc::now()));
    }
}
