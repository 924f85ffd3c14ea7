-- 0021_party_email_index: a keyed blind index of parties' e-mails, so that
-- a client's sign-in by e-mail finds their account without opening every
-- client's sealed e-mail (sqlstore/client_identity.go, emailIndex and
-- accountsByEmail). PostgreSQL twin of
-- migrations/sqlite/0021_party_email_index.sql.

-- Hex HMAC-SHA256 of the lower-case e-mail under a key derived from the
-- event key (a file outside the database): whoever reads the database
-- alone cannot test a guessed address against it. NULL when the party has
-- no e-mail, was erased, or its row was written before this migration or
-- by a replica of the previous release: the store indexes those rows
-- before a sign-in by e-mail reads the index. '' marks an e-mail that
-- could not be opened (indexed as nobody's).
ALTER TABLE parties ADD COLUMN email_index TEXT;

-- The sign-in's look-up: one entry per party with an indexed e-mail.
CREATE INDEX parties_email_index_idx ON parties (email_index) WHERE email_index IS NOT NULL;
-- The rows still to index: empty once they are, so the check every
-- sign-in makes reads nothing (its WHERE is this one word for word).
CREATE INDEX parties_email_unindexed_idx ON parties (id) WHERE email_index IS NULL AND email <> '';

-- An UPDATE that changes the e-mail without writing its index (a replica
-- of the previous release erasing a party or a case during a rolling
-- upgrade, `keys encrypt-existing` sealing it, a hand edit) leaves no
-- stale index: the index is blanked with it, and indexed again from the
-- new e-mail if there is one.
CREATE FUNCTION countersign_party_email_index_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.email IS DISTINCT FROM OLD.email AND NEW.email_index IS NOT DISTINCT FROM OLD.email_index THEN
        NEW.email_index := NULL;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER parties_email_index_stale BEFORE UPDATE ON parties
    FOR EACH ROW EXECUTE FUNCTION countersign_party_email_index_stale();
