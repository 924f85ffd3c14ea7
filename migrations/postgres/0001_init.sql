-- 0001_init: identities, cases, notes, drafts, decisions, the signed record
-- and the audit log. Timestamps are written from Go in UTC, never by a
-- database default, so PostgreSQL and SQLite store the same instants.

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'ethics', 'admin')),
    team_id     TEXT REFERENCES teams (id),
    created_at  TIMESTAMPTZ NOT NULL,
    disabled_at TIMESTAMPTZ
);

-- Tokens are kept only as SHA-256 hashes of the secret.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    hash       BYTEA NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE cases (
    id         TEXT PRIMARY KEY,
    reference  TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    case_type  TEXT NOT NULL,
    team_id    TEXT NOT NULL REFERENCES teams (id),
    worker_id  TEXT NOT NULL REFERENCES users (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL
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
    created_at    TIMESTAMPTZ NOT NULL
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
    written_at  TIMESTAMPTZ NOT NULL,
    amends      TEXT REFERENCES notes (id),
    created_at  TIMESTAMPTZ NOT NULL
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
    pseudonymised     BOOLEAN NOT NULL DEFAULT FALSE,
    masked            TEXT NOT NULL DEFAULT '{}',
    ungrounded        INTEGER NOT NULL DEFAULT 0,
    failure_reason    TEXT NOT NULL DEFAULT '',
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT NOT NULL DEFAULT '',
    lease_until       TIMESTAMPTZ,
    run_after         TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    generated_at      TIMESTAMPTZ,
    opened_at         TIMESTAMPTZ,
    decided_at        TIMESTAMPTZ
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
    edit_ratio DOUBLE PRECISION NOT NULL,
    reason     TEXT NOT NULL,
    comment    TEXT NOT NULL,
    review_ms  BIGINT NOT NULL,
    fast       BOOLEAN NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL
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
    drafted_at     TIMESTAMPTZ,
    edited         BOOLEAN NOT NULL,
    edited_by      TEXT NOT NULL,
    signed_by      TEXT NOT NULL REFERENCES users (id),
    signed_at      TIMESTAMPTZ NOT NULL,
    supersedes     TEXT REFERENCES record_entries (id),
    correction     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX record_entries_case_idx ON record_entries (case_id, signed_at, id);

-- The audit log. A transaction that changes state inserts its event into
-- audit_pending; the sequencer moves pending events into audit_event in
-- batches, giving each its gap-free seq (the Merkle leaf index).
CREATE TABLE audit_pending (
    id           BIGSERIAL PRIMARY KEY,
    at           TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    case_id      TEXT NOT NULL,
    payload      TEXT NOT NULL
);

-- at is kept as the exact canonical text: TIMESTAMPTZ would round the
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
    leaf_hash    BYTEA NOT NULL,
    chain_hash   BYTEA NOT NULL
);
CREATE INDEX audit_event_case_idx ON audit_event (case_id, seq);
CREATE INDEX audit_event_actor_idx ON audit_event (actor_id, seq);
CREATE INDEX audit_event_action_idx ON audit_event (action, seq);

CREATE TABLE audit_node (
    level SMALLINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- The one row the sequencer locks; the only audit table that is updated.
CREATE TABLE audit_head (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    size         BIGINT NOT NULL,
    chain        BYTEA NOT NULL,
    range_hashes BYTEA NOT NULL
);
INSERT INTO audit_head (id, size, chain, range_hashes)
VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, ''::bytea);

CREATE TABLE audit_checkpoint (
    size       BIGINT PRIMARY KEY,
    root       BYTEA NOT NULL,
    chain      BYTEA NOT NULL,
    note       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Append-only, enforced by the database. ENABLE ALWAYS keeps the triggers
-- firing under session_replication_role = replica.
CREATE FUNCTION countersign_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_append_only;
ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_no_truncate;

CREATE TRIGGER audit_node_append_only BEFORE UPDATE OR DELETE ON audit_node
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER audit_node_no_truncate BEFORE TRUNCATE ON audit_node
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE audit_node ENABLE ALWAYS TRIGGER audit_node_append_only;
ALTER TABLE audit_node ENABLE ALWAYS TRIGGER audit_node_no_truncate;

CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE audit_checkpoint ENABLE ALWAYS TRIGGER audit_checkpoint_append_only;
ALTER TABLE audit_checkpoint ENABLE ALWAYS TRIGGER audit_checkpoint_no_truncate;

-- The head may only move forward: never deleted, and its size never shrinks.
CREATE FUNCTION countersign_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.size < OLD.size THEN
        RAISE EXCEPTION 'the audit head may only move forward' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION countersign_head_forward();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE audit_head ENABLE ALWAYS TRIGGER audit_head_forward;
ALTER TABLE audit_head ENABLE ALWAYS TRIGGER audit_head_no_truncate;

CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE notes ENABLE ALWAYS TRIGGER notes_no_update;
CREATE TRIGGER record_entries_no_update BEFORE UPDATE ON record_entries
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE record_entries ENABLE ALWAYS TRIGGER record_entries_no_update;
