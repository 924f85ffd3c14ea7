-- 0016_retention: cases close and reopen, legal holds, four-eyes erasure
-- requests, and the erasures done (issue 19). A case's status, closure
-- time and reason start the retention clock; legal_holds stop it;
-- erasure_requests wait for a second admin; erasures keep, for the
-- tombstone, the board and the client's export, what was erased, when and
-- under which rule (no content). Erasure overwrites the text of the rows
-- of notes, decisions, record entries and consent answers, which refuse
-- UPDATE otherwise: their triggers now let an UPDATE through only once the
-- row's case is erased (cases.erased_at set, in the same transaction as the
-- case.erased event). DELETE stays refused: the rows keep their ids, times
-- and the log's commitments.
-- SQLite twin of migrations/postgres/0016_retention.sql.

ALTER TABLE cases ADD COLUMN status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'erased'));
ALTER TABLE cases ADD COLUMN closed_at TIMESTAMP;
ALTER TABLE cases ADD COLUMN close_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN erased_at TIMESTAMP;
ALTER TABLE parties ADD COLUMN erased_at TIMESTAMP;
-- The retention job walks the closed cases.
CREATE INDEX cases_closed_idx ON cases (status, closed_at);

CREATE TABLE legal_holds (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    reason_code TEXT NOT NULL,
    set_by      TEXT NOT NULL,
    set_at      TIMESTAMP NOT NULL,
    lifted_by   TEXT,
    lifted_at   TIMESTAMP,
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
    requested_at TIMESTAMP NOT NULL,
    confirmed_by TEXT REFERENCES users (id),
    confirmed_at TIMESTAMP
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
    erased_at      TIMESTAMP NOT NULL
);
CREATE INDEX erasures_case_idx ON erasures (case_id, erased_at);
CREATE INDEX erasures_month_idx ON erasures (erased_at);
CREATE TRIGGER erasures_no_update BEFORE UPDATE ON erasures
BEGIN SELECT RAISE(ABORT, 'UPDATE on erasures is not allowed: the table is append-only'); END;
CREATE TRIGGER erasures_no_delete BEFORE DELETE ON erasures
BEGIN SELECT RAISE(ABORT, 'DELETE on erasures is not allowed: the table is append-only'); END;

DROP TRIGGER notes_no_update;
CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
WHEN (SELECT erased_at FROM cases WHERE id = OLD.case_id) IS NULL OR NEW.id <> OLD.id OR NEW.case_id <> OLD.case_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on notes is not allowed: the table is append-only'); END;
DROP TRIGGER record_entries_no_update;
CREATE TRIGGER record_entries_no_update BEFORE UPDATE ON record_entries
WHEN (SELECT erased_at FROM cases WHERE id = OLD.case_id) IS NULL OR NEW.id <> OLD.id OR NEW.case_id <> OLD.case_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on record_entries is not allowed: the table is append-only'); END;
DROP TRIGGER consents_no_update;
CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
WHEN (SELECT erased_at FROM cases WHERE id = OLD.case_id) IS NULL OR NEW.id <> OLD.id OR NEW.case_id <> OLD.case_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on consents is not allowed: the table is append-only'); END;
DROP TRIGGER decisions_no_update;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
WHEN (SELECT c.erased_at FROM drafts d JOIN cases c ON c.id = d.case_id WHERE d.id = OLD.draft_id) IS NULL
    OR NEW.id <> OLD.id OR NEW.draft_id <> OLD.draft_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on decisions is not allowed: the table is append-only'); END;
