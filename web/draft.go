package web

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

// draftView is the draft page in every state: progress while it is
// written, the review beside the source notes while it waits for a
// decision, the countersignature, and the outcome once decided.
type draftView struct {
	Draft *review.Draft
	// ETag is the version of the draft the page shows (review.DraftETag),
	// sent back with an approval or a countersignature so that a draft
	// changed in the meantime is not signed unseen.
	ETag       string
	Case       *casefile.Case
	Mode       string // "progress", "failed", "review", "countersign", "waiting", "decided"
	Notes      []noteView
	Statements []statementView
	Items      []itemView
	// Form state, kept when the form comes back with a problem.
	Text        string
	Comment     string
	ReasonCode  string
	Reason      string
	Reasons     []string
	EditReasons []string
	// Sharing and WithheldReason are the signer's answer to "may the
	// client read this?", kept when the form comes back; the reasons a
	// signer may give (review.WithheldReasons).
	Sharing         string
	WithheldReason  string
	WithheldReasons []string
	// Decision facts for the countersignature and the outcome.
	RequestedBy     string
	DecidedBy       string
	CountersignedBy string
	ForbiddenReason string
	// CanRetry: the draft failed and the reader may queue it again.
	CanRetry bool
}

// noteView is a source note cut into plain runs and quoted passages.
type noteView struct {
	Note     *casefile.Note
	N        int
	Segments []segment
}

type segment struct {
	Text   string
	Anchor string // the id of the <mark>, "" for plain text
}

type citeView struct {
	N          int // the note's number on the page
	Anchor     string
	Quote      string
	Unverified bool
}

type statementView struct {
	assistant.Statement
	HighStakes bool
	// NeedsDecision: high-stakes or ungrounded, the reviewer confirms or
	// removes it (review.NeedsDecision).
	NeedsDecision bool
	// Why says in the reader's language why the service could not trace
	// an ungrounded statement to the notes.
	Why     string
	Cites   []citeView
	Action  string // form state: "", confirmed or removed
	Comment string // form state: why the reviewer confirms an ungrounded statement
	Missing bool   // needing a decision and left undecided when the form came back
	// CommentError is the review's refusal of the statement's comment.
	CommentError string
}

type itemView struct {
	assistant.Item
	// HighStakes: the service reads the item as high-stakes; the reviewer
	// accepts or rejects it explicitly, as the form always does.
	HighStakes   bool
	Why          string
	Cites        []citeView
	Rejected     bool
	Comment      string
	CommentError string
}

