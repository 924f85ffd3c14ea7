package web

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/caseload"
)

// The caseload page (issue 17): each worker's weighted load per full-time
// post against the band as an SVG chart, the team's weekly history as a
// line chart (no script either way), the table of figures, and for the
// team's supervisors the recommendation of who should take a case and the
// assignment. It calls the same caseload.Store as the JSON API; the board
// sees the figures with pseudonyms.

// caseloadRoutes adds the caseload's pages; a case store that does not
// serve the caseload leaves them out.
func (s *Server) caseloadRoutes(mux *http.ServeMux) {
	if _, ok := s.Cases.(caseload.Store); !ok {
		return
	}
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.session(h)) }
	page("GET /teams/{id}/caseload", s.handleCaseloadPage)
	page("GET /teams/{id}/caseload.csv", s.handleCaseloadCSV)
	page("POST /teams/{id}/caseload/assign", s.handleCaseloadAssign)
	page("POST /teams/{id}/caseload/cases", s.handleCaseloadCreate)
	page("GET /audit/caseload", s.handleCaseloadTeams)
}

// Geometry of the charts, in SVG user units.
const (
	loadChartWidth = 460
	loadBarsX      = 150 // labels on the left, bars from here
	loadRow        = 28
	historyWidth   = 460
	historyHeight  = 160
)

type caseloadView struct {
	Team      *caseload.Team
	CanAssign bool
	Bars      []loadBar
	BandX     float64
	BandW     float64
	Height    int
	Scale     float64
	History   *historyChart
	CaseTypes []string
	// CaseType and CaseID are the recommendation asked for.
	CaseType string
	CaseID   string
	Rec      *caseload.Recommendation
	Members  []*caseload.Figures
	// Reference and Title refill the new-case form after a refusal.
	Reference, Title string
}

// loadBar is one worker's bar: their load per post on the common scale.
type loadBar struct {
	Label   string
	Y       int
	W       float64
	TextX   float64
	Display string
	Band    string
	Fill    string
}

// historyChart is the team's load per post over the weeks, as a polyline.
type historyChart struct {
	Points      string
	Dots        []historyDot
	BandTop     float64
	BandHeight  float64
	First, Last string
}

type historyDot struct {
	X, Y    float64
	Date    string
	Display string
}

func (s *Server) caseloadStore() caseload.Store {
	st, _ := s.Cases.(caseload.Store)
	return st
}

// handleCaseloadPage serves GET /teams/{id}/caseload[?case_type=&case_id=].
func (s *Server) handleCaseloadPage(w http.ResponseWriter, r *http.Request) {
	s.renderCaseload(w, r, s.newPage(r, "caseload.title"), http.StatusOK, r.URL.Query().Get("case_type"), r.URL.Query().Get("case_id"))
}

func (s *Server) renderCaseload(w http.ResponseWriter, r *http.Request, p *page, status int, caseType, caseID string) {
	s.renderCaseloadForm(w, r, p, status, caseType, caseID, "", "")
}

