package caseload_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/caseload"
	"github.com/countersign/countersign/review"
)

var now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func mustPolicy(t *testing.T, doc string) caseload.Policy {
	t.Helper()
	p, err := review.ParsePolicy("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p.Caseload
}

const policyDoc = `
caseload:
  version: "2027-1"
  active_days: 30
  band: {min: 2, max: 4}
  weights: {child_protection: 2, housing: 0.5}
  workers:
    usr_a: {fte: 0.5, tags: [child_protection]}
    B@Example.org: {fte: 1}
    usr_c: {fte: 0}
`

// TestParsePolicy: the caseload section is read from the review policy
// file, versioned, and each mistake names its field.
func TestParsePolicy(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, policyDoc)
	if p.Version != "2027-1" || p.ActiveDays != 30 || p.Band != (caseload.Band{Min: 2, Max: 4}) || p.Weight("child_protection") != 2 || p.Weight("general") != 1 {
		t.Fatalf("policy = %+v", p)
	}
	if w := p.Worker("usr_b", "b@example.org"); w.FTE != 1 {
		t.Errorf("worker by email = %+v", w)
	}
	if w := p.Worker("usr_z", ""); w.FTE != 1 {
		t.Errorf("unnamed worker = %+v, want full time", w)
	}
	if d := mustPolicy(t, "reading_speed_wpm: 300"); d.Version != caseload.DefaultVersion || d.ActiveDays != 90 {
		t.Errorf("default = %+v", d)
	}
	for doc, field := range map[string]string{
		"caseload: {weights: {unknown_type: 1}}":    "caseload.weights.unknown_type",
		"caseload: {weights: {housing: -1}}":        "caseload.weights.housing",
		"caseload: {band: {min: 5, max: 3}}":        "caseload.band",
		"caseload: {band: {min: 5}}":                "caseload.band",
		"caseload: {active_days: 0}":                "caseload.active_days",
		"caseload: {version: 'a b'}":                "caseload.version",
		"caseload: {workers: {usr_a: {fte: 3}}}":    "caseload.workers.usr_a.fte",
		"caseload: {workers: {usr_a: {tags: [A]}}}": "caseload.workers.usr_a.tags[0]",
		"caseload: {bands: 1}":                      "",
	} {
		_, err := review.ParsePolicy("p.yaml", []byte(doc))
		pe, ok := err.(*review.PolicyError)
		if !ok || pe.Field != field {
			t.Errorf("%s: err = %v, want field %q", doc, err, field)
		}
	}
}

func input() caseload.Input {
	return caseload.Input{TeamID: "team_1",
		Members: []caseload.Member{{ID: "usr_a", Name: "Ann"}, {ID: "usr_b", Name: "Bea", Email: "b@example.org"}, {ID: "usr_c", Name: "Cy"}, {ID: "usr_d", Name: "Di"}},
		Active: []caseload.Count{{WorkerID: "usr_a", CaseType: "child_protection", N: 1}, {WorkerID: "usr_b", CaseType: "housing", N: 2},
			{WorkerID: "usr_b", CaseType: "general", N: 4}, {WorkerID: "usr_gone", CaseType: "general", N: 1}},
		Waiting:  map[string]int{"usr_a": 2},
		Overdue:  map[string]int{"usr_b": 1},
		ReviewMS: map[string][]int64{"usr_a": {1000, 3000, 2000, 10000}},
	}
}

// TestFigures: weighted load, load per post and band, per worker and team.
func TestFigures(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, policyDoc)
	team := p.Figures(input(), []string{"general", "housing", "child_protection"}, now)
	got := map[string]*caseload.Figures{}
	for _, f := range team.Workers {
		got[f.WorkerID] = f
	}
	a, b, c, d, gone := got["usr_a"], got["usr_b"], got["usr_c"], got["usr_d"], got["usr_gone"]
	if a.WeightedLoad != 2 || a.LoadPerFTE != 4 || a.Band != caseload.BandWithin || a.DraftsWaiting != 2 || *a.MedianReviewSeconds != 2.5 || a.Reviews != 4 {
		t.Errorf("a = %+v", a)
	}
	if b.WeightedLoad != 5 || b.LoadPerFTE != 5 || b.Band != caseload.BandOver || b.OverdueHard != 1 || b.ActiveCases != 6 || b.ByType["housing"] != 2 {
		t.Errorf("b = %+v", b)
	}
	if c.Band != caseload.BandNoTime || d.Band != caseload.BandUnder || d.MedianReviewSeconds != nil {
		t.Errorf("c = %+v, d = %+v", c, d)
	}
	if gone == nil || gone.Member || gone.ActiveCases != 1 {
		t.Errorf("a former member's cases still count: %+v", gone)
	}
	// Posts: 0.5 + 1 + 0 + 1 = 2.5; load 2 + 5 + 1 = 8.
	if team.Total.FTE != 2.5 || team.Total.WeightedLoad != 8 || team.Total.LoadPerFTE != 3.2 || team.Total.Band != caseload.BandWithin {
		t.Errorf("total = %+v", team.Total)
	}
	if team.Workers[0].WorkerID != "usr_b" || team.PolicyVersion != "2027-1" {
		t.Errorf("first row = %s, want the highest load first", team.Workers[0].WorkerID)
	}
	var buf bytes.Buffer
	if err := team.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "team_id,worker_id,member,fte,active_cases,active_general,active_housing,active_child_protection,weighted_load") ||
		!strings.HasPrefix(lines[1], "team_1,usr_b,true,1.00,6,4,2,0,5.00,5.00,2.00,4.00,over,0,1,0,,2027-1") || strings.Contains(buf.String(), "Bea") {
		t.Errorf("CSV:\n%s", buf.String())
	}
	team.Pseudonymize(audit.Pseudonymizer([]byte("key")))
	for _, f := range team.Workers {
		if !strings.HasPrefix(f.WorkerID, "w_") || f.Name != "" || f.Tags != nil {
			t.Errorf("board row = %+v", f)
		}
	}
}

