package caseload

import (
	"slices"
	"strconv"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
)

// Replay rebuilds a caseload from the audit log alone: who is in which
// team, which case belongs to which worker and team and is still open
// (closed and erased cases count no more), when each case was
// last active, which drafts wait for whom, which hard deadlines are open,
// and the review times of decisions. Add the events in log order, then
// ask Input for a team at a time. It is what the weekly history and
// `countersign caseload` compute with; the store's queries give the same
// Input from its tables.
type Replay struct {
	loc     *time.Location
	users   map[string]*userState
	cases   map[string]*caseState
	drafts  map[string]*draftState
	entries map[string]*entryState
	reviews []reviewFact
}

type userState struct {
	team, role string
	disabled   bool
}

type caseState struct {
	team, worker, caseType string
	last                   time.Time
	closed                 bool
}

type draftState struct {
	caseID, reviewer string
	pending          bool
}

type entryState struct {
	caseID, owner, date string
	hard, open          bool
}

type reviewFact struct {
	team, worker string
	at           time.Time
	ms           int64
}

// NewReplay returns an empty replay reading agenda dates in loc.
func NewReplay(loc *time.Location) *Replay {
	if loc == nil {
		loc = time.UTC
	}
	return &Replay{loc: loc, users: map[string]*userState{}, cases: map[string]*caseState{}, drafts: map[string]*draftState{},
		entries: map[string]*entryState{}}
}

// Actions lists the audit actions a replay reads; the store selects them.
var Actions = []string{
	audit.ActionUserCreated, "user.disabled", audit.ActionCaseCreated, ActionCaseAssigned, casefile.ActionCaseClosed,
	casefile.ActionCaseErased, casefile.ActionCaseReopened, audit.ActionNoteAdded,
	audit.ActionRecordSigned, audit.ActionRecordCorrected, "agenda.entry_created", "agenda.entry_updated", "agenda.entry_closed",
	audit.ActionDraftRequested, audit.ActionDraftGenerated, audit.ActionDraftApproved, audit.ActionDraftRejected,
	audit.ActionDraftReassigned, audit.ActionDraftSuperseded, audit.ActionDraftFailed, audit.ActionDraftRequeued,
	audit.ActionDraftRetry,
}

func (r *Replay) touch(caseID string, at time.Time) {
	if c := r.cases[caseID]; c != nil && at.After(c.last) {
		c.last = at
	}
}

// Add applies one event. Events of other actions are ignored.
func (r *Replay) Add(e *audit.Event) {
	p := e.Payload
	switch e.Action {
	case audit.ActionUserCreated:
		r.users[e.SubjectID] = &userState{team: p["team"], role: p["role"]}
	case "user.disabled":
		if u := r.users[e.SubjectID]; u != nil {
			u.disabled = true
		}
	case audit.ActionCaseCreated:
		r.cases[e.CaseID] = &caseState{team: p["team"], worker: p["worker"], caseType: p["case_type"], last: e.At}
	case ActionCaseAssigned:
		if c := r.cases[e.CaseID]; c != nil {
			c.worker = p["to"]
		}
	case casefile.ActionCaseClosed, casefile.ActionCaseErased, casefile.ActionCaseReopened:
		if c := r.cases[e.CaseID]; c != nil {
			c.closed = e.Action != casefile.ActionCaseReopened
		}
	case audit.ActionNoteAdded, audit.ActionRecordSigned, audit.ActionRecordCorrected:
		r.touch(e.CaseID, e.At)
	case "agenda.entry_created", "agenda.entry_updated", "agenda.entry_closed":
		r.touch(e.CaseID, e.At)
		en := r.entries[e.SubjectID]
		if en == nil {
			en = &entryState{caseID: e.CaseID, open: true}
			r.entries[e.SubjectID] = en
		}
		if k, ok := p["kind"]; ok {
			en.hard = k == "hard_deadline"
		}
		if o, ok := p["owner"]; ok {
			en.owner = o
		}
		if d, ok := p["date"]; ok && e.Action != "agenda.entry_closed" {
			en.date = d
		}
		if e.Action == "agenda.entry_closed" {
			en.open = false
		}
	case audit.ActionDraftRequested:
		if c := r.cases[e.CaseID]; c != nil {
			r.drafts[e.SubjectID] = &draftState{caseID: e.CaseID, reviewer: c.worker}
		}
	case audit.ActionDraftGenerated:
		if d := r.drafts[e.SubjectID]; d != nil {
			d.pending = true
		}
	case audit.ActionDraftReassigned:
		if d := r.drafts[e.SubjectID]; d != nil {
			d.reviewer = p["to"]
		}
	case audit.ActionDraftApproved, audit.ActionDraftRejected:
		if d := r.drafts[e.SubjectID]; d != nil {
			d.pending = false
			if p["stage"] != "countersign" {
				if ms, err := strconv.ParseInt(p["review_ms"], 10, 64); err == nil {
					if c := r.cases[d.caseID]; c != nil {
						r.reviews = append(r.reviews, reviewFact{team: c.team, worker: e.ActorID, at: e.At, ms: ms})
					}
				}
			}
		}
	case audit.ActionDraftSuperseded, audit.ActionDraftFailed, audit.ActionDraftRequeued, audit.ActionDraftRetry:
		if d := r.drafts[e.SubjectID]; d != nil {
			d.pending = false
		}
	}
}

