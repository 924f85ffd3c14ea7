package review_test

import (
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
)

// A case's assignment moves the previous worker's drafts still to be
// reviewed (queued, generating, pending, failed) to the new holder, with
// the event of a single reassignment and its cause; it leaves decided
// drafts, a draft awaiting countersignature and another reviewer's draft.
func TestCaseAssignedDraftsFollowTheCase(t *testing.T) {
	sup := countersign.Actor{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_1"}
	to := &review.Assignee{ID: "usr_n", Role: countersign.RoleWorker, TeamID: "team_1"}
	draft := func(id string, s review.Status, reviewer string) *review.Draft {
		return &review.Draft{ID: id, CaseID: "case_1", Kind: assistant.KindSummary, Status: s, ReviewerID: reviewer, TeamID: "team_1"}
	}
	var drafts []*review.Draft
	for _, s := range review.Statuses {
		drafts = append(drafts, draft("drf_"+string(s), s, "usr_w"))
	}
	drafts = append(drafts, draft("drf_peer", review.StatusPendingReview, "usr_p"))
	mv, err := review.DecideCaseAssignedDrafts(sup, drafts, "usr_w", to)
	if err != nil {
		t.Fatal(err)
	}
	var moved []review.Status
	for i, d := range mv.Moved {
		moved = append(moved, d.Status)
		ev := mv.Events[i]
		if ev.SubjectID != d.ID || ev.Payload["from"] != "usr_w" || ev.Payload["to"] != "usr_n" || ev.Payload["cause"] != review.CauseCaseAssigned ||
			ev.Payload["kind"] != string(assistant.KindSummary) || len(ev.Payload) != 4 || ev.Actor != sup {
			t.Errorf("event %+v", ev)
		}
	}
	want := []review.Status{review.StatusQueued, review.StatusGenerating, review.StatusPendingReview, review.StatusFailed}
	if len(moved) != len(want) || len(mv.Events) != len(want) {
		t.Fatalf("moved %v, want %v", moved, want)
	}
	for i := range want {
		if moved[i] != want[i] {
			t.Fatalf("moved %v, want %v", moved, want)
		}
	}

	// The service may assign a case too, and a supervisor may hold one.
	if _, err := review.DecideCaseAssignedDrafts(countersign.SystemCLI, drafts, "usr_w",
		&review.Assignee{ID: "usr_s2", Role: countersign.RoleSupervisor, TeamID: "team_1"}); err != nil {
		t.Fatalf("the service giving a case to a supervisor: %v", err)
	}
	for _, c := range []struct {
		name  string
		actor countersign.Actor
		to    *review.Assignee
		code  string
	}{
		{"a worker", countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}, to, countersign.EFORBIDDEN},
		{"another team's supervisor", countersign.Actor{UserID: "usr_o", Role: countersign.RoleSupervisor, TeamID: "team_2"}, to, countersign.EFORBIDDEN},
		{"to another team", sup, &review.Assignee{ID: "usr_x", Role: countersign.RoleWorker, TeamID: "team_2"}, countersign.EINVALID},
		{"to a disabled worker", sup, &review.Assignee{ID: "usr_x", Role: countersign.RoleWorker, TeamID: "team_1", Disabled: true}, countersign.EINVALID},
		{"to an admin", sup, &review.Assignee{ID: "usr_x", Role: countersign.RoleAdmin, TeamID: "team_1"}, countersign.EINVALID},
		{"to nobody", sup, nil, countersign.EINVALID},
	} {
		if _, err := review.DecideCaseAssignedDrafts(c.actor, drafts, "usr_w", c.to); countersign.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	// Nothing to move, nothing decided: no refusal either.
	if mv, err := review.DecideCaseAssignedDrafts(sup, drafts[:0], "usr_w", nil); err != nil || len(mv.Moved) != 0 {
		t.Errorf("no drafts: %+v, %v", mv, err)
	}

	// A supervisor's reassignment of one draft keeps its own rule: pending
	// drafts only, to a worker, and its event names no cause.
	res, err := review.DecideReassign(sup, draft("drf_1", review.StatusPendingReview, "usr_w"), to)
	if err != nil || res.Events[0].Payload["cause"] != "" || len(res.Events[0].Payload) != 3 {
		t.Fatalf("single reassignment: %+v, %v", res, err)
	}
	if _, err := review.DecideReassign(sup, draft("drf_1", review.StatusQueued, "usr_w"), to); countersign.ErrorCode(err) != countersign.ECONFLICT {
		t.Errorf("a queued draft reassigned alone: %v", err)
	}
	if _, err := review.DecideReassign(sup, draft("drf_1", review.StatusPendingReview, "usr_w"),
		&review.Assignee{ID: "usr_s2", Role: countersign.RoleSupervisor, TeamID: "team_1"}); countersign.ErrorCode(err) != countersign.EINVALID {
		t.Errorf("a draft reassigned alone to a supervisor: %v", err)
	}
	if _, err := review.DecideReassign(countersign.SystemCLI, draft("drf_1", review.StatusPendingReview, "usr_w"), to); countersign.ErrorCode(err) != countersign.EFORBIDDEN {
		t.Errorf("the service reassigning one draft: %v", err)
	}
}
