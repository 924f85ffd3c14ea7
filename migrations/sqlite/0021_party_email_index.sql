-- 0021_party_email_index: a keyed blind index of parties' e-mails, so that
-- a client's sign-in by e-mail finds their account without opening every
-- client's sealed e-mail (sqlstore/client_identity.go, emailIndex and
-- accountsByEmail). SQLite twin of
-- migrations/postgres/0021_party_email_index.sql, which says more.

-- Hex HMAC-SHA256 of the lower-case e-mail under a key derived from the
-- event key; NULL when there is none, or not indexed yet; '' for an
-- e-mail that could not be opened.
ALTER TABLE parties ADD COLUMN email_index TEXT;

CREATE INDEX parties_email_index_idx ON parties (email_index) WHERE email_index IS NOT NULL;
CREATE INDEX parties_email_unindexed_idx ON parties (id) WHERE email_index IS NULL AND email <> '';

-- An UPDATE that changes the e-mail without writing its index leaves no
-- stale index (the inner UPDATE does not set email, so it fires nothing).
CREATE TRIGGER parties_email_index_stale AFTER UPDATE OF email ON parties
WHEN NEW.email IS NOT OLD.email AND NEW.email_index IS OLD.email_index AND NEW.email_index IS NOT NULL
BEGIN UPDATE parties SET email_index = NULL WHERE id = NEW.id; END;
