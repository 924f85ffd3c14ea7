-- 0020_drafts_pending_case_idx: the supersede check's index (issue 18,
-- target 1; sqlstore/drafting_reads.go, the completion, and
-- sqlstore/review_jobs.go, supersede).
-- SQLite twin of migrations/postgres/0020_drafts_pending_case_idx.sql: a
-- completion's search for the drafts of its case pending review of the
-- same kind reads those drafts alone, not every draft the case ever had.
CREATE INDEX drafts_pending_case_idx ON drafts (case_id, kind) WHERE status = 'pending_review';
