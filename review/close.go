package review

import (
	"slices"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// CauseCaseClosed is the cause a draft.superseded event gives when the
// draft's case closed before anyone decided it (DecideCaseClosedDrafts).
const CauseCaseClosed = "case_closed"

// EndsWithCase reports whether a draft in status s is superseded when its
// case closes: every draft still on its way to a decision (queued,
// generating, pending review, awaiting countersignature). A closed case
// takes nothing into its record, so such a draft could never be signed;
// left as it was, it would wait in a reviewer's queue, count in the queue's
// depth and age (and their alerts), and keep a drafting worker busy.
// Decided drafts keep their outcome. A failed draft stays failed: it holds
// no text to sign, waits in no queue, and comes back only if a person
// tries it again, which a closed case refuses; its status is the fact that
// the model failed (consent_withdrawn among them), which superseding it
// would overwrite, and the statistics have counted it as failed already.
func (s Status) EndsWithCase() bool {
	switch s {
	case StatusQueued, StatusGenerating, StatusPendingReview, StatusAwaitingCountersign:
		return true
	}
	return false
}

// EndingWithCase lists the statuses EndsWithCase holds for, in Statuses'
// order: the store reads a closing case's drafts in these.
var EndingWithCase = slices.DeleteFunc(slices.Clone(Statuses), func(s Status) bool { return !s.EndsWithCase() })

// ClosedDrafts is what a case's closure does to its drafts.
type ClosedDrafts struct {
	// Superseded are the drafts that end with the case, each still in
	// the status it was read in (the store's write is guarded by it).
	Superseded []*Draft
	// Events are their draft.superseded events, one per draft, in order.
	Events []audit.Record
}

// DecideCaseClosedDrafts decides what closing a case does to drafts, the
// case's drafts as the store found them under the case's lock: a draft
// that EndsWithCase is superseded, with a draft.superseded event by the
// actor who closed the case (ids and codes only: the cause case_closed,
// the status it was in, its kind); any other draft is left as it is.
// A drafting worker that holds one of them loses its lease's fence (the
// draft is no longer generating) and cannot put it up for review.
// Reopening the case does not bring the drafts back: a person requests
// new ones over the case as it then is.
func DecideCaseClosedDrafts(a countersign.Actor, drafts []*Draft) (*ClosedDrafts, error) {
	out := &ClosedDrafts{}
	for _, d := range drafts {
		if !d.Status.EndsWithCase() {
			continue
		}
		if err := Transition(d.Status, StatusSuperseded); err != nil {
			return nil, err
		}
		out.Superseded = append(out.Superseded, d)
		out.Events = append(out.Events, audit.Record{Actor: a, Action: audit.ActionDraftSuperseded, SubjectType: "draft",
			SubjectID: d.ID, CaseID: d.CaseID, Payload: audit.Payload{
				"cause": CauseCaseClosed, "previous_status": string(d.Status), "kind": string(d.Kind)}})
	}
	return out, nil
}
