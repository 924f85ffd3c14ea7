package web

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// Consent answers, as the case page names them.
const (
	consentNone      = "none"
	consentGiven     = "given"
	consentRefused   = "refused"
	consentWithdrawn = "withdrawn"
)

// consentView is the client's consent to AI-assisted drafting as the case
// page shows it: the current answer, who recorded it and when, the policy,
// and why the draft buttons are off when they are.
type consentView struct {
	Required bool
	Allowed  bool
	Current  consentRow
	History  []consentRow // newest first
	// Blocked is the catalogue key of the explanation shown next to the
	// disabled draft buttons, "" when drafting is allowed.
	Blocked string
}

type consentRow struct {
	Status string // consentNone, consentGiven, consentRefused, consentWithdrawn
	By     string
	At     time.Time
	Note   string
}

// newConsentView names each answer: a no after a yes is a withdrawal, any
// other no a refusal.
func newConsentView(st *casefile.ConsentState, nm *names) consentView {
	v := consentView{Required: st.Required, Allowed: st.DraftingAllowed, Current: consentRow{Status: consentNone}}
	prevGiven := false
	for _, c := range st.History {
		row := consentRow{Status: consentGiven, By: nm.of(c.RecordedBy), At: c.RecordedAt, Note: c.Note}
		if !c.Given {
			row.Status = consentRefused
			if prevGiven {
				row.Status = consentWithdrawn
			}
		}
		prevGiven = c.Given
		v.History = append([]consentRow{row}, v.History...)
	}
	if len(v.History) > 0 {
		v.Current = v.History[0]
	}
	if !v.Allowed {
		v.Blocked = "consent.blocked." + v.Current.Status
	}
	return v
}

// handleConsent serves POST /cases/{id}/consent: the worker or a
// supervisor records the client's answer (given=yes, or no to refuse or
// withdraw) with an optional note. A withdrawal also stops the case's drafts
// not yet written.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "case.title")
	id := r.PathValue("id")
	note := strings.ReplaceAll(r.PostForm.Get("note"), "\r\n", "\n")
	given := r.PostForm.Get("given")
	var err error
	switch {
	case given != "yes" && given != "no":
		err = countersign.InvalidFields(p.T("consent.invalid"), countersign.FieldError{Field: "given", Message: p.T("consent.choose")})
	case utf8.RuneCountInString(strings.TrimSpace(note)) > casefile.MaxConsentNote || !review.ValidText(note):
		err = countersign.InvalidFields(p.T("consent.invalid"), countersign.FieldError{Field: "note", Message: p.T("consent.note.bad", casefile.MaxConsentNote)})
	default:
		err = s.Cases.RecordConsent(r.Context(), &casefile.Consent{CaseID: id, Given: given == "yes", Note: note})
	}
	if countersign.ErrorCode(err) == countersign.EINVALID {
		p.setError(err)
		s.renderCase(w, r, p, http.StatusUnprocessableEntity, caseForm{ConsentNote: note})
		return
	} else if err != nil {
		s.errorPage(w, r, err)
		return
	}
	flash := "consent_given"
	if given == "no" {
		flash = "consent_refused"
	}
	redirect(w, r, "/cases/"+id+"#consent", flash)
}
