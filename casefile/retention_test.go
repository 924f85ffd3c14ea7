package casefile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
)

var (
	t0         = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	supervisor = countersign.Actor{UserID: "usr_sup", Role: countersign.RoleSupervisor, TeamID: "team_a"}
	admin      = countersign.Actor{UserID: "usr_adm", Role: countersign.RoleAdmin}
	admin2     = countersign.Actor{UserID: "usr_adm2", Role: countersign.RoleAdmin}
)

func closedCase(caseType string, at time.Time) *casefile.Case {
	return &casefile.Case{ID: "case_1", CaseType: caseType, TeamID: "team_a", Status: casefile.StatusClosed, ClosedAt: &at}
}

func mustPolicy(t *testing.T, raw map[string]any) casefile.RetentionPolicy {
	t.Helper()
	p, field, err := casefile.ParseRetention(raw, casefile.DefaultCaseTypes)
	if err != nil {
		t.Fatalf("%s: %v", field, err)
	}
	return p
}

func TestParseRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		raw   map[string]any
		field string // "" when valid
	}{
		{"YearsAndDays", map[string]any{"adult_social_care": "8y", "general": "30d", "housing": "0d"}, ""},
		{"WithAMinimum", map[string]any{"child_protection": "75y", "minimum": map[string]any{"child_protection": "25y"}}, ""},
		{"AnUnknownCaseType", map[string]any{"pets": "1y"}, "retention.pets"},
		{"AUnitOtherThanDaysOrYears", map[string]any{"general": "8m"}, "retention.general"},
		{"ANumberWithoutAUnit", map[string]any{"general": 8}, "retention.general"},
		{"ANegativePeriod", map[string]any{"general": "-1d"}, "retention.general"},
		{"AMinimumLongerThanThePeriod", map[string]any{"general": "1y", "minimum": map[string]any{"general": "2y"}}, "retention.minimum.general"},
		{"AMinimumThatIsNotAMap", map[string]any{"minimum": "2y"}, "retention.minimum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, field, err := casefile.ParseRetention(tc.raw, casefile.DefaultCaseTypes)
			if (err == nil) != (tc.field == "") || field != tc.field {
				t.Fatalf("field %q, err %v; want field %q", field, err, tc.field)
			}
		})
	}
	t.Run("TheVersionFollowsTheRules", func(t *testing.T) {
		t.Parallel()
		a := mustPolicy(t, map[string]any{"general": "8y", "housing": "30d"})
		b := mustPolicy(t, map[string]any{"housing": "30d", "general": "8y"})
		c := mustPolicy(t, map[string]any{"general": "9y", "housing": "30d"})
		if a.Version != b.Version || a.Version == c.Version || len(a.Version) != 64 {
			t.Fatalf("versions %q %q %q", a.Version, b.Version, c.Version)
		}
	})
}

