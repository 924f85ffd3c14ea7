package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/internal/httpx"
)

// What people see of retention and erasure (issue 19): on the case page,
// the case's state with its supervisor's Close / Reopen and the legal hold
// buttons; on the case's retention page (/cases/{id}/retention, which
// admins reach too, though they read no content) the same, the holds'
// history and the four-eyes erasure: one admin files a request, another
// sees it (there and on /erasure-requests) and confirms it; an erased case
// as a tombstone, its reference, dates, rule and policy version and
// nothing else; and the ethics board's figures of erasures and holds by
// rule and month (/audit/retention). The domain (casefile) decides who may
// do what and refuses with a sentence; these pages show the buttons it
// would allow and its sentences when it refuses.

// RetentionStore is what the retention pages ask of the store
// (sqlstore.RetentionStore, promoted on *sqlstore.DB).
type RetentionStore interface {
	CloseCase(ctx context.Context, caseID, reasonCode string) (*casefile.Case, error)
	ReopenCase(ctx context.Context, caseID string) (*casefile.Case, error)
	SetHold(ctx context.Context, caseID, reasonCode string) (*casefile.Hold, error)
	LiftHold(ctx context.Context, caseID, holdID, reasonCode string) (*casefile.Hold, error)
	FindHolds(ctx context.Context, caseID string) ([]*casefile.Hold, error)
	RequestErasure(ctx context.Context, caseID, partyID, reasonCode string) (*casefile.ErasureRequest, error)
	ConfirmErasure(ctx context.Context, requestID string) (*casefile.Erasure, error)
	FindErasureRequests(ctx context.Context, caseID string, pendingOnly bool) ([]*casefile.ErasureRequest, error)
	FindTombstone(ctx context.Context, caseID string) (*casefile.Tombstone, error)
	RetentionBoard(ctx context.Context) ([]casefile.BoardRow, error)
	// FindRetentionCase and FindRetentionParties read a case's facts and
	// its parties by role for whoever may see its retention but not its
	// content (an admin): no title, no names.
	FindRetentionCase(ctx context.Context, caseID string) (*casefile.Case, error)
	FindRetentionParties(ctx context.Context, caseID string) ([]*casefile.Party, error)
}

// retention returns the store of the retention pages: Retention, or the
// case store or the client's file store when they keep retention too (the
// service as wired gives Files the whole store); nil leaves the pages out.
func (s *Server) retention() RetentionStore {
	if s.Retention != nil {
		return s.Retention
	}
	if rs, ok := s.Cases.(RetentionStore); ok {
		return rs
	}
	if rs, ok := s.Files.(RetentionStore); ok {
		return rs
	}
	return nil
}

// retentionRoutes adds the retention pages to mux, when there is a store.
func (s *Server) retentionRoutes(mux *http.ServeMux) {
	if s.retention() == nil {
		return
	}
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.session(h)) }
	page("GET /cases/{id}/retention", s.handleRetention)
	page("POST /cases/{id}/close", s.handleCaseClose)
	page("POST /cases/{id}/reopen", s.handleCaseReopen)
	page("POST /cases/{id}/holds", s.handleHoldSet)
	page("POST /cases/{id}/holds/{hold}/lift", s.handleHoldLift)
	page("POST /cases/{id}/erasure-requests", s.handleErasureRequest)
	page("GET /erasure-requests", s.handleErasureRequests)
	page("POST /erasure-requests/{id}/confirm", s.handleErasureConfirm)
	page("GET /audit/retention", s.handleRetentionBoard)
}

// retentionView is a case's retention as the case page and the retention
// page show it: its state, the buttons the domain would allow the actor,
// the holds and the erasure requests.
type retentionView struct {
	Case *casefile.Case
	// From is the page the forms come back to: "case" or "retention".
	From      string
	Holds     []holdRow
	Requests  []requestRow
	Parties   []*casefile.Party
	CanClose  bool
	CanReopen bool
	CanHold   bool
	CanErase  bool
	// Active counts the standing holds.
	Active                                  int
	CloseReasons, HoldReasons, EraseReasons []string
}

type holdRow struct {
	*casefile.Hold
	SetByName, LiftedByName string
}

