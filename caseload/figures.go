package caseload

import (
	"cmp"
	"encoding/csv"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/countersign/countersign"
)

// Member is a worker of a team as the store (or the log) knows them.
// Name and Email stay out of the log and off the board's view.
type Member struct {
	ID    string
	Name  string
	Email string
}

// Count is a number of active cases of one worker and one case type.
type Count struct {
	WorkerID string
	CaseType string
	N        int
}

// Input is what the figures of a team are computed from, however it was
// gathered: by the store's queries or by replaying the audit log.
type Input struct {
	TeamID string
	// Members are the team's active workers: each gets a row, with or
	// without cases.
	Members []Member
	// Active counts the team's active cases by worker and type; a worker
	// who is no longer a member but still holds active cases gets a row.
	Active []Count
	// Waiting counts the drafts waiting for each worker's review.
	Waiting map[string]int
	// Overdue counts the open hard deadlines whose day has passed, by the
	// entry's owner (the case's worker when the entry was made, as on
	// their agenda).
	Overdue map[string]int
	// ReviewMS holds each worker's review times of AI drafts in the
	// review window, in milliseconds.
	ReviewMS map[string][]int64
}

// Team is the caseload of one team at one time.
type Team struct {
	TeamID        string    `json:"team_id"`
	PolicyVersion string    `json:"policy_version"`
	ComputedAt    time.Time `json:"computed_at"`
	ActiveDays    int       `json:"active_days"`
	Band          Band      `json:"band"`
	// CaseTypes are the authority's case types, the columns of by_type.
	CaseTypes []string `json:"case_types"`
	// Pseudonymous says the workers are shown by pseudonyms (the board's view).
	Pseudonymous bool       `json:"pseudonymous"`
	Workers      []*Figures `json:"workers"`
	// Total adds up the team: its posts, cases and load per post.
	Total *Figures `json:"total"`
}

// Figures are one worker's (or the team's) numbers.
type Figures struct {
	WorkerID string `json:"worker_id"`
	// Name is shown to the team's supervisors and admins only.
	Name string `json:"name,omitempty"`
	// Member is false for someone who left the team but still holds cases.
	Member      bool           `json:"member"`
	FTE         float64        `json:"fte"`
	Tags        []string       `json:"tags,omitempty"`
	ActiveCases int            `json:"active_cases"`
	ByType      map[string]int `json:"by_type"`
	// WeightedLoad is the sum of the weights of the active cases, and
	// LoadPerFTE the same per full-time post (0 without working time).
	WeightedLoad  float64 `json:"weighted_load"`
	LoadPerFTE    float64 `json:"load_per_fte"`
	Band          string  `json:"band"`
	DraftsWaiting int     `json:"drafts_waiting"`
	OverdueHard   int     `json:"overdue_hard_deadlines"`
	// Reviews counts the decisions on AI drafts in the review window and
	// MedianReviewSeconds is their median review time (nil without any).
	Reviews             int      `json:"reviews"`
	MedianReviewSeconds *float64 `json:"median_review_seconds"`
}

// round2 rounds to two decimals, so that the store's and the log's
// figures print alike and compare equal.
func round2(f float64) float64 { return math.Round(f*100) / 100 }

// Median returns the median of ms in seconds (the mean of the middle two
// for an even count), or nil when there is none.
func Median(ms []int64) *float64 {
	if len(ms) == 0 {
		return nil
	}
	s := slices.Sorted(slices.Values(ms))
	n := len(s)
	var m float64
	if n%2 == 1 {
		m = float64(s[n/2])
	} else {
		m = (float64(s[n/2-1]) + float64(s[n/2])) / 2
	}
	v := round2(m / 1000)
	return &v
}

// Figures computes the team's figures from in at now. Workers are sorted
// by load per post, highest first, then by id.
func (p Policy) Figures(in Input, caseTypes []string, now time.Time) *Team {
	t := &Team{TeamID: in.TeamID, PolicyVersion: p.Version, ComputedAt: now.UTC(), ActiveDays: p.ActiveDays, Band: p.Band,
		CaseTypes: slices.Clone(caseTypes)}
	rows := map[string]*Figures{}
	row := func(id string) *Figures {
		f := rows[id]
		if f == nil {
			wp := p.Worker(id, "")
			f = &Figures{WorkerID: id, FTE: wp.FTE, Tags: wp.Tags, ByType: map[string]int{}}
			rows[id] = f
		}
		return f
	}
	for _, m := range in.Members {
		f := row(m.ID)
		wp := p.Worker(m.ID, m.Email)
		f.Name, f.Member, f.FTE, f.Tags = m.Name, true, wp.FTE, wp.Tags
	}
	for _, c := range in.Active {
		if c.N == 0 {
			continue
		}
		f := row(c.WorkerID)
		f.ByType[c.CaseType] += c.N
		f.ActiveCases += c.N
		f.WeightedLoad += float64(c.N) * p.Weight(c.CaseType)
	}
	for id, n := range in.Waiting {
		if _, ok := rows[id]; ok || n > 0 {
			row(id).DraftsWaiting = n
		}
	}
	for id, n := range in.Overdue {
		if _, ok := rows[id]; ok || n > 0 {
			row(id).OverdueHard = n
		}
	}
	for id, ms := range in.ReviewMS {
		if f, ok := rows[id]; ok {
			f.Reviews, f.MedianReviewSeconds = len(ms), Median(ms)
		}
	}
	total := &Figures{WorkerID: "total", ByType: map[string]int{}}
	var all []int64
	for _, f := range rows {
		f.WeightedLoad = round2(f.WeightedLoad)
		if f.FTE > 0 {
			f.LoadPerFTE = round2(f.WeightedLoad / f.FTE)
		}
		f.Band = p.BandOf(f.LoadPerFTE, f.FTE)
		t.Workers = append(t.Workers, f)
		if f.Member {
			total.FTE += f.FTE
		}
		total.ActiveCases += f.ActiveCases
		total.WeightedLoad += f.WeightedLoad
		total.DraftsWaiting += f.DraftsWaiting
		total.OverdueHard += f.OverdueHard
		for k, n := range f.ByType {
			total.ByType[k] += n
		}
		all = append(all, in.ReviewMS[f.WorkerID]...)
	}
	total.FTE, total.WeightedLoad = round2(total.FTE), round2(total.WeightedLoad)
	if total.FTE > 0 {
		total.LoadPerFTE = round2(total.WeightedLoad / total.FTE)
	}
	total.Band, total.Member = p.BandOf(total.LoadPerFTE, total.FTE), true
	total.Reviews, total.MedianReviewSeconds = len(all), Median(all)
	slices.SortFunc(t.Workers, func(a, b *Figures) int {
		return cmp.Or(cmp.Compare(b.LoadPerFTE, a.LoadPerFTE), cmp.Compare(a.WorkerID, b.WorkerID))
	})
	if t.Workers == nil {
		t.Workers = []*Figures{}
	}
	t.Total = total
	return t
}