// TestRecommend: lowest load per post first, competence breaks ties, no
// working time is no candidate, and the event holds ids and numbers.
func TestRecommend(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, policyDoc)
	in := input()
	in.Active = append(in.Active, caseload.Count{WorkerID: "usr_d", CaseType: "general", N: 4})
	team := p.Figures(in, []string{"general", "housing", "child_protection"}, now)
	sup := countersign.Actor{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_1"}
	r, ev, err := p.Recommend(sup, team, "child_protection", "", []string{"general", "housing", "child_protection"}, now)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range r.Candidates {
		order = append(order, c.WorkerID)
	}
	// a: 4 (match), d: 4, b: 5; c has no working time.
	if strings.Join(order, ",") != "usr_a,usr_d,usr_b" {
		t.Fatalf("order = %v", order)
	}
	if c := r.Candidates[0]; c.LoadAfter != 8 || c.BandAfter != caseload.BandOver || !c.CompetenceMatch || !strings.Contains(c.Reason, "Lowest weighted load") {
		t.Errorf("first = %+v", c)
	}
	if ev.Action != caseload.ActionRecommended || ev.Payload["candidates"] != "usr_a,usr_d,usr_b" || ev.Payload["loads_per_fte"] != "4.00,4.00,5.00" || ev.Payload["policy_version"] != "2027-1" {
		t.Errorf("event = %+v", ev)
	}
	_, _, err = p.Recommend(sup, team, "nonsense", "", []string{"general"}, now)
	if fe := countersign.ErrorFields(err); countersign.ErrorCode(err) != countersign.EINVALID || len(fe) != 1 || fe[0].Field != "case_type" {
		t.Errorf("unknown case type: %v", err)
	}
	for _, a := range []countersign.Actor{{UserID: "w", Role: countersign.RoleWorker, TeamID: "team_1"}, {UserID: "x", Role: countersign.RoleSupervisor, TeamID: "team_2"},
		{UserID: "e", Role: countersign.RoleEthics}, {UserID: "ad", Role: countersign.RoleAdmin}} {
		if _, _, err := p.Recommend(a, team, "general", "", []string{"general"}, now); countersign.ErrorCode(err) != countersign.EFORBIDDEN {
			t.Errorf("%s: err = %v, want EFORBIDDEN", a.Role, err)
		}
	}
}

