package review

import (
	"slices"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// CauseCaseAssigned is the cause a draft.reassigned event gives when the
// draft followed its case to the case's new worker
// (DecideCaseAssignedDrafts); a supervisor's choice of one draft gives none.
const CauseCaseAssigned = "case_assigned"

// MovesWithCase reports whether a draft in status s goes to its case's new
// worker when a supervisor assigns the case, if the previous worker is its
// reviewer: every draft not yet decided that waits, or will wait, for its
// reviewer. Queued and generating drafts come up for review once drafted,
// pending ones are in the reviewer's queue, and a failed one comes back to
// its reviewer if a person tries it again; left with the previous worker,
// each would reach someone who no longer holds the case (and may no
// longer read it). A draft awaiting countersignature stays: its reviewer
// has signed it first and it waits for a supervisor, not for the case's
// worker, and its reviewer is the first signature's author, which a move
// would misstate. Decided drafts keep who decided them.
func (s Status) MovesWithCase() bool {
	switch s {
	case StatusQueued, StatusGenerating, StatusPendingReview, StatusFailed:
		return true
	}
	return false
}

// MovingWithCase lists the statuses MovesWithCase holds for, in Statuses'
// order: the store reads an assigned case's drafts in these.
var MovingWithCase = slices.DeleteFunc(slices.Clone(Statuses), func(s Status) bool { return !s.MovesWithCase() })

// MovedDrafts is what a case's assignment does to its drafts.
type MovedDrafts struct {
	// Moved are the drafts that go to the case's new worker, each still as
	// it was read (the store's write is guarded by its reviewer).
	Moved []*Draft
	// Events are their draft.reassigned events, one per draft, in order.
	Events []audit.Record
}

// DecideCaseAssignedDrafts decides what a's assignment of a case from
// worker from to worker to (as the store found them; caseload.DecideAssign
// has allowed it) does to drafts, the case's drafts as the store found
// them under the case's lock: a draft whose reviewer is from and that
// MovesWithCase gets to as its reviewer, by the rule of a supervisor's
// reassignment of one draft (DecideReassign) and with its event, which
// says why (cause case_assigned). Any other draft is left as it is: one
// already given to another reviewer stays theirs. The new reviewer has not
// opened a moved draft: their review clock starts when they do.
func DecideCaseAssignedDrafts(a countersign.Actor, drafts []*Draft, from string, to *Assignee) (*MovedDrafts, error) {
	out := &MovedDrafts{}
	for _, d := range drafts {
		if d.ReviewerID != from || !d.Status.MovesWithCase() {
			continue
		}
		res, err := decideReassign(a, d, to, CauseCaseAssigned)
		if err != nil {
			return nil, err
		}
		out.Moved = append(out.Moved, d)
		out.Events = append(out.Events, res.Events...)
	}
	return out, nil
}