// Pseudonymize replaces each worker's id by pseudonym(id) and drops names
// and tags (tags can single a person out): the ethics board's view.
// Workers are sorted again by the new ids where loads tie, so the order
// tells nothing about the real ids.
func (t *Team) Pseudonymize(pseudonym func(string) string) {
	t.Pseudonymous = true
	for _, f := range t.Workers {
		f.WorkerID, f.Name, f.Tags = pseudonym(f.WorkerID), "", nil
	}
	slices.SortFunc(t.Workers, func(a, b *Figures) int {
		return cmp.Or(cmp.Compare(b.LoadPerFTE, a.LoadPerFTE), cmp.Compare(a.WorkerID, b.WorkerID))
	})
}

// CSVHeader returns the columns of WriteCSV.
func (t *Team) CSVHeader() []string {
	h := []string{"team_id", "worker_id", "member", "fte", "active_cases"}
	for _, ct := range t.caseTypes() {
		h = append(h, "active_"+ct)
	}
	return append(h, "weighted_load", "load_per_fte", "band_min", "band_max", "band", "drafts_waiting",
		"overdue_hard_deadlines", "reviews", "median_review_seconds", "policy_version")
}

// caseTypes are the columns of by_type: the policy's case types, then any
// other type a case still has.
func (t *Team) caseTypes() []string {
	out := slices.Clone(t.CaseTypes)
	for _, ct := range slices.Sorted(maps.Keys(t.Total.ByType)) {
		if !slices.Contains(out, ct) {
			out = append(out, ct)
		}
	}
	return out
}

// WriteCSV writes the team's figures as CSV, one line per worker and a
// last line of the team's total. It holds no names: the same table comes
// from the API and from `countersign caseload`.
func (t *Team) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.CSVHeader()); err != nil {
		return err
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
	for _, f := range append(slices.Clone(t.Workers), t.Total) {
		rec := []string{t.TeamID, f.WorkerID, strconv.FormatBool(f.Member), num(f.FTE), strconv.Itoa(f.ActiveCases)}
		for _, ct := range t.caseTypes() {
			rec = append(rec, strconv.Itoa(f.ByType[ct]))
		}
		median := ""
		if f.MedianReviewSeconds != nil {
			median = num(*f.MedianReviewSeconds)
		}
		rec = append(rec, num(f.WeightedLoad), num(f.LoadPerFTE), num(t.Band.Min), num(t.Band.Max), f.Band,
			strconv.Itoa(f.DraftsWaiting), strconv.Itoa(f.OverdueHard), strconv.Itoa(f.Reviews), median, t.PolicyVersion)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// View is how a permitted reader sees a team's caseload.
type View int

// Views of a team's caseload.
const (
	// ViewNamed shows workers by id and name: the team's supervisors,
	// admins and the service itself.
	ViewNamed View = iota + 1
	// ViewPseudonymous shows workers by keyed pseudonyms: the ethics board.
	ViewPseudonymous
)

// Check decides who may see the caseload of team teamID, and how: the
// team's supervisors and admins by name, the ethics board by pseudonyms,
// the service's own actors by name. Workers and other teams' supervisors
// get EFORBIDDEN. The store, the API and the web page all ask it.
func Check(a countersign.Actor, teamID string) (View, error) {
	switch a.Role {
	case countersign.RoleSupervisor:
		if a.TeamID == teamID {
			return ViewNamed, nil
		}
		return 0, countersign.Errorf(countersign.EFORBIDDEN, "Only the team's own supervisors see its caseload.")
	case countersign.RoleAdmin, countersign.RoleSystem:
		return ViewNamed, nil
	case countersign.RoleEthics:
		return ViewPseudonymous, nil
	}
	return 0, countersign.Errorf(countersign.EFORBIDDEN, "Only the team's supervisors, admins and the ethics board see a team's caseload.")
}

// CheckAllocate decides who may ask for a recommendation and assign a
// team's cases: its supervisors (and the service itself). Allocation is a
// supervisor's decision, so admins and the board may not.
func CheckAllocate(a countersign.Actor, teamID string) error {
	switch {
	case a.Role == countersign.RoleSystem:
		return nil
	case a.Role == countersign.RoleSupervisor && a.TeamID == teamID:
		return nil
	case a.Role == countersign.RoleSupervisor:
		return countersign.Errorf(countersign.EFORBIDDEN, "Only the team's own supervisors allocate its cases.")
	}
	return countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the team allocates its cases.")
}
