package review_test

import (
	"slices"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
)

// TestClosingACaseSupersedesTheUndecidedDrafts: of one draft in each
// status, exactly the queued, generating, pending and awaiting ones end
// with the case, each with one draft.superseded event by the closer that
// holds ids and codes only; decided and failed drafts are left alone.
func TestClosingACaseSupersedesTheUndecidedDrafts(t *testing.T) {
	t.Parallel()
	closer := countersign.Actor{UserID: "usr_sup", Role: countersign.RoleSupervisor, TeamID: "team_1"}
	var drafts []*review.Draft
	for _, s := range review.Statuses {
		drafts = append(drafts, &review.Draft{ID: "drf_" + string(s), CaseID: "case_1", Kind: assistant.KindSummary, Status: s})
	}
	got, err := review.DecideCaseClosedDrafts(closer, drafts)
	if err != nil {
		t.Fatal(err)
	}
	want := []review.Status{review.StatusQueued, review.StatusGenerating, review.StatusPendingReview, review.StatusAwaitingCountersign}
	var ended []review.Status
	for _, d := range got.Superseded {
		ended = append(ended, d.Status)
	}
	if !slices.Equal(ended, want) || !slices.Equal(review.EndingWithCase, want) {
		t.Fatalf("superseded %v (EndingWithCase %v), want %v", ended, review.EndingWithCase, want)
	}
	if len(got.Events) != len(want) {
		t.Fatalf("%d events for %d drafts", len(got.Events), len(want))
	}
	for i, e := range got.Events {
		d := got.Superseded[i]
		if e.Action != audit.ActionDraftSuperseded || e.SubjectType != "draft" || e.SubjectID != d.ID || e.CaseID != "case_1" || e.Actor != closer {
			t.Errorf("event %d: %+v", i, e)
		}
		wantPayload := audit.Payload{"cause": review.CauseCaseClosed, "previous_status": string(want[i]), "kind": string(assistant.KindSummary)}
		if len(e.Payload) != len(wantPayload) {
			t.Errorf("event %d payload %v, want %v", i, e.Payload, wantPayload)
		}
		for k, v := range wantPayload {
			if e.Payload[k] != v {
				t.Errorf("event %d payload %v, want %v", i, e.Payload, wantPayload)
			}
		}
		// The write the store makes next is one the state machine allows.
		if err := review.Transition(d.Status, review.StatusSuperseded); err != nil {
			t.Errorf("%s cannot be superseded: %v", d.Status, err)
		}
	}
	for _, s := range []review.Status{review.StatusApproved, review.StatusRejected, review.StatusSuperseded, review.StatusFailed} {
		if s.EndsWithCase() {
			t.Errorf("a %s draft would end with its case", s)
		}
	}

	none, err := review.DecideCaseClosedDrafts(closer, nil)
	if err != nil || len(none.Superseded) != 0 || len(none.Events) != 0 {
		t.Fatalf("a case without drafts: %+v, %v", none, err)
	}
}
