package web

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/review"
)

// names resolves user ids to names for one request, asking the store once
// per person. An id it cannot resolve is shown as is.
type names struct {
	s     *Server
	ctx   context.Context
	cache map[string]string
}

func (s *Server) names(ctx context.Context) *names {
	return &names{s: s, ctx: ctx, cache: map[string]string{countersign.System.UserID: countersign.System.Name}}
}

func (n *names) of(id string) string {
	if id == "" {
		return ""
	}
	if v, ok := n.cache[id]; ok {
		return v
	}
	v := id
	if u, err := n.s.Identity.FindUserByID(n.ctx, id); err == nil {
		v = u.Name
	}
	n.cache[id] = v
	return v
}

type casesView struct {
	Cases   []*casefile.Case
	Total   int
	Waiting []queueRow
	// ClientResponses counts the clients' answers waiting for the actor.
	ClientResponses int
}

// handleCases serves GET /cases: the worker's cases (a supervisor's:
// the team's) and the drafts waiting for their decision.
func (s *Server) handleCases(w http.ResponseWriter, r *http.Request) {
	cases, total, err := s.Cases.FindCases(r.Context(), casefile.CaseFilter{Limit: 200})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p := s.newPage(r, "cases.title")
	p.Nav = "cases"
	v := casesView{Cases: cases, Total: total, ClientResponses: s.openResponses(r.Context())}
	if a := p.Actor; a.Role == countersign.RoleWorker {
		drafts, _, err := s.Review.FindQueue(r.Context(), review.QueueFilter{Limit: 50})
		if err != nil {
			s.errorPage(w, r, err)
			return
		}
		v.Waiting = s.queueRows(r.Context(), drafts, cases)
	}
	p.Data = v
	s.render(w, r, http.StatusOK, "cases.html", p)
}

type caseView struct {
	Case     *casefile.Case
	Notes    []*casefile.Note
	Form     caseForm
	Pending  []*review.Draft
	Entries  []entryView
	IdemKey  string
	CanWrite bool
	Consent  consentView
	// Clients are the case's parties whose role is client, whom the case's
	// worker or a supervisor may invite to their own file.
	Clients []*casefile.Party
	// Retention is the case's state, holds and their buttons
	// (web/retention.go); nil without a retention store.
	Retention *retentionView
}

// caseForm is what the case page's forms held when one comes back with a
// problem: the note being written, the consent note.
type caseForm struct {
	NoteBody    string
	ConsentNote string
}

type entryView struct {
	*review.Entry
	SignedByName        string
	EditedByName        string
	CountersignedByName string
	// ClientViews are the clients' own views attached to the entry.
	ClientViews []*client.Response
}

// handleCase serves GET /cases/{id}: notes, the add-note form, the draft
// buttons, drafts waiting for review and the signed record.
func (s *Server) handleCase(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "case.title")
	s.renderCase(w, r, p, http.StatusOK, caseForm{})
}

