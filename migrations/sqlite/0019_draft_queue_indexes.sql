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

-- drafts_team_review_idx (team_id, status, created_at, id) had one reader
-- left, the team caseload's count of the drafts pending review per
-- reviewer (team_id = ? AND status = 'pending_review' GROUP BY
-- reviewer_id): the supervisors' queue reads drafts_queue_team_idx, and the
-- caseload's reviews find their drafts by id from decisions_decided_idx.
-- It is replaced by an index of the drafts pending review alone, in the
-- count's order.
DROP INDEX drafts_team_review_idx;
CREATE INDEX drafts_team_pending_idx ON drafts (team_id, reviewer_id) WHERE status = 'pending_review';
