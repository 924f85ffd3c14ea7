package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestNoOpenRedirect shows that no redirect of the interface leads to
// another origin, whatever the language switch's back or the sign-in's
// next say (httpx.LocalPath is the rule; FuzzLocalPath checks it).
func TestNoOpenRedirect(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	hostile := []string{"/%09/other.example/x", "//other.example/x", "/\\other.example", "https://other.example/", "/%2F%2Fother.example", "/%0a/other.example", "/ /other.example"}

	t.Run("TheLanguageSwitchStaysOnTheSite", func(t *testing.T) {
		t.Parallel()
		c := b.client(t)
		for _, back := range hostile {
			// back as a browser sends it: raw in the query string, and escaped.
			qs := []string{"back=" + url.QueryEscape(back)}
			if !strings.Contains(back, " ") { // a raw space is no HTTP request at all
				qs = append(qs, "back="+back)
			}
			for _, q := range qs {
				resp, _ := c.get("/lang/en?" + q)
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
					t.Errorf("/lang/en?%s: %d to %q, want 303 to /", q, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		}
		resp, _ := c.get("/lang/fr?back=" + url.QueryEscape("/cases?done=note_added"))
		if loc := resp.Header.Get("Location"); loc != "/cases?done=note_added" {
			t.Fatalf("a local back led to %q", loc)
		}
	})

	t.Run("SignInGoesOnlyToAPageOfTheSite", func(t *testing.T) {
		t.Parallel()
		for _, next := range hostile {
			c := b.client(t)
			c.get("/signin?next=" + url.QueryEscape(next))
			resp, _ := c.post("/signin", url.Values{"token": {b.tokens["worker"]}, "next": {next}})
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
				t.Errorf("sign-in with next %q: %d to %q, want 303 to /", next, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		c := b.client(t)
		c.get("/signin")
		resp, _ := c.post("/signin", url.Values{"token": {b.tokens["worker"]}, "next": {"/cases/" + b.f.Case.ID}})
		if loc := resp.Header.Get("Location"); loc != "/cases/"+b.f.Case.ID {
			t.Fatalf("a local next led to %q", loc)
		}
	})
}

// TestSessionEndsWithItsCredentials shows a signed-in browser losing its session
// the moment the token it signed in with is revoked, or its user disabled.
func TestSessionEndsWithItsCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, b *uiBundle, tokenID string)
	}{
		{"TokenRevoked", func(t *testing.T, b *uiBundle, tokenID string) {
			if err := b.db.RevokeToken(storetest.CLI(), tokenID); err != nil {
				t.Fatal(err)
			}
		}},
		{"UserDisabled", func(t *testing.T, b *uiBundle, _ string) {
			if err := b.db.DisableUser(storetest.CLI(), b.f.Worker.ID); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := uiSetup(t)
			soon := time.Now().Add(time.Hour)
			tok, secret, err := b.db.CreateToken(storetest.CLI(), b.f.Worker.ID, "browser", &soon)
			if err != nil {
				t.Fatal(err)
			}
			c := b.client(t)
			c.get("/signin")
			if resp, _ := c.post("/signin", url.Values{"token": {secret}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", resp.StatusCode)
			}
			if resp, _ := c.get("/cases"); resp.StatusCode != http.StatusOK {
				t.Fatalf("cases while signed in: %d", resp.StatusCode)
			}
			tc.end(t, b, tok.ID)
			resp, _ := c.get("/cases")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
				t.Fatalf("cases after the credential ended: %d to %q, want the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

// TestWrongMethod shows a page asked with a method it does not take
// answering 405 with Allow and the interface's error page, and an unknown
// page 404 with the same page.
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	c := b.client(t)
	req, _ := http.NewRequest(http.MethodDelete, b.srv.URL+"/cases", nil)
	resp, body := c.do(req)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<html") {
		t.Fatalf("DELETE /cases: %d, Allow %q, %s\n%s", resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), body)
	}
	req, _ = http.NewRequest(http.MethodGet, b.srv.URL+"/signout", nil)
	if resp, _ := c.do(req); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET /signout: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, body = c.get("/nowhere")
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Allow") != "" || !strings.Contains(body, "<html") {
		t.Fatalf("GET /nowhere: %d, Allow %q\n%s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}
