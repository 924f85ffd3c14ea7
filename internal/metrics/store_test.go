package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestStoreCollector: one read serves the scrapes within MinInterval; ages
// are measured from the collector's clock; a failed read says
// countersign_store_up 0 and leaves the rest out instead of showing stale
// numbers.
func TestStoreCollector(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	reads := 0
	var fail error
	c := &StoreCollector{MinInterval: time.Second, Now: func() time.Time { return now }, Read: func(context.Context) (*Snapshot, error) {
		reads++
		if fail != nil {
			return nil, fail
		}
		return &Snapshot{Drafts: map[string]int{"queued": 3}, OldestRunnable: now.Add(-90 * time.Second),
			Teams:         []TeamQueue{{TeamID: "tm_1", Depth: 2, Oldest: now.Add(-time.Hour)}},
			PendingEvents: 5, OldestPendingAt: now.Add(-2 * time.Second), LogSize: 40, CheckpointSize: 35, CheckpointAt: now.Add(-75 * time.Second)}, nil
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	want := `
# HELP countersign_draft_queue_oldest_age_seconds Seconds the longest-waiting runnable queued draft has waited for a drafting worker; 0 when none waits.
# TYPE countersign_draft_queue_oldest_age_seconds gauge
countersign_draft_queue_oldest_age_seconds 90
# HELP countersign_review_queue_depth Drafts waiting for a person's decision (pending_review or awaiting_countersign), by team id.
# TYPE countersign_review_queue_depth gauge
countersign_review_queue_depth{team="tm_1"} 2
# HELP countersign_audit_unsigned_events Events in the log that no signed checkpoint covers yet.
# TYPE countersign_audit_unsigned_events gauge
countersign_audit_unsigned_events 5
# HELP countersign_audit_checkpoint_age_seconds Seconds since the newest checkpoint was signed; absent until one is.
# TYPE countersign_audit_checkpoint_age_seconds gauge
countersign_audit_checkpoint_age_seconds 75
# HELP countersign_store_up 1 when the store answered the last scrape's queries, 0 when it did not.
# TYPE countersign_store_up gauge
countersign_store_up 1
`
	names := []string{"countersign_draft_queue_oldest_age_seconds", "countersign_review_queue_depth", "countersign_audit_unsigned_events",
		"countersign_audit_checkpoint_age_seconds", "countersign_store_up"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "countersign_drafts"); err != nil || n != len(DraftStatuses) {
		t.Fatalf("countersign_drafts: %d series (%v), want one per status", n, err)
	}
	if reads != 1 {
		t.Fatalf("%d reads for two scrapes within MinInterval, want 1", reads)
	}

	now = now.Add(2 * time.Second)
	fail = errors.New("database gone")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP countersign_store_up 1 when the store answered the last scrape's queries, 0 when it did not.
# TYPE countersign_store_up gauge
countersign_store_up 0
`), "countersign_store_up", "countersign_audit_checkpoint_age_seconds"); err != nil {
		t.Fatal(err)
	}
}
