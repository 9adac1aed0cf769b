-- A fact that updates an older one supersedes it: the old one is kept,
-- marked, and no longer returned by search by default.
ALTER TABLE memories ADD COLUMN superseded_by uuid REFERENCES memories (id) ON DELETE SET NULL;

-- How long the model took for each reply.
ALTER TABLE messages ADD COLUMN latency_ms integer;
