package review

import (
	"strconv"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// RetryResult is what trying a failed draft again changes.
type RetryResult struct {
	// Status is queued: the drafting workers take the draft up again.
	Status Status
	Events []audit.Record
}

// CanRetry reports whether actor may try d again: the worker who asked for
// it, its reviewer, or a supervisor of its team.
func CanRetry(actor countersign.Actor, d *Draft) bool {
	switch actor.Role {
	case countersign.RoleWorker:
		return actor.UserID == d.RequestedBy || actor.UserID == d.ReviewerID
	case countersign.RoleSupervisor:
		return actor.TeamID == d.TeamID
	}
	return false
}

// DecideRetry decides a person's request to generate a failed draft again:
// the draft goes back to the queue, over the same notes, and its attempts
// are counted afresh, so the drafting workers give it their usual retries
// (the audit event keeps the count so far). Returns EFORBIDDEN when it is
// not actor's draft to retry (see CanRetry), ECONFLICT when it has not failed.
func DecideRetry(a countersign.Actor, d *Draft) (*RetryResult, error) {
	if !CanRetry(a, d) {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only the person who asked for this draft, its reviewer or a supervisor of its team can try it again.")
	}
	if d.Status != StatusFailed {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This draft cannot be tried again: it is %s, not failed.", d.Status.Label())
	}
	if err := Transition(d.Status, StatusQueued); err != nil {
		return nil, err
	}
	return &RetryResult{Status: StatusQueued, Events: []audit.Record{{Actor: a, Action: audit.ActionDraftRequeued,
		SubjectType: "draft", SubjectID: d.ID, CaseID: d.CaseID,
		Payload: audit.Payload{"kind": string(d.Kind), "attempts": strconv.Itoa(d.Attempts), "previous_status": string(d.Status)}}}}, nil
}