func (s *Server) renderCase(w http.ResponseWriter, r *http.Request, p *page, status int, form caseForm) {
	ctx := r.Context()
	id := r.PathValue("id")
	c, err := s.Cases.FindCaseByID(ctx, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if c.Status == casefile.StatusErased && s.retention() != nil {
		// Nothing of an erased case's content is left to read: its tombstone.
		s.renderTombstone(w, r, p, c, status)
		return
	}
	// The actor may read the case (FindCaseByID asked casefile.CheckRead):
	// the read's event (client.ReadEvent) is written while the rest of the
	// page is read, and the page is shown only once the event is durable.
	// Should a later read fail, the event stays: a read is logged once it
	// was allowed, never lost (issue 18).
	logged := make(chan error, 1)
	go func() { logged <- s.logRead(r, client.Read{CaseID: id, What: client.ReadCase}) }()
	notes, err := s.Cases.FindNotes(ctx, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	entries, err := s.Review.FindRecord(ctx, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	consent, err := s.Cases.FindConsent(ctx, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	nm := s.names(ctx)
	v := caseView{Case: c, Notes: notes, Form: form, IdemKey: randomToken(), CanWrite: casefile.CanWrite(p.Actor, c) && casefile.CheckOpen(c) == nil,
		Consent: newConsentView(consent, nm)}
	if s.retention() != nil {
		if v.Retention, err = s.retentionOf(r, c, "case", false); err != nil {
			s.errorPage(w, r, err)
			return
		}
	}
	if s.Clients != nil && client.CheckInvite(p.Actor, c) == nil && casefile.CheckOpen(c) == nil {
		parties, err := s.Cases.FindParties(ctx, id)
		if err != nil {
			s.errorPage(w, r, err)
			return
		}
		for _, pt := range parties {
			if pt.Role == "client" {
				v.Clients = append(v.Clients, pt)
			}
		}
	}
	if p.Actor.Role == countersign.RoleWorker || p.Actor.Role == countersign.RoleSupervisor {
		v.Pending, _, err = s.Review.FindQueue(ctx, review.QueueFilter{CaseID: &id, Limit: 50})
		if err != nil {
			s.errorPage(w, r, err)
			return
		}
	}
	views, err := s.attachedViews(ctx, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	for _, e := range entries {
		ev := entryView{Entry: e, SignedByName: nm.of(e.SignedBy), EditedByName: nm.of(e.EditedBy), CountersignedByName: nm.of(e.CountersignedBy),
			ClientViews: views[e.ID]}
		v.Entries = append(v.Entries, ev)
	}
	// Newest first: the latest signed entry is what the worker looks for.
	slices.Reverse(v.Entries)
	if err := <-logged; err != nil {
		// No content leaves unlogged.
		s.errorPage(w, r, err)
		return
	}
	p.Nav = "cases"
	p.Data = v
	s.render(w, r, status, "case.html", p)
}

// handleNoteCreate serves POST /cases/{id}/notes.
func (s *Server) handleNoteCreate(w http.ResponseWriter, r *http.Request) {
	body := strings.ReplaceAll(r.PostForm.Get("body"), "\r\n", "\n")
	p := s.newPage(r, "case.title")
	var err error
	switch {
	case strings.TrimSpace(body) == "":
		err = countersign.InvalidFields(p.T("note.invalid"), countersign.FieldError{Field: "body", Message: p.T("note.empty")})
	case len(body) > httpx.MaxNoteBytes:
		err = countersign.InvalidFields(p.T("note.invalid"), countersign.FieldError{Field: "body", Message: p.T("note.toolong", httpx.MaxNoteBytes/1024)})
	case !review.ValidText(body):
		err = countersign.InvalidFields(p.T("note.invalid"), countersign.FieldError{Field: "body", Message: p.T("note.badtext")})
	default:
		err = s.Cases.AddNote(r.Context(), &casefile.Note{CaseID: r.PathValue("id"), Body: body})
	}
	if countersign.ErrorCode(err) == countersign.EINVALID {
		p.setError(err)
		s.renderCase(w, r, p, http.StatusUnprocessableEntity, caseForm{NoteBody: body})
		return
	} else if err != nil {
		s.errorPage(w, r, err)
		return
	}
	redirect(w, r, "/cases/"+r.PathValue("id")+"#notes", "note_added")
}

// handleDraftCreate serves POST /cases/{id}/drafts: the "Request a
// summary" and "Request suggestions" buttons.
func (s *Server) handleDraftCreate(w http.ResponseWriter, r *http.Request) {
	kind := assistant.Kind(r.PostForm.Get("kind"))
	if !kind.Valid() {
		s.errorPage(w, r, s.errorf(r, countersign.EINVALID, "draft.badkind"))
		return
	}
	key := r.PostForm.Get("idem")
	if len(key) > 200 {
		key = ""
	}
	d, err := s.Review.RequestDraft(r.Context(), review.DraftRequest{CaseID: r.PathValue("id"), Kind: kind, IdempotencyKey: key})
	switch countersign.ErrorCode(err) {
	case countersign.EINVALID:
		p := s.newPage(r, "case.title")
		p.setError(err)
		s.renderCase(w, r, p, http.StatusUnprocessableEntity, caseForm{})
		return
	case countersign.ECONFLICT:
		// Refused for want of consent: the case page says why next to
		// the buttons, which it now shows disabled.
		if st, cerr := s.Cases.FindConsent(r.Context(), r.PathValue("id")); cerr == nil && !st.DraftingAllowed {
			p := s.newPage(r, "case.title")
			p.Error = p.T("consent.notrequested")
			s.renderCase(w, r, p, http.StatusConflict, caseForm{})
			return
		}
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if s.DraftQueued != nil {
		s.DraftQueued(d.ID)
	}
	redirect(w, r, "/drafts/"+d.ID, "")
}

// handleDraftStatus serves GET /drafts/{id}/status, polled by the
// progress page's script: {"status": "..."}.
func (s *Server) handleDraftStatus(w http.ResponseWriter, r *http.Request) {
	d, err := s.Review.FindDraftByID(r.Context(), r.PathValue("id"))
	if err != nil {
		httpx.Error(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]string{"status": string(d.Status)})
}

// queueRow is a waiting draft with what a list shows about it.
type queueRow struct {
	Draft    *review.Draft
	Case     *casefile.Case
	Reviewer string
}

func (s *Server) queueRows(ctx context.Context, drafts []*review.Draft, known []*casefile.Case) []queueRow {
	cases := map[string]*casefile.Case{}
	for _, c := range known {
		cases[c.ID] = c
	}
	nm := s.names(ctx)
	rows := make([]queueRow, 0, len(drafts))
	for _, d := range drafts {
		c, ok := cases[d.CaseID]
		if !ok {
			if found, err := s.Cases.FindCaseByID(ctx, d.CaseID); err == nil {
				c = found
				cases[d.CaseID] = found
			} else {
				c = &casefile.Case{ID: d.CaseID, Reference: d.CaseID}
			}
		}
		rows = append(rows, queueRow{Draft: d, Case: c, Reviewer: nm.of(d.ReviewerID)})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Draft.CreatedAt.Before(rows[j].Draft.CreatedAt) })
	return rows
}
