package review_test

import (
	"testing"
	"time"

	"github.com/countersign/countersign/review"
)

// TestSupersedingKeepsTheLatestRequest: whichever draft is generated
// first, the latest request is left pending and supersedes the others;
// requests made at the same time are ordered by id.
func TestSupersedingKeepsTheLatestRequest(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a := &review.Draft{ID: "drf_a", CreatedAt: t0}
	b := &review.Draft{ID: "drf_b", CreatedAt: t0.Add(time.Second)}
	c := &review.Draft{ID: "drf_c", CreatedAt: t0.Add(time.Second)} // same time as b, a later id
	for _, tc := range []struct {
		name    string
		done    *review.Draft
		pending []*review.Draft
		latest  *review.Draft
		over    []*review.Draft
	}{
		{"the later generated last", b, []*review.Draft{a}, b, []*review.Draft{a}},
		{"the earlier generated last", a, []*review.Draft{b}, b, []*review.Draft{a}},
		{"alone", a, nil, a, nil},
		{"same time, by id", b, []*review.Draft{c, a}, c, []*review.Draft{b, a}},
	} {
		latest, over := review.Superseding(tc.done, tc.pending)
		if latest != tc.latest || len(over) != len(tc.over) {
			t.Fatalf("%s: left %s pending, superseded %d; want %s and %d", tc.name, latest.ID, len(over), tc.latest.ID, len(tc.over))
		}
		for i := range over {
			if over[i] != tc.over[i] {
				t.Errorf("%s: superseded %s, want %s", tc.name, over[i].ID, tc.over[i].ID)
			}
		}
	}
}
