package audit_test

import (
	"slices"
	"testing"

	"github.com/countersign/countersign/audit"
)

// TestAggregateCountsARetriedDraftInItsGroup: a failed draft that a person
// queues again (draft.requeued) counts its new outcome with the kind and
// worker of its request, not in an unnamed group.
func TestAggregateCountsARetriedDraftInItsGroup(t *testing.T) {
	t.Parallel()
	events := []*audit.Event{
		requested(1, "u_ann", "d1", "summary"),
		ev(2, "system", audit.ActionDraftFailed, "d1", "attempt", "1", "reason_sha256", "ab"),
		ev(3, "u_ann", audit.ActionDraftRequeued, "d1", "kind", "summary", "attempts", "1", "previous_status", "failed"),
		generated(4, "d1", "m1", "summary/v1", "0"),
	}
	s := audit.Aggregate(slices.Values(events), audit.StatsOptions{By: []string{audit.DimKind, audit.DimWorker}, Worker: func(id string) string { return id }})
	if s.Total.Requested != 1 || s.Total.Failed != 1 || s.Total.Generated != 1 {
		t.Fatalf("total %+v", s.Total)
	}
	for _, g := range s.Groups {
		if g.Generated > 0 && (g.Kind != "summary" || g.Worker != "u_ann") {
			t.Fatalf("the retried draft's generation counted in group %q/%q", g.Kind, g.Worker)
		}
	}
}