// handleDraft serves GET /drafts/{id}. As with the API, fetching a draft
// counts as opening it when the person may decide it: the review clock
// starts, and an approval or a countersignature needs that opening.
// OpenDraft also writes the read's access event before it returns the
// draft, as it does for the API.
func (s *Server) handleDraft(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "draft.title")
	d, err := s.Review.OpenDraft(r.Context(), r.PathValue("id"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v, err := s.draftView(r, p, d)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if v.Mode == "review" {
		v.Text = d.Content.Text()
	}
	p.Data = v
	s.render(w, r, http.StatusOK, "draft.html", p)
}

// draftView is the page of d, whose read was logged: by OpenDraft, or by
// logRead before a refused approval shows the draft again.
func (s *Server) draftView(r *http.Request, p *page, d *review.Draft) (*draftView, error) {
	ctx := r.Context()
	c, err := s.Cases.FindCaseByID(ctx, d.CaseID)
	if err != nil {
		return nil, err
	}
	nm := s.names(ctx)
	v := &draftView{Draft: d, ETag: review.DraftETag(d), Case: c, Reasons: review.RejectReasons, EditReasons: review.EditReasons, WithheldReasons: review.WithheldReasons,
		RequestedBy: nm.of(d.RequestedBy)}
	if d.Decision != nil {
		v.DecidedBy = nm.of(d.Decision.DecidedBy)
	}
	if d.Countersignature != nil {
		v.CountersignedBy = nm.of(d.Countersignature.SignedBy)
	}
	p.Nav = "cases"
	if p.Actor.Role == countersign.RoleSupervisor {
		p.Nav = "team"
	}
	switch d.Status {
	case review.StatusQueued, review.StatusGenerating:
		v.Mode = "progress"
		return v, nil
	case review.StatusFailed:
		v.Mode = "failed"
		v.CanRetry = review.CanRetry(p.Actor, d)
		return v, nil
	case review.StatusPendingReview:
		v.Mode = "waiting"
		if review.CanDecide(p.Actor, d) {
			v.Mode = "review"
		}
	case review.StatusAwaitingCountersign:
		v.Mode = "waiting"
		first := ""
		if d.Decision != nil {
			first = d.Decision.DecidedBy
		}
		if err := review.CanCountersign(p.Actor, d, first); err == nil {
			v.Mode = "countersign"
		} else if p.Actor.Role == countersign.RoleSupervisor {
			v.ForbiddenReason = countersign.ErrorMessage(err)
		}
	default:
		v.Mode = "decided"
	}
	if d.Content == nil {
		return v, nil
	}
	notes, err := s.draftSources(ctx, d)
	if err != nil {
		return nil, err
	}
	v.Notes, v.Statements, v.Items = citedNotes(notes, d)
	for i := range v.Statements {
		st := &v.Statements[i]
		st.Why = ungroundedWhy(p, st.UngroundedCode, st.UngroundedTerm, st.UngroundedReason)
	}
	for i := range v.Items {
		it := &v.Items[i]
		it.Why = ungroundedWhy(p, it.UngroundedCode, it.UngroundedTerm, it.UngroundedReason)
	}
	return v, nil
}

// ungroundedWhy words the grounding check's reason in the reader's
// language, from its code and the word at fault; a draft stored before
// codes existed keeps its sentence.
func ungroundedWhy(p *page, code, term, reason string) string {
	key := "ungrounded." + code
	switch {
	case code == "" || !hasMsg(key):
		return reason
	case term != "":
		return p.T(key, term)
	}
	return p.T(key)
}

// citedNotes lays out the draft's source notes with every quoted passage
// marked, and links each statement's and item's citations to their marks.
func citedNotes(all []*casefile.Note, d *review.Draft) ([]noteView, []statementView, []itemView) {
	var notes []*casefile.Note
	for _, n := range all {
		if len(d.NoteIDs) == 0 || slices.Contains(d.NoteIDs, n.ID) {
			notes = append(notes, n)
		}
	}
	type span struct {
		start, end int
		anchor     string
	}
	spans := map[string][]span{}
	number := map[string]int{}
	for i, n := range notes {
		number[n.ID] = i + 1
	}
	body := map[string]string{}
	for _, n := range notes {
		body[n.ID] = n.Body
	}
	cite := func(cs []assistant.Citation) []citeView {
		var out []citeView
		for _, c := range cs {
			cv := citeView{N: number[c.NoteID], Quote: c.Quote, Unverified: c.Unverified}
			if b, ok := body[c.NoteID]; ok {
				if at := findFold(b, c.Quote); at >= 0 {
					end := at + len(c.Quote)
					// Two citations of one passage share its mark.
					for _, sp := range spans[c.NoteID] {
						if at < sp.end && sp.start < end {
							cv.Anchor = sp.anchor
							break
						}
					}
					if cv.Anchor == "" {
						cv.Anchor = fmt.Sprintf("q%d-%d", cv.N, len(spans[c.NoteID])+1)
						spans[c.NoteID] = append(spans[c.NoteID], span{at, end, cv.Anchor})
					}
				}
			}
			out = append(out, cv)
		}
		return out
	}
	var sts []statementView
	var its []itemView
	for _, st := range d.Content.Statements {
		sts = append(sts, statementView{Statement: st, HighStakes: review.HighStakes(st.Category), NeedsDecision: review.NeedsDecision(st),
			Cites: cite(st.Citations)})
	}
	for _, it := range d.Content.Items {
		its = append(its, itemView{Item: it, HighStakes: review.HighStakes(it.Category), Cites: cite(it.Citations)})
	}
	var out []noteView
	for i, n := range notes {
		sp := spans[n.ID]
		sort.Slice(sp, func(a, b int) bool { return sp[a].start < sp[b].start })
		nv := noteView{Note: n, N: i + 1}
		pos := 0
		for _, x := range sp {
			if x.start < pos {
				continue // overlaps the previous mark, which already shows it
			}
			if x.start > pos {
				nv.Segments = append(nv.Segments, segment{Text: n.Body[pos:x.start]})
			}
			nv.Segments = append(nv.Segments, segment{Text: n.Body[x.start:x.end], Anchor: x.anchor})
			pos = x.end
		}
		if pos < len(n.Body) {
			nv.Segments = append(nv.Segments, segment{Text: n.Body[pos:]})
		}
		out = append(out, nv)
	}
	return out, sts, its
}

// findFold returns the byte offset of quote in body, matching exactly or,
// failing that, ignoring case; -1 if it is not there.
func findFold(body, quote string) int {
	if quote == "" {
		return -1
	}
	if i := strings.Index(body, quote); i >= 0 {
		return i
	}
	for i := 0; i+len(quote) <= len(body); i++ {
		if strings.EqualFold(body[i:i+len(quote)], quote) {
			return i
		}
	}
	return -1
}

// handleApprove serves POST /drafts/{id}/approve. The approval is built as
// the JSON API builds it: each statement and item verdict, and the text only
// when the reviewer changed it. The review (review.Finalize) decides what is
// signed, taking out the lines of removed statements and rejected items from
// the drafted or the edited text alike; this handler computes no text.
func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := s.newPage(r, "draft.title")
	d, err := s.Review.FindDraftByID(ctx, r.PathValue("id"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if d.Content == nil {
		s.errorPage(w, r, countersign.Errorf(countersign.ECONFLICT, "%s", p.T("draft.undecidable", p.Status(d.Status))))
		return
	}
	f := r.PostForm
	text := strings.ReplaceAll(f.Get("content"), "\r\n", "\n")
	ap := review.Approval{Comment: strings.TrimSpace(f.Get("comment")), ReasonCode: f.Get("reason_code"), IfMatch: f.Get("if_match"),
		// The form always asks whether the client may read the entry; the
		// review refuses an approval that leaves the question unanswered.
		Sharing: f.Get("sharing"), WithheldReason: f.Get("withheld_reason"), SharingAsked: f.Get("sharing_asked") == "1"}
	if ap.Sharing == review.SharingShared {
		ap.WithheldReason = "" // the reason list keeps its last choice when shared is picked
	}
	actions, comments := map[string]string{}, map[string]string{}
	// at maps each statement's and item's id to its place in the approval,
	// which the review's field names (statements[i].comment) count by.
	at := map[string]int{}
	for _, st := range d.Content.Statements {
		comments[st.ID] = strings.TrimSpace(f.Get("st." + st.ID + ".comment"))
		switch a := f.Get("st." + st.ID); a {
		case review.StatementConfirmed, review.StatementRemoved:
			at[st.ID] = len(ap.Statements)
			ap.Statements = append(ap.Statements, review.StatementDecision{ID: st.ID, Action: a, Comment: comments[st.ID]})
			actions[st.ID] = a
		}
	}
	rejected := map[string]bool{}
	for _, it := range d.Content.Items {
		accepted := f.Get("item."+it.ID) != "reject"
		comments[it.ID] = strings.TrimSpace(f.Get("item." + it.ID + ".comment"))
		at[it.ID] = len(ap.Items)
		ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: accepted, Comment: comments[it.ID]})
		rejected[it.ID] = !accepted
	}
	// The form always sends the text; review.Finalize decides whether it
	// is an edit, as it does for the JSON API.
	ap.Content = text
	if strings.TrimSpace(text) == "" {
		// Not "unchanged": an emptied box is no text to sign.
		err = countersign.InvalidFields(p.T("review.invalid"), countersign.FieldError{Field: "content", Message: p.T("review.empty")})
	} else {
		var so *review.SignOff
		if so, err = s.Review.SignOffDraft(ctx, d.ID, ap); err == nil {
			switch {
			case so.Vigilance != nil:
				redirect(w, r, "/drafts/"+d.ID, "approved")
			case so.Entry == nil:
				redirect(w, r, "/cases/"+d.CaseID+"#record", "awaiting_countersign")
			default:
				redirect(w, r, "/cases/"+d.CaseID+"#entry-"+so.Entry.ID, "approved")
			}
			return
		}
	}
	switch countersign.ErrorCode(err) {
	case countersign.EPRECONDITION:
		s.rerenderStale(w, r, p, func(v *draftView) { v.Comment = ap.Comment })
		return
	case countersign.EINVALID:
	default:
		s.errorPage(w, r, err)
		return
	}
	p.setError(approvalProblem(p, d, actions, err))
	// The draft read for the approval is shown again: its read is logged first.
	verr := s.logRead(r, client.Read{CaseID: d.CaseID, What: client.ReadDraft, TargetID: d.ID})
	var v *draftView
	if verr == nil {
		v, verr = s.draftView(r, p, d)
	}
	if verr != nil {
		s.errorPage(w, r, verr)
		return
	}
	v.Text, v.Comment, v.ReasonCode = text, ap.Comment, ap.ReasonCode
	v.Sharing, v.WithheldReason = ap.Sharing, ap.WithheldReason
	if ap.IfMatch != "" {
		v.ETag = ap.IfMatch // the text in the form is still that version's
	}
	fields := p.Fields
	for i := range v.Statements {
		st := &v.Statements[i]
		st.Action, st.Comment = actions[st.ID], comments[st.ID]
		st.Missing = st.NeedsDecision && st.Action == ""
		if j, ok := at[st.ID]; ok {
			st.CommentError = fields[fmt.Sprintf("statements[%d].comment", j)]
		}
	}
	for i := range v.Items {
		it := &v.Items[i]
		it.Rejected, it.Comment = rejected[it.ID], comments[it.ID]
		it.CommentError = fields[fmt.Sprintf("items[%d].comment", at[it.ID])]
	}
	p.Data = v
	s.render(w, r, http.StatusUnprocessableEntity, "draft.html", p)
}

