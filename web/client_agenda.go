package web

import (
	"net/http"
	"time"

	"github.com/countersign/countersign/agenda"
)

// The client's agenda (issue 16): their coming appointments and the dates
// their worker shared with them, in their language, and a calendar feed of
// them once they agree to one. The same agenda.Store as the JSON API's
// /v1/client/agenda and /v1/client/calendar-feed.

// clientAgendaRoutes adds the client's agenda pages; no agenda, no pages.
func (s *Server) clientAgendaRoutes(mux *http.ServeMux) {
	if s.Agenda == nil {
		return
	}
	s.clientPage(mux, "GET /client/agenda", s.handleClientAgenda)
	s.clientPage(mux, "POST /client/agenda/feed", s.handleClientAgendaFeed)
}

type clientAgendaRow struct {
	When  time.Time
	Time  string
	Kind  agenda.Kind
	Title string
}

type clientAgendaView struct {
	Rows    []clientAgendaRow
	FeedURL string
}

// handleClientAgenda serves GET /client/agenda.
func (s *Server) handleClientAgenda(w http.ResponseWriter, r *http.Request) {
	s.renderClientAgenda(w, r, s.newClientPage(r, "agenda.title"), "")
}

func (s *Server) renderClientAgenda(w http.ResponseWriter, r *http.Request, p *clientPage, feedURL string) {
	p.Nav = "agenda"
	es, err := s.Agenda.FindClientAgenda(r.Context())
	if err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	v := clientAgendaView{FeedURL: feedURL}
	for _, e := range es {
		// Noon of the entry's own day, so no time zone moves it to another.
		d, _ := time.Parse(time.DateOnly, e.Date)
		v.Rows = append(v.Rows, clientAgendaRow{When: time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.Local), Time: e.Time, Kind: e.Kind, Title: e.Title})
	}
	p.Data = v
	s.renderClient(w, r, http.StatusOK, "client_agenda.html", p)
}

// handleClientAgendaFeed serves POST /client/agenda/feed: consent=yes
// records the client's agreement and shows their calendar address once;
// consent=no records the withdrawal and stops the address.
func (s *Server) handleClientAgendaFeed(w http.ResponseWriter, r *http.Request) {
	given := r.PostForm.Get("consent") == "yes"
	f, err := s.Agenda.IssueClientFeed(r.Context(), given)
	if err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	p := s.newClientPage(r, "agenda.title")
	if f == nil {
		p.Flash = "done.agenda_feed_stopped"
		s.renderClientAgenda(w, r, p, "")
		return
	}
	p.Flash = "done.agenda_feed"
	s.renderClientAgenda(w, r, p, s.clientOrigin(r)+f.Path)
}
