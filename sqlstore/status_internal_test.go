package sqlstore

import (
	"testing"

	"github.com/countersign/countersign/review"
)

// The drafting queue's SQL moves drafts only as review's state machine
// allows; a transition it forbids is found.
func TestJobTransitionsFollowTheStateMachine(t *testing.T) {
	if err := checkJobTransitions(); err != nil {
		t.Fatal(err)
	}
	saved := jobTransitions
	t.Cleanup(func() { jobTransitions = saved })
	jobTransitions = append(jobTransitions[:len(jobTransitions):len(jobTransitions)],
		struct {
			from []review.Status
			to   review.Status
		}{[]review.Status{review.StatusApproved}, review.StatusQueued})
	if err := checkJobTransitions(); err == nil {
		t.Fatal("approved → queued was accepted")
	}
	for _, s := range review.Statuses {
		if got := sqlStatus(s); got != "'"+string(s)+"'" {
			t.Fatalf("sqlStatus(%s) = %s", s, got)
		}
	}
}
