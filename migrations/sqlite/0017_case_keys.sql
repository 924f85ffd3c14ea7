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
-- `countersign keys encrypt-existing`. SQLite twin of
-- migrations/postgres/0017_case_keys.sql.
CREATE TABLE case_keys (
    case_id       TEXT PRIMARY KEY REFERENCES cases (id),
    key_id        TEXT NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped_key   BLOB,
    created_at    TIMESTAMP NOT NULL,
    shredded_at   TIMESTAMP
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
    since TIMESTAMP NOT NULL
);
INSERT INTO case_text_sealing (id, since) SELECT 1, CURRENT_TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM cases);

-- Notes refuse UPDATE (0016 lets erasure through). One more UPDATE
-- passes: `countersign keys encrypt-existing` sealing, in place, the
-- plaintext body of a note written before this migration, every other
-- column unchanged (the body's commitment included, which the case data
-- check holds the opened text to).
DROP TRIGGER notes_no_update;
CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
WHEN ((SELECT erased_at FROM cases WHERE id = OLD.case_id) IS NULL
        AND NOT (substr(OLD.body, 1, 4) <> 'cs1:' AND substr(NEW.body, 1, 4) = 'cs1:'
            AND NEW.author_id = OLD.author_id AND NEW.body_sha256 = OLD.body_sha256 AND NEW.written_at = OLD.written_at
            AND NEW.amends IS OLD.amends AND NEW.created_at = OLD.created_at AND NEW.salt = OLD.salt))
    OR NEW.id <> OLD.id OR NEW.case_id <> OLD.case_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on notes is not allowed: the table is append-only'); END;

-- Record entries likewise: their plaintext content sealed in place, every
-- other column unchanged.
DROP TRIGGER record_entries_no_update;
CREATE TRIGGER record_entries_no_update BEFORE UPDATE ON record_entries
WHEN ((SELECT erased_at FROM cases WHERE id = OLD.case_id) IS NULL
        AND NOT (substr(OLD.content, 1, 4) <> 'cs1:' AND substr(NEW.content, 1, 4) = 'cs1:' AND
            NEW.draft_id IS OLD.draft_id AND NEW.kind IS OLD.kind AND
            NEW.ai_drafted IS OLD.ai_drafted AND NEW.model IS OLD.model AND
            NEW.prompt_version IS OLD.prompt_version AND NEW.drafted_at IS OLD.drafted_at AND
            NEW.edited IS OLD.edited AND NEW.edited_by IS OLD.edited_by AND
            NEW.signed_by IS OLD.signed_by AND NEW.signed_at IS OLD.signed_at AND
            NEW.supersedes IS OLD.supersedes AND NEW.correction IS OLD.correction AND
            NEW.countersigned_by IS OLD.countersigned_by AND
            NEW.countersigned_at IS OLD.countersigned_at AND NEW.salt IS OLD.salt AND
            NEW.sharing IS OLD.sharing AND NEW.withheld_reason IS OLD.withheld_reason))
    OR NEW.id <> OLD.id OR NEW.case_id <> OLD.case_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on record_entries is not allowed: the table is append-only'); END;

-- Decisions likewise: their plaintext final text, reason, comment and
-- diff sealed in place, every other column unchanged.
DROP TRIGGER decisions_no_update;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
WHEN ((SELECT c.erased_at FROM drafts d JOIN cases c ON c.id = d.case_id WHERE d.id = OLD.draft_id) IS NULL
        AND NOT (
            NEW.outcome IS OLD.outcome AND NEW.decided_by IS OLD.decided_by AND NEW.edited IS OLD.edited AND
            NEW.edit_ratio IS OLD.edit_ratio AND NEW.review_ms IS OLD.review_ms AND NEW.fast IS OLD.fast AND
            NEW.decided_at IS OLD.decided_at AND NEW.reason_code IS OLD.reason_code AND NEW.items IS OLD.items AND
            NEW.statements IS OLD.statements AND NEW.countersign_required IS OLD.countersign_required AND
            NEW.sharing IS OLD.sharing AND NEW.withheld_reason IS OLD.withheld_reason AND NEW.salt IS OLD.salt AND
            (NEW.final_text IS OLD.final_text OR (substr(OLD.final_text, 1, 4) <> 'cs1:' AND substr(NEW.final_text, 1, 4) = 'cs1:')) AND
            (NEW.reason IS OLD.reason OR (substr(OLD.reason, 1, 4) <> 'cs1:' AND substr(NEW.reason, 1, 4) = 'cs1:')) AND
            (NEW.comment IS OLD.comment OR (substr(OLD.comment, 1, 4) <> 'cs1:' AND substr(NEW.comment, 1, 4) = 'cs1:')) AND
            (NEW.diff IS OLD.diff OR (substr(OLD.diff, 1, 4) <> 'cs1:' AND substr(NEW.diff, 1, 4) = 'cs1:'))))
    OR NEW.id <> OLD.id OR NEW.draft_id <> OLD.draft_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on decisions is not allowed: the table is append-only'); END;
