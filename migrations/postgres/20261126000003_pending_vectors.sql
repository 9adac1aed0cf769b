-- Changes the vector index (Qdrant) missed while it was down, replayed in
-- order by the repair loop once it is back.
CREATE TABLE pending_vectors (
    id            uuid PRIMARY KEY,
    op            text NOT NULL CHECK (op IN ('upsert', 'delete', 'delete_character')),
    memory_id     uuid,
    tenant        text,
    character_id  uuid,
    created_at    timestamptz NOT NULL DEFAULT now()
);
