package sqlstore

import (
	"fmt"
	"strings"

	"github.com/countersign/countersign/review"
)

// Draft statuses enter SQL only through this file. A query names a status
// from review's state machine through sqlStatus or statusIn, as a literal
// where the planner needs one (the queue's partial index) and where the
// query is a constant; so a status renamed or added in review cannot drift
// from what the SQL writes and matches. The decisions check their
// transitions at run time (review.Transition); the drafting queue's
// transitions are listed in jobTransitions and checked against the same
// state machine when the package loads.

// sqlStatus is s as an SQL string literal.
func sqlStatus(s review.Status) string {
	if !s.Known() {
		panic(fmt.Sprintf("sqlstore: unknown draft status %q", s))
	}
	return "'" + string(s) + "'"
}

// statusIn is the predicate "status IN (…)" over ss.
func statusIn(ss ...review.Status) string {
	lits := make([]string, len(ss))
	for i, s := range ss {
		lits[i] = sqlStatus(s)
	}
	return "status IN (" + strings.Join(lits, ", ") + ")"
}

var (
	stQueued     = sqlStatus(review.StatusQueued)
	stGenerating = sqlStatus(review.StatusGenerating)
	stPending    = sqlStatus(review.StatusPendingReview)
	stFailed     = sqlStatus(review.StatusFailed)
	stSuperseded = sqlStatus(review.StatusSuperseded)
	// ungenerated are the drafts no model has answered yet.
	ungenerated = statusIn(review.StatusQueued, review.StatusGenerating)
)

// jobTransitions are the status changes the drafting queue's queries make
// without a domain decision: claiming (or re-claiming after a lost lease),
// completing, retrying, failing, superseding, and failing the ungenerated
// drafts of a case whose client withdrew consent.
var jobTransitions = []struct {
	from []review.Status
	to   review.Status
}{
	{[]review.Status{review.StatusQueued, review.StatusGenerating}, review.StatusGenerating},
	{[]review.Status{review.StatusGenerating}, review.StatusPendingReview},
	{[]review.Status{review.StatusGenerating}, review.StatusQueued},
	{[]review.Status{review.StatusQueued, review.StatusGenerating}, review.StatusFailed},
	{[]review.Status{review.StatusPendingReview}, review.StatusSuperseded},
}

// checkJobTransitions returns an error naming the first job transition
// that review's state machine does not allow.
func checkJobTransitions() error {
	for _, t := range jobTransitions {
		for _, from := range t.from {
			if err := review.Transition(from, t.to); err != nil {
				return fmt.Errorf("sqlstore: the drafting queue moves drafts from %s to %s, which review forbids", from, t.to)
			}
		}
	}
	return nil
}

func init() {
	if err := checkJobTransitions(); err != nil {
		panic(err)
	}
}
