-- The World Engine: places (nested), where characters are, world events
-- and the memories their witnesses keep, relationships and inner states.
CREATE TABLE places (
    id           uuid PRIMARY KEY,
    tenant       text NOT NULL,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    -- Deleting a place makes the places inside it top-level.
    parent_id    uuid REFERENCES places (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX places_by_tenant ON places (tenant, id);
CREATE INDEX places_by_parent ON places (parent_id, id);

ALTER TABLE characters ADD COLUMN place_id uuid REFERENCES places (id) ON DELETE SET NULL;
CREATE INDEX characters_by_place ON characters (place_id, id) WHERE place_id IS NOT NULL;

CREATE TABLE world_events (
    id           uuid PRIMARY KEY,      -- a UUIDv7 of occurred_at: id order is world time
    tenant       text NOT NULL,
    place_id     uuid REFERENCES places (id) ON DELETE SET NULL,
    description  text NOT NULL,         -- sealed like memories when ENCRYPTION_KEY is set
    sealed       boolean NOT NULL DEFAULT false,
    importance   real NOT NULL CHECK (importance BETWEEN 0 AND 1),
    occurred_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX world_events_by_tenant ON world_events (tenant, id);
CREATE INDEX world_events_by_place ON world_events (place_id, id) WHERE place_id IS NOT NULL;

-- When a memory happened in the world; NULL on older rows, read as created_at.
ALTER TABLE memories
    ADD COLUMN occurred_at timestamptz,
    ADD COLUMN event_id uuid REFERENCES world_events (id) ON DELETE SET NULL;
CREATE INDEX memories_by_event ON memories (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX memories_by_character_event ON memories (character_id, created_at) WHERE event_id IS NOT NULL;

-- A relationship's values, note and bounded history as one JSON document
-- (sealed as one string when ENCRYPTION_KEY is set); the columns beside it
-- are what it is found and removed by.
CREATE TABLE relationships (
    tenant              text NOT NULL,
    character_id        uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    other_kind          text NOT NULL CHECK (other_kind IN ('user', 'character')),
    other_key           text NOT NULL,
    other_character_id  uuid REFERENCES characters (id) ON DELETE CASCADE,
    updated_at          timestamptz NOT NULL,
    body                jsonb NOT NULL,
    PRIMARY KEY (character_id, other_kind, other_key)
);
CREATE INDEX relationships_by_person ON relationships (tenant, other_kind, other_key);
CREATE INDEX relationships_by_other_character ON relationships (other_character_id) WHERE other_character_id IS NOT NULL;

CREATE TABLE character_states (
    character_id  uuid PRIMARY KEY REFERENCES characters (id) ON DELETE CASCADE,
    tenant        text NOT NULL,
    updated_at    timestamptz NOT NULL,
    body          jsonb NOT NULL
);
