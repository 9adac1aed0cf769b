-- The lexical half of hybrid recall, beside the vectors: each memory's
-- analysed words as a tsvector (one position per occurrence, so BM25 can
-- count them), its length in words, and which key wrote the words:
-- `plain`, or `hmac:<id>` when ENCRYPTION_KEY turns each word into a keyed
-- hash, so no plaintext reaches the index. Rows the service finds without
-- words, or written under another key, are filled in again at start.
ALTER TABLE memory_vectors
    ADD COLUMN lexemes tsvector,
    ADD COLUMN terms integer,
    ADD COLUMN term_key text;
-- No pending list (fastupdate): a search never scans unmerged entries.
CREATE INDEX memory_vectors_lexemes ON memory_vectors USING gin (lexemes) WITH (fastupdate = off);

-- A fact cognition extracted names the turn memories it rests on.
ALTER TABLE memories ADD COLUMN evidence uuid[] NOT NULL DEFAULT '{}';
