package web

import (
	"net/http"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/casefile"
)

// The agenda's pages (issue 16): a worker's agenda (overdue first, then
// today, then what comes), a supervisor's view of the team's overdue hard
// deadlines, a case's agenda with its add and close forms, the
// notifications, and the calendar feed's URL. They call the same
// agenda.Store as the JSON API.

// agendaRoutes adds the agenda's pages; Server.Agenda nil leaves them out.
func (s *Server) agendaRoutes(mux *http.ServeMux) {
	if s.Agenda == nil {
		return
	}
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.session(h)) }
	page("GET /agenda", s.handleMyAgenda)
	page("POST /agenda/feed", s.handleAgendaFeed)
	page("GET /cases/{id}/agenda", s.handleCaseAgenda)
	page("POST /cases/{id}/agenda", s.handleAgendaAdd)
	page("POST /agenda/{id}/close", s.handleAgendaClose)
	page("GET /notifications", s.handleNotifications)
	page("POST /notifications/read", s.handleNotificationsRead)
	s.clientAgendaRoutes(mux)
}

// unread returns the signed-in person's unread notifications, for the
// counter in the header; 0 when there is no agenda or no one signed in.
func (s *Server) unread(r *http.Request) int {
	if s.Agenda == nil {
		return 0
	}
	a, ok := countersign.ActorFromContext(r.Context())
	if !ok || (a.Role != countersign.RoleWorker && a.Role != countersign.RoleSupervisor) {
		return 0
	}
	n, err := s.Agenda.CountUnread(r.Context())
	if err != nil {
		return 0
	}
	return n
}

type myAgendaView struct {
	Agenda   *agenda.Agenda
	Sections []agendaSection
	FeedURL  string
}

// agendaSection is one part of a person's agenda; ID names its heading
// and its empty message in the catalogue (agenda.section.ID, agenda.none.ID).
type agendaSection struct {
	ID        string
	Attention bool
	Entries   []*agenda.Entry
}

// handleMyAgenda serves GET /agenda.
func (s *Server) handleMyAgenda(w http.ResponseWriter, r *http.Request) {
	s.renderMyAgenda(w, r, s.newPage(r, "agenda.title"), "")
}

func (s *Server) renderMyAgenda(w http.ResponseWriter, r *http.Request, p *page, feedURL string) {
	p.Nav = "agenda"
	ag, err := s.Agenda.FindMyAgenda(r.Context(), "", "")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := myAgendaView{Agenda: ag, FeedURL: feedURL, Sections: []agendaSection{{ID: "overdue", Attention: true, Entries: ag.Overdue},
		{ID: "today", Entries: ag.Today}, {ID: "upcoming", Entries: ag.Upcoming}}}
	if agenda.CheckTeamOverdue(p.Actor) == nil {
		team, err := s.Agenda.FindTeamOverdue(r.Context())
		if err != nil {
			s.errorPage(w, r, err)
			return
		}
		v.Sections = append(v.Sections, agendaSection{ID: "team", Attention: true, Entries: team})
	}
	p.Data = v
	s.render(w, r, http.StatusOK, "agenda.html", p)
}

// handleAgendaFeed serves POST /agenda/feed: a new secret calendar feed
// URL, shown this once; the previous one stops working.
func (s *Server) handleAgendaFeed(w http.ResponseWriter, r *http.Request) {
	f, err := s.Agenda.IssueFeed(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	scheme := "http"
	if r.TLS != nil || s.SecureCookies {
		scheme = "https"
	}
	p := s.newPage(r, "agenda.title")
	p.Flash = "done.agenda_feed"
	s.renderMyAgenda(w, r, p, scheme+"://"+r.Host+f.Path)
}

type caseAgendaView struct {
	Case     *casefile.Case
	Entries  []*agenda.Entry
	CanWrite bool
	Kinds    []agenda.Kind
	Outcomes []agenda.Outcome
	Form     agenda.Input
	Closing  string // the entry whose close form failed
	Close    agenda.Close
}

// handleCaseAgenda serves GET /cases/{id}/agenda.
func (s *Server) handleCaseAgenda(w http.ResponseWriter, r *http.Request) {
	s.renderCaseAgenda(w, r, s.newPage(r, "agenda.case.title"), r.PathValue("id"), http.StatusOK, caseAgendaView{})
}

func (s *Server) renderCaseAgenda(w http.ResponseWriter, r *http.Request, p *page, caseID string, status int, v caseAgendaView) {
	p.Nav = "cases"
	c, err := s.Cases.FindCaseByID(r.Context(), caseID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	es, err := s.Agenda.FindCaseAgenda(r.Context(), caseID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Case, v.Entries, v.CanWrite, v.Kinds, v.Outcomes = c, es, casefile.CanWrite(p.Actor, c), agenda.Kinds, agenda.Outcomes
	p.Data = v
	s.render(w, r, status, "agenda_case.html", p)
}

// handleAgendaAdd serves POST /cases/{id}/agenda.
func (s *Server) handleAgendaAdd(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f := r.PostForm
	shared := f.Get("shared") == "yes"
	in := agenda.Input{Kind: agenda.Kind(f.Get("kind")), Date: f.Get("date"), Time: f.Get("time"), Title: strings.ReplaceAll(f.Get("title"), "\r\n", "\n"), Shared: &shared}
	if _, err := s.Agenda.CreateEntry(r.Context(), id, in); err != nil {
		if countersign.ErrorCode(err) == countersign.EINVALID {
			p := s.newPage(r, "agenda.case.title")
			p.setError(err)
			s.renderCaseAgenda(w, r, p, id, http.StatusUnprocessableEntity, caseAgendaView{Form: in})
			return
		}
		s.errorPage(w, r, err)
		return
	}
	redirect(w, r, "/cases/"+id+"/agenda", "agenda_added")
}

// handleAgendaClose serves POST /agenda/{id}/close.
func (s *Server) handleAgendaClose(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f := r.PostForm
	cl := agenda.Close{Outcome: agenda.Outcome(f.Get("outcome")), Reason: f.Get("reason"), NewDate: f.Get("new_date"), NewTime: f.Get("new_time")}
	e, _, err := s.Agenda.CloseEntry(r.Context(), id, cl)
	if err != nil {
		if countersign.ErrorCode(err) == countersign.EINVALID || countersign.ErrorCode(err) == countersign.ECONFLICT {
			cur, ferr := s.Agenda.FindEntryByID(r.Context(), id)
			if ferr != nil {
				s.errorPage(w, r, ferr)
				return
			}
			p := s.newPage(r, "agenda.case.title")
			p.setError(err)
			s.renderCaseAgenda(w, r, p, cur.CaseID, http.StatusUnprocessableEntity, caseAgendaView{Closing: id, Close: cl})
			return
		}
		s.errorPage(w, r, err)
		return
	}
	redirect(w, r, "/cases/"+e.CaseID+"/agenda", "agenda_closed")
}

// handleNotifications serves GET /notifications.
func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "notifications.title")
	p.Nav = "notifications"
	ns, err := s.Agenda.FindNotifications(r.Context(), 100)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p.Data = ns
	s.render(w, r, http.StatusOK, "agenda_notifications.html", p)
}

// handleNotificationsRead serves POST /notifications/read: all read.
func (s *Server) handleNotificationsRead(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Agenda.MarkNotificationsRead(r.Context(), nil); err != nil {
		s.errorPage(w, r, err)
		return
	}
	redirect(w, r, "/notifications", "notifications_read")
}
