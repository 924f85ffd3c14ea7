-- 0007_event_macs: only the service can write events (issue 14, item 2).
-- Each pending event carries a random nonce and a MAC (HMAC-SHA256 under
-- the event key, a file outside the database; audit.EventKey.MAC) over the
-- nonce and its columns. The sequencer moves an event whose MAC does not
-- verify, or whose nonce the log already holds (a replayed copy), into
-- audit_refused instead of the log. The log keeps each event's nonce, so a
-- copy of a pending row made earlier is refused however late it comes.
-- SQLite twin of migrations/postgres/0007_event_macs.sql.

ALTER TABLE audit_pending ADD COLUMN nonce BLOB;
ALTER TABLE audit_pending ADD COLUMN mac BLOB;

-- The pending row's nonce and MAC, kept with the event outside its leaf
-- hash: NULL for the events sequenced before this migration, and the
-- nonce unique otherwise. `countersign audit verify`, which holds the key,
-- checks the MAC of every event from the first that has one, so an event
-- inserted straight into audit_event is reported too.
ALTER TABLE audit_event ADD COLUMN nonce BLOB;
ALTER TABLE audit_event ADD COLUMN mac BLOB;
CREATE UNIQUE INDEX audit_event_nonce_idx ON audit_event (nonce);

-- Refused pending rows, kept whole (never lost, never in the log), for
-- `countersign audit verify` to report. Append-only, as the log is.
CREATE TABLE audit_refused (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pending_id   INTEGER NOT NULL,
    at           TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    case_id      TEXT NOT NULL,
    payload      TEXT NOT NULL,
    nonce        BLOB,
    mac          BLOB,
    reason       TEXT NOT NULL,
    refused_at   TIMESTAMP NOT NULL
);
CREATE TRIGGER audit_refused_no_update BEFORE UPDATE ON audit_refused
BEGIN SELECT RAISE(ABORT, 'UPDATE on audit_refused is not allowed: the table is append-only'); END;
CREATE TRIGGER audit_refused_no_delete BEFORE DELETE ON audit_refused
BEGIN SELECT RAISE(ABORT, 'DELETE on audit_refused is not allowed: the table is append-only'); END;

-- Events pending when this migration runs were written by the previous
-- version, without a MAC. They are sequenced as that version would have,
-- once, by the first `countersign migrate` or start after this migration
-- (sqlstore's sequenceLegacy, which then deletes this row); from then on
-- no event without a valid MAC enters the log. Stop every replica of the
-- previous version before migrating: an event it writes afterwards has no
-- MAC and is refused.
CREATE TABLE audit_legacy_pending (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    up_to INTEGER NOT NULL
);
INSERT INTO audit_legacy_pending (id, up_to)
SELECT 1, (SELECT MAX(id) FROM audit_pending) WHERE EXISTS (SELECT 1 FROM audit_pending);
