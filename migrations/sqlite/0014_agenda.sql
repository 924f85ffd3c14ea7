-- 0014_agenda: appointments and deadlines nobody forgets (issue 16): the
-- agenda entries of cases, the reminders each entry is owed (one row per
-- entry, kind, offset and time, claimed and marked sent in the transaction
-- that writes its notifications, so each arrives once across replicas),
-- the in-app notifications, the calendar feeds (their secrets kept only as
-- hashes) and the client's consent to a feed of their appointments.
-- SQLite twin of migrations/postgres/0014_agenda.sql.

CREATE TABLE agenda_entries (
    id            TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES cases (id),
    team_id       TEXT NOT NULL,
    owner_id      TEXT NOT NULL REFERENCES users (id),
    kind          TEXT NOT NULL CHECK (kind IN ('appointment', 'hard_deadline', 'soft_deadline')),
    due_date      TEXT NOT NULL,
    due_time      TEXT NOT NULL,
    due_at        TIMESTAMP NOT NULL,
    title         TEXT NOT NULL,
    shared        BOOLEAN NOT NULL,
    source_draft  TEXT REFERENCES drafts (id),
    source_item   TEXT,
    source_notes  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    outcome       TEXT CHECK (outcome IN ('done', 'missed', 'moved', 'not_relevant')),
    reason        TEXT NOT NULL,
    closed_by     TEXT,
    closed_at     TIMESTAMP,
    next_id       TEXT,
    previous_id   TEXT,
    uid           TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    salt          TEXT NOT NULL
);
CREATE INDEX agenda_entries_case_idx ON agenda_entries (case_id, due_at);
CREATE INDEX agenda_entries_owner_idx ON agenda_entries (owner_id, status, due_at);
CREATE INDEX agenda_entries_team_idx ON agenda_entries (team_id, status, kind, due_at);
-- A signed item becomes one entry, however the sign-off is retried.
CREATE UNIQUE INDEX agenda_entries_source_idx ON agenda_entries (source_draft, source_item) WHERE source_draft IS NOT NULL AND previous_id IS NULL;

CREATE TABLE agenda_reminders (
    id          TEXT PRIMARY KEY,
    entry_id    TEXT NOT NULL REFERENCES agenda_entries (id),
    kind        TEXT NOT NULL CHECK (kind IN ('reminder', 'escalation')),
    offset_code TEXT NOT NULL,
    fire_at     TIMESTAMP NOT NULL,
    sent_at     TIMESTAMP,
    UNIQUE (entry_id, kind, offset_code, fire_at)
);
CREATE INDEX agenda_reminders_due_idx ON agenda_reminders (fire_at) WHERE sent_at IS NULL;

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    reminder_id TEXT NOT NULL REFERENCES agenda_reminders (id),
    kind        TEXT NOT NULL,
    entry_id    TEXT NOT NULL REFERENCES agenda_entries (id),
    offset_code TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    read_at     TIMESTAMP,
    emailed_at  TIMESTAMP,
    -- A reminder reaches each person once, whatever the scheduler does.
    UNIQUE (reminder_id, user_id)
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at);

CREATE TABLE calendar_feeds (
    id          TEXT PRIMARY KEY,
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('staff', 'client')),
    user_id     TEXT REFERENCES users (id),
    account_id  TEXT,
    case_ids    TEXT NOT NULL,
    language    TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);
CREATE INDEX calendar_feeds_user_idx ON calendar_feeds (user_id) WHERE revoked_at IS NULL;
CREATE INDEX calendar_feeds_account_idx ON calendar_feeds (account_id) WHERE revoked_at IS NULL;

CREATE TABLE feed_consents (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    given       BOOLEAN NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX feed_consents_account_idx ON feed_consents (account_id, recorded_at);

CREATE TRIGGER feed_consents_no_update BEFORE UPDATE ON feed_consents
BEGIN SELECT RAISE(ABORT, 'UPDATE on feed_consents is not allowed: the table is append-only'); END;
