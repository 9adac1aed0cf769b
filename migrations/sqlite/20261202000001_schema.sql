-- VirLife on SQLite: the PostgreSQL schema as of 2026-12-02, in SQLite's
-- types. Ids are 16-byte blobs (UUIDv7, so byte order is time order);
-- times are RFC 3339 text in UTC (lexical order is time order); JSON is
-- text; an embedding is its f32 values, little-endian.

CREATE TABLE api_keys (
    id          BLOB PRIMARY KEY,
    tenant      TEXT NOT NULL,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,          -- SHA-256 of the secret; the secret is never stored
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE characters (
    id          BLOB PRIMARY KEY,
    tenant      TEXT NOT NULL,
    name        TEXT NOT NULL,
    persona     TEXT NOT NULL,
    traits      TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX characters_by_tenant ON characters (tenant, id);
CREATE INDEX characters_by_name ON characters (tenant, name);

CREATE TABLE sessions (
    id              BLOB PRIMARY KEY,
    tenant          TEXT NOT NULL,
    character_id    BLOB NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    user_name       TEXT,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT NOT NULL,
    last_active_at  TEXT NOT NULL
);
CREATE INDEX sessions_by_character ON sessions (tenant, character_id, id);
-- Deleting a character finds its rows by these (SQLite scans without them).
CREATE INDEX sessions_by_character_id ON sessions (character_id);
CREATE INDEX sessions_by_activity ON sessions (last_active_at);
CREATE INDEX sessions_by_user ON sessions (tenant, user_id, character_id, id);

CREATE TABLE messages (
    id                 BLOB PRIMARY KEY,
    tenant             TEXT NOT NULL,
    session_id         BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role               TEXT NOT NULL CHECK (role IN ('user', 'character')),
    content            TEXT NOT NULL,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    incomplete         INTEGER NOT NULL DEFAULT 0,
    latency_ms         INTEGER,
    sealed             INTEGER,
    created_at         TEXT NOT NULL
);
CREATE INDEX messages_by_session ON messages (session_id, id);
CREATE INDEX messages_by_session_role ON messages (session_id, role);

CREATE TABLE memories (
    id                    BLOB PRIMARY KEY,
    tenant                TEXT NOT NULL,
    character_id          BLOB NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    session_id            BLOB REFERENCES sessions (id) ON DELETE SET NULL,
    user_id               TEXT,
    kind                  TEXT NOT NULL CHECK (kind IN ('episodic', 'biographical')),
    source                TEXT NOT NULL CHECK (source IN ('manual', 'chat', 'event', 'reflection')),
    content               TEXT NOT NULL,
    importance            REAL NOT NULL CHECK (importance BETWEEN 0 AND 1),
    embedding             BLOB NOT NULL,    -- authoritative; the in-process index is loaded from it
    embedding_model       TEXT NOT NULL,
    embedding_dimensions  INTEGER NOT NULL,
    superseded_by         BLOB REFERENCES memories (id) ON DELETE SET NULL,
    evidence              TEXT NOT NULL DEFAULT '[]',
    sealed                INTEGER,
    created_at            TEXT NOT NULL
);
CREATE INDEX memories_by_character ON memories (tenant, character_id, id);
CREATE INDEX memories_by_character_kind ON memories (tenant, character_id, kind, id);
CREATE INDEX memories_by_character_id ON memories (character_id);
CREATE INDEX memories_by_session ON memories (session_id);
CREATE INDEX memories_by_user ON memories (tenant, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX memories_by_successor ON memories (superseded_by) WHERE superseded_by IS NOT NULL;

CREATE TABLE idempotency_keys (
    tenant           TEXT NOT NULL,
    key              TEXT NOT NULL,
    session_id       BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_message_id  BLOB NOT NULL,
    claimed_at       TEXT NOT NULL,
    response         TEXT,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX idempotency_by_session ON idempotency_keys (session_id);

CREATE TABLE jobs (
    id            BLOB PRIMARY KEY,
    tenant        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    character_id  BLOB NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_at        TEXT NOT NULL,
    locked_until  TEXT,
    last_error    TEXT,
    result        TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX jobs_runnable ON jobs (run_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_by_tenant ON jobs (tenant, id);
CREATE INDEX jobs_by_character ON jobs (character_id);

CREATE TABLE pending_vectors (
    id            BLOB PRIMARY KEY,
    op            TEXT NOT NULL CHECK (op IN ('upsert', 'delete', 'delete_character')),
    memory_id     BLOB,
    tenant        TEXT,
    character_id  BLOB
);
