package agenda_test

import (
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/casefile"
)

// A case's assignment gives the previous worker's open entries of the case
// to the new worker, one event each with the next sequence; closed
// entries, entries someone else owns and other cases' entries stay.
func TestCaseAssignedEntriesFollowTheCase(t *testing.T) {
	sup := countersign.Actor{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_1"}
	moved := &casefile.Case{ID: "case_1", Reference: "REF-1", TeamID: "team_1", WorkerID: "usr_n"}
	entries := []*agenda.Entry{
		{ID: "agd_open", CaseID: "case_1", OwnerID: "usr_w", Kind: agenda.KindHardDeadline, Date: "2026-12-10", Status: agenda.StatusOpen, Sequence: 2},
		{ID: "agd_timed", CaseID: "case_1", OwnerID: "usr_w", Kind: agenda.KindAppointment, Date: "2026-12-11", Time: "10:00", Status: agenda.StatusOpen},
		{ID: "agd_closed", CaseID: "case_1", OwnerID: "usr_w", Kind: agenda.KindAppointment, Date: "2026-12-12", Status: agenda.StatusClosed, Sequence: 1},
		{ID: "agd_peer", CaseID: "case_1", OwnerID: "usr_p", Kind: agenda.KindAppointment, Date: "2026-12-12", Status: agenda.StatusOpen},
		{ID: "agd_other", CaseID: "case_2", OwnerID: "usr_w", Kind: agenda.KindAppointment, Date: "2026-12-12", Status: agenda.StatusOpen},
	}
	mv, err := agenda.DecideCaseAssigned(sup, moved, entries, "usr_w", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(mv.Moved) != 2 || mv.Moved[0].ID != "agd_open" || mv.Moved[1].ID != "agd_timed" || len(mv.Events) != 2 ||
		len(mv.Read) != 2 || mv.Read[0] != 2 || mv.Read[1] != 0 {
		t.Fatalf("moved %+v, read %v", mv.Moved, mv.Read)
	}
	if e := mv.Moved[0]; e.OwnerID != "usr_n" || e.Sequence != 3 || !e.UpdatedAt.Equal(now) {
		t.Errorf("moved entry %+v", e)
	}
	p := mv.Events[1].Payload
	if mv.Events[1].Action != agenda.ActionEntryUpdated || mv.Events[1].SubjectID != "agd_timed" || p["changed"] != agenda.ChangedOwner ||
		p["owner"] != "usr_n" || p["from"] != "usr_w" || p["cause"] != agenda.CauseCaseAssigned || p["kind"] != "appointment" ||
		p["date"] != "2026-12-11" || p["timed"] != "true" || p["sequence"] != "1" || len(p) != 8 {
		t.Errorf("event %+v", mv.Events[1])
	}
	for _, e := range entries[2:] {
		if e.OwnerID == "usr_n" {
			t.Errorf("%s moved", e.ID)
		}
	}
	for _, a := range []countersign.Actor{worker, {UserID: "usr_o", Role: countersign.RoleSupervisor, TeamID: "team_2"}} {
		if _, err := agenda.DecideCaseAssigned(a, moved, entries, "usr_w", now); countersign.ErrorCode(err) != countersign.EFORBIDDEN {
			t.Errorf("%s: %v, want EFORBIDDEN", a.UserID, err)
		}
	}
	if mv, err := agenda.DecideCaseAssigned(countersign.SystemCLI, moved, entries, "usr_n", now); err != nil || len(mv.Moved) != 0 {
		t.Errorf("from the case's own worker: %+v, %v", mv, err)
	}
}

// Only those the caseload lets assign a case (caseload.CheckAllocate) give
// its agenda to another worker: the case's own worker, who may write the
// case, is refused, as are a supervisor of another team, an admin and the
// board, each with the agenda's refusal; a supervisor of the case's team
// and the service itself are not.
func TestCaseAssignedOnlyByWhoAllocates(t *testing.T) {
	c := &casefile.Case{ID: "case_1", Reference: "REF-1", TeamID: "team_1", WorkerID: "usr_n"}
	entries := func() []*agenda.Entry {
		return []*agenda.Entry{{ID: "agd_open", CaseID: "case_1", OwnerID: "usr_w", Kind: agenda.KindHardDeadline,
			Date: "2026-12-10", Status: agenda.StatusOpen}}
	}
	const refusal = "Only a supervisor of the case's team can give its agenda to another worker."
	for _, a := range []countersign.Actor{
		{UserID: "usr_n", Role: countersign.RoleWorker, TeamID: "team_1"},
		{UserID: "usr_o", Role: countersign.RoleSupervisor, TeamID: "team_2"},
		{UserID: "usr_a", Role: countersign.RoleAdmin},
		{UserID: "usr_e", Role: countersign.RoleEthics},
	} {
		_, err := agenda.DecideCaseAssigned(a, c, entries(), "usr_w", now)
		if countersign.ErrorCode(err) != countersign.EFORBIDDEN || countersign.ErrorMessage(err) != refusal {
			t.Errorf("%s (%s): %v, want EFORBIDDEN %q", a.UserID, a.Role, err, refusal)
		}
	}
	for _, a := range []countersign.Actor{
		{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_1"},
		countersign.SystemCLI,
	} {
		if mv, err := agenda.DecideCaseAssigned(a, c, entries(), "usr_w", now); err != nil || len(mv.Moved) != 1 {
			t.Errorf("%s (%s): %+v, %v, want the entry moved", a.UserID, a.Role, mv, err)
		}
	}
}
