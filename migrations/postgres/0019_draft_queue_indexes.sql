-- 0019_draft_queue_indexes: the drafting queue's indexes, written less
-- and read without revisiting dead entries (issue 18, target 1;
-- sqlstore/drafting_reads.go, claimCandidatesQuery).
-- PostgreSQL twin of migrations/sqlite/0019_draft_queue_indexes.sql.

-- The claim's search for drafts whose lease expired: the lease's end is a
-- key, so a draft generated under a lease that has not ended is passed
-- over in the index, without reading its row (drafts_jobs_idx filtered
-- each draft that was ever generating, dead versions included, on its row).
CREATE INDEX drafts_leases_idx ON drafts (lease_until, id) WHERE status = 'generating';

-- A worker's review queue (reviewer_id = ? AND status = 'pending_review')
-- is the only reader of drafts_review_idx: it now holds only the drafts
-- pending review, so the versions of a draft queued, being generated or
-- decided (every status change is a new row version) write no entry in it.
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

-- drafts is updated about four times per draft while the draft is new, and
-- never deleted: the default autovacuum threshold (a fifth of the table
-- dead) lets dead versions pile up in the queue's indexes for tens of
-- thousands of drafts once the table is large. Vacuum it after a thousand
-- dead versions and one percent of the table; its pages hold mostly
-- drafts long decided, which the visibility map lets vacuum skip.
ALTER TABLE drafts SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000);
