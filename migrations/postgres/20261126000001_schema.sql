-- VirLife schema: PostgreSQL is the authoritative copy of everything.
-- Ids are UUIDv7 (time-ordered), so "ORDER BY id" is creation order and
-- cursor pagination is "WHERE id > $cursor".

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    tenant      text NOT NULL,
    name        text NOT NULL,
    key_hash    text NOT NULL UNIQUE,          -- SHA-256 of the secret; the secret is never stored
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE characters (
    id          uuid PRIMARY KEY,
    tenant      text NOT NULL,
    name        text NOT NULL,
    persona     text NOT NULL,
    traits      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX characters_by_tenant ON characters (tenant, id);

CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL,
    character_id    uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    user_name       text,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL,
    last_active_at  timestamptz NOT NULL
);
CREATE INDEX sessions_by_character ON sessions (tenant, character_id, id);
CREATE INDEX sessions_by_activity ON sessions (last_active_at);

CREATE TABLE messages (
    id                 uuid PRIMARY KEY,
    tenant             text NOT NULL,
    session_id         uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role               text NOT NULL CHECK (role IN ('user', 'character')),
    content            text NOT NULL,
    prompt_tokens      integer,
    completion_tokens  integer,
    incomplete         boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL
);
CREATE INDEX messages_by_session ON messages (session_id, id);

CREATE TABLE memories (
    id                    uuid PRIMARY KEY,
    tenant                text NOT NULL,
    character_id          uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    session_id            uuid REFERENCES sessions (id) ON DELETE SET NULL,
    kind                  text NOT NULL CHECK (kind IN ('episodic', 'biographical')),
    source                text NOT NULL CHECK (source IN ('manual', 'chat', 'event', 'reflection')),
    content               text NOT NULL,
    importance            real NOT NULL CHECK (importance BETWEEN 0 AND 1),
    embedding             real[] NOT NULL,    -- authoritative; the vector index is rebuilt from it
    embedding_model       text NOT NULL,
    embedding_dimensions  integer NOT NULL,
    created_at            timestamptz NOT NULL
);
CREATE INDEX memories_by_character ON memories (tenant, character_id, id);
CREATE INDEX memories_by_character_kind ON memories (tenant, character_id, kind, id);
CREATE INDEX memories_by_session ON memories (session_id);

CREATE TABLE idempotency_keys (
    tenant           text NOT NULL,
    key              text NOT NULL,
    session_id       uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_message_id  uuid NOT NULL,
    claimed_at       timestamptz NOT NULL,
    response         jsonb,
    PRIMARY KEY (tenant, key)
);

CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    tenant        text NOT NULL,
    kind          text NOT NULL,
    character_id  uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL,
    run_at        timestamptz NOT NULL,
    locked_until  timestamptz,
    last_error    text,
    result        jsonb,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- Workers look only at jobs that may run.
CREATE INDEX jobs_runnable ON jobs (run_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_by_tenant ON jobs (tenant, id);
