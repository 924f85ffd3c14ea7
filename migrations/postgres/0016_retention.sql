-- 0016_retention: cases close and reopen, legal holds, four-eyes erasure
-- requests, and the erasures done (issue 19). A case's status, closure
-- time and reason start the retention clock; legal_holds stop it;
-- erasure_requests wait for a second admin; erasures keep, for the
-- tombstone, the board and the client's export, what was erased, when and
-- under which rule (no content). Erasure overwrites the text of the rows
-- of notes, decisions, record entries and consent answers, which refuse
-- UPDATE otherwise: their triggers now let an UPDATE through only once the
-- row's case is erased (cases.erased_at set, in the same transaction as the
-- case.erased event). DELETE and TRUNCATE stay refused: the rows keep their
-- ids, times and the log's commitments.
-- PostgreSQL twin of migrations/sqlite/0016_retention.sql.

ALTER TABLE cases ADD COLUMN status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'erased'));
ALTER TABLE cases ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN close_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN erased_at TIMESTAMPTZ;
ALTER TABLE parties ADD COLUMN erased_at TIMESTAMPTZ;
-- The retention job walks the closed cases.
CREATE INDEX cases_closed_idx ON cases (status, closed_at);

CREATE TABLE legal_holds (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    reason_code TEXT NOT NULL,
    set_by      TEXT NOT NULL,
    set_at      TIMESTAMPTZ NOT NULL,
    lifted_by   TEXT,
    lifted_at   TIMESTAMPTZ,
    lift_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX legal_holds_case_idx ON legal_holds (case_id, set_at);

CREATE TABLE erasure_requests (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    party_id     TEXT NOT NULL DEFAULT '',
    reason_code  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'done', 'withdrawn')),
    requested_by TEXT NOT NULL REFERENCES users (id),
    requested_at TIMESTAMPTZ NOT NULL,
    confirmed_by TEXT REFERENCES users (id),
    confirmed_at TIMESTAMPTZ
);
-- One pending request per case, or per party of a case.
CREATE UNIQUE INDEX erasure_requests_pending_idx ON erasure_requests (case_id, party_id) WHERE status = 'pending';

CREATE TABLE erasures (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases (id),
    party_id       TEXT NOT NULL DEFAULT '',
    case_type      TEXT NOT NULL,
    team_id        TEXT NOT NULL,
    rule           TEXT NOT NULL CHECK (rule IN ('retention', 'request')),
    reason_code    TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    request_id     TEXT NOT NULL DEFAULT '',
    counts         TEXT NOT NULL,
    keys_destroyed INTEGER NOT NULL,
    erased_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX erasures_case_idx ON erasures (case_id, erased_at);
CREATE INDEX erasures_month_idx ON erasures (erased_at);
CREATE TRIGGER erasures_append_only BEFORE UPDATE OR DELETE ON erasures
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER erasures_no_truncate BEFORE TRUNCATE ON erasures
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE erasures ENABLE ALWAYS TRIGGER erasures_append_only;
ALTER TABLE erasures ENABLE ALWAYS TRIGGER erasures_no_truncate;

-- An UPDATE of a row of case content passes only when its case is erased
-- and the row keeps its id and case: erasure overwriting the text.
CREATE FUNCTION countersign_refuse_unless_erased() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    erased TIMESTAMPTZ;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        IF TG_TABLE_NAME = 'decisions' THEN
            IF NEW.draft_id = OLD.draft_id THEN
                SELECT c.erased_at INTO erased FROM drafts d JOIN cases c ON c.id = d.case_id WHERE d.id = OLD.draft_id;
            END IF;
        ELSIF NEW.case_id = OLD.case_id THEN
            SELECT erased_at INTO erased FROM cases WHERE id = OLD.case_id;
        END IF;
        IF erased IS NOT NULL THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER notes_no_update ON notes;
CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE notes ENABLE ALWAYS TRIGGER notes_no_update;
DROP TRIGGER record_entries_no_update ON record_entries;
CREATE TRIGGER record_entries_no_update BEFORE UPDATE ON record_entries
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE record_entries ENABLE ALWAYS TRIGGER record_entries_no_update;
DROP TRIGGER consents_no_update ON consents;
CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE consents ENABLE ALWAYS TRIGGER consents_no_update;
DROP TRIGGER decisions_append_only ON decisions;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE decisions ENABLE ALWAYS TRIGGER decisions_no_delete;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE decisions ENABLE ALWAYS TRIGGER decisions_no_update;