// approvalProblem words the review's refusal of an approval for the page.
// The review decides what is missing; when it is the decision on
// high-stakes or ungrounded statements, the page says so in the reader's
// language, with the count of those still undecided, and a comment the
// review asks for is asked for in the reader's language too.
func approvalProblem(p *page, d *review.Draft, actions map[string]string, err error) error {
	fields := countersign.ErrorFields(err)
	translated := false
	for i, f := range fields {
		if strings.HasSuffix(f.Field, "].comment") {
			fields[i].Message, translated = p.T("review.comment.missing"), true
		}
		if f.Field != "statements" {
			continue
		}
		undecided := 0
		for _, st := range d.Content.Statements {
			if review.NeedsDecision(st) && actions[st.ID] == "" {
				undecided++
			}
		}
		fields[i].Message, translated = p.T("review.undecided", undecided), true
	}
	if !translated {
		return err
	}
	return countersign.InvalidFields(p.T("review.invalid"), fields...)
}

// handleReject serves POST /drafts/{id}/reject: a reviewer turns a draft
// down, or a supervisor refuses to countersign it.
func (s *Server) handleReject(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := s.newPage(r, "draft.title")
	reason, comment := r.PostForm.Get("reason"), strings.TrimSpace(r.PostForm.Get("comment"))
	var err error
	var d *review.Draft
	if !review.ValidRejectReason(reason) {
		err = countersign.InvalidFields(p.T("reject.invalid"), countersign.FieldError{Field: "reason", Message: p.T("reject.choose")})
	} else {
		d, err = s.Review.RejectDraft(ctx, r.PathValue("id"), review.Rejection{Reason: reason, Comment: comment})
	}
	if err == nil {
		if p.Actor.Role == countersign.RoleSupervisor {
			redirect(w, r, "/team", "rejected")
			return
		}
		redirect(w, r, "/cases/"+d.CaseID+"#record", "rejected")
		return
	}
	if countersign.ErrorCode(err) != countersign.EINVALID {
		s.errorPage(w, r, err)
		return
	}
	s.rerenderDraft(w, r, p, http.StatusUnprocessableEntity, err, func(v *draftView) { v.Reason, v.Comment = reason, comment })
}