func TestExpired(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, map[string]any{"general": "8y", "housing": "0d", "adult_social_care": "30d"})
	hold := &casefile.Hold{ID: "hold_1"}
	lifted := &casefile.Hold{ID: "hold_2", LiftedAt: &t0}
	open := &casefile.Case{ID: "case_2", CaseType: "housing", Status: casefile.StatusOpen}
	for _, tc := range []struct {
		name  string
		c     *casefile.Case
		holds []*casefile.Hold
		now   time.Time
		want  bool
	}{
		{"ZeroDaysAtOnce", closedCase("housing", t0), nil, t0, true},
		{"EightYearsLaterToTheSecond", closedCase("general", t0), nil, t0.AddDate(8, 0, 0), true},
		{"ASecondBeforeEightYears", closedCase("general", t0), nil, t0.AddDate(8, 0, 0).Add(-time.Second), false},
		{"ThirtyDays", closedCase("adult_social_care", t0), nil, t0.AddDate(0, 0, 30), true},
		{"AStandingHoldStopsIt", closedCase("housing", t0), []*casefile.Hold{lifted, hold}, t0, false},
		{"ALiftedHoldDoesNot", closedCase("housing", t0), []*casefile.Hold{lifted}, t0, true},
		{"AnOpenCaseNever", open, nil, t0.AddDate(100, 0, 0), false},
		{"ATypeThePolicyDoesNotName", closedCase("mental_health", t0), nil, t0.AddDate(100, 0, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := casefile.Expired(tc.c, tc.holds, p, tc.now); got != tc.want {
				t.Fatalf("Expired = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCloseAndReopen(t *testing.T) {
	t.Parallel()
	worker := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_a"}
	otherSup := countersign.Actor{UserID: "usr_s2", Role: countersign.RoleSupervisor, TeamID: "team_b"}
	for _, tc := range []struct {
		name   string
		a      countersign.Actor
		status string
		reason string
		want   string // error code, "" for success
	}{
		{"TheTeamsSupervisorClosesAnOpenCase", supervisor, casefile.StatusOpen, "goals_met", ""},
		{"TheWorkerMayNot", worker, casefile.StatusOpen, "goals_met", countersign.EFORBIDDEN},
		{"AnotherTeamsSupervisorMayNot", otherSup, casefile.StatusOpen, "goals_met", countersign.EFORBIDDEN},
		{"AnAdminMayNot", admin, casefile.StatusOpen, "goals_met", countersign.EFORBIDDEN},
		{"AnUnknownReasonNamesTheField", supervisor, casefile.StatusOpen, "bored", countersign.EINVALID},
		{"NotTwice", supervisor, casefile.StatusClosed, "goals_met", countersign.ECONFLICT},
		{"NotAnErasedCase", supervisor, casefile.StatusErased, "goals_met", countersign.ECONFLICT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &casefile.Case{ID: "case_1", TeamID: "team_a", Status: tc.status}
			ev, err := casefile.DecideClose(tc.a, c, tc.reason, t0)
			if got := countersign.ErrorCode(err); err != nil && got != tc.want || err == nil && tc.want != "" {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.want == countersign.EINVALID {
				if fe := countersign.ErrorFields(err); len(fe) != 1 || fe[0].Field != "reason_code" {
					t.Fatalf("fields %+v", fe)
				}
			}
			if tc.want == "" && (ev.Action != casefile.ActionCaseClosed || c.Status != casefile.StatusClosed || !c.ClosedAt.Equal(t0)) {
				t.Fatalf("event %+v, case %+v", ev, c)
			}
		})
	}
	c := closedCase("general", t0)
	if _, err := casefile.DecideReopen(worker, c, t0); countersign.ErrorCode(err) != countersign.EFORBIDDEN {
		t.Fatalf("a worker reopens: %v", err)
	}
	if _, err := casefile.DecideReopen(supervisor, c, t0); err != nil || c.Status != casefile.StatusOpen || c.ClosedAt != nil {
		t.Fatalf("reopen: %v, %+v", err, c)
	}
	if err := casefile.CheckOpen(c); err != nil {
		t.Fatal(err)
	}
	c.Status = casefile.StatusClosed
	if err := casefile.CheckOpen(c); countersign.ErrorCode(err) != countersign.ECONFLICT || !strings.HasPrefix(countersign.ErrorMessage(err), "This case is closed") {
		t.Fatalf("CheckOpen of a closed case: %v", err)
	}
}

func TestErasureFourEyes(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, map[string]any{"child_protection": "75y", "minimum": map[string]any{"child_protection": "25y"}})
	hold := &casefile.Hold{ID: "hold_1"}
	party := &casefile.Party{ID: "pty_1"}
	for _, tc := range []struct {
		name  string
		a     countersign.Actor
		c     *casefile.Case
		party *casefile.Party
		holds []*casefile.Hold
		now   time.Time
		want  string
		says  string
	}{
		{"AnAdminAsksForAClosedCase", admin, closedCase("general", t0), nil, nil, t0, "", ""},
		{"ASupervisorMayNot", supervisor, closedCase("general", t0), nil, nil, t0, countersign.EFORBIDDEN, "Only an admin"},
		{"NotUnderAHold", admin, closedCase("general", t0), nil, []*casefile.Hold{hold}, t0, countersign.ECONFLICT, "legal hold"},
		{"NotAWholeCaseStillOpen", admin, &casefile.Case{ID: "case_1", CaseType: "general", Status: casefile.StatusOpen}, nil, nil, t0, countersign.ECONFLICT, "still open"},
		{"APartyOfAnOpenCase", admin, &casefile.Case{ID: "case_1", CaseType: "general", Status: casefile.StatusOpen}, party, nil, t0, "", ""},
		{"NotBeforeThePolicysMinimum", admin, closedCase("child_protection", t0), nil, nil, t0.AddDate(24, 0, 0), countersign.ECONFLICT, "at least 25 years"},
		{"AfterTheMinimum", admin, closedCase("child_protection", t0), nil, nil, t0.AddDate(25, 0, 0), "", ""},
		{"NotAnErasedCase", admin, &casefile.Case{ID: "case_1", Status: casefile.StatusErased}, nil, nil, t0, countersign.ECONFLICT, "already erased"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, ev, err := casefile.DecideErasureRequest(tc.a, tc.c, tc.party, tc.holds, p, "data_subject_request", tc.now)
			if got := countersign.ErrorCode(err); err != nil && got != tc.want || err == nil && tc.want != "" {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if err != nil {
				if !strings.Contains(countersign.ErrorMessage(err), tc.says) {
					t.Fatalf("message %q, want %q in it", countersign.ErrorMessage(err), tc.says)
				}
				return
			}
			if r.Status != casefile.RequestPending || ev.Action != casefile.ActionErasureRequested {
				t.Fatalf("request %+v, event %+v", r, ev)
			}
			// Four eyes: the same admin is refused, a second admin erases.
			if _, err := casefile.DecideErasureConfirm(tc.a, r, tc.c, tc.party, tc.holds, p, tc.now); countersign.ErrorCode(err) != countersign.EFORBIDDEN {
				t.Fatalf("the same admin confirms: %v", err)
			}
			e, err := casefile.DecideErasureConfirm(admin2, r, tc.c, tc.party, tc.holds, p, tc.now)
			if err != nil || e.Rule != casefile.RuleRequest || e.PolicyVersion != p.Version || r.Status != casefile.RequestDone {
				t.Fatalf("confirm: %v, %+v, %+v", err, e, r)
			}
			if _, err := casefile.DecideErasureConfirm(admin2, r, tc.c, tc.party, tc.holds, p, tc.now); countersign.ErrorCode(err) != countersign.ECONFLICT {
				t.Fatalf("a second confirmation: %v", err)
			}
			// A hold set since the request stops the confirmation.
			r.Status = casefile.RequestPending
			if _, err := casefile.DecideErasureConfirm(admin2, r, tc.c, tc.party, []*casefile.Hold{hold}, p, tc.now); countersign.ErrorCode(err) != countersign.ECONFLICT {
				t.Fatalf("confirm under a hold: %v", err)
			}
			e.Counts = map[string]int{"notes": 3}
			ev = casefile.ErasureEvent(admin2, e)
			want := casefile.ActionCaseErased
			if tc.party != nil {
				want = casefile.ActionPartyErased
			}
			if ev.Action != want || ev.Payload["notes"] != "3" || ev.Payload["drafts"] != "0" || ev.Payload["rule"] != "request" ||
				ev.Payload["policy_version"] != p.Version {
				t.Fatalf("erasure event %+v", ev)
			}
		})
	}
}

// TestWhoSeesRetention: the store and the pages ask these rules who may
// see a case's retention facts, the board's figures, the plan, and which
// erasures; each refusal is a 403 with a sentence.
func TestWhoSeesRetention(t *testing.T) {
	t.Parallel()
	board := countersign.Actor{UserID: "usr_eth", Role: countersign.RoleEthics}
	system := countersign.Actor{UserID: "system:retention", Role: countersign.RoleSystem}
	worker := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_a"}
	stranger := countersign.Actor{UserID: "usr_x", Role: countersign.RoleWorker, TeamID: "team_b"}
	client := countersign.Actor{UserID: "cla_1", Role: countersign.RoleClient}
	c := &casefile.Case{ID: "case_1", TeamID: "team_a", WorkerID: "usr_w", Status: casefile.StatusOpen}
	caseID, partyID := "case_1", "pty_1"
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"TheCasesWorkerSeesItsFacts", casefile.CheckRetentionView(worker, c), true},
		{"TheBoardSeesItsFacts", casefile.CheckRetentionView(board, c), true},
		{"AnotherTeamDoesNot", casefile.CheckRetentionView(stranger, c), false},
		{"TheBoardSeesTheFigures", casefile.CheckRetentionFigures(board), true},
		{"AdminsSeeTheFigures", casefile.CheckRetentionFigures(admin), true},
		{"ASupervisorDoesNotSeeTheFigures", casefile.CheckRetentionFigures(supervisor), false},
		{"AdminsSeeThePlan", casefile.CheckRetentionPlan(admin), true},
		{"TheBoardDoesNotSeeThePlan", casefile.CheckRetentionPlan(board), false},
		{"TheServiceRunsTheJob", casefile.CheckRetentionRun(system), true},
		{"ASupervisorDoesNotRunIt", casefile.CheckRetentionRun(supervisor), false},
		{"AClientListsTheirOwnPartysErasures", casefile.CheckErasureList(client, casefile.ErasureFilter{PartyID: &partyID}), true},
		{"AClientMustNameTheirParty", casefile.CheckErasureList(client, casefile.ErasureFilter{CaseID: &caseID}), false},
		{"StaffMustNameACase", casefile.CheckErasureList(worker, casefile.ErasureFilter{}), false},
		{"StaffNamingACase", casefile.CheckErasureList(worker, casefile.ErasureFilter{CaseID: &caseID}), true},
		{"TheBoardListsAll", casefile.CheckErasureList(board, casefile.ErasureFilter{}), true},
	} {
		if tc.ok && tc.err != nil {
			t.Errorf("%s: refused: %v", tc.name, tc.err)
		}
		if !tc.ok && (countersign.ErrorCode(tc.err) != countersign.EFORBIDDEN || countersign.ErrorMessage(tc.err) == "") {
			t.Errorf("%s: got %v, want a 403 with a sentence", tc.name, tc.err)
		}
	}
}
