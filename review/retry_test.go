package review_test

import (
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
)

func TestDecideRetry(t *testing.T) {
	t.Parallel()
	d := func(st review.Status) *review.Draft {
		return &review.Draft{ID: "drf_1", CaseID: "case_1", Kind: "summary", Status: st, RequestedBy: "usr_asker",
			ReviewerID: "usr_reviewer", TeamID: "team_1", Attempts: 3}
	}
	worker := func(id, team string) countersign.Actor {
		return countersign.Actor{UserID: id, Role: countersign.RoleWorker, TeamID: team}
	}
	tests := []struct {
		name  string
		actor countersign.Actor
		draft *review.Draft
		code  string
	}{
		{"TheRequesterRetries", worker("usr_asker", "team_1"), d(review.StatusFailed), ""},
		{"TheReviewerRetries", worker("usr_reviewer", "team_1"), d(review.StatusFailed), ""},
		{"ASupervisorOfTheTeamRetries", countersign.Actor{UserID: "usr_sup", Role: countersign.RoleSupervisor, TeamID: "team_1"}, d(review.StatusFailed), ""},
		{"AnotherWorkerMayNot", worker("usr_other", "team_1"), d(review.StatusFailed), countersign.EFORBIDDEN},
		{"ASupervisorOfAnotherTeamMayNot", countersign.Actor{UserID: "usr_sup2", Role: countersign.RoleSupervisor, TeamID: "team_2"}, d(review.StatusFailed), countersign.EFORBIDDEN},
		{"TheEthicsBoardMayNot", countersign.Actor{UserID: "usr_eth", Role: countersign.RoleEthics}, d(review.StatusFailed), countersign.EFORBIDDEN},
		{"APendingDraftIsAConflict", worker("usr_asker", "team_1"), d(review.StatusPendingReview), countersign.ECONFLICT},
		{"AQueuedDraftIsAConflict", worker("usr_asker", "team_1"), d(review.StatusQueued), countersign.ECONFLICT},
		{"AnApprovedDraftIsAConflict", worker("usr_asker", "team_1"), d(review.StatusApproved), countersign.ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := review.DecideRetry(tt.actor, tt.draft)
			if got := countersign.ErrorCode(err); tt.code != "" && got != tt.code || tt.code == "" && err != nil {
				t.Fatalf("err = %v (%q), want %q", err, got, tt.code)
			}
			if tt.code != "" {
				return
			}
			if res.Status != review.StatusQueued || len(res.Events) != 1 {
				t.Fatalf("result %+v", res)
			}
			e := res.Events[0]
			if e.Action != audit.ActionDraftRequeued || e.SubjectID != "drf_1" || e.CaseID != "case_1" || e.Actor != tt.actor || e.Payload["attempts"] != "3" {
				t.Fatalf("event %+v", e)
			}
		})
	}
	if !review.StatusFailed.CanTransition(review.StatusQueued) || review.StatusFailed.Final() {
		t.Fatal("a failed draft cannot be queued again")
	}
}