type requestRow struct {
	*casefile.ErasureRequest
	ByName, ConfirmedByName string
	// Mine: the actor filed it, and so may not confirm it (four eyes).
	Mine bool
	// PartyRole is the role of the party whose data it erases ("" for
	// the whole case).
	PartyRole string
	Reference string
}

// retentionOf gathers c's retention for the actor of r; full adds the
// erasure requests and the parties they may name (the retention page).
func (s *Server) retentionOf(r *http.Request, c *casefile.Case, from string, full bool) (*retentionView, error) {
	ctx := r.Context()
	rs := s.retention()
	a, _ := countersign.ActorFromContext(ctx)
	v := &retentionView{Case: c, From: from, CloseReasons: casefile.CloseReasons, HoldReasons: casefile.HoldReasons,
		EraseReasons: casefile.ErasureReasons}
	if c.Status == casefile.StatusErased {
		return v, nil
	}
	v.CanClose = casefile.IsSupervisor(a, c) && c.Status == casefile.StatusOpen
	v.CanReopen = casefile.IsSupervisor(a, c) && c.Status == casefile.StatusClosed
	v.CanHold = casefile.CanHold(a, c)
	v.CanErase = casefile.CheckErasureAdmin(a) == nil
	holds, err := rs.FindHolds(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	nm := s.names(ctx)
	for _, h := range holds {
		v.Holds = append(v.Holds, holdRow{Hold: h, SetByName: nm.of(h.SetBy), LiftedByName: nm.of(h.LiftedBy)})
		if h.Active() {
			v.Active++
		}
	}
	if !full {
		return v, nil
	}
	reqs, err := rs.FindErasureRequests(ctx, c.ID, false)
	if err != nil {
		return nil, err
	}
	if v.Parties, err = s.retentionParties(ctx, c, a); err != nil {
		return nil, err
	}
	v.Requests = s.requestRows(ctx, reqs, a, v.Parties, map[string]string{c.ID: c.Reference})
	return v, nil
}

// retentionParties returns c's parties as the actor may see them: in full
// for whoever reads the case, by role alone for the others.
func (s *Server) retentionParties(ctx context.Context, c *casefile.Case, a countersign.Actor) ([]*casefile.Party, error) {
	if casefile.CanRead(a, c) {
		return s.Cases.FindParties(ctx, c.ID)
	}
	return s.retention().FindRetentionParties(ctx, c.ID)
}

func (s *Server) requestRows(ctx context.Context, reqs []*casefile.ErasureRequest, a countersign.Actor, parties []*casefile.Party, refs map[string]string) []requestRow {
	nm := s.names(ctx)
	out := make([]requestRow, 0, len(reqs))
	for _, q := range reqs {
		row := requestRow{ErasureRequest: q, ByName: nm.of(q.RequestedBy), ConfirmedByName: nm.of(q.ConfirmedBy),
			Mine: q.RequestedBy == a.UserID, Reference: refs[q.CaseID]}
		if row.Reference == "" {
			row.Reference = q.CaseID
		}
		if q.PartyID != "" {
			row.PartyRole = "other"
			for _, p := range parties {
				if p.ID == q.PartyID {
					row.PartyRole = p.Role
				}
			}
		}
		out = append(out, row)
	}
	return out
}

// retentionCase reads the case of the retention page: as the case page
// does for whoever reads it, otherwise its facts alone (an admin).
func (s *Server) retentionCase(ctx context.Context, id string) (*casefile.Case, error) {
	c, err := s.Cases.FindCaseByID(ctx, id)
	if countersign.ErrorCode(err) != countersign.EFORBIDDEN {
		return c, err
	}
	return s.retention().FindRetentionCase(ctx, id)
}

// retentionPage is the retention page of a case.
type retentionPage struct {
	Retention *retentionView
	Tombstone *casefile.Tombstone
}

// handleRetention serves GET /cases/{id}/retention: the case's state, its
// holds and erasure requests with the buttons the actor may use; an erased
// case's tombstone.
func (s *Server) handleRetention(w http.ResponseWriter, r *http.Request) {
	s.renderRetention(w, r, s.newPage(r, "retention.title"), http.StatusOK)
}

func (s *Server) renderRetention(w http.ResponseWriter, r *http.Request, p *page, status int) {
	// The board sees retention as figures (/audit/retention), not case by
	// case: this page names members of staff, whom its pages show by
	// pseudonyms.
	if err := s.requireRole(r, countersign.RoleWorker, countersign.RoleSupervisor, countersign.RoleAdmin); err != nil {
		s.errorPage(w, r, err)
		return
	}
	c, err := s.retentionCase(r.Context(), r.PathValue("id"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if c.Status == casefile.StatusErased {
		s.renderTombstone(w, r, p, c, status)
		return
	}
	v, err := s.retentionOf(r, c, "retention", true)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p.Data = retentionPage{Retention: v}
	s.render(w, r, status, "retention.html", p)
}

// renderTombstone shows what remains of an erased case: its reference,
// type, dates, the rule and the policy version it was erased under.
func (s *Server) renderTombstone(w http.ResponseWriter, r *http.Request, p *page, c *casefile.Case, status int) {
	t, err := s.retention().FindTombstone(r.Context(), c.ID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p.Title = "tombstone.title"
	p.Data = retentionPage{Tombstone: t}
	s.render(w, r, status, "retention.html", p)
}

// retentionForm reads a retention form's reason code.
func retentionReason(r *http.Request) string { return strings.TrimSpace(r.PostForm.Get("reason_code")) }

// retentionDone answers a retention form: back to the page it came from
// with flash on success; on a refusal of the domain, that page again with
// its sentence (and the field at fault) at the status of its code.
func (s *Server) retentionDone(w http.ResponseWriter, r *http.Request, err error, caseID, flash string) {
	from := r.PostForm.Get("from")
	if err == nil {
		target := "/cases/" + caseID + "/retention"
		if from == "case" {
			target = "/cases/" + caseID + "#retention"
		}
		redirect(w, r, target, flash)
		return
	}
	switch countersign.ErrorCode(err) {
	case countersign.EINVALID, countersign.ECONFLICT, countersign.EFORBIDDEN:
	default:
		s.errorPage(w, r, err)
		return
	}
	_, status := httpx.Status(err)
	if from == "case" {
		p := s.newPage(r, "case.title")
		p.setError(err)
		s.renderCase(w, r, p, status, caseForm{})
		return
	}
	p := s.newPage(r, "retention.title")
	p.setError(err)
	s.renderRetention(w, r, p, status)
}

// handleCaseClose serves POST /cases/{id}/close {reason_code}.
func (s *Server) handleCaseClose(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.retention().CloseCase(r.Context(), id, retentionReason(r))
	s.retentionDone(w, r, err, id, "case_closed")
}

// handleCaseReopen serves POST /cases/{id}/reopen.
func (s *Server) handleCaseReopen(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.retention().ReopenCase(r.Context(), id)
	s.retentionDone(w, r, err, id, "case_reopened")
}

// handleHoldSet serves POST /cases/{id}/holds {reason_code}.
func (s *Server) handleHoldSet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.retention().SetHold(r.Context(), id, retentionReason(r))
	s.retentionDone(w, r, err, id, "hold_set")
}

// handleHoldLift serves POST /cases/{id}/holds/{hold}/lift {reason_code}.
func (s *Server) handleHoldLift(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.retention().LiftHold(r.Context(), id, r.PathValue("hold"), retentionReason(r))
	s.retentionDone(w, r, err, id, "hold_lifted")
}

// handleErasureRequest serves POST /cases/{id}/erasure-requests
// {reason_code, party_id}: the first admin's request.
func (s *Server) handleErasureRequest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.retention().RequestErasure(r.Context(), id, strings.TrimSpace(r.PostForm.Get("party_id")), retentionReason(r))
	s.retentionDone(w, r, err, id, "erasure_requested")
}

// handleErasureConfirm serves POST /erasure-requests/{id}/confirm {case,
// from}: the second admin's confirmation, which erases. A refusal comes
// back to the page the button was on: the case's retention page, or the
// list of requests.
func (s *Server) handleErasureConfirm(w http.ResponseWriter, r *http.Request) {
	e, err := s.retention().ConfirmErasure(r.Context(), r.PathValue("id"))
	if err == nil {
		redirect(w, r, "/cases/"+e.CaseID+"/retention", "erased")
		return
	}
	if caseID := r.PostForm.Get("case"); caseID != "" && r.PostForm.Get("from") == "retention" {
		r.SetPathValue("id", caseID)
		s.retentionDone(w, r, err, caseID, "")
		return
	}
	switch countersign.ErrorCode(err) {
	case countersign.EINVALID, countersign.ECONFLICT, countersign.EFORBIDDEN:
		_, status := httpx.Status(err)
		p := s.newPage(r, "erasures.title")
		p.setError(err)
		s.renderErasureRequests(w, r, p, status)
	default:
		s.errorPage(w, r, err)
	}
}

// erasureRequestsView is the admins' list of erasure requests waiting for
// a second admin.
type erasureRequestsView struct {
	Requests []requestRow
	CaseID   string
}

// handleErasureRequests serves GET /erasure-requests: the requests
// waiting for a second admin, each with its confirm button (none on one's
// own), and a field to open a case's retention page by its id.
func (s *Server) handleErasureRequests(w http.ResponseWriter, r *http.Request) {
	if id := strings.TrimSpace(r.URL.Query().Get("case")); id != "" {
		http.Redirect(w, r, "/cases/"+url.PathEscape(id)+"/retention", http.StatusSeeOther)
		return
	}
	s.renderErasureRequests(w, r, s.newPage(r, "erasures.title"), http.StatusOK)
}

func (s *Server) renderErasureRequests(w http.ResponseWriter, r *http.Request, p *page, status int) {
	if err := s.requireRole(r, countersign.RoleAdmin); err != nil {
		s.errorPage(w, r, err)
		return
	}
	ctx := r.Context()
	reqs, err := s.retention().FindErasureRequests(ctx, "", true)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	refs := map[string]string{}
	for _, q := range reqs {
		if _, ok := refs[q.CaseID]; ok {
			continue
		}
		if c, err := s.retentionCase(ctx, q.CaseID); err == nil {
			refs[q.CaseID] = c.Reference
		}
	}
	p.Nav = "erasures"
	p.Data = erasureRequestsView{Requests: s.requestRows(ctx, reqs, p.Actor, nil, refs)}
	s.render(w, r, status, "erasures.html", p)
}

// boardMonth is one month of the board's figures.
type boardMonth struct {
	Month string // YYYY-MM
	Rows  []casefile.BoardRow
	// Erased, Parties, HoldsSet, HoldsLifted total the month.
	Erased, Parties, HoldsSet, HoldsLifted int
}

// handleRetentionBoard serves GET /audit/retention: the ethics board's
// figures of erasures (by rule: retention or request) and legal holds
// (set, lifted) per month, case type and reason; no case, no content, no
// name.
func (s *Server) handleRetentionBoard(w http.ResponseWriter, r *http.Request) {
	// Who sees the figures is casefile.CheckRetentionFigures, which the
	// store asks; its refusal is the page's.
	rows, err := s.retention().RetentionBoard(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	var months []*boardMonth
	for _, row := range rows {
		if len(months) == 0 || months[len(months)-1].Month != row.Month {
			months = append(months, &boardMonth{Month: row.Month})
		}
		m := months[len(months)-1]
		m.Rows = append(m.Rows, row)
		switch {
		case row.Kind == "erasure" && row.Parties:
			m.Parties += row.Count
		case row.Kind == "erasure":
			m.Erased += row.Count
		case row.Rule == "set":
			m.HoldsSet += row.Count
		default:
			m.HoldsLifted += row.Count
		}
	}
	// Newest month first, whatever order the store gave.
	slices.SortStableFunc(months, func(a, b *boardMonth) int { return strings.Compare(b.Month, a.Month) })
	p := s.newPage(r, "board.title")
	p.Nav = "audit"
	p.Data = months
	s.render(w, r, http.StatusOK, "retention_board.html", p)
}

// Month writes a month given as YYYY-MM in words: "December 2026".
func (p *page) Month(ym string) string {
	t, err := time.Parse("2006-01", ym)
	if err != nil {
		return ym
	}
	// The year as text: a printer would group its digits ("2,026").
	return p.T("month.name", p.T("month."+t.Format("1")), t.Format("2006"))
}
