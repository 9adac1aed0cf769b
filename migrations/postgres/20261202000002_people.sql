-- People are first-class: a session names the person it is with, and a
-- memory belongs to the world (user_id NULL: anyone talking with the
-- character may recall it) or to one person (recalled in their sessions
-- only).

-- A session whose client named no one is a person of its own: its id.
-- The trigger keeps inserts from a replica one release older valid.
ALTER TABLE sessions ADD COLUMN user_id text;
UPDATE sessions SET user_id = id::text WHERE user_id IS NULL;
CREATE FUNCTION sessions_default_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.user_id IS NULL THEN
        NEW.user_id := NEW.id::text;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER sessions_default_user BEFORE INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_default_user();
ALTER TABLE sessions ALTER COLUMN user_id SET NOT NULL;
CREATE INDEX sessions_by_user ON sessions (tenant, user_id);

-- What was said in a session is its person's; events and manual memories
-- stay the world's. (Memories of sessions already deleted cannot be
-- traced to anyone and stay the world's.)
ALTER TABLE memories ADD COLUMN user_id text;
UPDATE memories SET user_id = sessions.user_id
    FROM sessions WHERE memories.session_id = sessions.id;
CREATE INDEX memories_by_user ON memories (tenant, user_id) WHERE user_id IS NOT NULL;
