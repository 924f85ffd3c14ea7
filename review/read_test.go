package review

import (
	"errors"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
)

// TestCanReadDraft: the reviewer reads the draft without the case being
// asked for; anyone else reads it as the case's scope says, and the
// scope's error comes back as is.
func TestCanReadDraft(t *testing.T) {
	d := &Draft{ID: "drf_1", CaseID: "cas_1", ReviewerID: "usr_rev", TeamID: "team_a"}
	scopeOf := func(s casefile.ReadScope, err error, asked *int) func() (casefile.ReadScope, error) {
		return func() (casefile.ReadScope, error) { *asked++; return s, err }
	}
	mine := casefile.ReadScope{TeamID: "team_a", WorkerID: "usr_w"}
	gone := errors.New("no such case")
	for _, tc := range []struct {
		name      string
		actor     countersign.Actor
		scope     casefile.ReadScope
		err       error
		want      bool
		wantErr   error
		wantAsked int
	}{
		{"TheReviewerWithoutTheCase", countersign.Actor{UserID: "usr_rev", Role: countersign.RoleWorker, TeamID: "team_a"}, casefile.ReadScope{}, gone, true, nil, 0},
		{"TheCasesWorker", countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_a"}, mine, nil, true, nil, 1},
		{"ASupervisorOfTheTeam", countersign.Actor{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_a"}, mine, nil, true, nil, 1},
		{"AnotherWorker", countersign.Actor{UserID: "usr_x", Role: countersign.RoleWorker, TeamID: "team_a"}, mine, nil, false, nil, 1},
		{"AReviewerOfAnotherTeam", countersign.Actor{UserID: "usr_rev", Role: countersign.RoleWorker, TeamID: "team_b"}, mine, nil, false, nil, 1},
		{"TheEthicsBoard", countersign.Actor{UserID: "usr_e", Role: countersign.RoleEthics}, mine, nil, false, nil, 1},
		{"TheCaseGone", countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_a"}, mine, gone, false, gone, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			got, err := CanReadDraft(tc.actor, d, scopeOf(tc.scope, tc.err, &asked))
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("CanReadDraft = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
			if asked != tc.wantAsked {
				t.Fatalf("the case's scope was asked %d times, want %d", asked, tc.wantAsked)
			}
		})
	}
}