// Teams returns the teams that hold cases, sorted.
func (r *Replay) Teams() []string {
	var out []string
	for _, c := range r.cases {
		if !slices.Contains(out, c.team) {
			out = append(out, c.team)
		}
	}
	slices.Sort(out)
	return out
}

// Input returns what the figures of teamID at at are computed from, by
// the policy's rules, from the events added so far.
func (r *Replay) Input(p Policy, teamID string, at time.Time) Input {
	in := Input{TeamID: teamID, Waiting: map[string]int{}, Overdue: map[string]int{}, ReviewMS: map[string][]int64{}}
	for id, u := range r.users {
		if u.team == teamID && u.role == "worker" && !u.disabled {
			in.Members = append(in.Members, Member{ID: id})
		}
	}
	counts := map[[2]string]int{}
	for _, c := range r.cases {
		if c.team == teamID && !c.closed && p.Active(c.last, at) {
			counts[[2]string{c.worker, c.caseType}]++
		}
	}
	for k, n := range counts {
		in.Active = append(in.Active, Count{WorkerID: k[0], CaseType: k[1], N: n})
	}
	for _, d := range r.drafts {
		if c := r.cases[d.caseID]; d.pending && c != nil && c.team == teamID {
			in.Waiting[d.reviewer]++
		}
	}
	today := Today(at, r.loc)
	for _, en := range r.entries {
		if c := r.cases[en.caseID]; c != nil && c.team == teamID && en.open && en.hard && OverdueDay(en.date, today) {
			in.Overdue[en.owner]++
		}
	}
	since := p.ReviewsSince(at)
	for _, rv := range r.reviews {
		if rv.team == teamID && !rv.at.Before(since) && !rv.at.After(at) {
			in.ReviewMS[rv.worker] = append(in.ReviewMS[rv.worker], rv.ms)
		}
	}
	return in
}

// Today is the local date at now in loc, as YYYY-MM-DD.
func Today(now time.Time, loc *time.Location) string { return now.In(loc).Format(time.DateOnly) }

// OverdueDay reports whether an open hard deadline of date (YYYY-MM-DD)
// is overdue on the day today: its day has passed. The caseload counts by
// day, since the log records a deadline's date, not its hour.
func OverdueDay(date, today string) bool { return date != "" && date < today }

// Point is one week of a team's history.
type Point struct {
	// At is the end of the week the figures are taken at.
	At           time.Time `json:"at"`
	ActiveCases  int       `json:"active_cases"`
	WeightedLoad float64   `json:"weighted_load"`
	FTE          float64   `json:"fte"`
	LoadPerFTE   float64   `json:"load_per_fte"`
	Band         string    `json:"band"`
	// Workers gives each worker's load per full-time post that week.
	Workers map[string]float64 `json:"workers"`
}

// History replays events (in log order) and takes the team's figures at
// the end of each of the last weeks weeks before end, oldest first.
func History(p Policy, loc *time.Location, events func(yield func(*audit.Event) bool), teamID string, caseTypes []string, end time.Time, weeks int) []*Point {
	r := NewReplay(loc)
	var at []time.Time
	for i := weeks - 1; i >= 0; i-- {
		at = append(at, end.AddDate(0, 0, -7*i))
	}
	out := make([]*Point, 0, weeks)
	snap := func(t time.Time) {
		team := p.Figures(r.Input(p, teamID, t), caseTypes, t)
		pt := &Point{At: t.UTC(), ActiveCases: team.Total.ActiveCases, WeightedLoad: team.Total.WeightedLoad, FTE: team.Total.FTE,
			LoadPerFTE: team.Total.LoadPerFTE, Band: team.Total.Band, Workers: map[string]float64{}}
		for _, f := range team.Workers {
			pt.Workers[f.WorkerID] = f.LoadPerFTE
		}
		out = append(out, pt)
	}
	i := 0
	for e := range events {
		for i < len(at) && e.At.After(at[i]) {
			snap(at[i])
			i++
		}
		r.Add(e)
	}
	for ; i < len(at); i++ {
		snap(at[i])
	}
	return out
}
