-- Whether a text was written encrypted, beside it rather than inside it, so
-- any text a user sends (even one that starts like ciphertext, `vl1:…`)
-- reads back verbatim. NULL: written before this column (or by a replica
-- one release older), read as before, by the envelope's prefix.
ALTER TABLE messages ADD COLUMN sealed boolean;
ALTER TABLE memories ADD COLUMN sealed boolean;
