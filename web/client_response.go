package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/review"
)

// The client's right to answer on the pages (client/response.go): on an
// entry of their file the client says "this is wrong" or adds their own
// view (/client/record/{entry_id}/respond), and reads the answers
// (/client/responses); the case's worker answers on /client-responses,
// linked from their list of cases. The same domain services as the JSON
// API decide; these pages only show and ask.

// clientResponseRoutes adds the pages of the right to answer to mux.
func (s *Server) clientResponseRoutes(mux *http.ServeMux) {
	s.clientPage(mux, "GET /client/responses", s.handleClientResponses)
	s.clientPage(mux, "GET /client/record/{entry_id}/respond", s.handleClientRespondPage)
	s.clientPage(mux, "POST /client/record/{entry_id}/responses", s.handleClientRespond)
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.session(h)) }
	page("GET /client-responses", s.handleResponsesPage)
	page("POST /client-responses/{id}/answer", s.handleAnswer)
}

// responses returns the store of the client's responses, the case
// store when it keeps them (sqlstore's does), or nil.
func (s *Server) responses() client.ResponseStore {
	if rs, ok := s.Cases.(client.ResponseStore); ok {
		return rs
	}
	// The service as wired gives Cases the case store alone, and the
	// client's file (which keeps the responses too) as Files.
	if rs, ok := s.Files.(client.ResponseStore); ok {
		return rs
	}
	return nil
}

// clientFiles returns the store of the client's file, or nil.
func (s *Server) clientFiles() client.FileStore {
	if s.Files != nil {
		return s.Files
	}
	if f, ok := s.Cases.(client.FileStore); ok {
		return f
	}
	return nil
}

// respondView is what the client's form shows: the entry answered, the
// form as sent when it comes back with a problem.
type respondView struct {
	Entry client.Entry
	Kind  string
	Text  string
	Max   int
	// MaxText is Max as digits: the printer would group them ("4,000").
	MaxText string
}

// clientEntry finds the entry of the client's file they may answer: shared
// with them, in force. Any other id is not found.
func (s *Server) clientEntry(ctx context.Context, id string) (client.Entry, error) {
	notFound := countersign.Errorf(countersign.ENOTFOUND, "There is no such entry in your file.")
	f := s.clientFiles()
	if f == nil {
		return client.Entry{}, notFound
	}
	rec, err := f.FindClientRecord(ctx, false)
	if err != nil {
		return client.Entry{}, err
	}
	for _, e := range append(rec.Entries, rec.Letters...) {
		if e.ID == id && e.Shared {
			return e, nil
		}
	}
	return client.Entry{}, notFound
}

// handleClientRespondPage serves GET /client/record/{entry_id}/respond.
func (s *Server) handleClientRespondPage(w http.ResponseWriter, r *http.Request) {
	s.renderRespond(w, r, http.StatusOK, respondView{Kind: r.URL.Query().Get("kind")}, nil)
}

func (s *Server) renderRespond(w http.ResponseWriter, r *http.Request, status int, v respondView, err error) {
	p := s.newClientPage(r, "respond.title")
	p.Nav = "record"
	e, ferr := s.clientEntry(r.Context(), r.PathValue("entry_id"))
	if ferr != nil {
		s.clientErrorPage(w, r, ferr)
		return
	}
	v.Entry, v.Max, v.MaxText = e, client.MaxResponseChars, strconv.Itoa(client.MaxResponseChars)
	if v.Kind != string(client.ResponseCorrection) && v.Kind != string(client.ResponseOwnView) {
		v.Kind = ""
	}
	if err != nil {
		// The domain's sentences are English; the page says the same in
		// the client's language, field by field.
		p.Error = p.Tr("respond.error")
		for _, fe := range countersign.ErrorFields(err) {
			p.Fields[fe.Field] = p.Tr("respond.error." + fe.Field)
		}
		if len(countersign.ErrorFields(err)) == 0 {
			p.Error = countersign.ErrorMessage(err)
		}
	}
	p.Data = v
	s.renderClient(w, r, status, "client_respond.html", p)
}

