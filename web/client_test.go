package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// clientPass is the passphrase the test clients choose.
const clientPass = "the green door by the bakery"

// clientBrowser is an HTTP client with its own cookies, that follows no
// redirect, so each answer can be checked.
type clientBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClientBrowser(t *testing.T, base string) *clientBrowser {
	jar, _ := cookiejar.New(nil)
	return &clientBrowser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get returns the status, the Location and the body of GET path.
func (cb *clientBrowser) get(path string) (int, string, string) {
	cb.t.Helper()
	resp, err := cb.c.Get(cb.base + path)
	if err != nil {
		cb.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// post posts form to path, with the CSRF token of the page at from.
func (cb *clientBrowser) post(from, path string, form url.Values) (*http.Response, string) {
	cb.t.Helper()
	if from != "" {
		_, _, body := cb.get(from)
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			cb.t.Fatalf("%s has no CSRF token", from)
		}
		form.Set("csrf", m[1])
	}
	resp, err := cb.c.PostForm(cb.base+path, form)
	if err != nil {
		cb.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// invite invites the fixture's client and returns the code and account id.
func (b *uiBundle) invite(t *testing.T) (code, account string) {
	t.Helper()
	inv, code, err := b.db.CreateInvitation(storetest.As(storetest.CLI(), b.f.Worker), b.f.Case.ID, b.f.Client.ID)
	if err != nil {
		t.Fatal(err)
	}
	return code, inv.AccountID
}

// signUp takes a client from the letter's code to their file, choosing a
// passphrase.
func (cb *clientBrowser) signUp(code string) {
	cb.t.Helper()
	resp, _ := cb.post("/client/signin", "/client/code", url.Values{"code": {code}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/client/welcome" {
		cb.t.Fatalf("code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = cb.post("/client/welcome", "/client/passphrase", url.Values{"passphrase": {clientPass}, "passphrase2": {clientPass}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/client") {
		cb.t.Fatalf("passphrase: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestClientPages(t *testing.T) {
	t.Parallel()

	t.Run("ASignUpWithTheCodeAndAPassphraseOpensTheFile", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		code, account := b.invite(t)
		cb := newClientBrowser(t, b.srv.URL)
		// A mistyped code says so, in plain words.
		resp, body := cb.post("/client/signin", "/client/code", url.Values{"code": {"AAAA-BBBB-CCCC"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "This code does not work") {
			t.Fatalf("wrong code: %d", resp.StatusCode)
		}
		resp, _ = cb.post("/client/signin", "/client/code", url.Values{"code": {strings.ToLower(code)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("code: %d", resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Name, "countersign_client") && c.Path != "/client" {
				t.Errorf("cookie %s has path %q, want /client", c.Name, c.Path)
			}
		}
		_, _, welcome := cb.get("/client/welcome")
		if !strings.Contains(welcome, account) || !strings.Contains(welcome, "Marie Dubois") {
			t.Fatal("the welcome page does not show the account number and the name")
		}
		// The passphrase rule is the domain's, said in the client's words.
		resp, body = cb.post("/client/welcome", "/client/passphrase", url.Values{"passphrase": {"short"}, "passphrase2": {"short"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least 12 characters") {
			t.Fatalf("short passphrase: %d", resp.StatusCode)
		}
		resp, body = cb.post("/client/welcome", "/client/passphrase", url.Values{"passphrase": {clientPass}, "passphrase2": {clientPass + "!"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not the same") {
			t.Fatalf("mismatch: %d", resp.StatusCode)
		}
		resp, _ = cb.post("/client/welcome", "/client/passphrase", url.Values{"passphrase": {clientPass}, "passphrase2": {clientPass}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("passphrase: %d", resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "countersign_client" && (c.Path != "/client" || !c.HttpOnly || c.Value == "") {
				t.Fatalf("session cookie %+v", c)
			}
		}
		status, _, home := cb.get("/client")
		if status != http.StatusOK || !strings.Contains(home, "Marie Dubois") || !strings.Contains(home, `lang="en"`) {
			t.Fatalf("home: %d", status)
		}
		if status, loc, _ := cb.get("/client/signin"); status != http.StatusSeeOther || loc != "/client" {
			t.Fatalf("the sign-in page, signed in: %d %s", status, loc)
		}
		// Signing out ends the session; a POST without the CSRF token does nothing.
		resp, _ = cb.post("", "/client/signout", url.Values{})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("sign-out without CSRF: %d", resp.StatusCode)
		}
		resp, _ = cb.post("/client", "/client/signout", url.Values{})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", resp.StatusCode)
		}
		if status, loc, _ := cb.get("/client"); status != http.StatusSeeOther || loc != "/client/signin" {
			t.Fatalf("after sign-out: %d %s", status, loc)
		}
		// The code was single-use; the passphrase signs in from now on.
		resp, _ = cb.post("/client/signin", "/client/code", url.Values{"code": {code}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("reused code: %d", resp.StatusCode)
		}
		resp, body = cb.post("/client/signin", "/client/signin", url.Values{"email_or_id": {account}, "passphrase": {"wrong wrong wrong"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "could not sign you in") {
			t.Fatalf("wrong passphrase: %d", resp.StatusCode)
		}
		resp, _ = cb.post("/client/signin", "/client/signin", url.Values{"email_or_id": {account}, "passphrase": {clientPass}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/client" {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
	})

	t.Run("TheLanguageSwitchIsRememberedInTheSession", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		code, _ := b.invite(t)
		cb := newClientBrowser(t, b.srv.URL)
		if status, loc, _ := cb.get("/client/lang/nl?back=/client/signin"); status != http.StatusSeeOther || loc != "/client/signin" {
			t.Fatalf("switch: %d %s", status, loc)
		}
		if _, _, body := cb.get("/client/signin"); !strings.Contains(body, `lang="nl"`) || !strings.Contains(body, "Meld u aan") {
			t.Fatal("the sign-in page is not in Dutch")
		}
		cb.signUp(code)
		if _, _, body := cb.get("/client"); !strings.Contains(body, `lang="nl"`) {
			t.Fatal("the session did not take the language chosen before signing in")
		}
		cb.get("/client/lang/de?back=/client")
		// The session holds the choice, whatever the cookie says.
		u, _ := url.Parse(b.srv.URL + "/client")
		cb.c.Jar.SetCookies(u, []*http.Cookie{{Name: "countersign_client_lang", Value: "fr", Path: "/client"}})
		if _, _, body := cb.get("/client"); !strings.Contains(body, `lang="de"`) || !strings.Contains(body, "Ihre Akte") {
			t.Fatal("the session does not remember German")
		}
		// Only a page of the client's may be the way back.
		if _, loc, _ := cb.get("/client/lang/fr?back=/cases"); loc != "/client" {
			t.Fatalf("back to %s", loc)
		}
		if status, _, _ := cb.get("/client/lang/es"); status != http.StatusNotFound {
			t.Fatalf("unknown language: %d", status)
		}
	})

	t.Run("TheLetterIsForWhoeverMayInviteAndOnlyWithItsCode", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		inv, code, err := b.db.CreateInvitation(storetest.As(storetest.CLI(), b.f.Worker), b.f.Case.ID, b.f.Client.ID)
		if err != nil {
			t.Fatal(err)
		}
		letter := client.LetterPath(inv, code)
		worker := staffBrowser(t, b, "worker")
		status, _, body := worker.get(letter)
		if status != http.StatusOK {
			t.Fatalf("letter: %d", status)
		}
		for _, want := range []string{code, inv.AccountID, "Marie Dubois", `<svg xmlns="http://www.w3.org/2000/svg"`, b.srv.URL + "/client/signin", `lang="en"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the letter lacks %q", want)
			}
		}
		if status, _, _ := worker.get(strings.Replace(letter, "code="+code, "code=AAAA-BBBB-CCCC", 1)); status != http.StatusNotFound {
			t.Fatalf("wrong code: %d", status)
		}
		if status, _, _ := staffBrowser(t, b, "other").get(letter); status != http.StatusForbidden {
			t.Fatalf("another team's worker: %d", status)
		}
		if status, loc, _ := newClientBrowser(t, b.srv.URL).get(letter); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/signin") {
			t.Fatalf("no session: %d %s", status, loc)
		}
		// Invited from the case page, the worker lands on the letter.
		resp, _ := worker.post("/cases/"+b.f.Case.ID, "/cases/"+b.f.Case.ID+"/parties/"+b.f.Client.ID+"/invitations", url.Values{})
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/letter?code=") {
			t.Fatalf("invite: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("StaffSessionsAreNoClientsAndClientSessionsNoStaff", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		worker := staffBrowser(t, b, "worker")
		if status, loc, _ := worker.get("/client"); status != http.StatusSeeOther || loc != "/client/signin" {
			t.Fatalf("a staff session at /client: %d %s", status, loc)
		}
		code, _ := b.invite(t)
		cb := newClientBrowser(t, b.srv.URL)
		cb.signUp(code)
		// The browser never sends the client cookie outside /client; sent
		// all the same, it opens no staff page.
		u, _ := url.Parse(b.srv.URL + "/client")
		var secret string
		for _, c := range cb.c.Jar.Cookies(u) {
			if c.Name == "countersign_client" {
				secret = c.Value
			}
		}
		req, _ := http.NewRequest("GET", b.srv.URL+"/cases", nil)
		req.AddCookie(&http.Cookie{Name: "countersign_client", Value: secret})
		req.AddCookie(&http.Cookie{Name: "countersign_session", Value: secret})
		resp, err := cb.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
			t.Fatalf("a client session at /cases: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// staffBrowser is a browser signed in to the staff pages as role.
func staffBrowser(t *testing.T, b *uiBundle, role string) *clientBrowser {
	t.Helper()
	cb := newClientBrowser(t, b.srv.URL)
	resp, _ := cb.post("/signin", "/signin", url.Values{"token": {b.tokens[role]}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff sign-in as %s: %d", role, resp.StatusCode)
	}
	return cb
}

// TestClientPagesWeighLessThan100KB sums each client page and the static
// files it loads: the pages must open on a slow mobile connection.
func TestClientPagesWeighLessThan100KB(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	inv, code, err := b.db.CreateInvitation(storetest.As(storetest.CLI(), b.f.Worker), b.f.Case.ID, b.f.Client.ID)
	if err != nil {
		t.Fatal(err)
	}
	letter := staffBrowser(t, b, "worker")
	cb := newClientBrowser(t, b.srv.URL)
	weigh := func(cb *clientBrowser, path string) { checkPageWeight(t, cb, path) }
	weigh(cb, "/client/signin")
	cb.post("/client/signin", "/client/code", url.Values{"code": {code}})
	weigh(cb, "/client/welcome")
	cb.post("/client/welcome", "/client/passphrase", url.Values{"passphrase": {clientPass}, "passphrase2": {clientPass}})
	weigh(cb, "/client")
	weigh(letter, client.LetterPath(inv, code))
}

var staticAsset = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// checkPageWeight fails the test when the page at path, with the static
// files it loads, weighs 100 KB or more: every client page must open on a
// slow mobile connection. cb is the (signed-in) browser that opens it.
func checkPageWeight(t *testing.T, cb *clientBrowser, path string) {
	t.Helper()
	status, _, body := cb.get(path)
	if status != http.StatusOK {
		t.Fatalf("%s: %d", path, status)
	}
	total := len(body)
	for _, m := range staticAsset.FindAllStringSubmatch(body, -1) {
		_, _, a := cb.get(m[1])
		total += len(a)
	}
	t.Logf("%s: %d bytes with its assets", path, total)
	if total >= 100<<10 {
		t.Errorf("%s weighs %d bytes with its assets, over 100 KB", path, total)
	}
}

// TestClientCodeEntryIsLimited shows the page's code entry under the
// sign-in limit: once an address has used up its failed entries, even the
// right code waits, and is not even checked.
func TestClientCodeEntryIsLimited(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	f := storetest.MustSeed(t, db)
	limits := &httpx.Limits{SignIns: &httpx.RateLimit{PerSecond: 1.0 / 3600, Burst: 2}}
	srv := httptest.NewServer((&web.Server{Identity: db, Cases: db, Review: db, Audit: db, Clients: db, Limits: limits}).Handler())
	t.Cleanup(srv.Close)
	_, code, err := db.CreateInvitation(storetest.As(storetest.CLI(), f.Worker), f.Case.ID, f.Client.ID)
	if err != nil {
		t.Fatal(err)
	}
	cb := newClientBrowser(t, srv.URL)
	for range 2 {
		if resp, _ := cb.post("/client/signin", "/client/code", url.Values{"code": {"AAAA-BBBB-CCCC"}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code: %d", resp.StatusCode)
		}
	}
	resp, body := cb.post("/client/signin", "/client/code", url.Values{"code": {code}})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many tries") {
		t.Fatalf("the right code after the limit: %d", resp.StatusCode)
	}
	if _, _, err := db.StartCeremony(storetest.CLI(), code); err != nil {
		t.Fatalf("the code was spent while refused: %v", err)
	}
}
