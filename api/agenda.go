package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
)

// The agenda's doors: a case's entries, the caller's own agenda, closing
// with an outcome, notifications, and the calendar feeds (issue 16).

// agendaRoutes adds the agenda's endpoints to mux; Server.Agenda nil
// answers them 404.
func (s *Server) agendaRoutes(mux *http.ServeMux) {
	authed := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }
	authed("GET /v1/cases/{id}/agenda", s.handleCaseAgenda)
	authed("POST /v1/cases/{id}/agenda", s.handleAgendaCreate)
	authed("GET /v1/agenda/{id}", s.handleAgendaGet)
	authed("PATCH /v1/agenda/{id}", s.handleAgendaUpdate)
	authed("POST /v1/agenda/{id}/close", s.handleAgendaClose)
	authed("GET /v1/me/agenda", s.handleMyAgenda)
	authed("GET /v1/me/team-overdue", s.handleTeamOverdue)
	authed("GET /v1/me/notifications", s.handleNotifications)
	authed("POST /v1/me/notifications/read", s.handleNotificationsRead)
	authed("POST /v1/me/calendar-feed", s.handleFeedIssue)
	s.clientAuthed(mux, "GET /v1/client/agenda", s.handleClientAgenda)
	s.clientAuthed(mux, "POST /v1/client/calendar-feed", s.handleClientFeed)
	// The feed's secret is its only credential: calendar applications
	// send no header. Unknown secrets count as failed sign-ins.
	mux.Handle("GET /ical/{file}", s.anonymous(http.HandlerFunc(s.handleFeed)))
}

// agendaStore returns the agenda, or the 404 that says there is none.
func (s *Server) agendaStore(w http.ResponseWriter, r *http.Request) agenda.Store {
	if s.Agenda == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
	}
	return s.Agenda
}

type entriesResponse struct {
	Entries []*agenda.Entry `json:"entries"`
}

// handleCaseAgenda serves GET /v1/cases/{id}/agenda: the case's entries by
// date, open and closed, each with its source.
func (s *Server) handleCaseAgenda(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	es, err := st.FindCaseAgenda(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, entriesResponse{Entries: nonNil(es)})
}

type agendaCreateRequest struct {
	Kind   string `json:"kind" validate:"required,max=32"`
	Date   string `json:"date" validate:"required,max=10"`
	Time   string `json:"time" validate:"omitempty,max=5"`
	Title  string `json:"title" validate:"required,max=2000"`
	Shared *bool  `json:"shared_with_client"`
}

// handleAgendaCreate serves POST /v1/cases/{id}/agenda: a worker adds an
// appointment or a deadline.
func (s *Server) handleAgendaCreate(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	var req agendaCreateRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	e, err := st.CreateEntry(r.Context(), r.PathValue("id"), agenda.Input{Kind: agenda.Kind(req.Kind), Date: req.Date, Time: req.Time,
		Title: req.Title, Shared: req.Shared})
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/agenda/"+e.ID)
	JSON(w, http.StatusCreated, e)
}

// handleAgendaGet serves GET /v1/agenda/{id}.
func (s *Server) handleAgendaGet(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	e, err := st.FindEntryByID(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, e)
}

type agendaUpdateRequest struct {
	Kind   *string `json:"kind" validate:"omitempty,max=32"`
	Date   *string `json:"date" validate:"omitempty,max=10"`
	Time   *string `json:"time" validate:"omitempty,max=5"`
	Title  *string `json:"title" validate:"omitempty,max=2000"`
	Shared *bool   `json:"shared_with_client"`
}

// handleAgendaUpdate serves PATCH /v1/agenda/{id}: fields sent are changed.
func (s *Server) handleAgendaUpdate(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	var req agendaUpdateRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	upd := agenda.Update{Date: req.Date, Time: req.Time, Title: req.Title, Shared: req.Shared}
	if req.Kind != nil {
		k := agenda.Kind(*req.Kind)
		upd.Kind = &k
	}
	e, err := st.UpdateEntry(r.Context(), r.PathValue("id"), upd)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, e)
}

type agendaCloseRequest struct {
	Outcome string `json:"outcome" validate:"required,max=32"`
	Reason  string `json:"reason" validate:"omitempty,max=4000"`
	NewDate string `json:"new_date" validate:"omitempty,max=10"`
	NewTime string `json:"new_time" validate:"omitempty,max=5"`
}

