package caseload

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
)

// Audit actions of the caseload. Append only; do not rename.
const (
	// ActionRecommended: a supervisor was shown a recommendation of who
	// should take a case (the candidates' ids and loads, in order).
	ActionRecommended = "caseload.recommended"
	// ActionCaseAssigned: a supervisor gave a case to a worker, following
	// a recommendation or not.
	ActionCaseAssigned = "case.assigned"
)

// PrefixRecommendation is the prefix of a recommendation's id.
const PrefixRecommendation = "rcm"

// EventCandidates is how many candidates a recommendation's event names;
// the recommendation's row keeps them all.
const EventCandidates = 5

// Candidate is one worker a recommendation proposes, with the reason.
type Candidate struct {
	Rank       int     `json:"rank"`
	WorkerID   string  `json:"worker_id"`
	Name       string  `json:"name,omitempty"`
	LoadPerFTE float64 `json:"load_per_fte"`
	// LoadAfter is the load per post with the new case.
	LoadAfter float64 `json:"load_per_fte_after"`
	Band      string  `json:"band"`
	BandAfter string  `json:"band_after"`
	// CompetenceMatch says the worker's tags in the policy name the case type.
	CompetenceMatch bool   `json:"competence_match"`
	Reason          string `json:"reason"`
}

// Recommendation is who should take a case of a type, lowest load per
// full-time post first. It is advice: the supervisor assigns any worker.
type Recommendation struct {
	ID            string       `json:"id"`
	TeamID        string       `json:"team_id"`
	CaseType      string       `json:"case_type"`
	CaseID        string       `json:"case_id,omitempty"`
	PolicyVersion string       `json:"policy_version"`
	CreatedBy     string       `json:"created_by"`
	CreatedAt     time.Time    `json:"created_at"`
	Candidates    []*Candidate `json:"candidates"`
}

// Rank returns the rank of workerID among the candidates, 0 when not among them.
func (r *Recommendation) Rank(workerID string) int {
	for _, c := range r.Candidates {
		if c.WorkerID == workerID {
			return c.Rank
		}
	}
	return 0
}

// CheckCaseType refuses a case type the authority does not have.
func CheckCaseType(caseType string, caseTypes []string) error {
	if caseType == "" || !slices.Contains(caseTypes, caseType) {
		return countersign.InvalidFields("No recommendation could be made.", countersign.FieldError{Field: "case_type",
			Message: "Choose one of your authority's case types: " + strings.Join(caseTypes, ", ") + "."})
	}
	return nil
}

