package web

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// decisionWindow is how far back the team page looks for decisions.
const decisionWindow = 30 * 24 * time.Hour

type teamView struct {
	Pending   []queueRow
	Awaiting  []queueRow
	Decisions []decisionRow
	Workers   []person
	Window    time.Duration
	// ClientResponses counts the clients' answers waiting for the team.
	ClientResponses int
}

type person struct {
	ID   string
	Name string
}

// decisionRow is one decision of the team, read from the audit log (which
// holds the facts of every decision and none of the text).
type decisionRow struct {
	At        time.Time
	Case      *casefile.Case
	DraftID   string
	Action    string
	Kind      string
	By        string
	Edited    string
	EditRatio string
	ReviewMS  int64
	HasReview bool // the event records a review time
	Fast      bool
	Reason    string
}

// handleTeam serves GET /team: the supervisor's team queue with ages,
// the drafts waiting for their countersignature, reassignment, and the
// team's recent decisions.
func (s *Server) handleTeam(w http.ResponseWriter, r *http.Request) {
	if err := s.requireRole(r, countersign.RoleSupervisor); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.renderTeam(w, r, s.newPage(r, "team.title"), http.StatusOK)
}

func (s *Server) renderTeam(w http.ResponseWriter, r *http.Request, p *page, status int) {
	ctx := r.Context()
	p.Nav = "team"
	cases, _, err := s.Cases.FindCases(ctx, casefile.CaseFilter{Limit: 500})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	pendingStatus, awaitingStatus := review.StatusPendingReview, review.StatusAwaitingCountersign
	pending, _, err := s.Review.FindQueue(ctx, review.QueueFilter{Status: &pendingStatus, Limit: 200})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	awaiting, _, err := s.Review.FindQueue(ctx, review.QueueFilter{Status: &awaitingStatus, Limit: 200})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := teamView{Pending: s.queueRows(ctx, pending, cases), Awaiting: s.queueRows(ctx, awaiting, cases), Window: decisionWindow,
		ClientResponses: s.openResponses(ctx)}
	nm := s.names(ctx)
	// Every active worker of the team can take a draft, with or without
	// cases of their own.
	workers, err := s.Identity.FindTeamWorkers(ctx, p.Actor.TeamID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	for _, u := range workers {
		nm.cache[u.ID] = u.Name
		v.Workers = append(v.Workers, person{ID: u.ID, Name: u.Name})
	}
	if v.Decisions, err = s.teamDecisions(ctx, cases, nm); err != nil {
		s.errorPage(w, r, err)
		return
	}
	p.Data = v
	s.render(w, r, status, "team.html", p)
}

// decisionActions are the audit actions the team page lists.
var decisionActions = []string{audit.ActionDraftApproved, audit.ActionDraftRejected, audit.ActionDraftCountersign, audit.ActionDraftReassigned}

// teamDecisions returns the team's decisions of the last decisionWindow,
// newest first, at most 100. A case the supervisor cannot see belongs to
// another team and is left out.
func (s *Server) teamDecisions(ctx context.Context, known []*casefile.Case, nm *names) ([]decisionRow, error) {
	if _, err := s.Audit.Sequence(ctx); err != nil {
		return nil, err
	}
	cases := map[string]*casefile.Case{}
	for _, c := range known {
		cases[c.ID] = c
	}
	since := time.Now().Add(-decisionWindow)
	var rows []decisionRow
	for _, action := range decisionActions {
		f := audit.EventFilter{Action: &action, Since: &since, Limit: 1000}
		for range 50 { // at most 50 000 events per action
			events, err := s.Audit.FindEvents(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, e := range events {
				c, ok := cases[e.CaseID]
				if !ok {
					found, err := s.Cases.FindCaseByID(ctx, e.CaseID)
					if err != nil {
						cases[e.CaseID] = nil
						continue
					}
					c, cases[e.CaseID] = found, found
				}
				if c == nil {
					continue
				}
				ms, err := strconv.ParseInt(e.Payload["review_ms"], 10, 64)
				row := decisionRow{At: e.At, Case: c, DraftID: e.SubjectID, Action: e.Action, Kind: e.Payload["kind"],
					By: nm.of(e.ActorID), Edited: e.Payload["edited"], ReviewMS: ms, HasReview: err == nil, Fast: e.Payload["fast_sign_off"] == "true",
					Reason: e.Payload["reason"]}
				if r, err := strconv.ParseFloat(e.Payload["edit_ratio"], 64); err == nil {
					row.EditRatio = strconv.Itoa(int(r*100+0.5)) + " %"
				}
				rows = append(rows, row)
			}
			if len(events) < f.Limit {
				break
			}
			last := events[len(events)-1].Seq
			f.After = &last
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].At.After(rows[j].At) })
	if len(rows) > 100 {
		rows = rows[:100]
	}
	return rows, nil
}

// handleReassign serves POST /drafts/{id}/reassign.
func (s *Server) handleReassign(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "team.title")
	worker := r.PostForm.Get("worker")
	var err error
	if worker == "" {
		err = countersign.InvalidFields(p.T("reassign.invalid"), countersign.FieldError{Field: "worker", Message: p.T("reassign.choose")})
	} else {
		_, err = s.Review.ReassignDraft(r.Context(), r.PathValue("id"), worker)
	}
	switch {
	case err == nil:
		redirect(w, r, "/team", "reassigned")
	case countersign.ErrorCode(err) == countersign.EINVALID:
		p.setError(err)
		s.renderTeam(w, r, p, http.StatusUnprocessableEntity)
	default:
		s.errorPage(w, r, err)
	}
}

// OtherWorkers lists the workers a draft could go to: everyone but its reviewer.
func (v teamView) OtherWorkers(reviewer string) []person {
	return slices.DeleteFunc(slices.Clone(v.Workers), func(p person) bool { return p.ID == reviewer })
}