// handleCountersign serves POST /drafts/{id}/countersign, with the version
// of the draft the supervisor read.
func (s *Server) handleCountersign(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "draft.title")
	comment := strings.TrimSpace(r.PostForm.Get("comment"))
	_, err := s.Review.CountersignDraft(r.Context(), r.PathValue("id"), review.Countersign{Comment: comment, IfMatch: r.PostForm.Get("if_match")})
	switch countersign.ErrorCode(err) {
	case "":
		redirect(w, r, "/team", "countersigned")
	case countersign.EINVALID:
		s.rerenderDraft(w, r, p, http.StatusUnprocessableEntity, err, func(v *draftView) { v.Comment = comment })
	case countersign.EPRECONDITION:
		s.rerenderStale(w, r, p, func(v *draftView) { v.Comment = comment })
	default:
		s.errorPage(w, r, err)
	}
}

// rerenderStale shows the draft as it is now, after a decision on an older
// version was refused (412): nothing was signed, and the person reads the
// current version before deciding again.
func (s *Server) rerenderStale(w http.ResponseWriter, r *http.Request, p *page, keep func(*draftView)) {
	s.rerenderDraft(w, r, p, http.StatusPreconditionFailed, s.errorf(r, countersign.EPRECONDITION, "draft.stale"), keep)
}

func (s *Server) rerenderDraft(w http.ResponseWriter, r *http.Request, p *page, status int, problem error, keep func(*draftView)) {
	d, err := s.Review.OpenDraft(r.Context(), r.PathValue("id"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p.setError(problem)
	v, err := s.draftView(r, p, d)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if d.Content != nil {
		v.Text = d.Content.Text()
	}
	keep(v)
	p.Data = v
	s.render(w, r, status, "draft.html", p)
}
