package web_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

func (b *uiBundle) consent(t testing.TB, caseID string) *casefile.ConsentState {
	t.Helper()
	st, err := b.db.FindConsent(storetest.As(context.Background(), b.f.Worker), caseID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (b *uiBundle) record(t testing.TB) []*review.Entry {
	t.Helper()
	entries, err := b.db.FindRecord(storetest.As(context.Background(), b.f.Worker), b.f.Case.ID)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// signedEntry approves a summary of the fixture's case and returns its entry.
func (b *uiBundle) signedEntry(t testing.TB) *review.Entry {
	t.Helper()
	d := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
	e, err := storetest.Approve(b.db, storetest.As(context.Background(), b.f.Worker), d.ID, review.Approval{})
	if err != nil || e == nil {
		t.Fatalf("approve: %v (entry %v)", err, e)
	}
	return e
}

func wantAll(t testing.TB, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("page:\n%s", body)
	}
}

func TestUIConsent(t *testing.T) {
	t.Parallel()

	t.Run("WithdrawalDisablesTheDraftButtonsAndSaysWhy", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		path := "/cases/" + b.f.Case.ID
		resp, body := c.get(path)
		wantStatus(t, resp, body, http.StatusOK)
		wantAll(t, body, `id="consent"`, "<strong>Given</strong>", "recorded by worker on", "Withdraw consent", `action="`+path+`/consent"`)
		if strings.Contains(body, "disabled") {
			t.Fatalf("the draft buttons are off while consent is given:\n%s", body)
		}

		resp, _ = c.post(path+"/consent", url.Values{"given": {"no"}, "note": {"Asked by phone; she prefers no AI."}})
		wantRedirect(t, resp, path+"?done=consent_refused#consent")
		st := b.consent(t, b.f.Case.ID)
		if st.Current == nil || st.Current.Given || st.Current.Note != "Asked by phone; she prefers no AI." || st.Current.RecordedBy != b.f.Worker.ID || st.DraftingAllowed {
			t.Fatalf("consent after withdrawal: %+v", st.Current)
		}
		_, body = c.get(path + "?done=consent_refused")
		wantAll(t, body, "The client&#39;s refusal has been recorded", "<strong>Withdrawn</strong>", "she prefers no AI",
			`id="consent-blocked"`, "the client withdrew their consent", `value="summary" class="primary" disabled aria-describedby="consent-blocked"`,
			"Record that the client agrees", "Earlier answers")

		// A request sent anyway (an old tab) is refused and explained on the case page.
		resp, body = c.post(path+"/drafts", url.Values{"kind": {"summary"}, "idem": {"k"}})
		wantStatus(t, resp, body, http.StatusConflict)
		wantAll(t, body, "No draft was requested", `id="consent-blocked"`, "the client withdrew their consent")

		resp, _ = c.post(path+"/consent", url.Values{"given": {"yes"}})
		wantRedirect(t, resp, path+"?done=consent_given#consent")
		_, body = c.get(path)
		if strings.Contains(body, `id="consent-blocked"`) || !strings.Contains(body, "<strong>Given</strong>") {
			t.Fatalf("consent given again, but drafting is still blocked:\n%s", body)
		}
	})

	t.Run("SaysWhenConsentWasNeverRecorded", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		cs := &casefile.Case{Reference: "REF-N-" + b.f.Case.ID, Title: "New referral"}
		if err := b.db.CreateCase(storetest.As(context.Background(), b.f.Worker), cs); err != nil {
			t.Fatal(err)
		}
		c := b.signIn(t, "worker")
		resp, body := c.get("/cases/" + cs.ID)
		wantStatus(t, resp, body, http.StatusOK)
		wantAll(t, body, "<strong>Not recorded</strong>", "has not been recorded, and your authority requires it",
			"Record that the client refuses", `value="suggestions" class="secondary" disabled`)
	})

	t.Run("KeepsTheNoteAndSaysWhatIsWrong", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		path := "/cases/" + b.f.Case.ID
		before := len(b.consent(t, b.f.Case.ID).History)
		resp, body := c.post(path+"/consent", url.Values{"note": {"kept note"}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		wantAll(t, body, "Say whether the client agrees or not.", ">kept note</textarea>")
		resp, body = c.post(path+"/consent", url.Values{"given": {"no"}, "note": {strings.Repeat("é", casefile.MaxConsentNote+1)}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		wantAll(t, body, "Keep the note under 2,000 characters", `aria-invalid="true"`)
		if after := len(b.consent(t, b.f.Case.ID).History); after != before {
			t.Fatalf("%d answers after refused posts, want %d", after, before)
		}
	})

	t.Run("RefusesAPostWithoutTheCSRFTokenAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		before := len(b.consent(t, b.f.Case.ID).History)
		events := b.countEvents(t, audit.ActionConsentWithdrawn)
		resp, body := c.post("/cases/"+b.f.Case.ID+"/consent", url.Values{"given": {"no"}, "csrf": {"forged"}})
		wantStatus(t, resp, body, http.StatusForbidden)
		if after := len(b.consent(t, b.f.Case.ID).History); after != before {
			t.Fatalf("%d answers after a forged post, want %d", after, before)
		}
		if n := b.countEvents(t, audit.ActionConsentWithdrawn); n != events {
			t.Fatalf("consent.withdrawn events went from %d to %d", events, n)
		}
	})

	t.Run("SpeaksFrench", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		c.lang = "fr"
		path := "/cases/" + b.f.Case.ID
		c.get(path)
		resp, _ := c.post(path+"/consent", url.Values{"given": {"no"}})
		wantRedirect(t, resp, path)
		_, body := c.get(path + "?done=consent_refused")
		wantAll(t, body, "Consentement de la personne accompagnée", "<strong>Retiré</strong>", "Les boutons sont désactivés",
			"Le refus de la personne est enregistré", "Enregistrer que la personne accepte", "Note (facultative)")
		resp, body = c.post(path+"/consent", nil)
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		wantAll(t, body, "Indiquez si la personne accepte ou non.")
	})

	t.Run("EthicsBoardCannotRecordConsent", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "ethics")
		before := len(b.consent(t, b.f.Case.ID).History)
		resp, body := c.post("/cases/"+b.f.Case.ID+"/consent", url.Values{"given": {"no"}})
		wantStatus(t, resp, body, http.StatusForbidden)
		if after := len(b.consent(t, b.f.Case.ID).History); after != before {
			t.Fatal("the ethics board recorded an answer")
		}
	})
}