// handleClientRespond serves POST /client/record/{entry_id}/responses.
func (s *Server) handleClientRespond(w http.ResponseWriter, r *http.Request) {
	rs := s.responses()
	if rs == nil {
		s.clientErrorPage(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such page."))
		return
	}
	v := respondView{Kind: r.PostForm.Get("kind"), Text: strings.ReplaceAll(r.PostForm.Get("text"), "\r\n", "\n")}
	_, err := rs.Respond(r.Context(), r.PathValue("entry_id"), client.ResponseKind(v.Kind), v.Text)
	switch countersign.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/client/responses?done=responded", http.StatusSeeOther)
	case countersign.EINVALID, countersign.ECONFLICT:
		s.renderRespond(w, r, errStatus(err), v, err)
	default:
		s.clientErrorPage(w, r, err)
	}
}

// clientResponseView is a response as its client reads it.
type clientResponseView struct {
	*client.Response
	// Outcome is the catalogue key of what became of it.
	Outcome string
}

// handleClientResponses serves GET /client/responses: the client's
// answers, newest first, each with what became of it.
func (s *Server) handleClientResponses(w http.ResponseWriter, r *http.Request) {
	p := s.newClientPage(r, "responses.title")
	p.Nav = "responses"
	var views []clientResponseView
	if rs := s.responses(); rs != nil {
		list, err := rs.FindMyResponses(r.Context())
		if err != nil {
			s.clientErrorPage(w, r, err)
			return
		}
		for _, x := range list {
			v := clientResponseView{Response: x, Outcome: "responses.status.open"}
			if x.Status == client.ResponseAnswered {
				v.Outcome = "responses.outcome." + string(x.Outcome)
				if x.Outcome == client.OutcomeCorrected && x.CorrectionStatus != client.CorrectionInForce {
					v.Outcome += "." + x.CorrectionStatus
				}
			}
			views = append(views, v)
		}
	}
	p.Data = views
	s.renderClient(w, r, http.StatusOK, "client_responses.html", p)
}

// answerItem is one response on the worker's page, with the entry it
// answers and the answer form as sent when it came back with a problem.
type answerItem struct {
	*client.Response
	Case    *casefile.Case
	Entry   *review.Entry
	Outcome string
	Reason  string
	Content string
	Error   string
	Fields  map[string]string
}

// responsesView is the worker's page of clients' answers.
type responsesView struct {
	Items    []answerItem
	Outcomes []client.AnswerOutcome
}

// handleResponsesPage serves GET /client-responses: the clients' answers
// waiting for the actor, each with its form.
func (s *Server) handleResponsesPage(w http.ResponseWriter, r *http.Request) {
	s.renderResponses(w, r, http.StatusOK, "", nil)
}