// TestDecideAssign: any member may be chosen; the event records the
// recommendation and the rank; bad input names its field.
func TestDecideAssign(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, policyDoc)
	sup := countersign.Actor{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_1"}
	c := &casefile.Case{ID: "case_1", TeamID: "team_1", WorkerID: "usr_a", CaseType: "housing"}
	rec := &caseload.Recommendation{ID: "rcm_1", TeamID: "team_1", CaseType: "housing",
		Candidates: []*caseload.Candidate{{Rank: 1, WorkerID: "usr_d"}, {Rank: 2, WorkerID: "usr_b"}}}
	ev, err := caseload.DecideAssign(sup, c, &casefile.Worker{ID: "usr_b", Role: countersign.RoleWorker, TeamID: "team_1"}, "rcm_1", rec, p)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != caseload.ActionCaseAssigned || ev.Payload["rank"] != "2" || ev.Payload["recommended"] != "usr_d" || ev.Payload["from"] != "usr_a" || ev.Payload["to"] != "usr_b" {
		t.Errorf("event = %+v", ev.Payload)
	}
	for name, tc := range map[string]struct {
		w     *casefile.Worker
		asked string
		rec   *caseload.Recommendation
		field string
		code  string
	}{
		"NoSuchWorker":    {nil, "", nil, "worker_id", countersign.EINVALID},
		"OtherTeam":       {&casefile.Worker{ID: "usr_x", Role: countersign.RoleWorker, TeamID: "team_2"}, "", nil, "worker_id", countersign.EINVALID},
		"SameWorker":      {&casefile.Worker{ID: "usr_a", Role: countersign.RoleWorker, TeamID: "team_1"}, "", nil, "", countersign.ECONFLICT},
		"UnknownRec":      {&casefile.Worker{ID: "usr_b", Role: countersign.RoleWorker, TeamID: "team_1"}, "rcm_x", nil, "recommendation_id", countersign.EINVALID},
		"RecForOtherType": {&casefile.Worker{ID: "usr_b", Role: countersign.RoleWorker, TeamID: "team_1"}, "rcm_1", &caseload.Recommendation{ID: "rcm_1", TeamID: "team_1", CaseType: "general"}, "recommendation_id", countersign.EINVALID},
	} {
		_, err := caseload.DecideAssign(sup, c, tc.w, tc.asked, tc.rec, p)
		fe := countersign.ErrorFields(err)
		if countersign.ErrorCode(err) != tc.code || tc.field != "" && (len(fe) != 1 || fe[0].Field != tc.field) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// TestDecideCreate: a new case's event records the recommendation named
// and the chosen worker's rank by the rule of DecideAssign; nothing when
// none is named; a recommendation of another type or of an existing case,
// or one named by a worker, is refused.
func TestDecideCreate(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, policyDoc)
	sup := countersign.Actor{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_1"}
	c := &casefile.Case{ID: "case_new", TeamID: "team_1", WorkerID: "usr_b", CaseType: "housing"}
	rec := &caseload.Recommendation{ID: "rcm_1", TeamID: "team_1", CaseType: "housing",
		Candidates: []*caseload.Candidate{{Rank: 1, WorkerID: "usr_d"}, {Rank: 2, WorkerID: "usr_b"}}}
	created := func() *audit.Record {
		return &audit.Record{Action: audit.ActionCaseCreated, Payload: audit.Payload{"worker": "usr_b"}}
	}
	ev := created()
	if err := caseload.DecideCreate(sup, c, "rcm_1", rec, p, ev); err != nil {
		t.Fatal(err)
	}
	if ev.Payload["rank"] != "2" || ev.Payload["recommendation"] != "rcm_1" || ev.Payload["recommended"] != "usr_d" || ev.Payload["policy_version"] != p.Version {
		t.Errorf("event = %+v", ev.Payload)
	}
	ev = created()
	if err := caseload.DecideCreate(sup, c, "", nil, p, ev); err != nil || len(ev.Payload) != 1 {
		t.Errorf("without a recommendation: %v, %+v", err, ev.Payload)
	}
	forCase := &caseload.Recommendation{ID: "rcm_2", TeamID: "team_1", CaseType: "housing", CaseID: "case_old"}
	other := &caseload.Recommendation{ID: "rcm_3", TeamID: "team_1", CaseType: "general"}
	for name, tc := range map[string]struct {
		a    countersign.Actor
		rec  *caseload.Recommendation
		code string
	}{
		"Unknown":      {sup, nil, countersign.EINVALID},
		"OtherType":    {sup, other, countersign.EINVALID},
		"ExistingCase": {sup, forCase, countersign.EINVALID},
		"Worker":       {countersign.Actor{UserID: "usr_b", Role: countersign.RoleWorker, TeamID: "team_1"}, rec, countersign.EFORBIDDEN},
	} {
		err := caseload.DecideCreate(tc.a, c, "rcm_x", tc.rec, p, created())
		fe := countersign.ErrorFields(err)
		if countersign.ErrorCode(err) != tc.code || tc.code == countersign.EINVALID && (len(fe) != 1 || fe[0].Field != "recommendation_id") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// TestCheck: who sees a team's caseload, and how.
func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a    countersign.Actor
		view caseload.View
	}{
		{countersign.Actor{Role: countersign.RoleSupervisor, TeamID: "t"}, caseload.ViewNamed},
		{countersign.Actor{Role: countersign.RoleSupervisor, TeamID: "u"}, 0},
		{countersign.Actor{Role: countersign.RoleWorker, TeamID: "t"}, 0},
		{countersign.Actor{Role: countersign.RoleAdmin}, caseload.ViewNamed},
		{countersign.Actor{Role: countersign.RoleEthics}, caseload.ViewPseudonymous},
	} {
		v, err := caseload.Check(tc.a, "t")
		if v != tc.view || (tc.view == 0) != (countersign.ErrorCode(err) == countersign.EFORBIDDEN) {
			t.Errorf("%+v: view %v, err %v", tc.a, v, err)
		}
	}
}

// TestReplay: the log alone gives the same Input the store computes:
// activity, reassignment, waiting drafts, overdue deadlines, review times.
func TestReplay(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, policyDoc)
	day := 24 * time.Hour
	ev := func(at time.Time, action, subject, caseID string, pl audit.Payload) *audit.Event {
		return &audit.Event{At: at, ActorID: "usr_s", Action: action, SubjectID: subject, CaseID: caseID, Payload: pl}
	}
	old := now.Add(-60 * day)
	events := []*audit.Event{
		ev(old, audit.ActionUserCreated, "usr_a", "", audit.Payload{"role": "worker", "team": "team_1"}),
		ev(old, audit.ActionUserCreated, "usr_b", "", audit.Payload{"role": "worker", "team": "team_1"}),
		ev(old, audit.ActionCaseCreated, "case_1", "case_1", audit.Payload{"team": "team_1", "worker": "usr_a", "case_type": "housing"}),
		ev(old, audit.ActionCaseCreated, "case_2", "case_2", audit.Payload{"team": "team_1", "worker": "usr_a", "case_type": "general"}),
		ev(old, audit.ActionCaseCreated, "case_3", "case_3", audit.Payload{"team": "team_2", "worker": "usr_x", "case_type": "general"}),
		ev(now.Add(-10*day), audit.ActionNoteAdded, "note_1", "case_1", nil),
		ev(now.Add(-9*day), caseload.ActionCaseAssigned, "case_1", "case_1", audit.Payload{"from": "usr_a", "to": "usr_b"}),
		ev(now.Add(-8*day), audit.ActionDraftRequested, "drf_1", "case_1", nil),
		ev(now.Add(-8*day), audit.ActionDraftGenerated, "drf_1", "case_1", nil),
		ev(now.Add(-8*day), audit.ActionDraftRequested, "drf_2", "case_1", nil),
		ev(now.Add(-8*day), audit.ActionDraftGenerated, "drf_2", "case_1", nil),
		{At: now.Add(-7 * day), ActorID: "usr_b", Action: audit.ActionDraftApproved, SubjectID: "drf_2", CaseID: "case_1", Payload: audit.Payload{"review_ms": "4000"}},
		ev(now.Add(-7*day), "agenda.entry_created", "agd_1", "case_2", audit.Payload{"kind": "hard_deadline", "date": "2026-11-20", "owner": "usr_a"}),
		ev(now.Add(-7*day), "agenda.entry_created", "agd_2", "case_2", audit.Payload{"kind": "hard_deadline", "date": "2026-11-21", "owner": "usr_a"}),
		ev(now.Add(-6*day), "agenda.entry_closed", "agd_2", "case_2", audit.Payload{"kind": "hard_deadline", "outcome": "done"}),
	}
	r := caseload.NewReplay(time.UTC)
	for _, e := range events {
		r.Add(e)
	}
	team := p.Figures(r.Input(p, "team_1", now), []string{"general", "housing"}, now)
	got := map[string]*caseload.Figures{}
	for _, f := range team.Workers {
		got[f.WorkerID] = f
	}
	if a, b := got["usr_a"], got["usr_b"]; a.ActiveCases != 1 || a.ByType["general"] != 1 || a.OverdueHard != 1 ||
		b.ActiveCases != 1 || b.ByType["housing"] != 1 || b.DraftsWaiting != 1 || b.Reviews != 1 || *b.MedianReviewSeconds != 4 {
		t.Errorf("a = %+v\nb = %+v", a, b)
	}
	// A closed case counts no more; reopened, it counts again.
	r.Add(ev(now.Add(-time.Hour), casefile.ActionCaseClosed, "case_2", "case_2", nil))
	if in := r.Input(p, "team_1", now); len(in.Active) != 1 || in.Active[0].WorkerID != "usr_b" {
		t.Errorf("after closing: %+v", in.Active)
	}
	r.Add(ev(now.Add(-time.Minute), casefile.ActionCaseReopened, "case_2", "case_2", nil))
	if in := r.Input(p, "team_1", now); len(in.Active) != 2 {
		t.Errorf("after reopening: %+v", in.Active)
	}
	// Seventy days on, nothing is active any more.
	if in := r.Input(p, "team_1", now.Add(70*day)); len(in.Active) != 0 {
		t.Errorf("still active: %+v", in.Active)
	}
	seq := func(yield func(*audit.Event) bool) {
		for _, e := range events {
			if !yield(e) {
				return
			}
		}
	}
	h := caseload.History(p, time.UTC, seq, "team_1", []string{"general", "housing"}, now, 3)
	if len(h) != 3 || h[0].ActiveCases != 0 || h[2].ActiveCases != 2 || !h[2].At.Equal(now) {
		t.Errorf("history = %+v %+v %+v", h[0], h[1], h[2])
	}
}
