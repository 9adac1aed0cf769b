-- The World Engine: places (nested), where characters are, world events
-- and the memories their witnesses keep, relationships and inner states.
CREATE TABLE places (
    id           BLOB PRIMARY KEY,
    tenant       TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    parent_id    BLOB REFERENCES places (id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX places_by_tenant ON places (tenant, id);
CREATE INDEX places_by_parent ON places (parent_id, id);

ALTER TABLE characters ADD COLUMN place_id BLOB REFERENCES places (id) ON DELETE SET NULL;
CREATE INDEX characters_by_place ON characters (place_id, id);

CREATE TABLE world_events (
    id           BLOB PRIMARY KEY,
    tenant       TEXT NOT NULL,
    place_id     BLOB REFERENCES places (id) ON DELETE SET NULL,
    description  TEXT NOT NULL,
    sealed       INTEGER NOT NULL DEFAULT 0,
    importance   REAL NOT NULL CHECK (importance BETWEEN 0 AND 1),
    occurred_at  TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX world_events_by_tenant ON world_events (tenant, id);
CREATE INDEX world_events_by_place ON world_events (place_id, id);

ALTER TABLE memories ADD COLUMN occurred_at TEXT;
ALTER TABLE memories ADD COLUMN event_id BLOB REFERENCES world_events (id) ON DELETE SET NULL;
CREATE INDEX memories_by_event ON memories (event_id);
CREATE INDEX memories_by_character_event ON memories (character_id, created_at) WHERE event_id IS NOT NULL;

CREATE TABLE relationships (
    tenant              TEXT NOT NULL,
    character_id        BLOB NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    other_kind          TEXT NOT NULL CHECK (other_kind IN ('user', 'character')),
    other_key           TEXT NOT NULL,
    other_character_id  BLOB REFERENCES characters (id) ON DELETE CASCADE,
    updated_at          TEXT NOT NULL,
    body                TEXT NOT NULL,
    PRIMARY KEY (character_id, other_kind, other_key)
);
CREATE INDEX relationships_by_person ON relationships (tenant, other_kind, other_key);
CREATE INDEX relationships_by_other_character ON relationships (other_character_id);

CREATE TABLE character_states (
    character_id  BLOB PRIMARY KEY REFERENCES characters (id) ON DELETE CASCADE,
    tenant        TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    body          TEXT NOT NULL
);
