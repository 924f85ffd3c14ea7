package web

import (
	"net/http"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

// maxCorrectionReason bounds the reason of a correction, in bytes, as the
// store does.
const maxCorrectionReason = 2000

// correctView is the page that corrects one signed entry: the entry as
// signed, and the form with the new text and the reason.
type correctView struct {
	Case    *casefile.Case
	Entry   entryView
	Content string
	Reason  string
}

// handleCorrectPage serves GET /cases/{id}/record/{entry}/correct.
func (s *Server) handleCorrectPage(w http.ResponseWriter, r *http.Request) {
	s.renderCorrect(w, r, s.newPage(r, "correct.title"), http.StatusOK, nil)
}

// renderCorrect shows the correction form; form is nil the first time,
// when the text to correct starts as the entry's own.
func (s *Server) renderCorrect(w http.ResponseWriter, r *http.Request, p *page, status int, form *correctView) {
	ctx := r.Context()
	id, entryID := r.PathValue("id"), r.PathValue("entry")
	c, err := s.Cases.FindCaseByID(ctx, id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if !casefile.CanWrite(p.Actor, c) {
		s.errorPage(w, r, countersign.Errorf(countersign.EFORBIDDEN, "%s", p.T("correct.forbidden")))
		return
	}
	entries, err := s.Review.FindRecord(ctx, id)
	if err == nil {
		err = s.logRead(r, client.Read{CaseID: id, What: client.ReadRecord, TargetID: entryID})
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	var e *review.Entry
	for _, x := range entries {
		if x.ID == entryID {
			e = x
		}
	}
	switch {
	case e == nil:
		s.errorPage(w, r, countersign.Errorf(countersign.ENOTFOUND, "%s", p.T("correct.notfound")))
		return
	case e.SupersededBy != "":
		s.errorPage(w, r, countersign.Errorf(countersign.ECONFLICT, "%s", p.T("correct.already")))
		return
	}
	nm := s.names(ctx)
	v := correctView{Case: c, Content: e.Content,
		Entry: entryView{Entry: e, SignedByName: nm.of(e.SignedBy), EditedByName: nm.of(e.EditedBy), CountersignedByName: nm.of(e.CountersignedBy)}}
	if form != nil {
		v.Content, v.Reason = form.Content, form.Reason
	}
	p.Nav = "cases"
	p.Data = v
	s.render(w, r, status, "correct.html", p)
}

// handleCorrect serves POST /cases/{id}/record/{entry}/correct: a new
// signed entry supersedes the old one, which stays in the record marked as
// corrected.
func (s *Server) handleCorrect(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "correct.title")
	// After a problem, the language switch leads back to the form.
	p.Path = r.URL.Path
	id := r.PathValue("id")
	form := &correctView{
		Content: strings.ReplaceAll(r.PostForm.Get("content"), "\r\n", "\n"),
		Reason:  strings.ReplaceAll(r.PostForm.Get("reason"), "\r\n", "\n"),
	}
	var fields []countersign.FieldError
	switch {
	case strings.TrimSpace(form.Content) == "":
		fields = append(fields, countersign.FieldError{Field: "content", Message: p.T("correct.content.empty")})
	case len(form.Content) > review.MaxContentBytes:
		fields = append(fields, countersign.FieldError{Field: "content", Message: p.T("correct.content.toolong", review.MaxContentBytes/1024)})
	case !review.ValidText(form.Content):
		fields = append(fields, countersign.FieldError{Field: "content", Message: p.T("note.badtext")})
	}
	switch {
	case strings.TrimSpace(form.Reason) == "":
		fields = append(fields, countersign.FieldError{Field: "reason", Message: p.T("correct.reason.empty")})
	case len(form.Reason) > maxCorrectionReason || !review.ValidText(form.Reason):
		fields = append(fields, countersign.FieldError{Field: "reason", Message: p.T("correct.reason.bad", maxCorrectionReason)})
	}
	var e *review.Entry
	var err error
	if fields != nil {
		err = countersign.InvalidFields(p.T("correct.invalid"), fields...)
	} else {
		e, err = s.Review.CorrectEntry(r.Context(), id, r.PathValue("entry"), review.Correction{Content: form.Content, Reason: strings.TrimSpace(form.Reason)})
	}
	if countersign.ErrorCode(err) == countersign.EINVALID {
		p.setError(err)
		s.renderCorrect(w, r, p, http.StatusUnprocessableEntity, form)
		return
	} else if err != nil {
		s.errorPage(w, r, err)
		return
	}
	redirect(w, r, "/cases/"+id+"#entry-"+e.ID, "corrected")
}
