-- 0012_client_responses: the client's right to answer (issue 15, item 5).
-- On an entry of their file the client says "this is wrong" (correction)
-- or adds their own view (own_view); the case's worker answers: corrected
-- (correction_id names the record entry, or the correction waiting for a
-- countersignature, that the answer made), declined (reason, which the
-- client reads) or attached (the client's words are shown with the entry to
-- every later reader). The text and reason are case content: the log holds
-- only commitments to them, keyed with the row's salt.
-- PostgreSQL twin of migrations/sqlite/0012_client_responses.sql.

CREATE TABLE client_responses (
    id            TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES cases (id),
    party_id      TEXT NOT NULL REFERENCES parties (id),
    account_id    TEXT NOT NULL REFERENCES client_accounts (id),
    entry_id      TEXT NOT NULL REFERENCES record_entries (id),
    kind          TEXT NOT NULL CHECK (kind IN ('correction', 'own_view')),
    text          TEXT NOT NULL,
    salt          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open', 'answered')),
    outcome       TEXT CHECK (outcome IN ('corrected', 'declined', 'attached')),
    reason        TEXT NOT NULL DEFAULT '',
    answered_by   TEXT REFERENCES users (id),
    answered_at   TIMESTAMPTZ,
    correction_id TEXT
);
-- The worker's queue reads a case's open responses; the client reads theirs.
CREATE INDEX client_responses_case_idx ON client_responses (case_id, status, created_at);
CREATE INDEX client_responses_account_idx ON client_responses (account_id, created_at);
CREATE INDEX client_responses_entry_idx ON client_responses (entry_id);
