-- 0017_case_keys: per-case keys (issue 19, item 3). Each case has one
-- random 256-bit data key that seals its text at rest (notes, drafts,
-- decisions, record entries, letters, client responses, agenda entries,
-- the personal data of its parties: sqlstore/casekeys.go). The key is kept
-- here only wrapped (AES-256-GCM) by a master key that lives in a file
-- outside the database (--case-keyring), named by master_key_id, so that a
-- copy of the database alone opens no text. key_id names the data key
-- itself (it never changes when the master key is rotated; the caches of
-- the replicas are keyed by it). Erasure destroys the key in place
-- (shredCaseKey): wrapped_key becomes NULL and shredded_at is set, so no
-- new text of the case is ever written again. Cases opened before this
-- migration get their key with their next write or through
-- `countersign keys encrypt-existing`. PostgreSQL twin of
-- migrations/sqlite/0017_case_keys.sql.
CREATE TABLE case_keys (
    case_id       TEXT PRIMARY KEY REFERENCES cases (id),
    key_id        TEXT NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped_key   BYTEA,
    created_at    TIMESTAMPTZ NOT NULL,
    shredded_at   TIMESTAMPTZ
);
-- `countersign keys rotate` walks the keys still wrapped by older masters.
CREATE INDEX case_keys_master_idx ON case_keys (master_key_id, case_id);

-- Whether text is sealed when written: one row once it is. A database
-- with no case yet starts sealed. One upgraded from 1.0 goes on writing
-- plaintext, so that replicas of 1.0 still read what this release writes
-- while they roll over (expand); `countersign keys encrypt-existing`, run
-- once every replica runs this release, inserts the row and seals the
-- plaintext (contract). Never deleted.
CREATE TABLE case_text_sealing (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    since TIMESTAMPTZ NOT NULL
);
INSERT INTO case_text_sealing (id, since) SELECT 1, CURRENT_TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM cases);

-- Notes refuse UPDATE (0016 lets erasure through). One more UPDATE
-- passes: `countersign keys encrypt-existing` sealing, in place, the
-- plaintext body of a note written before this migration, every other
-- column unchanged (the body's commitment included, which the case data
-- check holds the opened text to).
DROP TRIGGER notes_no_update ON notes;
CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
    FOR EACH ROW
    WHEN (NOT (OLD.body NOT LIKE 'cs1:%' AND NEW.body LIKE 'cs1:%'
        AND (NEW.id, NEW.case_id, NEW.author_id, NEW.body_sha256, NEW.written_at, NEW.amends, NEW.created_at, NEW.salt)
            IS NOT DISTINCT FROM (OLD.id, OLD.case_id, OLD.author_id, OLD.body_sha256, OLD.written_at, OLD.amends, OLD.created_at, OLD.salt)))
    EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE notes ENABLE ALWAYS TRIGGER notes_no_update;

-- Record entries likewise: their plaintext content sealed in place, every
-- other column unchanged.
DROP TRIGGER record_entries_no_update ON record_entries;
CREATE TRIGGER record_entries_no_update BEFORE UPDATE ON record_entries
    FOR EACH ROW
    WHEN (NOT (OLD.content NOT LIKE 'cs1:%' AND NEW.content LIKE 'cs1:%'
        AND (NEW.id, NEW.case_id, NEW.draft_id, NEW.kind, NEW.ai_drafted, NEW.model, NEW.prompt_version, NEW.drafted_at, NEW.edited, NEW.edited_by, NEW.signed_by, NEW.signed_at, NEW.supersedes, NEW.correction, NEW.countersigned_by, NEW.countersigned_at, NEW.salt, NEW.sharing, NEW.withheld_reason)
            IS NOT DISTINCT FROM (OLD.id, OLD.case_id, OLD.draft_id, OLD.kind, OLD.ai_drafted, OLD.model, OLD.prompt_version, OLD.drafted_at, OLD.edited, OLD.edited_by, OLD.signed_by, OLD.signed_at, OLD.supersedes, OLD.correction, OLD.countersigned_by, OLD.countersigned_at, OLD.salt, OLD.sharing, OLD.withheld_reason)))
    EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE record_entries ENABLE ALWAYS TRIGGER record_entries_no_update;

-- Decisions likewise: their plaintext final text, reason, comment and
-- diff sealed in place, every other column unchanged.
DROP TRIGGER decisions_no_update ON decisions;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
    FOR EACH ROW
    WHEN (NOT (
        (NEW.id, NEW.draft_id, NEW.outcome, NEW.decided_by, NEW.edited, NEW.edit_ratio, NEW.review_ms, NEW.fast, NEW.decided_at, NEW.reason_code, NEW.items, NEW.statements, NEW.countersign_required, NEW.sharing, NEW.withheld_reason, NEW.salt)
            IS NOT DISTINCT FROM (OLD.id, OLD.draft_id, OLD.outcome, OLD.decided_by, OLD.edited, OLD.edit_ratio, OLD.review_ms, OLD.fast, OLD.decided_at, OLD.reason_code, OLD.items, OLD.statements, OLD.countersign_required, OLD.sharing, OLD.withheld_reason, OLD.salt)
        AND (NEW.final_text = OLD.final_text OR (OLD.final_text NOT LIKE 'cs1:%' AND NEW.final_text LIKE 'cs1:%'))
        AND (NEW.reason = OLD.reason OR (OLD.reason NOT LIKE 'cs1:%' AND NEW.reason LIKE 'cs1:%'))
        AND (NEW.comment = OLD.comment OR (OLD.comment NOT LIKE 'cs1:%' AND NEW.comment LIKE 'cs1:%'))
        AND (NEW.diff = OLD.diff OR (OLD.diff NOT LIKE 'cs1:%' AND NEW.diff LIKE 'cs1:%'))))
    EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE decisions ENABLE ALWAYS TRIGGER decisions_no_update;