func TestUICorrection(t *testing.T) {
	t.Parallel()

	t.Run("CorrectsAnEntryAndKeepsBothVisible", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		old := b.signedEntry(t)
		c := b.signIn(t, "worker")
		path := "/cases/" + b.f.Case.ID
		form := path + "/record/" + old.ID + "/correct"
		_, body := c.get(path)
		wantAll(t, body, `href="`+form+`"`, "Correct this entry")

		resp, body := c.get(form)
		wantStatus(t, resp, body, http.StatusOK)
		wantAll(t, body, "Correct an entry of the record", `<label for="correct-content">`, `<label for="correct-reason">`,
			`action="`+form+`"`, html.EscapeString(strings.SplitN(old.Content, "\n", 2)[0]))

		resp, body = c.post(form, url.Values{"content": {"Corrected: rent arrears of three months."}, "reason": {"  "}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		wantAll(t, body, "Say why the entry is corrected.", ">Corrected: rent arrears of three months.</textarea>")

		resp, _ = c.post(form, url.Values{"content": {"Corrected: rent arrears of three months."}, "reason": {"The arrears were three months, not two."}})
		loc := wantRedirect(t, resp, path+"?done=corrected#entry-")
		entries := b.record(t)
		if len(entries) != 2 {
			t.Fatalf("%d entries, want the old one and its correction", len(entries))
		}
		var neu *review.Entry
		for _, e := range entries {
			if e.Supersedes == old.ID {
				neu = e
			}
		}
		if neu == nil || !strings.HasSuffix(loc, "#entry-"+neu.ID) || neu.SignedBy != b.f.Worker.ID {
			t.Fatalf("correction %+v, redirect %s", neu, loc)
		}
		_, body = c.get(path + "?done=corrected")
		wantAll(t, body, "Your correction is signed into the record", `class="entry superseded" id="entry-`+old.ID+`"`,
			`<a href="#entry-`+neu.ID+`">See the correction</a>`, `<a href="#entry-`+old.ID+`">See the corrected entry</a>`,
			"The arrears were three months, not two.", "rent arrears of three months")
		if strings.Contains(body, `href="`+form+`"`) {
			t.Fatal("the corrected entry can still be corrected")
		}
		resp, body = c.get(form)
		wantStatus(t, resp, body, http.StatusConflict)
		if n := b.countEvents(t, audit.ActionRecordCorrected); n != 1 {
			t.Fatalf("%d record.corrected events, want 1", n)
		}
	})

	t.Run("RefusesAPostWithoutTheCSRFTokenAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		old := b.signedEntry(t)
		c := b.signIn(t, "worker")
		resp, body := c.post("/cases/"+b.f.Case.ID+"/record/"+old.ID+"/correct", url.Values{"content": {"x"}, "reason": {"y"}, "csrf": {""}})
		wantStatus(t, resp, body, http.StatusForbidden)
		if n := len(b.record(t)); n != 1 {
			t.Fatalf("%d entries after a forged post, want 1", n)
		}
		if n := b.countEvents(t, audit.ActionRecordCorrected); n != 0 {
			t.Fatalf("%d record.corrected events, want none", n)
		}
	})

	t.Run("SpeaksFrenchAndKeepsOthersOut", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		old := b.signedEntry(t)
		form := "/cases/" + b.f.Case.ID + "/record/" + old.ID + "/correct"
		c := b.signIn(t, "worker")
		c.lang = "fr"
		_, body := c.get("/cases/" + b.f.Case.ID)
		wantAll(t, body, "Corriger cette entrée")
		resp, body := c.get(form)
		wantStatus(t, resp, body, http.StatusOK)
		wantAll(t, body, "Corriger une entrée du dossier", "Motif de la correction", "Signer la correction")
		resp, body = c.post(form, url.Values{"content": {""}, "reason": {""}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		wantAll(t, body, "Indiquez le texte corrigé.", "Indiquez pourquoi l&#39;entrée est corrigée.")

		for _, role := range []string{"ethics", "other"} {
			resp, body := b.signIn(t, role).get(form)
			wantStatus(t, resp, body, http.StatusForbidden)
		}
		resp, body = c.get("/cases/" + b.f.Case.ID + "/record/entry_nope/correct")
		wantStatus(t, resp, body, http.StatusNotFound)
	})
}

func TestUITeamReassignOffersEveryWorker(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	// A new worker of the team, with no case yet.
	fresh := &identity.User{Name: "Fresh Worker", Email: "fresh." + b.f.Case.ID + "@example.org", Role: countersign.RoleWorker, TeamID: b.f.Team.ID}
	if err := b.db.CreateUser(storetest.CLI(), fresh); err != nil {
		t.Fatal(err)
	}
	d := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
	c := b.signIn(t, "supervisor")
	resp, body := c.get("/team")
	wantStatus(t, resp, body, http.StatusOK)
	sel := regexp.MustCompile(`(?s)<select id="to-` + d.ID + `" name="worker">(.*?)</select>`).FindStringSubmatch(body)
	if sel == nil {
		t.Fatalf("no reassignment menu:\n%s", body)
	}
	if !strings.Contains(sel[1], `<option value="`+fresh.ID+`">Fresh Worker</option>`) {
		t.Errorf("the worker without cases is not offered:\n%s", sel[1])
	}
	for _, id := range []string{b.f.Worker.ID, b.f.Other.ID, b.f.Supervisor.ID} {
		if strings.Contains(sel[1], id) {
			t.Errorf("%s is offered (the reviewer, another team's worker or a supervisor):\n%s", id, sel[1])
		}
	}
	resp, _ = c.post("/drafts/"+d.ID+"/reassign", url.Values{"worker": {fresh.ID}})
	wantRedirect(t, resp, "/team?done=reassigned")
}

func TestUISecureCookies(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	for _, secure := range []bool{false, true} {
		s := &web.Server{Identity: b.db, Cases: b.db, Review: b.db, Audit: b.db, SecureCookies: secure}
		srv := httptest.NewServer(s.Handler())
		defer srv.Close()
		// Plain HTTP, as behind a TLS-terminating proxy. No cookie jar: a
		// jar would not send Secure cookies back over HTTP.
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		check := func(resp *http.Response, name string) {
			t.Helper()
			for _, ck := range resp.Cookies() {
				if ck.Name == name {
					if ck.Secure != secure {
						t.Errorf("SecureCookies=%v: cookie %s has Secure=%v", secure, name, ck.Secure)
					}
					return
				}
			}
			t.Errorf("SecureCookies=%v: no %s cookie set by %s", secure, name, resp.Request.URL.Path)
		}
		resp, err := client.Get(srv.URL + "/signin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check(resp, "countersign_signin")
		var pre *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "countersign_signin" {
				pre = ck
			}
		}
		form := url.Values{"token": {b.tokens["worker"]}, "csrf": {pre.Value}}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: pre.Name, Value: pre.Value})
		resp, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: status %d", resp.StatusCode)
		}
		check(resp, "countersign_session")
		resp, err = client.Get(srv.URL + "/lang/fr?back=/signin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check(resp, "countersign_lang")
	}
}
