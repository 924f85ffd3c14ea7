package casefile_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
)

// TestReadScopeDecidesTheRead: who may read a case is decided by its read
// scope alone. CanRead and CheckRead answer as CanReadScope on ScopeOf,
// and nothing outside the scope (title, status, dates, reference) changes
// the answer, so a store that finds a case's scope unchanged may rely on
// the answer it had.
func TestReadScopeDecidesTheRead(t *testing.T) {
	now := time.Now()
	c := &casefile.Case{ID: "cas_1", Reference: "R-1", Title: "Housing", CaseType: "housing", TeamID: "team_a",
		WorkerID: "usr_w", CreatedBy: "usr_w", CreatedAt: now, Status: casefile.StatusOpen}
	actors := map[string]countersign.Actor{
		"worker":              {UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_a"},
		"other worker":        {UserID: "usr_x", Role: countersign.RoleWorker, TeamID: "team_a"},
		"supervisor":          {UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_a"},
		"other supervisor":    {UserID: "usr_t", Role: countersign.RoleSupervisor, TeamID: "team_b"},
		"ethics":              {UserID: "usr_e", Role: countersign.RoleEthics},
		"admin":               {UserID: "usr_a", Role: countersign.RoleAdmin},
		"system":              {UserID: "drafting-worker", Role: countersign.RoleSystem},
		"anonymous system":    {Role: countersign.RoleSystem},
		"client":              {UserID: "cli_1", Role: countersign.RoleClient},
		"worker of team b":    {UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_b"},
		"supervisor no team":  {UserID: "usr_s", Role: countersign.RoleSupervisor},
		"worker with no role": {UserID: "usr_w"},
	}
	want := map[string]bool{"worker": true, "supervisor": true, "system": true, "worker of team b": true}

	closed := *c
	closed.Status, closed.ClosedAt, closed.CloseReason = casefile.StatusClosed, &now, "goals_met"
	erased := closed
	erased.Status, erased.ErasedAt, erased.Title = casefile.StatusErased, &now, ""
	renamed := *c
	renamed.Reference, renamed.Title, renamed.CaseType, renamed.CreatedBy = "R-2", "Other", "youth", "usr_s"

	for name, a := range actors {
		for _, v := range []*casefile.Case{c, &closed, &erased, &renamed} {
			s := casefile.ScopeOf(v)
			if s != (casefile.ReadScope{TeamID: "team_a", WorkerID: "usr_w"}) {
				t.Fatalf("ScopeOf = %+v", s)
			}
			got := casefile.CanRead(a, v)
			if got != want[name] || casefile.CanReadScope(a, s) != got {
				t.Errorf("%s on a %s case: CanRead %v, CanReadScope %v, want %v", name, v.Status, got, casefile.CanReadScope(a, s), want[name])
			}
			if err := casefile.CheckRead(a, v); (err == nil) != want[name] ||
				err != nil && countersign.ErrorCode(err) != countersign.EFORBIDDEN {
				t.Errorf("%s on a %s case: CheckRead %v", name, v.Status, err)
			}
		}
	}

	// Moving the case changes the answer: the scope is what is compared.
	moved := *c
	moved.TeamID, moved.WorkerID = "team_b", "usr_y"
	if casefile.CanRead(actors["worker"], &moved) || casefile.CanRead(actors["supervisor"], &moved) ||
		!casefile.CanRead(actors["other supervisor"], &moved) {
		t.Error("a moved case is read as before")
	}
	if casefile.ScopeOf(&moved) == casefile.ScopeOf(c) {
		t.Error("a moved case has the same scope")
	}
}

// TestReadScopeHoldsIdsOnly: a store may keep scopes in memory beyond a
// case's erasure, so the scope holds the case's team and worker ids and
// nothing that could be personal data.
func TestReadScopeHoldsIdsOnly(t *testing.T) {
	typ := reflect.TypeFor[casefile.ReadScope]()
	var fields []string
	for f := range typ.Fields() {
		fields = append(fields, f.Name)
		if f.Type.Kind() != reflect.String {
			t.Errorf("ReadScope.%s is a %s", f.Name, f.Type)
		}
	}
	if !reflect.DeepEqual(fields, []string{"TeamID", "WorkerID"}) {
		t.Fatalf("ReadScope holds %v; a new field must be an id or code the read rule needs, never a title or a name", fields)
	}
}
