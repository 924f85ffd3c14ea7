-- 0020_drafts_pending_case_idx: the supersede check's index (issue 18,
-- target 1; sqlstore/drafting_reads.go, the completion, and
-- sqlstore/review_jobs.go, supersede).
-- PostgreSQL twin of migrations/sqlite/0020_drafts_pending_case_idx.sql.

-- A draft put up for review supersedes the drafts of its case pending
-- review of the same kind over the same notes (review.Superseding), so every
-- completion looks for them. With no index to find a case's pending drafts,
-- PostgreSQL combined drafts_case_idx (every draft the case ever had) with
-- drafts_team_pending_idx (every draft of the team pending review, and the
-- dead entries of those decided since the last VACUUM): 52 buffers for no
-- row on a case of a few hundred drafts, and more as the case grows. This
-- index holds the drafts pending review alone, by case and kind: one
-- buffer. Only the completion's version of a draft (status pending_review)
-- writes an entry in it.
CREATE INDEX drafts_pending_case_idx ON drafts (case_id, kind) WHERE status = 'pending_review';