// renderCaseloadForm is renderCaseload with the new-case form refilled.
func (s *Server) renderCaseloadForm(w http.ResponseWriter, r *http.Request, p *page, status int, caseType, caseID, reference, title string) {
	st, teamID := s.caseloadStore(), r.PathValue("id")
	t, err := s.teamCaseload(p.Actor, r, teamID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	hist, err := st.FindCaseloadHistory(r.Context(), teamID, 12)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p.Nav = "caseload"
	v := &caseloadView{Team: t, CanAssign: caseload.CheckAllocate(p.Actor, teamID) == nil, CaseTypes: t.CaseTypes,
		CaseType: caseType, CaseID: caseID, Reference: reference, Title: title}
	s.layoutLoads(p, v)
	v.History = layoutHistory(p, t, hist)
	for _, f := range t.Workers {
		if f.Member {
			v.Members = append(v.Members, f)
		}
	}
	if v.CanAssign && (caseType != "" || caseID != "") {
		if caseID != "" && caseType == "" {
			if c, err := s.Cases.FindCaseByID(r.Context(), caseID); err == nil {
				v.CaseType = c.CaseType
			}
		}
		rec, err := st.RecommendWorkers(r.Context(), teamID, v.CaseType, caseID)
		if err != nil && countersign.ErrorCode(err) != countersign.EINVALID {
			s.errorPage(w, r, err)
			return
		}
		if err != nil {
			p.setError(err)
			status = http.StatusUnprocessableEntity
		}
		v.Rec = rec
	}
	p.Data = v
	s.render(w, r, status, "caseload.html", p)
}

// layoutLoads places each worker's load per post on one scale with the band.
func (s *Server) layoutLoads(p *page, v *caseloadView) {
	t := v.Team
	scale := t.Band.Max * 1.25
	for _, f := range t.Workers {
		scale = max(scale, f.LoadPerFTE)
	}
	if scale <= 0 {
		scale = 1
	}
	span := float64(loadChartWidth - loadBarsX - 50)
	at := func(x float64) float64 { return float64(loadBarsX) + span*x/scale }
	v.Scale = scale
	v.BandX, v.BandW = at(t.Band.Min), at(t.Band.Max)-at(t.Band.Min)
	for i, f := range t.Workers {
		label := f.WorkerID
		if f.Name != "" {
			label = f.Name
		}
		if len(label) > 20 {
			label = label[:19] + "…"
		}
		b := loadBar{Label: label, Y: i * loadRow, W: at(f.LoadPerFTE) - loadBarsX, Display: fmt.Sprintf("%.2f", f.LoadPerFTE), Band: f.Band, Fill: bandFill(f.Band)}
		b.TextX = loadBarsX + b.W + 4
		v.Bars = append(v.Bars, b)
	}
	v.Height = max(len(v.Bars), 1)*loadRow + 20
}

// layoutHistory draws the team's load per post over the weeks.
func layoutHistory(p *page, t *caseload.Team, pts []*caseload.Point) *historyChart {
	if len(pts) == 0 {
		return nil
	}
	top := t.Band.Max * 1.25
	for _, pt := range pts {
		top = max(top, pt.LoadPerFTE)
	}
	if top <= 0 {
		top = 1
	}
	y := func(v float64) float64 { return 10 + (historyHeight-30)*(1-v/top) }
	step := float64(historyWidth-60) / float64(max(len(pts)-1, 1))
	h := &historyChart{BandTop: y(t.Band.Max), BandHeight: y(t.Band.Min) - y(t.Band.Max)}
	var b strings.Builder
	for i, pt := range pts {
		x := 40 + step*float64(i)
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y(pt.LoadPerFTE))
		h.Dots = append(h.Dots, historyDot{X: x, Y: y(pt.LoadPerFTE), Date: p.Time(pt.At), Display: fmt.Sprintf("%.2f", pt.LoadPerFTE)})
	}
	h.Points = strings.TrimSpace(b.String())
	h.First, h.Last = h.Dots[0].Date, h.Dots[len(h.Dots)-1].Date
	return h
}

// teamCaseload reads team teamID's caseload as a sees it
// (caseload.Check): by name, or with pseudonyms for the ethics board.
func (s *Server) teamCaseload(a countersign.Actor, r *http.Request, teamID string) (*caseload.Team, error) {
	view, err := caseload.Check(a, teamID)
	if err != nil {
		return nil, err
	}
	t, err := s.caseloadStore().FindTeamCaseload(r.Context(), teamID)
	if err != nil {
		return nil, err
	}
	if view == caseload.ViewPseudonymous {
		staff, err := s.staff()
		if err != nil {
			return nil, err
		}
		t.Pseudonymize(staff.of)
	}
	return t, nil
}

