-- PostgreSQL answers memory search itself when there is no Qdrant: a narrow
-- table beside `memories` holding only what ranking reads (ids, filters and
-- a compact 8-bit copy of each unit-length embedding), so a search never
-- loads or decrypts content. With pgvector, a `vector` column too, searched
-- through an HNSW index (cosine) the service creates for its embedding size.
-- Rows go with their memory (cascade); the service fills the table for
-- memories written before it.
CREATE TABLE memory_vectors (
    memory_id     uuid PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    tenant        text NOT NULL,
    character_id  uuid NOT NULL,
    kind          text NOT NULL,
    user_id       text,
    model         text NOT NULL,
    dimensions    integer NOT NULL,
    -- The unit vector is `compact[i] * scale / 127`.
    scale         real NOT NULL,
    compact       bytea NOT NULL
);
CREATE INDEX memory_vectors_by_character ON memory_vectors (tenant, character_id);

-- pgvector where the server offers it (Railway's pgvector template, most
-- managed services); elsewhere (Railway's standard image) exact search.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'pgvector is installed but could not be enabled (%); memory search stays exact', SQLERRM;
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        EXECUTE 'ALTER TABLE memory_vectors ADD COLUMN embedding vector';
    END IF;
END $$;
