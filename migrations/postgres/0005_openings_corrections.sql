-- 0005_openings_corrections: who opened a draft at which stage of its
-- review, so that a decision comes only from someone who opened what they
-- sign (issue 12, "sign what you saw"); and corrections of record entries
-- that wait for a countersignature, so that the four-eyes rule applies to a
-- correction as it did to the entry it corrects (issue 12, item 3).
-- PostgreSQL twin of migrations/sqlite/0005_openings_corrections.sql.

CREATE TABLE draft_openings (
    draft_id  TEXT NOT NULL REFERENCES drafts (id),
    user_id   TEXT NOT NULL REFERENCES users (id),
    stage     TEXT NOT NULL CHECK (stage IN ('pending_review', 'awaiting_countersign')),
    opened_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (draft_id, user_id, stage)
);

-- Drafts opened before this migration were opened by their reviewer.
INSERT INTO draft_openings (draft_id, user_id, stage, opened_at)
SELECT id, reviewer_id, 'pending_review', opened_at FROM drafts WHERE opened_at IS NOT NULL;

CREATE TABLE record_corrections (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases (id),
    supersedes     TEXT NOT NULL REFERENCES record_entries (id),
    kind           TEXT NOT NULL,
    content        TEXT NOT NULL,
    reason         TEXT NOT NULL,
    signed_by      TEXT NOT NULL REFERENCES users (id),
    signed_at      TIMESTAMPTZ NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'countersigned', 'refused')),
    decided_by     TEXT REFERENCES users (id),
    decided_at     TIMESTAMPTZ,
    comment        TEXT NOT NULL DEFAULT '',
    refusal_reason TEXT NOT NULL DEFAULT ''
);
-- At most one correction of an entry waits at a time.
CREATE UNIQUE INDEX record_corrections_pending_idx ON record_corrections (supersedes) WHERE status = 'pending';
CREATE INDEX record_corrections_case_idx ON record_corrections (case_id);
