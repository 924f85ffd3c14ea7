-- 0006_case_data_bound: the case data is bound to the log (issue 14,
-- items 1 and 3). Every row of case content gets a random salt, kept
-- beside its text, that keys the log's commitment to the text
-- (audit.Commit, AUDIT.md section 13): without the salt a commitment says
-- nothing about a guessed text, and erasing the salt with the text leaves
-- it unlinkable. Rows written before this migration have no salt ('');
-- their events carry plain SHA-256 (*_sha256 fields), which is what
-- `countersign audit verify` checks them against.
-- notes.body_sha256 keeps, for every note, the commitment its event carries.
-- SQLite twin of migrations/postgres/0006_case_data_bound.sql.

ALTER TABLE notes ADD COLUMN salt TEXT NOT NULL DEFAULT '';
ALTER TABLE parties ADD COLUMN salt TEXT NOT NULL DEFAULT '';
ALTER TABLE consents ADD COLUMN salt TEXT NOT NULL DEFAULT '';
ALTER TABLE drafts ADD COLUMN content_salt TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN salt TEXT NOT NULL DEFAULT '';
ALTER TABLE record_entries ADD COLUMN salt TEXT NOT NULL DEFAULT '';
ALTER TABLE record_corrections ADD COLUMN salt TEXT NOT NULL DEFAULT '';

-- The data check looks up the events of each row by their subject.
CREATE INDEX audit_event_subject_idx ON audit_event (subject_id, seq);

-- Rows that never change: notes, decisions and record entries refuse
-- UPDATE (notes and entries did already) and DELETE, as the log's tables
-- do. Erasing content under data-protection law will come with its own
-- migration and its own event.
CREATE TRIGGER notes_no_delete BEFORE DELETE ON notes
BEGIN SELECT RAISE(ABORT, 'DELETE on notes is not allowed: the table is append-only'); END;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'UPDATE on decisions is not allowed: the table is append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'DELETE on decisions is not allowed: the table is append-only'); END;
CREATE TRIGGER record_entries_no_delete BEFORE DELETE ON record_entries
BEGIN SELECT RAISE(ABORT, 'DELETE on record_entries is not allowed: the table is append-only'); END;
