-- 0004_consent: the client's consent to AI-assisted drafting (issue 3).
-- Each answer is a new row numbered per case; a withdrawal never rewrites
-- the consent it withdraws, so the history of who recorded what and when
-- stays complete. A trigger refuses UPDATE, as for notes.
-- SQLite twin of migrations/postgres/0004_consent.sql.

CREATE TABLE consents (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    seq         INTEGER NOT NULL CHECK (seq > 0),
    given       BOOLEAN NOT NULL,
    note        TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (case_id, seq)
);

CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
BEGIN SELECT RAISE(ABORT, 'UPDATE on consents is not allowed: the table is append-only'); END;
