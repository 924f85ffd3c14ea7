package web_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai/fakeopenai"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// uiBundle is the real handler on a real SQLite database, with a token for
// every fixture user and the drafting runner.
type uiBundle struct {
	srv    *httptest.Server
	db     *sqlstore.DB
	f      *storetest.Fixture
	runner *review.Runner
	tokens map[string]string
}

func uiSetup(t testing.TB) *uiBundle {
	t.Helper()
	db := storetest.OpenSQLite(t)
	f := storetest.MustSeed(t, db)
	const origin = "test.local/audit"
	keyPath := filepath.Join(t.TempDir(), "key")
	signer, _, err := audit.LoadOrCreateSigner(keyPath, origin)
	if err != nil {
		t.Fatal(err)
	}
	notary := &audit.Notary{Store: db, Signer: signer, Origin: origin}
	runner := &review.Runner{Store: db, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "test"}
	s := &web.Server{Identity: db, Cases: db, Review: db, Audit: db, Checkpoints: notary, Clients: db}
	s.VerifyLog = func(ctx context.Context) (*audit.Report, error) {
		_, vkey, err := audit.LoadOrCreateSigner(keyPath, origin)
		if err != nil {
			return nil, err
		}
		keys, err := audit.ParseVerifierKeys(vkey)
		if err != nil {
			return nil, err
		}
		return notary.VerifyLog(ctx, &audit.Verifier{Origin: origin, Keys: keys}, db.AllStoredEvents)
	}
	s.DraftQueued = runner.Wake
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b := &uiBundle{srv: srv, db: db, f: f, runner: runner, tokens: map[string]string{}}
	for name, u := range map[string]string{"worker": f.Worker.ID, "supervisor": f.Supervisor.ID, "ethics": f.Ethics.ID, "other": f.Other.ID} {
		_, secret, err := db.CreateToken(storetest.CLI(), u, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		b.tokens[name] = secret
	}
	return b
}

// flaggingDrafter drafts offline, then marks the first statement as not
// found in the notes and the second as a risk.
type flaggingDrafter struct{}

func (flaggingDrafter) Draft(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
	res, err := (&assistant.Drafter{Model: assistant.Extractive{}}).Draft(ctx, req)
	if err == nil && len(res.Content.Statements) > 1 {
		res.Content.Statements[0].Ungrounded, res.Content.Statements[0].UngroundedReason = true, "No note says this."
		res.Content.Statements[1].Category = assistant.CategoryRisk
	}
	return res, err
}

// riskyItemDrafter drafts offline, then marks the first item as a risk.
type riskyItemDrafter struct{}

func (riskyItemDrafter) Draft(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
	res, err := (&assistant.Drafter{Model: assistant.Extractive{}}).Draft(ctx, req)
	if err == nil && len(res.Content.Items) > 0 {
		res.Content.Items[0].Category = assistant.CategoryRisk
	}
	return res, err
}

// carelessModel is a stand-in model that labels nothing and cites one-word
// quotes (fakeopenai.CarelessAnswer over the offline drafter's answer).
type carelessModel struct{ assistant.Extractive }

func (carelessModel) Generate(ctx context.Context, p *assistant.Prompt) (*assistant.Completion, error) {
	comp, err := assistant.Extractive{}.Generate(ctx, p)
	if err == nil {
		comp.Text = fakeopenai.CarelessAnswer(comp.Text)
	}
	return comp, err
}

// uiClient is a browser without a browser: a cookie jar, redirects not
// followed, and the CSRF token of the last page read.
type uiClient struct {
	t    testing.TB
	b    *uiBundle
	c    *http.Client
	csrf string
	lang string
}

func (b *uiBundle) client(t testing.TB) *uiClient {
	jar, _ := cookiejar.New(nil)
	return &uiClient{t: t, b: b, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *uiClient) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	body := string(raw)
	if m := csrfRe.FindStringSubmatch(body); m != nil {
		c.csrf = html.UnescapeString(m[1])
	}
	return resp, body
}

func (c *uiClient) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.b.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form with the CSRF token of the last page unless form sets one.
func (c *uiClient) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// signIn signs in with role's token and returns the client.
func (b *uiBundle) signIn(t testing.TB, role string) *uiClient {
	t.Helper()
	c := b.client(t)
	c.get("/signin")
	resp, body := c.post("/signin", url.Values{"token": {b.tokens[role]}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: status %d: %s", role, resp.StatusCode, body)
	}
	// Read the home page for the session's CSRF token.
	resp, _ = c.get("/")
	c.get(resp.Header.Get("Location"))
	return c
}

func wantStatus(t testing.TB, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

func wantRedirect(t testing.TB, resp *http.Response, prefix string) string {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s %s: status %d Location %q, want a redirect to %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, loc, prefix)
	}
	return loc
}

func (b *uiBundle) countEvents(t testing.TB, action string) int {
	t.Helper()
	ctx := storetest.CLI()
	if _, err := b.db.Sequence(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := b.db.FindEvents(ctx, audit.EventFilter{Action: &action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

func (b *uiBundle) notes(t testing.TB) []*casefile.Note {
	t.Helper()
	notes, err := b.db.FindNotes(storetest.As(context.Background(), b.f.Worker), b.f.Case.ID)
	if err != nil {
		t.Fatal(err)
	}
	return notes
}

func TestUI(t *testing.T) {
	t.Parallel()

	t.Run("SignsInWithATokenAndAuditsTheSession", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.client(t)
		resp, body := c.get("/cases")
		wantRedirect(t, resp, "/signin?next=%2Fcases")
		c.get("/signin?next=%2Fcases")
		resp, body = c.post("/signin", url.Values{"token": {b.tokens["worker"]}, "next": {"/cases"}})
		wantRedirect(t, resp, "/cases")
		var cookie *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "countersign_session" {
				cookie = ck
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Value == "" {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/", cookie)
		}
		resp, body = c.get("/cases")
		wantStatus(t, resp, body, http.StatusOK)
		if !strings.Contains(body, b.f.Case.Reference) {
			t.Fatalf("the worker's case is not listed:\n%s", body)
		}
		if n := b.countEvents(t, "session.started"); n != 1 {
			t.Fatalf("%d session.started events, want 1", n)
		}
		// Signing in again in the same browser ends the first session.
		c.get("/signin")
		resp, _ = c.post("/signin", url.Values{"token": {b.tokens["worker"]}})
		wantRedirect(t, resp, "/")
		if started, ended := b.countEvents(t, "session.started"), b.countEvents(t, "session.ended"); started != 2 || ended != 1 {
			t.Fatalf("%d sessions started and %d ended, want 2 and 1", started, ended)
		}
	})

	t.Run("RefusesABadTokenInWords", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.client(t)
		c.get("/signin")
		resp, body := c.post("/signin", url.Values{"token": {"cst_nope"}})
		wantStatus(t, resp, body, http.StatusUnauthorized)
		if !strings.Contains(body, "This token is not valid") {
			t.Fatalf("no message for a bad token:\n%s", body)
		}
	})

	t.Run("RefusesSignInWithoutItsFormToken", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.client(t) // never loaded the form: no pre-session cookie
		resp, body := c.post("/signin", url.Values{"token": {b.tokens["worker"]}, "csrf": {"forged"}})
		wantStatus(t, resp, body, http.StatusForbidden)
		if n := b.countEvents(t, "session.started"); n != 0 {
			t.Fatalf("%d sessions started, want none", n)
		}
	})

	t.Run("NeverRedirectsOffSite", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.client(t)
		c.get("/signin")
		resp, _ := c.post("/signin", url.Values{"token": {b.tokens["worker"]}, "next": {"//evil.example/x"}})
		if loc := wantRedirect(t, resp, "/"); loc != "/" {
			t.Fatalf("redirected to %q, want /", loc)
		}
	})

	t.Run("RefusesAPostWithoutTheCSRFTokenAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		before := len(b.notes(t))
		events := b.countEvents(t, audit.ActionNoteAdded)
		for _, token := range []string{"", "not-the-token"} {
			resp, body := c.post("/cases/"+b.f.Case.ID+"/notes", url.Values{"body": {"A note that must not be saved."}, "csrf": {token}})
			wantStatus(t, resp, body, http.StatusForbidden)
			if !strings.Contains(body, "did not come from Countersign") {
				t.Fatalf("the refusal is not explained:\n%s", body)
			}
		}
		if after := len(b.notes(t)); after != before {
			t.Fatalf("%d notes after refused posts, want %d", after, before)
		}
		if n := b.countEvents(t, audit.ActionNoteAdded); n != events {
			t.Fatalf("note.added events went from %d to %d", events, n)
		}
		// With the token, the same post works and redirects.
		resp, _ := c.post("/cases/"+b.f.Case.ID+"/notes", url.Values{"body": {"A note that is saved."}})
		wantRedirect(t, resp, "/cases/"+b.f.Case.ID+"?done=note_added")
	})

	t.Run("SignOutEndsTheSessionOnTheServer", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		u, _ := url.Parse(b.srv.URL)
		stolen := c.c.Jar.Cookies(u)
		resp, _ := c.post("/signout", nil)
		wantRedirect(t, resp, "/signin")
		// The old cookie, replayed by another browser, is worthless.
		other := b.client(t)
		other.c.Jar.SetCookies(u, stolen)
		resp, _ = other.get("/cases")
		wantRedirect(t, resp, "/signin")
		if n := b.countEvents(t, "session.ended"); n != 1 {
			t.Fatalf("%d session.ended events, want 1", n)
		}
	})

	t.Run("SetsSecurityHeadersOnPages", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		for _, path := range []string{"/signin", "/cases", "/cases/" + b.f.Case.ID, "/static/app.css"} {
			resp, body := c.get(path)
			wantStatus(t, resp, body, http.StatusOK)
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("%s: CSP %q", path, csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: headers %v", path, h)
			}
			if strings.HasSuffix(path, ".css") {
				continue
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", path, h.Get("Cache-Control"))
			}
			// Nothing inline: the CSP would block it anyway.
			if regexp.MustCompile(`<script>|<style|\sstyle=|\son[a-z]+=`).MatchString(body) {
				t.Errorf("%s has inline script or style", path)
			}
		}
	})

	t.Run("SpeaksFrenchWithAcceptLanguageOrTheSwitch", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.client(t)
		c.lang = "fr-BE, fr;q=0.9, en;q=0.5"
		resp, body := c.get("/signin")
		wantStatus(t, resp, body, http.StatusOK)
		if !strings.Contains(body, `<html lang="fr">`) || !strings.Contains(body, "Votre jeton de connexion") {
			t.Fatalf("not in French:\n%s", body)
		}
		c.lang = "en"
		resp, _ = c.get("/lang/fr?back=/signin")
		wantRedirect(t, resp, "/signin")
		_, body = c.get("/signin")
		if !strings.Contains(body, "Se connecter") {
			t.Fatalf("the switch did not choose French:\n%s", body)
		}
	})

	t.Run("EscapesNoteTextThatLooksLikeHTML", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		evil := `<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"`
		resp, _ := c.post("/cases/"+b.f.Case.ID+"/notes", url.Values{"body": {evil}})
		wantRedirect(t, resp, "/cases/")
		_, body := c.get("/cases/" + b.f.Case.ID)
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Fatalf("note text reached the page unescaped:\n%s", body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Fatalf("the escaped note is not on the page:\n%s", body)
		}
	})

	t.Run("KeepsTheInputWhenANoteIsInvalid", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		resp, body := c.post("/cases/"+b.f.Case.ID+"/notes", url.Values{"body": {"Half a note\x00 with a NUL"}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "cannot be saved") || !strings.Contains(body, "Half a note") || !strings.Contains(body, `aria-invalid="true"`) {
			t.Fatalf("the form did not come back with its message and input:\n%s", body)
		}
		resp, body = c.post("/cases/"+b.f.Case.ID+"/notes", url.Values{"body": {"   "}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "Write something before saving.") {
			t.Fatalf("no message for an empty note:\n%s", body)
		}
	})

	t.Run("ReviewsEditsAndSignsADraft", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		c.get("/cases/" + b.f.Case.ID)
		resp, _ := c.post("/cases/"+b.f.Case.ID+"/drafts", url.Values{"kind": {"summary"}, "idem": {"k1"}})
		loc := wantRedirect(t, resp, "/drafts/")
		resp, body := c.get(loc)
		wantStatus(t, resp, body, http.StatusOK)
		if !strings.Contains(body, `id="draft-progress"`) || !strings.Contains(body, "Waiting to be written") {
			t.Fatalf("no progress shown:\n%s", body)
		}
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		resp, body = c.get(loc + "/status")
		if !strings.Contains(body, `"pending_review"`) {
			t.Fatalf("status: %s", body)
		}
		resp, body = c.get(loc)
		wantStatus(t, resp, body, http.StatusOK)
		if !strings.Contains(body, `class="cite"`) || !strings.Contains(body, `<mark id="q1-1" class="quote"`) {
			t.Fatalf("citations are not linked to their passages:\n%s", body)
		}
		text := regexp.MustCompile(`(?s)<textarea id="content" name="content"[^>]*>(.*?)</textarea>`).FindStringSubmatch(body)
		if text == nil {
			t.Fatalf("no text to edit:\n%s", body)
		}
		lines := strings.Split(strings.TrimSpace(html.UnescapeString(text[1])), "\n")
		lines[0] = "The client has two months of rent arrears; heating cut off."
		resp, body = c.post(loc+"/approve", url.Values{"content": {strings.Join(lines, "\r\n")}, "reason_code": {"tone"}})
		wantRedirect(t, resp, "/cases/"+b.f.Case.ID+"?done=approved#entry-")
		resp, body = c.get("/cases/" + b.f.Case.ID + "?done=approved")
		wantStatus(t, resp, body, http.StatusOK)
		for _, want := range []string{"The draft is approved and signed", "AI-assisted", "heating cut off", "extractive-v1", "of the words changed", "What was changed", "<ins>"} {
			if !strings.Contains(body, want) {
				t.Errorf("the record does not show %q", want)
			}
		}
	})

	t.Run("FlagsUngroundedAndHighStakesStatementsAndAsksForADecision", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		d := storetest.MustDraftWith(t, b.db, b.f, assistant.KindSummary, flaggingDrafter{})
		c := b.signIn(t, "worker")
		resp, body := c.get("/drafts/" + d.ID)
		wantStatus(t, resp, body, http.StatusOK)
		for _, want := range []string{`class="statement ungrounded"`, "Not found in the notes:", "No note says this.", "Risk — check this closely", `name="st.` + d.Content.Statements[1].ID + `" value="confirmed"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the review page lacks %q", want)
			}
		}
		text := d.Content.Text()
		resp, body = c.post("/drafts/"+d.ID+"/approve", url.Values{"content": {text}, "comment": {"kept"}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "2 statements to check (high-stakes, unclear, or not found in the notes) still need your decision") ||
			!strings.Contains(body, "statement highstakes missing") || !strings.Contains(body, "statement ungrounded missing") || !strings.Contains(body, `value="kept"`) {
			t.Fatalf("the missing decision is not explained, or the input is lost:\n%s", body)
		}
		unsupported, risky := d.Content.Statements[0], d.Content.Statements[1]
		// Confirming the unsupported statement takes a comment saying why.
		resp, body = c.post("/drafts/"+d.ID+"/approve", url.Values{"content": {text}, "st." + unsupported.ID: {"confirmed"}, "st." + risky.ID: {"removed"}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `id="stc-`+unsupported.ID+`-error"`) || !strings.Contains(body, "Say in a short comment why you keep it") {
			t.Fatalf("the missing comment is not asked for beside the statement:\n%s", body)
		}
		if n := len(b.record(t)); n != 0 {
			t.Fatalf("%d entries signed without the comment", n)
		}
		resp, _ = c.post("/drafts/"+d.ID+"/approve", url.Values{"content": {text}, "st." + unsupported.ID: {"confirmed"},
			"st." + unsupported.ID + ".comment": {"Seen at the visit."}, "st." + risky.ID: {"removed"}})
		wantRedirect(t, resp, "/cases/"+b.f.Case.ID+"?done=approved")
		entries, err := b.db.FindRecord(storetest.As(context.Background(), b.f.Worker), b.f.Case.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || strings.Contains(entries[0].Content, risky.Text) || !strings.Contains(entries[0].Content, unsupported.Text) {
			t.Fatalf("the removed statement was signed, or the confirmed one left out: %+v", entries)
		}
		signed, err := b.db.FindDraftByID(storetest.As(context.Background(), b.f.Worker), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sd := signed.Decision.Statements; len(sd) != 2 || sd[0].ID != unsupported.ID || sd[0].Comment != "Seen at the visit." {
			t.Fatalf("the reviewer's comment is not kept with the decision: %+v", sd)
		}
	})

	t.Run("MarksHighStakesItems", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		d := storetest.MustDraftWith(t, b.db, b.f, assistant.KindSuggestions, riskyItemDrafter{})
		if len(d.Content.Items) == 0 {
			t.Fatal("the draft has no items")
		}
		c := b.signIn(t, "worker")
		resp, body := c.get("/drafts/" + d.ID)
		wantStatus(t, resp, body, http.StatusOK)
		want := `class="statement item highstakes" id="item-` + d.Content.Items[0].ID + `"`
		if !strings.Contains(body, want) || !strings.Contains(body, "Risk — check this closely") {
			t.Fatalf("the review page does not mark the high-stakes item (%s):\n%s", want, body)
		}
	})

	t.Run("ACarelessModelsStatementsAreNotSignableAsTheyStand", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		d := storetest.MustDraftWith(t, b.db, b.f, assistant.KindSummary, &assistant.Drafter{Model: carelessModel{}})
		c := b.signIn(t, "worker")
		c.lang = "fr-BE, fr;q=0.9"
		resp, body := c.get("/drafts/" + d.ID)
		wantStatus(t, resp, body, http.StatusOK)
		form := url.Values{"content": {d.Content.Text()}}
		for _, st := range d.Content.Statements {
			if !st.Ungrounded || st.UngroundedCode != assistant.UngroundedQuoteTooShort {
				t.Fatalf("statement %+v is not flagged", st)
			}
			for _, want := range []string{`name="st.` + st.ID + `" value="confirmed"`, `name="st.` + st.ID + `.comment"`} {
				if !strings.Contains(body, want) {
					t.Errorf("the review page lacks %q", want)
				}
			}
			form.Set("st."+st.ID, review.StatementConfirmed)
		}
		if !strings.Contains(body, "Sa citation compte moins de cinq mots") {
			t.Errorf("the reason is not given in the reader's language:\n%s", body)
		}
		resp, body = c.post("/drafts/"+d.ID+"/approve", form)
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "Dites en un bref commentaire pourquoi vous la gardez") {
			t.Fatalf("the refusal is not worded for the page:\n%s", body)
		}
		if n := len(b.record(t)); n != 0 {
			t.Fatalf("%d entries signed from unsupported statements", n)
		}
	})

	t.Run("SendsTheVersionReadAndRefusesAStaleOne", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		d := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
		c := b.signIn(t, "worker")
		resp, body := c.get("/drafts/" + d.ID)
		wantStatus(t, resp, body, http.StatusOK)
		if want := `name="if_match" value="` + html.EscapeString(review.DraftETag(d)) + `"`; !strings.Contains(body, want) {
			t.Fatalf("the review form does not carry the draft's ETag (%s):\n%s", want, body)
		}
		form := url.Values{"content": {d.Content.Text()}, "if_match": {`"an-older-version"`}}
		for _, st := range d.Content.Statements {
			if review.HighStakes(st.Category) {
				form.Set("st."+st.ID, review.StatementConfirmed)
			}
		}
		resp, body = c.post("/drafts/"+d.ID+"/approve", form)
		wantStatus(t, resp, body, http.StatusPreconditionFailed)
		if !strings.Contains(body, "This draft changed after you opened it. Nothing was signed") || !strings.Contains(body, `id="approve-form"`) {
			t.Fatalf("the stale approval is not explained beside the current draft:\n%s", body)
		}
		if n := len(b.record(t)); n != 0 {
			t.Fatalf("%d entries signed from a stale version", n)
		}
		form.Set("if_match", review.DraftETag(d))
		resp, _ = c.post("/drafts/"+d.ID+"/approve", form)
		wantRedirect(t, resp, "/cases/"+b.f.Case.ID+"?done=approved")
	})

	t.Run("RejectsWithAReasonOrSaysWhatIsMissing", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		d := storetest.MustDraft(t, b.db, b.f, assistant.KindSuggestions)
		c := b.signIn(t, "worker")
		c.get("/drafts/" + d.ID)
		resp, body := c.post("/drafts/"+d.ID+"/reject", url.Values{"reason": {""}, "comment": {"kept comment"}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "Choose a reason") {
			t.Fatalf("no message:\n%s", body)
		}
		resp, _ = c.post("/drafts/"+d.ID+"/reject", url.Values{"reason": {"not_needed"}})
		wantRedirect(t, resp, "/cases/"+b.f.Case.ID+"?done=rejected")
	})

	t.Run("SupervisorReassignsADraftFromTheTeamQueue", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		ctx := context.Background()
		second := &identity.User{Name: "Second Worker", Email: "second." + b.f.Case.ID + "@example.org", Role: countersign.RoleWorker, TeamID: b.f.Team.ID}
		if err := b.db.CreateUser(storetest.CLI(), second); err != nil {
			t.Fatal(err)
		}
		if err := b.db.CreateCase(storetest.As(ctx, b.f.Supervisor), &casefile.Case{Reference: "REF-B-" + b.f.Case.ID, Title: "Debt advice", WorkerID: second.ID}); err != nil {
			t.Fatal(err)
		}
		d := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
		c := b.signIn(t, "supervisor")
		resp, body := c.get("/team")
		wantStatus(t, resp, body, http.StatusOK)
		for _, want := range []string{`action="/drafts/` + d.ID + `/reassign"`, `<option value="` + second.ID + `">Second Worker</option>`, "Drafts waiting for review"} {
			if !strings.Contains(body, want) {
				t.Fatalf("the team page lacks %q:\n%s", want, body)
			}
		}
		resp, body = c.post("/drafts/"+d.ID+"/reassign", url.Values{"worker": {""}})
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "Choose the worker who should review this draft.") {
			t.Fatalf("no message for a missing worker:\n%s", body)
		}
		resp, _ = c.post("/drafts/"+d.ID+"/reassign", url.Values{"worker": {second.ID}})
		wantRedirect(t, resp, "/team?done=reassigned")
		got, err := b.db.FindDraftByID(storetest.As(ctx, b.f.Supervisor), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ReviewerID != second.ID {
			t.Fatalf("reviewer %s, want %s", got.ReviewerID, second.ID)
		}
		_, body = c.get("/team?done=reassigned")
		if !strings.Contains(body, "The draft has been given to another worker.") || !strings.Contains(body, "Draft reassigned") {
			t.Fatalf("the reassignment is not confirmed or not in the decisions:\n%s", body)
		}
	})

	t.Run("ShowsTheEthicsBoardNoCaseProse", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		d := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
		if _, err := storetest.Approve(b.db, storetest.As(context.Background(), b.f.Worker), d.ID, review.Approval{}); err != nil {
			t.Fatal(err)
		}
		c := b.signIn(t, "ethics")
		resp, body := c.get("/audit")
		wantStatus(t, resp, body, http.StatusOK)
		for _, want := range []string{"draft.approved", "Signed checkpoint", `<svg`, "Verify the log"} {
			if !strings.Contains(body, want) {
				t.Errorf("the audit page lacks %q", want)
			}
		}
		for _, n := range b.notes(t) {
			for _, part := range strings.Split(n.Body, ". ") {
				if len(part) > 12 && strings.Contains(body, html.EscapeString(part)) {
					t.Fatalf("note text %q is on the ethics page", part)
				}
			}
		}
		for _, path := range []string{"/cases/" + b.f.Case.ID, "/drafts/" + d.ID} {
			resp, body := c.get(path)
			wantStatus(t, resp, body, http.StatusForbidden)
		}
		resp, body = c.post("/audit/verify", nil)
		wantStatus(t, resp, body, http.StatusOK)
		if !strings.Contains(body, "The log is intact") {
			t.Fatalf("verification did not report in words:\n%s", body)
		}
		resp, body = c.get("/audit?since=yesterday")
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "Give a date such as 2026-01-31.") || !strings.Contains(body, `value="yesterday"`) {
			t.Fatalf("a bad filter is not explained and kept:\n%s", body)
		}
	})

	t.Run("KeepsWorkersOutOfTheAuditPages", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		c := b.signIn(t, "worker")
		resp, body := c.get("/audit")
		wantStatus(t, resp, body, http.StatusForbidden)
		resp, body = c.post("/audit/verify", nil)
		wantStatus(t, resp, body, http.StatusForbidden)
	})
}
