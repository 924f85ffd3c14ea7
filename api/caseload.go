package api

import (
	"bufio"
	"net/http"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/caseload"
)

// The caseload's doors (issue 17): a team's figures (JSON or CSV), its
// weekly history from the log, the recommendation of who should take a
// case, and the supervisor's assignment of a case.

// caseloadRoutes adds the caseload's endpoints to mux; a case store that
// does not serve the caseload answers them 404.
func (s *Server) caseloadRoutes(mux *http.ServeMux) {
	authed := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }
	authed("GET /v1/teams/{id}/caseload", s.handleCaseload)
	authed("GET /v1/teams/{id}/caseload/history", s.handleCaseloadHistory)
	authed("GET /v1/teams/{id}/caseload/recommendation", s.handleCaseloadRecommendation)
	authed("POST /v1/cases/{id}/assign", s.handleCaseAssign)
}

// caseloadStore returns the caseload's store, or writes the 404 that says
// there is none.
func (s *Server) caseloadStore(w http.ResponseWriter, r *http.Request) caseload.Store {
	st, ok := s.Cases.(caseload.Store)
	if !ok {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
		return nil
	}
	return st
}

// boardPseudonyms returns what the ethics board sees a worker's id as:
// the statistics' keyed pseudonym (audit.Pseudonymizer), or the id itself
// where the operator shows real ids (COUNTERSIGN_STATS_REAL_IDS).
func (s *Server) boardPseudonyms() (func(string) string, error) {
	if s.StatsRealIDs {
		return func(id string) string { return id }, nil
	}
	k, ok := s.AuditProofs.(pseudonymKeyer)
	if !ok {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Pseudonyms are not available on this server, so the board cannot see caseloads.")
	}
	key, err := k.PseudonymKey()
	if err != nil {
		return nil, err
	}
	return audit.Pseudonymizer(key), nil
}

// caseloadView returns how the caller sees team teamID's caseload: nil
// for names, a pseudonym function for the board (caseload.Check).
func (s *Server) caseloadView(r *http.Request, teamID string) (func(string) string, error) {
	a, err := countersign.ActorFrom(r.Context())
	if err != nil {
		return nil, err
	}
	view, err := caseload.Check(a, teamID)
	if err != nil || view == caseload.ViewNamed {
		return nil, err
	}
	return s.boardPseudonyms()
}

// handleCaseload serves GET /v1/teams/{id}/caseload: each worker's active
// cases by type, weighted load, load per full-time post against the band,
// drafts waiting, overdue hard deadlines and median review time; as CSV
// with Accept: text/csv (or ?format=csv).
func (s *Server) handleCaseload(w http.ResponseWriter, r *http.Request) {
	st := s.caseloadStore(w, r)
	if st == nil {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "csv" && format != "json" {
		Error(w, r, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: "format", Message: "Choose json or csv."}))
		return
	}
	teamID := r.PathValue("id")
	pseudonym, err := s.caseloadView(r, teamID)
	if err != nil {
		Error(w, r, err)
		return
	}
	t, err := st.FindTeamCaseload(r.Context(), teamID)
	if err != nil {
		Error(w, r, err)
		return
	}
	if pseudonym != nil {
		t.Pseudonymize(pseudonym)
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="countersign-caseload.csv"`)
		bw := bufio.NewWriter(w)
		if err := t.WriteCSV(bw); err != nil {
			logger(r).Error("caseload CSV", "err", err)
			return
		}
		_ = bw.Flush()
		return
	}
	JSON(w, http.StatusOK, t)
}

type historyResponse struct {
	TeamID string            `json:"team_id"`
	Weeks  []*caseload.Point `json:"weeks"`
}

// handleCaseloadHistory serves GET /v1/teams/{id}/caseload/history?weeks=:
// the team's figures at the end of each of the last weeks (12 by
// default), replayed from the audit log.
func (s *Server) handleCaseloadHistory(w http.ResponseWriter, r *http.Request) {
	st := s.caseloadStore(w, r)
	if st == nil {
		return
	}
	weeks, err := queryInt(r, "weeks", 12)
	if err != nil {
		Error(w, r, err)
		return
	}
	teamID := r.PathValue("id")
	pseudonym, err := s.caseloadView(r, teamID)
	if err != nil {
		Error(w, r, err)
		return
	}
	pts, err := st.FindCaseloadHistory(r.Context(), teamID, weeks)
	if err != nil {
		Error(w, r, err)
		return
	}
	if pseudonym != nil {
		caseload.PseudonymizeHistory(pts, pseudonym)
	}
	JSON(w, http.StatusOK, historyResponse{TeamID: teamID, Weeks: pts})
}

// handleCaseloadRecommendation serves GET
// /v1/teams/{id}/caseload/recommendation?case_type=&case_id=: the team's
// workers for a case of that type, lowest load per full-time post first,
// each with the reason. What was shown is recorded (caseload.recommended);
// POST /v1/cases/{id}/assign names it.
func (s *Server) handleCaseloadRecommendation(w http.ResponseWriter, r *http.Request) {
	st := s.caseloadStore(w, r)
	if st == nil {
		return
	}
	q := r.URL.Query()
	rec, err := st.RecommendWorkers(r.Context(), r.PathValue("id"), q.Get("case_type"), q.Get("case_id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, rec)
}

type assignRequest struct {
	WorkerID         string `json:"worker_id" validate:"required,max=64"`
	RecommendationID string `json:"recommendation_id" validate:"omitempty,max=64"`
}

// handleCaseAssign serves POST /v1/cases/{id}/assign {worker_id,
// recommendation_id?}: a supervisor gives the case to any worker of its
// team, and the choice is recorded with the recommendation it followed or not.
func (s *Server) handleCaseAssign(w http.ResponseWriter, r *http.Request) {
	st := s.caseloadStore(w, r)
	if st == nil {
		return
	}
	var req assignRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	c, err := st.AssignCase(r.Context(), r.PathValue("id"), caseload.Assignment{WorkerID: req.WorkerID, RecommendationID: req.RecommendationID})
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, c)
}
