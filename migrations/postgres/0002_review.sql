-- 0002_review: review and sign-off depth. A draft a policy reserves to a
-- supervisor waits in awaiting_countersign after its reviewer approves it;
-- decisions keep the word-level diff, the reason code and the verdict on each
-- item and statement; countersignatures hold the second signer's verdict;
-- record entries name their countersigner; vigilance_checks marks the
-- known-false statements added to drafts, which the content never reveals.

-- Widen the status CHECK to the new status; every existing row stays valid.
ALTER TABLE drafts DROP CONSTRAINT drafts_status_check;
ALTER TABLE drafts ADD CONSTRAINT drafts_status_check
    CHECK (status IN ('queued', 'generating', 'pending_review', 'approved', 'rejected', 'failed', 'superseded', 'awaiting_countersign'));

-- The supervisors' queue holds both waiting statuses, oldest first; a
-- partial index keeps it a range scan however many drafts were decided.
CREATE INDEX drafts_queue_team_idx ON drafts (team_id, created_at, id)
    WHERE status IN ('pending_review', 'awaiting_countersign');

ALTER TABLE decisions ADD COLUMN reason_code TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN diff TEXT NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN items TEXT NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN statements TEXT NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN countersign_required BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE countersignatures (
    draft_id  TEXT PRIMARY KEY REFERENCES drafts (id),
    outcome   TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected')),
    signed_by TEXT NOT NULL REFERENCES users (id),
    reason    TEXT NOT NULL,
    comment   TEXT NOT NULL,
    signed_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE record_entries ADD COLUMN countersigned_by TEXT REFERENCES users (id);
ALTER TABLE record_entries ADD COLUMN countersigned_at TIMESTAMPTZ;
-- An entry is corrected at most once: a later correction supersedes the
-- latest entry, so the versions form one chain.
CREATE UNIQUE INDEX record_entries_supersedes_idx ON record_entries (supersedes) WHERE supersedes IS NOT NULL;

CREATE TABLE vigilance_checks (
    draft_id     TEXT PRIMARY KEY REFERENCES drafts (id),
    statement_id TEXT NOT NULL,
    text         TEXT NOT NULL,
    inserted_at  TIMESTAMPTZ NOT NULL,
    outcome      TEXT CHECK (outcome IN ('caught', 'missed')),
    decided_by   TEXT REFERENCES users (id),
    decided_at   TIMESTAMPTZ
);
