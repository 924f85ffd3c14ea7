-- 0006_case_data_bound: the case data is bound to the log (issue 14,
-- items 1 and 3). Every row of case content gets a random salt, kept
-- beside its text, that keys the log's commitment to the text
-- (audit.Commit, AUDIT.md section 13): without the salt a commitment says
-- nothing about a guessed text, and erasing the salt with the text leaves
-- it unlinkable. Rows written before this migration have no salt ('');
-- their events carry plain SHA-256 (*_sha256 fields), which is what
-- `countersign audit verify` checks them against.
-- notes.body_sha256 keeps, for every note, the commitment its event carries.
-- PostgreSQL twin of migrations/sqlite/0006_case_data_bound.sql.

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
-- UPDATE (notes and entries did already), DELETE and TRUNCATE, as the log's
-- tables do, also under session_replication_role = replica (ENABLE ALWAYS).
-- Erasing content under data-protection law will come with its own
-- migration and its own event.
CREATE TRIGGER notes_no_delete BEFORE DELETE ON notes
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER notes_no_truncate BEFORE TRUNCATE ON notes
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE notes ENABLE ALWAYS TRIGGER notes_no_delete;
ALTER TABLE notes ENABLE ALWAYS TRIGGER notes_no_truncate;

CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE decisions ENABLE ALWAYS TRIGGER decisions_append_only;
ALTER TABLE decisions ENABLE ALWAYS TRIGGER decisions_no_truncate;

CREATE TRIGGER record_entries_no_delete BEFORE DELETE ON record_entries
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER record_entries_no_truncate BEFORE TRUNCATE ON record_entries
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE record_entries ENABLE ALWAYS TRIGGER record_entries_no_delete;
ALTER TABLE record_entries ENABLE ALWAYS TRIGGER record_entries_no_truncate;