// handleCaseloadCSV serves GET /teams/{id}/caseload.csv: the table the
// API answers as CSV, as seen by the signed-in person.
func (s *Server) handleCaseloadCSV(w http.ResponseWriter, r *http.Request) {
	a, _ := countersign.ActorFromContext(r.Context())
	t, err := s.teamCaseload(a, r, r.PathValue("id"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	var b strings.Builder
	if err := t.WriteCSV(&b); err != nil {
		s.errorPage(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="countersign-caseload.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(b.String()))
}

// handleCaseloadAssign serves POST /teams/{id}/caseload/assign: the
// supervisor gives the case to the worker chosen, naming the recommendation
// shown; back to the case's page.
func (s *Server) handleCaseloadAssign(w http.ResponseWriter, r *http.Request) {
	caseID := r.PostForm.Get("case_id")
	_, err := s.caseloadStore().AssignCase(r.Context(), caseID, caseload.Assignment{WorkerID: r.PostForm.Get("worker_id"),
		RecommendationID: r.PostForm.Get("recommendation_id")})
	if err != nil {
		if code := countersign.ErrorCode(err); code == countersign.EINVALID || code == countersign.ECONFLICT {
			p := s.newPage(r, "caseload.title")
			p.setError(err)
			s.renderCaseload(w, r, p, http.StatusUnprocessableEntity, "", caseID)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	redirect(w, r, "/cases/"+caseID, "assigned")
}

// handleCaseloadTeams serves GET /audit/caseload: the teams whose caseload
// the signed-in person sees (caseload.CheckTeams), each leading to its
// page; the ethics board reaches it from the audit log's page and sees
// the workers by pseudonyms there.
func (s *Server) handleCaseloadTeams(w http.ResponseWriter, r *http.Request) {
	teams, err := s.caseloadStore().FindCaseloadTeams(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p := s.newPage(r, "caseload.board.title")
	p.Nav = "audit"
	p.Data = teams
	s.render(w, r, http.StatusOK, "caseload_teams.html", p)
}

// handleCaseloadCreate serves POST /teams/{id}/caseload/cases: the
// supervisor opens a case of the case type asked for and gives it to the
// worker chosen, naming the recommendation shown (CreateCaseFollowing);
// on to the new case's page.
func (s *Server) handleCaseloadCreate(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	c := &casefile.Case{Reference: strings.TrimSpace(f.Get("reference")), Title: strings.TrimSpace(f.Get("title")),
		CaseType: f.Get("case_type"), WorkerID: f.Get("worker_id")}
	p := s.newPage(r, "caseload.title")
	// casefile.DecideCase holds the limits; the page says them in the
	// reader's language before asking it.
	var fields []countersign.FieldError
	for _, in := range []struct {
		name, value string
		max         int
	}{{"reference", c.Reference, casefile.MaxReferenceLen}, {"title", c.Title, casefile.MaxTitleLen}} {
		switch {
		case in.value == "":
			fields = append(fields, countersign.FieldError{Field: in.name, Message: p.T("caseload.new.required")})
		case utf8.RuneCountInString(in.value) > in.max:
			fields = append(fields, countersign.FieldError{Field: in.name, Message: p.T("caseload.new.toolong", in.max)})
		}
	}
	var err error
	if len(fields) > 0 {
		err = countersign.InvalidFields(p.T("caseload.new.invalid"), fields...)
	} else {
		err = s.caseloadStore().CreateCaseFollowing(r.Context(), c, f.Get("recommendation_id"))
	}
	if err != nil {
		if countersign.ErrorCode(err) == countersign.EINVALID {
			p.setError(err)
			s.renderCaseloadForm(w, r, p, http.StatusUnprocessableEntity, f.Get("case_type"), "", c.Reference, c.Title)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	redirect(w, r, "/cases/"+c.ID, "opened")
}

// bandFill is the colour of a bar, by band (SVG presentation attributes,
// which the pages' content security policy allows, unlike inline styles).
func bandFill(band string) string {
	switch band {
	case caseload.BandOver:
		return "#b3261e"
	case caseload.BandUnder:
		return "#8a6d00"
	}
	return "#1f5f8b"
}
