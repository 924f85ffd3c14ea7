package main

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// routePatterns returns every route pattern with a method ("GET /x") that
// packages api and web write in their source, and that the service's mux
// serves as that very pattern: the whole route table of both doors,
// however each route is registered (authed, page, clientAuthed, …).
func routePatterns(t *testing.T) []string {
	t.Helper()
	mux := http.NewServeMux()
	api.NewServer().Routes(mux)
	(&web.Server{}).Routes(mux)
	pattern := regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) (/\S*)$`)
	seen := map[string]bool{}
	var out []string
	for _, dir := range []string{"../../api", "../../web"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !pattern.MatchString(s) || seen[s] {
					return true
				}
				method, path, _ := strings.Cut(s, " ")
				req := httptest.NewRequest(method, fillRoute(path, "x", "x"), nil)
				if _, got := mux.Handler(req); got == s {
					seen[s] = true
					out = append(out, s)
				}
				return true
			})
		}
	}
	return out
}

var wildcard = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)

// fillRoute puts real ids into a route's wildcards, so that a request
// refused is refused for its credential, not for an unknown case.
func fillRoute(path, caseID, partyID string) string {
	path = strings.TrimSuffix(path, "{$}")
	return wildcard.ReplaceAllStringFunc(path, func(w string) string {
		switch w {
		case "{id}":
			return caseID
		case "{party_id}":
			return partyID
		}
		return "0"
	})
}

func isClientRoute(path string) bool {
	return path == "/client" || strings.HasPrefix(path, "/client/") || strings.HasPrefix(path, "/v1/client/")
}

// TestClientAndStaffAreKeptApartOnEveryRoute walks the whole route table of
// the service: a client's credentials (bearer token, session cookie) get
// from every staff route exactly what no credential gets, and a staff
// member's get the same from every client route. Cookies are scoped apart:
// the client's to /client.
func TestClientAndStaffAreKeptApartOnEveryRoute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := NewMain(io.Discard, io.Discard, env(map[string]string{"COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key"),
		"COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, dir)}))
	// No limits: every request must be answered for what it is, not for
	// how many came before it.
	m.Config.DSN, m.Config.Addr, m.Config.Demo, m.Config.RateLimit, m.Config.SignInLimit = storetest.SQLiteDSN(t), "127.0.0.1:0", true, 0, 0
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	base := "http://" + m.Addr()
	cli := countersign.NewContextWithActor(context.Background(), countersign.SystemCLI)

	var staffToken string
	for _, tok := range m.Tokens {
		if tok.Role == countersign.RoleWorker {
			staffToken = tok.Token
		}
	}
	tok, _, err := m.DB.Authenticate(cli, staffToken)
	if err != nil {
		t.Fatal(err)
	}
	_, staffCookie, err := m.DB.CreateSession(cli, tok.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cases, _, err := m.DB.FindCases(cli, casefile.CaseFilter{Limit: 10})
	if err != nil || len(cases) == 0 {
		t.Fatalf("demo cases: %v", err)
	}
	caseID := cases[0].ID
	parties, err := m.DB.FindParties(cli, caseID)
	if err != nil {
		t.Fatal(err)
	}
	var partyID string
	for _, p := range parties {
		if p.Role == "client" {
			partyID = p.ID
		}
	}
	_, code, err := m.DB.CreateInvitation(cli, caseID, partyID)
	if err != nil {
		t.Fatal(err)
	}
	s, clientToken, err := m.DB.Redeem(cli, client.Redemption{Code: code, Passphrase: "the green door by the bakery", Kind: client.KindToken})
	if err != nil {
		t.Fatal(err)
	}
	_, clientCookie, err := m.DB.SignInWithPassphrase(cli, client.SignInFilter{AccountID: s.AccountID}, "the green door by the bakery", client.KindBrowser, "")
	if err != nil {
		t.Fatal(err)
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	type answer struct {
		status   int
		location string
	}
	send := func(method, path string, auth func(*http.Request)) answer {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if strings.HasPrefix(path, "/v1/") {
			req.Header.Set("Content-Type", "application/json")
		} else if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth != nil {
			auth(req)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return answer{resp.StatusCode, resp.Header.Get("Location")}
	}
	bearer := func(secret string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) }
	}
	// A foreign cookie is sent under both names: the browser would not
	// send it at all, but someone may.
	cookies := func(secret string) func(*http.Request) {
		return func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: "countersign_session", Value: secret})
			r.AddCookie(&http.Cookie{Name: "countersign_client", Value: secret})
		}
	}

	// The credentials work at their own doors.
	for _, c := range []struct {
		method, path string
		auth         func(*http.Request)
	}{
		{"GET", "/v1/me", bearer(staffToken)},
		{"GET", "/v1/client/me", bearer(clientToken)},
		{"GET", "/cases", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "countersign_session", Value: staffCookie}) }},
		{"GET", "/client", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "countersign_client", Value: clientCookie}) }},
	} {
		if a := send(c.method, c.path, c.auth); a.status != http.StatusOK {
			t.Fatalf("%s %s with its own credential: %d", c.method, c.path, a.status)
		}
	}

	routes := routePatterns(t)
	if len(routes) < 60 {
		t.Fatalf("found only %d routes; the walk is broken", len(routes))
	}
	var staffRoutes, clientRoutes int
	for _, rt := range routes {
		method, pattern, _ := strings.Cut(rt, " ")
		path := fillRoute(pattern, caseID, partyID)
		foreign := map[string]func(*http.Request){"a client's token": bearer(clientToken), "a client's session": cookies(clientCookie)}
		if isClientRoute(pattern) {
			clientRoutes++
			foreign = map[string]func(*http.Request){"a staff token": bearer(staffToken), "a staff session": cookies(staffCookie)}
		} else {
			staffRoutes++
		}
		none := send(method, path, nil)
		if none.status < 300 && !publicRoute(rt) {
			t.Errorf("%s answers %d without any credential", rt, none.status)
		}
		for what, auth := range foreign {
			if got := send(method, path, auth); got != none {
				t.Errorf("%s with %s: %d %q, but %d %q without any credential", rt, what, got.status, got.location, none.status, none.location)
			}
		}
	}
	t.Logf("%d staff routes and %d client routes walked", staffRoutes, clientRoutes)
	if clientRoutes < 10 {
		t.Fatalf("only %d client routes", clientRoutes)
	}
}

// publicRoute reports whether rt answers without a credential: probes,
// static files, sign-in pages, the OpenAPI document, calendar feeds.
func publicRoute(rt string) bool {
	_, path, _ := strings.Cut(rt, " ")
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/static/", "/signin", "/lang/", "/client/signin", "/client/lang/", "/client/welcome", "/ical/"} {
		if path == p || strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