// Recommend proposes the team's members with working time to take a case
// of caseType (for caseID, "" for a new case): lowest load per full-time
// post first; at equal load, a worker whose competence tags name the case
// type first; then by id. a asked for it at now. The returned event
// records what was shown, in ids and numbers.
func (p Policy) Recommend(a countersign.Actor, t *Team, caseType, caseID string, caseTypes []string, now time.Time) (*Recommendation, *audit.Record, error) {
	if err := CheckAllocate(a, t.TeamID); err != nil {
		return nil, nil, err
	}
	if err := CheckCaseType(caseType, caseTypes); err != nil {
		return nil, nil, err
	}
	w := p.Weight(caseType)
	var cs []*Candidate
	for _, f := range t.Workers {
		if !f.Member || f.FTE <= 0 {
			continue
		}
		after := round2((f.WeightedLoad + w) / f.FTE)
		cs = append(cs, &Candidate{WorkerID: f.WorkerID, Name: f.Name, LoadPerFTE: f.LoadPerFTE, LoadAfter: after,
			Band: f.Band, BandAfter: p.BandOf(after, f.FTE), CompetenceMatch: slices.Contains(f.Tags, caseType)})
	}
	slices.SortFunc(cs, func(x, y *Candidate) int {
		return cmp.Or(cmp.Compare(x.LoadPerFTE, y.LoadPerFTE), -cmp.Compare(b2i(x.CompetenceMatch), b2i(y.CompetenceMatch)),
			cmp.Compare(x.WorkerID, y.WorkerID))
	})
	for i, c := range cs {
		c.Rank = i + 1
		c.Reason = p.reason(c, len(cs))
	}
	if cs == nil {
		cs = []*Candidate{}
	}
	r := &Recommendation{ID: countersign.NewID(PrefixRecommendation), TeamID: t.TeamID, CaseType: caseType, CaseID: caseID,
		PolicyVersion: p.Version, CreatedBy: a.UserID, CreatedAt: now, Candidates: cs}
	ids, loads := make([]string, 0, EventCandidates), make([]string, 0, EventCandidates)
	for _, c := range cs[:min(len(cs), EventCandidates)] {
		ids, loads = append(ids, c.WorkerID), append(loads, strconv.FormatFloat(c.LoadPerFTE, 'f', 2, 64))
	}
	pl := audit.Payload{"team": t.TeamID, "case_type": caseType, "policy_version": p.Version,
		"candidates": strings.Join(ids, ","), "loads_per_fte": strings.Join(loads, ","), "count": strconv.Itoa(len(cs))}
	return r, &audit.Record{Actor: a, Action: ActionRecommended, SubjectType: "caseload_recommendation", SubjectID: r.ID,
		CaseID: caseID, Payload: pl}, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reason says, in a supervisor's words, why c stands where it does.
func (p Policy) reason(c *Candidate, n int) string {
	var b strings.Builder
	if c.Rank == 1 {
		fmt.Fprintf(&b, "Lowest weighted load per full-time post of the %d workers who can take it: %.2f", n, c.LoadPerFTE)
	} else {
		fmt.Fprintf(&b, "Weighted load per full-time post %.2f", c.LoadPerFTE)
	}
	fmt.Fprintf(&b, " (%s the band of %.0f to %.0f); %.2f with this case", bandWords(c.Band), p.Band.Min, p.Band.Max, c.LoadAfter)
	if c.BandAfter != c.Band {
		fmt.Fprintf(&b, ", which is %s the band", bandWords(c.BandAfter))
	}
	b.WriteString(".")
	if c.CompetenceMatch {
		b.WriteString(" Has the competence for this case type.")
	}
	return b.String()
}

func bandWords(band string) string {
	switch band {
	case BandUnder:
		return "under"
	case BandOver:
		return "over"
	}
	return "within"
}

// Assignment is a supervisor's choice of worker for a case, and the
// recommendation they were shown, if any.
type Assignment struct {
	WorkerID         string `json:"worker_id"`
	RecommendationID string `json:"recommendation_id,omitempty"`
}

// DecideAssign decides a's giving case c to worker (nil when WorkerID
// names nobody), after recommendation rec (nil when none was named or it
// does not exist; asked is the id the supervisor named). Any member of the
// case's team may be chosen; the event records the recommendation and the
// rank of the chosen worker in it (0: not among the candidates, or no
// recommendation), so the board can see how often advice is followed.
func DecideAssign(a countersign.Actor, c *casefile.Case, worker *casefile.Worker, asked string, rec *Recommendation, p Policy) (*audit.Record, error) {
	if err := CheckAllocate(a, c.TeamID); err != nil {
		return nil, err
	}
	bad := func(field, msg string) error {
		return countersign.InvalidFields("The case could not be assigned.", countersign.FieldError{Field: field, Message: msg})
	}
	switch {
	case worker == nil:
		return nil, bad("worker_id", "There is no such worker.")
	case worker.Role != countersign.RoleWorker && worker.Role != countersign.RoleSupervisor || worker.TeamID != c.TeamID:
		return nil, bad("worker_id", "Choose a worker of the case's team.")
	case worker.ID == c.WorkerID:
		return nil, countersign.Errorf(countersign.ECONFLICT, "The case is already assigned to this worker.")
	}
	pl := audit.Payload{"from": c.WorkerID, "to": worker.ID, "team": c.TeamID, "case_type": c.CaseType, "policy_version": p.Version, "rank": "0"}
	if err := followed(pl, c, worker.ID, asked, rec, "The case could not be assigned."); err != nil {
		return nil, err
	}
	return &audit.Record{Actor: a, Action: ActionCaseAssigned, SubjectType: "case", SubjectID: c.ID, CaseID: c.ID, Payload: pl}, nil
}

// DecideCreate records in ev, the case.created event casefile.DecideCase
// returned for case c, the recommendation a supervisor named when opening
// it (asked: its id, "" for none; rec: nil when it does not exist): the
// recommendation, the chosen worker's rank in it (0: not among the
// candidates) and the first candidate, by the same rule as DecideAssign.
// Only the team's supervisors name one (CheckAllocate).
func DecideCreate(a countersign.Actor, c *casefile.Case, asked string, rec *Recommendation, p Policy, ev *audit.Record) error {
	if asked == "" {
		return nil
	}
	if err := CheckAllocate(a, c.TeamID); err != nil {
		return err
	}
	ev.Payload["policy_version"], ev.Payload["rank"] = p.Version, "0"
	return followed(ev.Payload, c, c.WorkerID, asked, rec, "The case could not be opened.")
}

// followed checks that the recommendation named (asked, "" for none; rec,
// nil when it does not exist) was made for case c's team and case type,
// and for c itself or for a new case, and writes into pl the
// recommendation, the rank of workerID in it (0: not among the
// candidates) and the first candidate. One rule for the assignment of a
// case and for its creation; title heads the refusal.
func followed(pl audit.Payload, c *casefile.Case, workerID, asked string, rec *Recommendation, title string) error {
	if asked == "" {
		return nil
	}
	if rec == nil || rec.TeamID != c.TeamID || rec.CaseType != c.CaseType || rec.CaseID != "" && rec.CaseID != c.ID {
		return countersign.InvalidFields(title, countersign.FieldError{Field: "recommendation_id",
			Message: "Give a recommendation made for this case's team and case type, or none."})
	}
	pl["recommendation"], pl["rank"] = rec.ID, strconv.Itoa(rec.Rank(workerID))
	if len(rec.Candidates) > 0 {
		pl["recommended"] = rec.Candidates[0].WorkerID
	}
	return nil
}
