package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestServeWebAndAPIOnOneAddress runs the binary's wiring: the JSON API
// and the web interface answer on the one address, behind the same
// middleware, and a decision signs the same text through either door.
func TestServeWebAndAPIOnOneAddress(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, storetest.SQLiteDSN(t), true, io.Discard)
	base := "http://" + m.Addr()
	var worker string
	for _, tok := range m.Tokens {
		if tok.Role == countersign.RoleWorker {
			worker = tok.Token
		}
	}

	t.Run("ServesBothDoorsWithTheSecurityHeaders", func(t *testing.T) {
		for _, tt := range []struct{ path, contentType string }{
			{"/signin", "text/html"},
			{"/static/app.css", "text/css"},
			{"/v1/cases", "application/problem+json"},
			{"/healthz", "application/json"},
		} {
			resp, err := http.Get(base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("%s: Content-Type %q, want %s", tt.path, ct, tt.contentType)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("%s: CSP %q", tt.path, csp)
			}
		}
	})

	t.Run("CountsWebPagesInTheMetrics", func(t *testing.T) {
		resp, err := http.Get(base + "/signin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if want := `countersign_http_requests_total{route="GET /signin",status="200"}`; !strings.Contains(string(raw), want) {
			t.Fatalf("the metrics lack %s", want)
		}
	})

	t.Run("RefusesAnOversizedForm", func(t *testing.T) {
		resp, err := http.PostForm(base+"/signin", url.Values{"token": {strings.Repeat("x", 64<<10)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("a 64 KB sign-in form: status %d, want 413", resp.StatusCode)
		}
	})

	t.Run("SignsTheSameTextThroughEitherDoor", func(t *testing.T) {
		var cases struct {
			Cases []struct {
				ID string `json:"id"`
			} `json:"cases"`
		}
		get(t, base+"/v1/cases", worker, &cases)
		caseID := cases.Cases[0].ID
		// The same decision on two drafts of the same notes: leave out the
		// second statement, confirm the ones that need a decision, and reword the
		// first line while keeping the line of the one left out.
		decide := func(d *review.Draft) (edited string, statements []map[string]string) {
			lines := strings.Split(d.Content.Text(), "\n")
			lines[0] = "Reworded by the reviewer: " + lines[0]
			for i, st := range d.Content.Statements {
				switch {
				case i == 1:
					statements = append(statements, map[string]string{"id": st.ID, "action": review.StatementRemoved})
				case review.NeedsDecision(st):
					statements = append(statements, map[string]string{"id": st.ID, "action": review.StatementConfirmed})
				}
			}
			return strings.Join(lines, "\n"), statements
		}

		viaAPI := mustPendingDraft(t, base, worker, caseID)
		if len(viaAPI.Content.Statements) < 2 {
			t.Fatalf("the demo summary has %d statements, want 2 or more", len(viaAPI.Content.Statements))
		}
		removed := viaAPI.Content.Statements[1].Text
		edited, statements := decide(viaAPI)
		if !strings.Contains(edited, removed) {
			t.Fatalf("the edited text lacks the line to leave out:\n%s", edited)
		}
		req, _ := http.NewRequest("GET", base+"/v1/drafts/"+viaAPI.ID, nil)
		req.Header.Set("Authorization", "Bearer "+worker)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		body, _ := json.Marshal(map[string]any{"content": edited, "statements": statements})
		req, _ = http.NewRequest("POST", base+"/v1/drafts/"+viaAPI.ID+"/approve", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+worker)
		req.Header.Set("If-Match", resp.Header.Get("ETag"))
		var apiEntry review.Entry
		do(t, req, http.StatusOK, &apiEntry)

		viaWeb := mustPendingDraft(t, base, worker, caseID)
		if viaWeb.Content.Text() != viaAPI.Content.Text() {
			t.Fatalf("two drafts of the same notes differ:\n%s\n---\n%s", viaAPI.Content.Text(), viaWeb.Content.Text())
		}
		edited, statements = decide(viaWeb)
		b := newBrowserless(t, base)
		b.signIn(worker)
		page := b.get("/drafts/" + viaWeb.ID)
		etag := regexp.MustCompile(`name="if_match" value="([^"]*)"`).FindStringSubmatch(page)
		if etag == nil || html.UnescapeString(etag[1]) != review.DraftETag(viaWeb) {
			t.Fatalf("the review page does not carry the draft's ETag %s:\n%s", review.DraftETag(viaWeb), page)
		}
		form := url.Values{"content": {strings.ReplaceAll(edited, "\n", "\r\n")}, "if_match": {html.UnescapeString(etag[1])}}
		for _, st := range statements {
			form.Set("st."+st["id"], st["action"])
		}
		if resp := b.post("/drafts/"+viaWeb.ID+"/approve", form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("approve through the web: status %d", resp.StatusCode)
		}

		var record struct {
			Entries []*review.Entry `json:"entries"`
		}
		get(t, base+"/v1/cases/"+caseID+"/record", worker, &record)
		var webEntry *review.Entry
		for _, e := range record.Entries {
			if e.DraftID == viaWeb.ID {
				webEntry = e
			}
		}
		if webEntry == nil {
			t.Fatalf("the web's approval is not in the record: %+v", record.Entries)
		}
		if webEntry.Content != apiEntry.Content {
			t.Fatalf("the same decision signed different text:\nAPI: %q\nweb: %q", apiEntry.Content, webEntry.Content)
		}
		if strings.Contains(webEntry.Content, removed) || !strings.Contains(webEntry.Content, "Reworded by the reviewer") {
			t.Fatalf("the signed text is not the edit less the statement left out:\n%s", webEntry.Content)
		}
	})
}

// TestMaxBodyBoundsWebForms shows --max-body bounding the web's forms as it
// bounds the API's bodies.
func TestMaxBodyBoundsWebForms(t *testing.T) {
	t.Parallel()
	m := NewMain(io.Discard, io.Discard, env(map[string]string{"COUNTERSIGN_AUDIT_KEY": filepath.Join(t.TempDir(), "audit.key")}))
	m.Config.DSN, m.Config.Addr, m.Config.RateLimit, m.Config.MaxBodyBytes = storetest.SQLiteDSN(t), "127.0.0.1:0", 0, 4<<10
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for size, want := range map[int]int{1 << 10: http.StatusForbidden, 8 << 10: http.StatusRequestEntityTooLarge} {
		// No sign-in form was loaded, so a small form is refused for its
		// missing CSRF token; a large one for its size, before it is read.
		resp, err := http.PostForm("http://"+m.Addr()+"/signin", url.Values{"token": {strings.Repeat("x", size)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("a %d-byte sign-in form with --max-body 4096: status %d, want %d", size, resp.StatusCode, want)
		}
	}
}

// mustPendingDraft requests a summary through the API and waits, up to a
// deadline, for the drafting workers to write it.
func mustPendingDraft(t *testing.T, base, token, caseID string) *review.Draft {
	t.Helper()
	var d review.Draft
	post(t, base+"/v1/cases/"+caseID+"/drafts", token, `{"kind":"summary"}`, http.StatusAccepted, &d)
	deadline := time.Now().Add(patience)
	for d.Status != review.StatusPendingReview {
		if time.Now().After(deadline) || d.Status == review.StatusFailed {
			t.Fatalf("draft is %s: %s", d.Status, d.FailureReason)
		}
		time.Sleep(pollInterval)
		get(t, base+"/v1/drafts/"+d.ID, token, &d)
	}
	return &d
}

// browserless is a cookie jar that reads the web interface's CSRF token
// from each page, as a browser submitting its forms would.
type browserless struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newBrowserless(t *testing.T, base string) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browserless) read(resp *http.Response, err error) (*http.Response, string) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(raw); m != nil {
		b.csrf = html.UnescapeString(string(m[1]))
	}
	return resp, string(raw)
}

func (b *browserless) get(path string) string {
	b.t.Helper()
	resp, body := b.read(b.c.Get(b.base + path))
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: status %d:\n%s", path, resp.StatusCode, body)
	}
	return body
}

func (b *browserless) post(path string, form url.Values) *http.Response {
	b.t.Helper()
	form.Set("csrf", b.csrf)
	resp, _ := b.read(b.c.PostForm(b.base+path, form))
	return resp
}

func (b *browserless) signIn(token string) {
	b.t.Helper()
	b.get("/signin")
	if resp := b.post("/signin", url.Values{"token": {token}}); resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in: status %d", resp.StatusCode)
	}
}
