package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestRateLimit runs the service as serve does and shows the limits
// SECURITY.md promises: on by default; a token over its limit refused with
// 429 problem+json and Retry-After however its header is spelt, while
// another token is still served; failed sign-ins limited per client
// address, through the API and through the sign-in page alike.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	start := func(t *testing.T, vars map[string]string, args ...string) *Main {
		t.Helper()
		vars["COUNTERSIGN_AUDIT_KEY"] = filepath.Join(t.TempDir(), "audit.key")
		m := NewMain(io.Discard, io.Discard, env(vars))
		if err := m.ParseFlags(append([]string{"--db", storetest.SQLiteDSN(t), "--addr", "127.0.0.1:0", "--demo"}, args...)); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	call := func(t *testing.T, m *Main, authorization string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+m.Addr()+"/v1/cases", nil)
		req.Header.Set("Authorization", authorization)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	refused := func(t *testing.T, resp *http.Response) {
		t.Helper()
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 429 || resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Retry-After") == "" ||
			p.Status != 429 || p.Code != "rate_limited" || p.Detail == "" {
			t.Fatalf("over the limit: %d %v %+v", resp.StatusCode, resp.Header, p)
		}
	}

	t.Run("OnByDefault", func(t *testing.T) {
		t.Parallel()
		m := start(t, map[string]string{})
		l := m.Server.Limits
		if l == nil || l.Requests == nil || l.Requests.PerSecond != 50 || l.Requests.Burst != 100 {
			t.Fatalf("default rate limit %+v, want 50 per second, burst 100", l)
		}
		if l.SignIns == nil || l.SignIns.PerSecond*60 != 10 || l.SignIns.Burst != 10 {
			t.Fatalf("default failed sign-in limit %+v, want 10 a minute, 10 at once", l.SignIns)
		}
		if m.Web.Limits != l {
			t.Fatal("the web interface does not share the API's limits")
		}
	})

	t.Run("RefusesATokenOverTheLimitWith429HoweverItIsSpelt", func(t *testing.T) {
		t.Parallel()
		m := start(t, map[string]string{}, "--rate-limit", "0.01", "--rate-burst", "3")
		worker, supervisor := m.Tokens[0], m.Tokens[1]
		if worker.Role != "worker" || supervisor.Role != "supervisor" {
			t.Fatalf("demo tokens %v, %v", worker.Role, supervisor.Role)
		}
		// The scheme in any case, spaces around the token: one token, one key.
		for i, h := range []string{"Bearer " + worker.Token, "bearer  " + worker.Token + " ", "BEARER " + worker.Token} {
			if resp := call(t, m, h); resp.StatusCode != 200 {
				t.Fatalf("request %d (%q) within the burst: %d", i+1, strings.Replace(h, worker.Token, "TOKEN", 1), resp.StatusCode)
			}
		}
		refused(t, call(t, m, "Bearer   "+worker.Token))
		if resp := call(t, m, "Bearer "+supervisor.Token); resp.StatusCode != 200 {
			t.Fatalf("another token was refused too: %d", resp.StatusCode)
		}
	})

	t.Run("LimitsFailedSignInsThroughTheAPI", func(t *testing.T) {
		t.Parallel()
		m := start(t, map[string]string{"COUNTERSIGN_SIGNIN_LIMIT": "3"})
		for i := range 3 {
			if resp := call(t, m, "Bearer cst_guess"+strings.Repeat("x", i)); resp.StatusCode != 401 {
				t.Fatalf("wrong token %d: %d, want 401", i+1, resp.StatusCode)
			}
		}
		// The address is refused before any token is checked, the right one too.
		refused(t, call(t, m, "Bearer cst_guess_again"))
		refused(t, call(t, m, "Bearer "+m.Tokens[0].Token))
	})

	t.Run("LimitsFailedSignInsThroughTheSignInPage", func(t *testing.T) {
		t.Parallel()
		m := start(t, map[string]string{}, "--signin-limit", "3")
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		base := "http://" + m.Addr()
		signIn := func(token string) *http.Response {
			t.Helper()
			resp, err := c.Get(base + "/signin")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
			if csrf == nil {
				t.Fatalf("no CSRF field on the sign-in page:\n%s", page)
			}
			resp, err = c.PostForm(base+"/signin", url.Values{"csrf": {string(csrf[1])}, "token": {token}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		for i := range 3 {
			if resp := signIn("cst_guess" + strings.Repeat("x", i)); resp.StatusCode != 401 {
				t.Fatalf("wrong token %d: %d, want 401", i+1, resp.StatusCode)
			}
		}
		resp := signIn(m.Tokens[0].Token)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("sign-in after three failures: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "countersign_session" {
				t.Fatal("a session was started for an address over its failed sign-ins")
			}
		}
		// The API's failed sign-ins and the page's are one count.
		refused(t, call(t, m, "Bearer "+m.Tokens[0].Token))
	})

	t.Run("ZeroSwitchesThemOff", func(t *testing.T) {
		t.Parallel()
		m := start(t, map[string]string{"COUNTERSIGN_RATE_LIMIT": "0", "COUNTERSIGN_RATE_BURST": "1", "COUNTERSIGN_SIGNIN_LIMIT": "0"})
		if l := m.Server.Limits; l.Requests != nil || l.SignIns != nil {
			t.Fatalf("limits %+v with COUNTERSIGN_RATE_LIMIT=0 and COUNTERSIGN_SIGNIN_LIMIT=0", l)
		}
		for i := range 5 {
			if resp := call(t, m, "Bearer "+m.Tokens[0].Token); resp.StatusCode != 200 {
				t.Fatalf("request %d: %d", i+1, resp.StatusCode)
			}
			if resp := call(t, m, "Bearer cst_wrong"); resp.StatusCode != 401 {
				t.Fatalf("wrong token %d: %d", i+1, resp.StatusCode)
			}
		}
	})
}

// TestShippedBinaryLimitsRequests starts the binary itself: failed sign-ins
// from one address meet the default limit (10 a minute), and a token meets
// the per-token limit set in the environment (a small one, so no machine
// is slow enough to refill it between calls).
func TestShippedBinaryLimitsRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the real binary")
	}
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"DATABASE_URL=" + filepath.Join(dir, "countersign.db"), "COUNTERSIGN_AUDIT_KEY=" + filepath.Join(dir, "keys", "audit.key"),
		"COUNTERSIGN_EVENT_KEY=" + filepath.Join(dir, "keys", "event.key"), "COUNTERSIGN_RATE_LIMIT=0.01", "COUNTERSIGN_RATE_BURST=5",
		"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	logs := &syncBuffer{}
	p := startProc(t, bin, freeAddr(t), env, logs, "--demo")
	token := demoToken(t, p.stdout.String(), "worker")
	get := func(authorization string) int {
		req, _ := http.NewRequest("GET", "http://"+p.addr+"/v1/cases", nil)
		req.Header.Set("Authorization", authorization)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Fatal("a 429 without Retry-After")
		}
		return resp.StatusCode
	}
	// A live token with a burst of 5: the sixth call is refused, however
	// the header is written (spaces and the scheme's case make no new key).
	forms := []string{"Bearer " + token, "bearer  " + token, "BEARER " + token + " "}
	for i := range 5 {
		if code := get(forms[i%len(forms)]); code != http.StatusOK {
			t.Fatalf("call %d of a fresh token: %d", i+1, code)
		}
	}
	if code := get(forms[1]); code != http.StatusTooManyRequests {
		t.Fatalf("the sixth call within the burst of 5: %d, want 429", code)
	}
	// Failed sign-ins: the default allows 10 a minute from one address.
	failed := 0
	for ; failed < 50 && get("Bearer cst_not-a-token") != http.StatusTooManyRequests; failed++ {
	}
	if failed == 50 {
		t.Fatal("50 failed sign-ins from one address were never refused")
	}
}
