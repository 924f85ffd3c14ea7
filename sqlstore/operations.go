package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/metrics"
)

// operationsPendingCap bounds the count of pending audit events: past it the
// operator knows enough, and the count stays cheap however far behind the
// sequencer has fallen.
const operationsPendingCap = 100000

// Operations reads what an operator watches, for the metrics collector
// (metrics.StoreCollector): the drafting job queue by status, the oldest runnable
// queued draft, each team's review queue, the audit backlog and the newest
// checkpoint. Each query is served by an index (drafts_jobs_idx, an index
// of drafts by team, the primary keys); none reads case content.
func (db *DB) Operations(ctx context.Context) (*metrics.Snapshot, error) {
	s := &metrics.Snapshot{Drafts: map[string]int{}}
	// The job queue, by the partial index drafts_jobs_idx: its WHERE is
	// repeated word for word, which is how SQLite knows the index serves.
	var counts []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := db.r.SelectContext(ctx, &counts, `
		SELECT status, COUNT(*) AS n FROM drafts
		WHERE status IN ('queued', 'generating')
		GROUP BY status`); err != nil {
		return nil, fmt.Errorf("count queued drafts: %w", err)
	}
	for _, c := range counts {
		s.Drafts[c.Status] = c.N
	}
	var oldest []struct {
		RunAfter time.Time `db:"run_after"`
	}
	if err := db.r.SelectContext(ctx, &oldest, `
		SELECT run_after FROM drafts
		WHERE status IN ('queued', 'generating') AND status = 'queued'
		ORDER BY status, run_after LIMIT 1`); err != nil {
		return nil, fmt.Errorf("find the oldest queued draft: %w", err)
	}
	if len(oldest) == 1 {
		s.OldestRunnable = oldest[0].RunAfter
	}
	// The review queues: one pass over an index of the drafts (the cost of
	// a scrape grows with the drafts waiting: BENCHMARKS.md).
	var teams []struct {
		TeamID string  `db:"team_id"`
		N      int     `db:"n"`
		Oldest anyTime `db:"oldest"`
	}
	if err := db.r.SelectContext(ctx, &teams, `
		SELECT team_id, COUNT(*) AS n, MIN(created_at) AS oldest FROM drafts
		WHERE status IN ('pending_review', 'awaiting_countersign')
		GROUP BY team_id ORDER BY team_id LIMIT 2000`); err != nil {
		return nil, fmt.Errorf("measure review queues: %w", err)
	}
	for _, t := range teams {
		s.Teams = append(s.Teams, metrics.TeamQueue{TeamID: t.TeamID, Depth: t.N, Oldest: t.Oldest.Time})
	}
	if err := db.r.GetContext(ctx, &s.PendingEvents, db.r.Rebind(`
		SELECT COUNT(*) FROM (SELECT 1 FROM audit_pending LIMIT ?) p`), operationsPendingCap); err != nil {
		return nil, fmt.Errorf("count pending audit events: %w", err)
	}
	var err error
	if s.OldestPendingAt, err = db.OldestPending(ctx); err != nil {
		return nil, err
	}
	if err := db.r.GetContext(ctx, &s.LogSize, `SELECT size FROM audit_head WHERE id = 1`); err != nil {
		return nil, fmt.Errorf("read audit head: %w", err)
	}
	var cps []struct {
		Size int64     `db:"size"`
		At   time.Time `db:"created_at"`
	}
	if err := db.r.SelectContext(ctx, &cps, `SELECT size, created_at FROM audit_checkpoint ORDER BY size DESC LIMIT 1`); err != nil {
		return nil, fmt.Errorf("read the newest checkpoint: %w", err)
	}
	if len(cps) == 1 {
		s.CheckpointSize, s.CheckpointAt = cps[0].Size, cps[0].At
	}
	return s, nil
}

// OldestPending returns when the oldest audit event still waiting for the
// sequencer was written, or the zero time when none waits: one row by the
// primary key, cheap enough for every readiness probe.
func (db *DB) OldestPending(ctx context.Context) (time.Time, error) {
	var at []string
	if err := db.r.SelectContext(ctx, &at, `SELECT at FROM audit_pending ORDER BY id LIMIT 1`); err != nil {
		return time.Time{}, fmt.Errorf("find the oldest pending audit event: %w", err)
	}
	if len(at) == 0 {
		return time.Time{}, nil
	}
	t, err := time.Parse(audit.TimeFormat, at[0])
	if err != nil {
		return time.Time{}, fmt.Errorf("pending audit event time %q: %w", at[0], err)
	}
	return t, nil
}

// anyTime scans a time from an aggregate, which SQLite returns as the
// stored integer microseconds (the column's type, and so the driver's
// conversion, is lost by MIN) and PostgreSQL as a time.
type anyTime struct{ time.Time }

// Scan implements sql.Scanner.
func (t *anyTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v
	case int64:
		t.Time = time.UnixMicro(v)
	default:
		return fmt.Errorf("scan time from %T", v)
	}
	return nil
}
