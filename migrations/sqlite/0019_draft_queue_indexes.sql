-- 0019_draft_queue_indexes: the drafting queue's indexes, written less
-- (issue 18, target 1; sqlstore/drafting_reads.go, claimCandidatesQuery).
-- SQLite twin of migrations/postgres/0019_draft_queue_indexes.sql; SQLite
-- has no autovacuum settings to change (a deleted or updated row's space
-- is reused at once).

-- The claim's search for drafts whose lease expired, by the lease's end.
CREATE INDEX drafts_leases_idx ON drafts (lease_until, id) WHERE status = 'generating';

-- A worker's review queue (reviewer_id = ? AND status = 'pending_review')
-- is the only reader of drafts_review_idx: it now holds only the drafts
-- pending review.
DROP INDEX drafts_review_idx;
CREATE INDEX drafts_review_idx ON drafts (reviewer_id, created_at, id) WHERE status = 'pending_review';