func (s *Server) renderResponses(w http.ResponseWriter, r *http.Request, status int, failed string, form *answerItem) {
	ctx := r.Context()
	p := s.newPage(r, "responses.title")
	p.Nav = "cases"
	rs := s.responses()
	if rs == nil {
		s.errorPage(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such page."))
		return
	}
	list, err := rs.FindOpenResponses(ctx)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	cases := map[string]*casefile.Case{}
	records := map[string][]*review.Entry{}
	var items []answerItem
	for _, x := range list {
		if _, ok := cases[x.CaseID]; !ok {
			c, err := s.Cases.FindCaseByID(ctx, x.CaseID)
			if err == nil {
				records[x.CaseID], err = s.Review.FindRecord(ctx, x.CaseID)
			}
			if err == nil {
				// The page shows the entries and the client's words: a
				// read of the case's content, logged before it is shown.
				if f := s.clientFiles(); f != nil {
					err = f.RecordRead(ctx, client.Read{CaseID: x.CaseID, What: client.ReadRecord})
				}
			}
			if err != nil {
				s.errorPage(w, r, err)
				return
			}
			cases[x.CaseID] = c
		}
		it := answerItem{Response: x, Case: cases[x.CaseID], Fields: map[string]string{}}
		for _, e := range records[x.CaseID] {
			if e.ID == x.EntryID {
				it.Entry = e
				it.Content = e.Content
			}
		}
		if form != nil && x.ID == failed {
			it.Outcome, it.Reason, it.Content, it.Error, it.Fields = form.Outcome, form.Reason, form.Content, form.Error, form.Fields
		}
		items = append(items, it)
	}
	p.Data = responsesView{Items: items, Outcomes: client.AnswerOutcomes}
	s.render(w, r, status, "responses.html", p)
}

// handleAnswer serves POST /client-responses/{id}/answer.
func (s *Server) handleAnswer(w http.ResponseWriter, r *http.Request) {
	rs := s.responses()
	if rs == nil {
		s.errorPage(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such page."))
		return
	}
	id := r.PathValue("id")
	form := &answerItem{Outcome: r.PostForm.Get("outcome"), Reason: r.PostForm.Get("reason"),
		Content: strings.ReplaceAll(r.PostForm.Get("content"), "\r\n", "\n"), Fields: map[string]string{}}
	ans := client.Answer{Outcome: client.AnswerOutcome(form.Outcome), Reason: form.Reason, ConfirmHighStakes: r.PostForm.Get("confirm_high_stakes") == "on"}
	if ans.Outcome == client.OutcomeCorrected {
		ans.Content = form.Content
	}
	_, err := rs.AnswerResponse(r.Context(), id, ans)
	switch countersign.ErrorCode(err) {
	case "":
		redirect(w, r, "/client-responses", "answered")
	case countersign.EINVALID, countersign.ECONFLICT, countersign.EPRECONDITION:
		form.Error = countersign.ErrorMessage(err)
		for _, fe := range countersign.ErrorFields(err) {
			form.Fields[fe.Field] = fe.Message
		}
		s.renderResponses(w, r, errStatus(err), id, form)
	default:
		s.errorPage(w, r, err)
	}
}

// attachedViews returns the clients' own views attached to the entries of
// a case, by entry id, for the record on the case page.
func (s *Server) attachedViews(ctx context.Context, caseID string) (map[string][]*client.Response, error) {
	rs := s.responses()
	if rs == nil {
		return nil, nil
	}
	return rs.FindAttachedViews(ctx, caseID)
}

// openResponses counts the clients' answers waiting for the actor.
func (s *Server) openResponses(ctx context.Context) int {
	rs := s.responses()
	if rs == nil {
		return 0
	}
	list, err := rs.FindOpenResponses(ctx)
	if err != nil {
		return 0
	}
	return len(list)
}

// errStatus is the HTTP status of err, from the one table (httpx.Status).
func errStatus(err error) int {
	_, st := httpx.Status(err)
	return st
}

// draftSources returns what a draft was made from, as notes: the case's
// notes, or for a letter the signed entries it restates (review.EntriesAsNotes),
// so the reviewer sees every quote in its source.
func (s *Server) draftSources(ctx context.Context, d *review.Draft) ([]*casefile.Note, error) {
	if d.Kind != assistant.KindLetter {
		return s.Cases.FindNotes(ctx, d.CaseID)
	}
	entries, err := s.Review.FindRecord(ctx, d.CaseID)
	if err != nil {
		return nil, err
	}
	return review.EntriesAsNotes(entries), nil
}

// LetterGreeting is a letter's greeting to the signed-in client, in the
// page's language (client.LetterFrame): the service's words, never signed.
func (p *clientPage) LetterGreeting() string {
	g, _ := client.LetterFrame(p.Lang)
	return fmt.Sprintf(g, p.Principal.Name)
}

// LetterClosing is a letter's closing, named by its signer.
func (p *clientPage) LetterClosing(signer string) string {
	_, c := client.LetterFrame(p.Lang)
	return fmt.Sprintf(c, signer)
}

// myAttachedViews returns the signed-in client's own views that their
// worker attached to entries, by entry id: the client reads them with the
// entry, as every other reader does.
func (s *Server) myAttachedViews(ctx context.Context) (map[string][]*client.Response, error) {
	out := map[string][]*client.Response{}
	rs := s.responses()
	if rs == nil {
		return out, nil
	}
	list, err := rs.FindMyResponses(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r.Outcome == client.OutcomeAttached {
			out[r.EntryID] = append(out[r.EntryID], r)
		}
	}
	return out, nil
}
