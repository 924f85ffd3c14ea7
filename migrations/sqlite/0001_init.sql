-- 0001_init: identities, cases, notes, drafts, decisions, the signed record
-- and the audit log. Timestamps are written from Go in UTC, never by a
-- database default, so PostgreSQL and SQLite store the same instants.
-- SQLite twin of migrations/postgres/0001_init.sql.

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'ethics', 'admin')),
    team_id     TEXT REFERENCES teams (id),
    created_at  TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);

-- Tokens are kept only as SHA-256 hashes of the secret.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    hash       BLOB NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE TABLE cases (
    id         TEXT PRIMARY KEY,
    reference  TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    case_type  TEXT NOT NULL,
    team_id    TEXT NOT NULL REFERENCES teams (id),
    worker_id  TEXT NOT NULL REFERENCES users (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX cases_worker_idx ON cases (worker_id, created_at);
CREATE INDEX cases_team_idx ON cases (team_id, created_at);

CREATE TABLE parties (
    id            TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES cases (id),
    role          TEXT NOT NULL CHECK (role IN ('client', 'other')),
    full_name     TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    address       TEXT NOT NULL,
    phone         TEXT NOT NULL,
    email         TEXT NOT NULL,
    national_id   TEXT NOT NULL,
    created_by    TEXT NOT NULL REFERENCES users (id),
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX parties_case_idx ON parties (case_id);

-- Notes are never updated in place: a correction is a new note that amends
-- an earlier one, and a trigger refuses UPDATE.
CREATE TABLE notes (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    author_id   TEXT NOT NULL REFERENCES users (id),
    body        TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    written_at  TIMESTAMP NOT NULL,
    amends      TEXT REFERENCES notes (id),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX notes_case_idx ON notes (case_id, written_at, id);

CREATE TABLE drafts (
    id                TEXT PRIMARY KEY,
    case_id           TEXT NOT NULL REFERENCES cases (id),
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'generating', 'pending_review', 'approved', 'rejected', 'failed', 'superseded')),
    requested_by      TEXT NOT NULL REFERENCES users (id),
    reviewer_id       TEXT NOT NULL REFERENCES users (id),
    team_id           TEXT NOT NULL REFERENCES teams (id),
    note_ids          TEXT NOT NULL,
    language          TEXT NOT NULL,
    idempotency_key   TEXT,
    content           TEXT,
    model             TEXT NOT NULL DEFAULT '',
    provider          TEXT NOT NULL DEFAULT '',
    prompt_version    TEXT NOT NULL DEFAULT '',
    params            TEXT NOT NULL DEFAULT '{}',
    request_hash      TEXT NOT NULL DEFAULT '',
    response_hash     TEXT NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    latency_ms        BIGINT NOT NULL DEFAULT 0,
    pseudonymised     BOOLEAN NOT NULL DEFAULT 0,
    masked            TEXT NOT NULL DEFAULT '{}',
    ungrounded        INTEGER NOT NULL DEFAULT 0,
    failure_reason    TEXT NOT NULL DEFAULT '',
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT NOT NULL DEFAULT '',
    lease_until       TIMESTAMP,
    run_after         TIMESTAMP NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    generated_at      TIMESTAMP,
    opened_at         TIMESTAMP,
    decided_at        TIMESTAMP
);
CREATE UNIQUE INDEX drafts_idempotency_idx ON drafts (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The job queue: claim the oldest queued draft, or one whose lease expired.
CREATE INDEX drafts_jobs_idx ON drafts (status, run_after, id) WHERE status IN ('queued', 'generating');
-- The review queue pages by (created_at, id) per reviewer and per team.
CREATE INDEX drafts_review_idx ON drafts (reviewer_id, status, created_at, id);
CREATE INDEX drafts_team_review_idx ON drafts (team_id, status, created_at, id);
CREATE INDEX drafts_case_idx ON drafts (case_id, created_at);

CREATE TABLE decisions (
    id         TEXT PRIMARY KEY,
    draft_id   TEXT NOT NULL UNIQUE REFERENCES drafts (id),
    outcome    TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected')),
    decided_by TEXT NOT NULL REFERENCES users (id),
    final_text TEXT NOT NULL,
    edited     BOOLEAN NOT NULL,
    edit_ratio REAL NOT NULL,
    reason     TEXT NOT NULL,
    comment    TEXT NOT NULL,
    review_ms  BIGINT NOT NULL,
    fast       BOOLEAN NOT NULL,
    decided_at TIMESTAMP NOT NULL
);

-- The signed case record. Entries are locked once signed: a correction is a
-- new entry that supersedes an earlier one, and a trigger refuses UPDATE.
CREATE TABLE record_entries (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases (id),
    draft_id       TEXT UNIQUE REFERENCES drafts (id),
    kind           TEXT NOT NULL,
    content        TEXT NOT NULL,
    ai_drafted     BOOLEAN NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    drafted_at     TIMESTAMP,
    edited         BOOLEAN NOT NULL,
    edited_by      TEXT NOT NULL,
    signed_by      TEXT NOT NULL REFERENCES users (id),
    signed_at      TIMESTAMP NOT NULL,
    supersedes     TEXT REFERENCES record_entries (id),
    correction     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX record_entries_case_idx ON record_entries (case_id, signed_at, id);

-- The audit log. A transaction that changes state inserts its event into
-- audit_pending; the sequencer moves pending events into audit_event in
-- batches, giving each its gap-free seq (the Merkle leaf index).
CREATE TABLE audit_pending (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    case_id      TEXT NOT NULL,
    payload      TEXT NOT NULL
);

-- at is kept as the exact canonical text: TIMESTAMP would round the
-- nanoseconds that were hashed.
CREATE TABLE audit_event (
    seq          BIGINT PRIMARY KEY CHECK (seq >= 0),
    at           TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    case_id      TEXT NOT NULL,
    payload      TEXT NOT NULL,
    leaf_hash    BLOB NOT NULL,
    chain_hash   BLOB NOT NULL
);
CREATE INDEX audit_event_case_idx ON audit_event (case_id, seq);
CREATE INDEX audit_event_actor_idx ON audit_event (actor_id, seq);
CREATE INDEX audit_event_action_idx ON audit_event (action, seq);

CREATE TABLE audit_node (
    level SMALLINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

-- The one row the sequencer locks; the only audit table that is updated.
CREATE TABLE audit_head (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    size         BIGINT NOT NULL,
    chain        BLOB NOT NULL,
    range_hashes BLOB NOT NULL
);
INSERT INTO audit_head (id, size, chain, range_hashes)
VALUES (1, 0, zeroblob(32), X'');

CREATE TABLE audit_checkpoint (
    size       BIGINT PRIMARY KEY,
    root       BLOB NOT NULL,
    chain      BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Append-only, enforced by the database. SQLite has no TRUNCATE; an
-- unqualified DELETE still fires these triggers.
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN SELECT RAISE(ABORT, 'UPDATE on audit_event is not allowed: the table is append-only'); END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN SELECT RAISE(ABORT, 'DELETE on audit_event is not allowed: the table is append-only'); END;
CREATE TRIGGER audit_node_no_update BEFORE UPDATE ON audit_node
BEGIN SELECT RAISE(ABORT, 'UPDATE on audit_node is not allowed: the table is append-only'); END;
CREATE TRIGGER audit_node_no_delete BEFORE DELETE ON audit_node
BEGIN SELECT RAISE(ABORT, 'DELETE on audit_node is not allowed: the table is append-only'); END;
CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'UPDATE on audit_checkpoint is not allowed: the table is append-only'); END;
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'DELETE on audit_checkpoint is not allowed: the table is append-only'); END;
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head WHEN NEW.size < OLD.size
BEGIN SELECT RAISE(ABORT, 'the audit head may only move forward'); END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'the audit head may only move forward'); END;
CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
BEGIN SELECT RAISE(ABORT, 'UPDATE on notes is not allowed: the table is append-only'); END;
CREATE TRIGGER record_entries_no_update BEFORE UPDATE ON record_entries
BEGIN SELECT RAISE(ABORT, 'UPDATE on record_entries is not allowed: the table is append-only'); END;
