package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/caseload"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// CaseloadPolicyYAML is the policy file of the caseload tests: housing
// weighs 2, a band of 1 to 2 weighted cases per post, workerID at half time.
func CaseloadPolicyYAML(workerID string) string {
	return fmt.Sprintf(`
caseload:
  version: "test-1"
  active_days: 30
  band: {min: 1, max: 2}
  weights: {housing: 2}
  workers:
    %s: {fte: 0.5, tags: [housing]}
`, workerID)
}

// CaseloadPolicy is CaseloadPolicyYAML parsed.
func CaseloadPolicy(t testing.TB, workerID string) *review.Policy {
	t.Helper()
	p, err := review.ParsePolicy("caseload.yaml", []byte(CaseloadPolicyYAML(workerID)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// CaseloadTeam is the fixture with a second worker holding a housing case.
type CaseloadTeam struct {
	*Fixture
	Second      *identity.User
	HousingCase *casefile.Case
	Draft       *review.Draft
}

// MustSeedCaseload seeds the fixture, a second worker of the team with a
// housing case, a draft waiting for the first worker's review, and sets
// CaseloadPolicy.
func MustSeedCaseload(t testing.TB, db *sqlstore.DB) *CaseloadTeam {
	t.Helper()
	f := MustSeed(t, db)
	db.Policy = CaseloadPolicy(t, f.Worker.ID)
	ct := &CaseloadTeam{Fixture: f}
	ct.Second = &identity.User{Name: "second", Email: fmt.Sprintf("second.%s@example.org", f.Team.ID), Role: countersign.RoleWorker, TeamID: f.Team.ID}
	ok(t, db.CreateUser(CLI(), ct.Second))
	ct.HousingCase = &casefile.Case{Reference: "H-" + f.Team.ID, Title: "Housing", CaseType: "housing", WorkerID: ct.Second.ID}
	ok(t, db.CreateCase(As(context.Background(), f.Supervisor), ct.HousingCase))
	ct.Draft = MustDraft(t, db, f, assistant.KindSummary)
	return ct
}

// ExerciseCaseload runs the caseload's conformance tests on one dialect.
func ExerciseCaseload(t *testing.T, open Opener) {
	t.Run("FiguresByRole", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		ct := MustSeedCaseload(t, db)
		sup := As(context.Background(), ct.Supervisor)
		team, err := db.FindTeamCaseload(sup, ct.Team.ID)
		ok(t, err)
		rows := map[string]*caseload.Figures{}
		for _, f := range team.Workers {
			rows[f.WorkerID] = f
		}
		w, s := rows[ct.Worker.ID], rows[ct.Second.ID]
		// The worker: one general case (weight 1) at half time = 2 per post, within 1..2.
		if w == nil || w.ActiveCases != 1 || w.LoadPerFTE != 2 || w.Band != caseload.BandWithin || w.DraftsWaiting != 1 || w.Name != "worker" {
			t.Fatalf("worker = %+v", w)
		}
		// The second: one housing case (weight 2) full time = 2.
		if s == nil || s.ByType["housing"] != 1 || s.WeightedLoad != 2 || s.Band != caseload.BandWithin {
			t.Fatalf("second = %+v", s)
		}
		if team.PolicyVersion != "test-1" || team.Total.FTE != 1.5 || team.Total.ActiveCases != 2 {
			t.Errorf("team = %+v, total %+v", team, team.Total)
		}
		board, err := db.FindTeamCaseload(As(context.Background(), ct.Ethics), ct.Team.ID)
		ok(t, err)
		for _, f := range board.Workers {
			if f.Name != "" || f.Tags != nil {
				t.Errorf("the board sees a name or tags: %+v", f)
			}
		}
		for _, u := range []*identity.User{ct.Worker, ct.OtherSupervisor} {
			_, err := db.FindTeamCaseload(As(context.Background(), u), ct.Team.ID)
			code(t, err, countersign.EFORBIDDEN)
		}
		_, err = db.FindTeamCaseload(As(context.Background(), ct.Admin), "team_nonesuch")
		code(t, err, countersign.ENOTFOUND)
		// The teams listed: all for the board, their own for a supervisor.
		teams, err := db.FindCaseloadTeams(As(context.Background(), ct.Ethics))
		ok(t, err)
		if len(teams) < 2 || !slices.Contains(teams, caseload.TeamRef{ID: ct.Team.ID, Name: ct.Team.Name}) {
			t.Errorf("the board's teams = %+v", teams)
		}
		teams, err = db.FindCaseloadTeams(sup)
		ok(t, err)
		if len(teams) != 1 || teams[0].ID != ct.Team.ID {
			t.Errorf("the supervisor's teams = %+v", teams)
		}
		_, err = db.FindCaseloadTeams(As(context.Background(), ct.Worker))
		code(t, err, countersign.EFORBIDDEN)
	})

	t.Run("RecommendAndAssign", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		ct := MustSeedCaseload(t, db)
		sup := As(context.Background(), ct.Supervisor)
		before := eventCount(t, db)
		rec, err := db.RecommendWorkers(sup, ct.Team.ID, "general", "")
		ok(t, err)
		// Both at 2 per post; the worker's load after a general case is 4 (half
		// time), the second's 3: equal now, so neither tag matters and ids decide.
		if len(rec.Candidates) != 2 || rec.PolicyVersion != "test-1" || rec.Candidates[0].Reason == "" {
			t.Fatalf("recommendation = %+v", rec)
		}
		if n := eventCount(t, db); n != before+1 {
			t.Errorf("events %d → %d, want the recommendation recorded", before, n)
		}
		_, err = db.RecommendWorkers(sup, ct.Team.ID, "no_such_type", "")
		code(t, err, countersign.EINVALID)
		if fe := countersign.ErrorFields(err); len(fe) != 1 || fe[0].Field != "case_type" {
			t.Errorf("fields = %+v", fe)
		}
		_, err = db.RecommendWorkers(As(context.Background(), ct.Worker), ct.Team.ID, "general", "")
		code(t, err, countersign.EFORBIDDEN)

		// A non-member is refused, naming worker_id, and nothing changes.
		mid := eventCount(t, db)
		_, err = db.AssignCase(sup, ct.Case.ID, caseload.Assignment{WorkerID: ct.Other.ID, RecommendationID: rec.ID})
		code(t, err, countersign.EINVALID)
		if fe := countersign.ErrorFields(err); len(fe) != 1 || fe[0].Field != "worker_id" {
			t.Errorf("fields = %+v", fe)
		}
		_, err = db.AssignCase(As(context.Background(), ct.Worker), ct.Case.ID, caseload.Assignment{WorkerID: ct.Second.ID})
		code(t, err, countersign.EFORBIDDEN)
		if n := eventCount(t, db); n != mid {
			t.Errorf("a refused assignment wrote %d events", n-mid)
		}
		// The supervisor chooses the second worker, whatever the rank.
		c, err := db.AssignCase(sup, ct.Case.ID, caseload.Assignment{WorkerID: ct.Second.ID, RecommendationID: rec.ID})
		ok(t, err)
		got, err := db.FindCaseByID(sup, ct.Case.ID)
		ok(t, err)
		if c.WorkerID != ct.Second.ID || got.WorkerID != ct.Second.ID {
			t.Fatalf("case worker = %s", got.WorkerID)
		}
		_, err = db.Sequence(CLI())
		ok(t, err)
		evs, err := db.FindEvents(CLI(), audit.EventFilter{CaseID: &ct.Case.ID})
		ok(t, err)
		last := evs[len(evs)-1]
		if last.Action != caseload.ActionCaseAssigned || last.Payload["recommendation"] != rec.ID ||
			last.Payload["rank"] != fmt.Sprint(rec.Rank(ct.Second.ID)) || last.Payload["to"] != ct.Second.ID || last.Payload["policy_version"] != "test-1" {
			t.Errorf("event = %+v", last)
		}
		_, err = db.AssignCase(sup, ct.Case.ID, caseload.Assignment{WorkerID: ct.Second.ID})
		code(t, err, countersign.ECONFLICT)
	})

	// A supervisor opens a case for any worker of the team after seeing the
	// recommendation for its type; case.created records the recommendation
	// and the chosen worker's rank, in the case's own transaction.
	t.Run("CreateFollowing", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		ct := MustSeedCaseload(t, db)
		sup := As(context.Background(), ct.Supervisor)
		rec, err := db.RecommendWorkers(sup, ct.Team.ID, "housing", "")
		ok(t, err)
		forCase, err := db.RecommendWorkers(sup, ct.Team.ID, "housing", ct.HousingCase.ID)
		ok(t, err)
		general, err := db.RecommendWorkers(sup, ct.Team.ID, "general", "")
		ok(t, err)
		before := eventCount(t, db)
		// A recommendation of another case type, of an existing case, or of
		// nothing is refused naming recommendation_id, and nothing is written.
		for i, id := range []string{general.ID, forCase.ID, "rcm_nonesuch"} {
			c := &casefile.Case{Reference: fmt.Sprintf("N%d-%s", i, ct.Team.ID), Title: "New", CaseType: "housing", WorkerID: ct.Second.ID}
			err := db.CreateCaseFollowing(sup, c, id)
			code(t, err, countersign.EINVALID)
			if fe := countersign.ErrorFields(err); len(fe) != 1 || fe[0].Field != "recommendation_id" {
				t.Errorf("%s: fields = %+v", id, fe)
			}
		}
		// A worker opening their own case cannot name one.
		err = db.CreateCaseFollowing(As(context.Background(), ct.Worker),
			&casefile.Case{Reference: "NW-" + ct.Team.ID, Title: "New", CaseType: "housing", WorkerID: ct.Worker.ID}, rec.ID)
		code(t, err, countersign.EFORBIDDEN)
		if n := eventCount(t, db); n != before {
			t.Errorf("refused creations wrote %d events", n-before)
		}
		chosen := rec.Candidates[len(rec.Candidates)-1]
		c := &casefile.Case{Reference: "NEW-" + ct.Team.ID, Title: "New", CaseType: "housing", WorkerID: chosen.WorkerID}
		ok(t, db.CreateCaseFollowing(sup, c, rec.ID))
		if n := eventCount(t, db); n != before+1 {
			t.Errorf("events %d → %d, want the case's one event", before, n)
		}
		_, err = db.Sequence(CLI())
		ok(t, err)
		evs, err := db.FindEvents(CLI(), audit.EventFilter{CaseID: &c.ID})
		ok(t, err)
		if len(evs) != 1 || evs[0].Action != audit.ActionCaseCreated || evs[0].Payload["recommendation"] != rec.ID ||
			evs[0].Payload["rank"] != fmt.Sprint(chosen.Rank) || evs[0].Payload["recommended"] != rec.Candidates[0].WorkerID ||
			evs[0].Payload["worker"] != chosen.WorkerID || evs[0].Payload["policy_version"] != "test-1" {
			t.Errorf("events = %+v", evs)
		}
		// Without a recommendation it is CreateCase: no rank is recorded.
		plain := &casefile.Case{Reference: "PLAIN-" + ct.Team.ID, Title: "Plain", WorkerID: ct.Worker.ID}
		ok(t, db.CreateCaseFollowing(sup, plain, ""))
		_, err = db.Sequence(CLI())
		ok(t, err)
		evs, err = db.FindEvents(CLI(), audit.EventFilter{CaseID: &plain.ID})
		ok(t, err)
		if len(evs) != 1 || evs[0].Payload["rank"] != "" {
			t.Errorf("events = %+v", evs)
		}
	})

	// The figures the store computes from its tables are the figures the
	// log's replay computes from the events alone (countersign caseload).
	t.Run("ReplayAgrees", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		ct := MustSeedCaseload(t, db)
		sup := As(context.Background(), ct.Supervisor)
		_, err := db.AssignCase(sup, ct.HousingCase.ID, caseload.Assignment{WorkerID: ct.Worker.ID})
		ok(t, err)
		// An overdue hard deadline, and a signed draft with its review time
		// (which supersedes the summary waiting: nothing waits any more).
		wctx := As(context.Background(), ct.Worker)
		_, err = db.CreateEntry(wctx, ct.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: time.Now().AddDate(0, 0, -3).Format(time.DateOnly), Title: "Appeal"})
		ok(t, err)
		signed := MustDraft(t, db, ct.Fixture, assistant.KindSummary)
		_, err = Approve(db, wctx, signed.ID, review.Approval{})
		ok(t, err)
		team := mustCaseloadAsReplayed(t, db, sup, ct.Team.ID, time.Now().UTC().Add(time.Minute).Truncate(time.Microsecond))
		for _, f := range team.Workers {
			if f.WorkerID == ct.Worker.ID && (f.OverdueHard != 1 || f.Reviews != 1 || f.DraftsWaiting != 0 || f.ActiveCases != 2) {
				t.Errorf("worker = %+v", f)
			}
		}
		hist, err := db.FindCaseloadHistory(sup, ct.Team.ID, 2)
		ok(t, err)
		if len(hist) != 2 || hist[1].ActiveCases != team.Total.ActiveCases || hist[1].LoadPerFTE != team.Total.LoadPerFTE || hist[0].ActiveCases != 0 {
			t.Errorf("history = %+v, %+v; team total %+v", hist[0], hist[1], team.Total)
		}
		_, err = db.FindCaseloadHistory(sup, ct.Team.ID, 0)
		code(t, err, countersign.EINVALID)
	})
}

// mustCaseloadAsReplayed sets db's clock to at and returns the team's
// caseload as the store computes it then (read as actx's actor), after
// checking that it equals, as CSV, what the audit log replays for the same
// moment: the figures can be recomputed from the log alone.
func mustCaseloadAsReplayed(t *testing.T, db *sqlstore.DB, actx context.Context, teamID string, at time.Time) *caseload.Team {
	t.Helper()
	db.Now = func() time.Time { return at }
	team, err := db.FindTeamCaseload(actx, teamID)
	ok(t, err)
	_, err = db.Sequence(CLI())
	ok(t, err)
	r := caseload.NewReplay(time.UTC)
	ok(t, db.AllEvents(CLI(), func(e *audit.Event) error { r.Add(e); return nil }))
	p := db.Policy
	replayed := p.Caseload.Figures(r.Input(p.Caseload, teamID, at), p.CaseTypes, at)
	var a, b bytes.Buffer
	ok(t, team.WriteCSV(&a))
	ok(t, replayed.WriteCSV(&b))
	if a.String() != b.String() {
		t.Errorf("store:\n%s\nreplay:\n%s", a.String(), b.String())
	}
	return team
}