type agendaCloseResponse struct {
	Entry *agenda.Entry `json:"entry"`
	Next  *agenda.Entry `json:"next,omitempty"`
}

// handleAgendaClose serves POST /v1/agenda/{id}/close {outcome, reason?,
// new_date?, new_time?}: missed and not_relevant need a reason, moved the
// new date, which creates the next entry.
func (s *Server) handleAgendaClose(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	var req agendaCloseRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	e, next, err := st.CloseEntry(r.Context(), r.PathValue("id"), agenda.Close{Outcome: agenda.Outcome(req.Outcome), Reason: req.Reason,
		NewDate: req.NewDate, NewTime: req.NewTime})
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, agendaCloseResponse{Entry: e, Next: next})
}

// handleMyAgenda serves GET /v1/me/agenda?from=&to=: the caller's open
// entries from the day from (default today) to the day before to (default
// two weeks on), dates in the service's time zone, and every overdue one.
func (s *Server) handleMyAgenda(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	q := r.URL.Query()
	ag, err := st.FindMyAgenda(r.Context(), q.Get("from"), q.Get("to"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, ag)
}

// handleTeamOverdue serves GET /v1/me/team-overdue: a supervisor's view of
// their team's overdue hard deadlines.
func (s *Server) handleTeamOverdue(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	es, err := st.FindTeamOverdue(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, entriesResponse{Entries: nonNil(es)})
}

// handleNotifications serves GET /v1/me/notifications?limit=: the
// caller's latest notifications and how many are unread.
func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			Error(w, r, countersign.InvalidFields("The notifications could not be read.", countersign.FieldError{Field: "limit", Message: "Give a number from 1 to 200."}))
			return
		}
		limit = n
	}
	ns, err := st.FindNotifications(r.Context(), limit)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, ns)
}

type markReadRequest struct {
	IDs []string `json:"ids" validate:"max=200,dive,max=64"`
}

// handleNotificationsRead serves POST /v1/me/notifications/read {ids?}:
// marks those notifications read, or all of the caller's.
func (s *Server) handleNotificationsRead(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	var req markReadRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	n, err := st.MarkNotificationsRead(r.Context(), req.IDs)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, map[string]int{"marked": n})
}

type feedResponse struct {
	URL *string `json:"url"`
}

// feedURL is the feed's absolute URL as the caller reached the service.
func feedURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

// handleFeedIssue serves POST /v1/me/calendar-feed: the worker's secret
// calendar feed URL; calling it again revokes the previous one.
func (s *Server) handleFeedIssue(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	f, err := st.IssueFeed(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	u := feedURL(r, f.Path)
	w.Header().Set("Cache-Control", "no-store")
	JSON(w, http.StatusCreated, feedResponse{URL: &u})
}

type clientFeedRequest struct {
	Consent *bool `json:"consent" validate:"required"`
}

// handleClientFeed serves POST /v1/client/calendar-feed {consent}: the
// client agrees to a calendar feed of their appointments (in their
// language) and gets its URL, replacing any previous one; consent false
// revokes it. Each answer is recorded.
func (s *Server) handleClientFeed(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	var req clientFeedRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	f, err := st.IssueClientFeed(r.Context(), *req.Consent)
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if f == nil {
		JSON(w, http.StatusOK, feedResponse{})
		return
	}
	u := feedURL(r, f.Path)
	JSON(w, http.StatusCreated, feedResponse{URL: &u})
}

// handleClientAgenda serves GET /v1/client/agenda: the client's coming
// appointments and deadlines their worker shared with them.
func (s *Server) handleClientAgenda(w http.ResponseWriter, r *http.Request) {
	st := s.agendaStore(w, r)
	if st == nil {
		return
	}
	es, err := st.FindClientAgenda(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, entriesResponse{Entries: nonNil(es)})
}

// handleFeed serves GET /ical/{token}.ics: the RFC 5545 calendar of a live
// feed. Wrong secrets count as failed sign-ins of the address, so they
// cannot be guessed at speed.
func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) {
	if err := s.Limits.SignInBlocked(w, r); err != nil {
		Error(w, r, err)
		return
	}
	token, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	if s.Agenda == nil || !ok {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such calendar feed."))
		return
	}
	body, err := s.Agenda.RenderFeed(r.Context(), token)
	if err != nil {
		if countersign.ErrorCode(err) == countersign.ENOTFOUND {
			s.Limits.SignInFailed(r)
		}
		Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
