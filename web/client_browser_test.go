package web_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/sqlstore/storetest"
)

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axeViolation is one rule axe-core found broken, with where.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// checkAxe runs axe-core (testdata/axe, test only) on the page the browser
// shows and fails the test on any violation of the WCAG 2.0, 2.1 and 2.2 A
// and AA rules. Call it on every client page once it is shown.
func checkAxe(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	for _, v := range axeViolations(t, ctx, page) {
		for _, n := range v.Nodes {
			t.Errorf("%s: axe %s (%s): %s at %v: %s", page, v.ID, v.Impact, v.Help, n.Target, n.HTML)
		}
	}
}

// axeViolations injects axe-core into the page with Runtime.evaluate and
// returns what it finds.
func axeViolations(t *testing.T, ctx context.Context, page string) []axeViolation {
	t.Helper()
	axeOnce.Do(func() {
		var b []byte
		b, axeErr = os.ReadFile("testdata/axe/axe.min.js")
		axeSource = string(b)
	})
	if axeErr != nil {
		t.Fatalf("read axe-core: %v", axeErr)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource+";\ntrue")); err != nil {
		t.Fatalf("%s: inject axe-core: %v", page, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]}, resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("%s: axe-core's answer: %v", page, err)
	}
	return vs
}

// chromium is the one headless Chromium of the package's browser tests,
// started by the first of them (startChromium) and stopped by TestMain
// (stopChromium). Each test has a browser context of its own in it
// (newChromium): its own cookies, storage and tab, as in a browser of its
// own, without starting one per test.
var chromium struct {
	once sync.Once
	ctx  context.Context // the browser's first tab, the parent of the tests'
	stop func()
	path string
	err  error
}

func startChromium() {
	chromium.path = chromePath()
	if chromium.path == "" {
		return
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium.path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-GB"),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	chromium.ctx, chromium.stop = ctx, func() { cancel(); cancelAlloc() }
	// Started with no timeout: the browser runs as long as the context of
	// its first run.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("true")); err != nil {
		chromium.err = err
	}
}

// stopChromium stops the browser, if a test started it; TestMain calls it.
func stopChromium() {
	if chromium.stop != nil {
		chromium.stop()
	}
}

// newChromium returns a new tab of the package's headless Chromium, in a
// browser context of the test's own (closed with the test), with a viewport
// of width by height; it skips the test when there is no Chromium.
func newChromium(t *testing.T, width, height int64) context.Context {
	t.Helper()
	chromium.once.Do(startChromium)
	if chromium.path == "" {
		t.Skipf("browser tests skipped: no Chromium found; install chromium or set %s to its path", EnvChrome)
	}
	if chromium.err != nil {
		t.Fatalf("start chromium (%s): %v", chromium.path, chromium.err)
	}
	ctx, cancel := chromedp.NewContext(chromium.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The tab's first run with no timeout either: the tab lives as long as
	// the context of its first run.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("open a tab in chromium (%s): %v", chromium.path, err)
	}
	return ctx
}

// TestClientBrowserPasskeys signs a client up with a passkey and in again
// with it, in headless Chromium with a virtual authenticator (CTAP2,
// internal, resident keys, user verification), on a phone-sized screen, and
// checks every client page with axe-core.
func TestClientBrowserPasskeys(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	ctx := newChromium(t, 390, 844)
	// WebAuthn needs a secure context and a domain: localhost, not 127.0.0.1.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(b.srv.URL, "http://"))
	base := "http://localhost:" + port
	br := &browser{t: t, ctx: ctx, base: base, shot: screenshotDir(t)}

	br.do("add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21, Transport: cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))

	inv, code, err := b.db.CreateInvitation(storetest.As(storetest.CLI(), b.f.Worker), b.f.Case.ID, b.f.Client.ID)
	if err != nil {
		t.Fatal(err)
	}

	br.do("open the sign-in page", chromedp.Navigate(base+"/client/signin"), chromedp.WaitVisible(chromedp.CSS(`button[data-passkey="signin"]`)))
	checkAxe(t, ctx, "sign-in")
	br.screenshot("client-01-signin")
	br.do("enter the code",
		chromedp.SendKeys(chromedp.CSS("#code"), strings.ToLower(code)),
		chromedp.Click(chromedp.CSS(`form[action="/client/code"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-passkey="register"]`)),
	)
	if got := br.text("[data-account-id]"); got != inv.AccountID {
		t.Fatalf("the welcome page shows account %q, want %q", got, inv.AccountID)
	}
	checkAxe(t, ctx, "welcome")
	br.screenshot("client-02-welcome")
	br.do("create a passkey",
		chromedp.Click(chromedp.CSS(`button[data-passkey="register"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/client/signout"]`)),
	)
	if h := br.html(); !strings.Contains(h, "Marie Dubois") {
		t.Fatal("the file does not greet the client")
	}
	checkAxe(t, ctx, "home")
	br.screenshot("client-03-home")

	// The language switch, on every page.
	br.do("switch to Dutch", chromedp.Click(chromedp.CSS(`a[hreflang="nl"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="nl"]`)))
	checkAxe(t, ctx, "home (nl)")
	br.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/client/signout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-passkey="signin"]`)),
	)
	checkAxe(t, ctx, "signed out (nl)")
	br.do("sign in with the passkey",
		chromedp.Click(chromedp.CSS(`button[data-passkey="signin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/client/signout"]`)),
	)
	if h := br.html(); !strings.Contains(h, inv.AccountID) || !strings.Contains(h, `lang="nl"`) {
		t.Fatal("the passkey did not sign the client in to their file, in their language")
	}
	// Both ceremonies are in the log, with ids only.
	for _, a := range []string{client.ActionPasskeyRegistered, client.ActionInvitationUsed} {
		if n := countEvents(t, b, a); n != 1 {
			t.Errorf("%s: %d events, want 1", a, n)
		}
	}
	if n := countEvents(t, b, client.ActionSignedIn); n != 2 {
		t.Errorf("%d sign-ins logged, want 2", n)
	}
	br.do("open a page that does not exist", chromedp.Navigate(base+"/client/lang/xx"), chromedp.WaitVisible(chromedp.CSS("h1")))
	checkAxe(t, ctx, "error")
	// The check can fail: a field without a label is found.
	run(br, "break the page", chromedp.Evaluate[bool](`document.querySelector("main").insertAdjacentHTML("beforeend", "<input type=text>"); true`))
	if vs := axeViolations(t, ctx, "broken"); len(vs) == 0 {
		t.Fatal("axe-core found nothing wrong with an input without a label")
	}
}

// TestClientBrowserLetter checks the printable letter with axe-core.
func TestClientBrowserLetter(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	ctx := newChromium(t, 1280, 900)
	br := &browser{t: t, ctx: ctx, base: b.srv.URL, shot: screenshotDir(t)}
	br.signIn(b.tokens["worker"], "main")
	for _, lang := range client.Languages {
		p := newParty(t, b, lang)
		inv, code, err := b.db.CreateInvitation(storetest.As(storetest.CLI(), b.f.Worker), b.f.Case.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		br.do("open the letter", chromedp.Navigate(b.srv.URL+client.LetterPath(inv, code)), chromedp.WaitVisible(chromedp.CSS("svg.qr")))
		if got := br.text("[data-code]"); got != code {
			t.Fatalf("the letter shows code %q", got)
		}
		if lang != "en" && !strings.Contains(br.html(), `lang="`+lang+`"`) {
			t.Fatalf("the letter is not in %s", lang)
		}
		checkAxe(t, ctx, "letter ("+lang+")")
		br.screenshot("client-letter-" + lang)
	}
}

// countEvents counts the audit events of action, once sequenced.
func countEvents(t *testing.T, b *uiBundle, action string) int {
	t.Helper()
	ctx := storetest.CLI()
	if _, err := b.db.Sequence(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := b.db.FindEvents(ctx, audit.EventFilter{Action: &action})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// newParty adds a client of the fixture's case who reads lang.
func newParty(t *testing.T, b *uiBundle, lang string) string {
	t.Helper()
	p := &casefile.Party{CaseID: b.f.Case.ID, Role: "client", FullName: "Client " + lang, Language: lang}
	if err := b.db.AddParty(storetest.As(storetest.CLI(), b.f.Worker), p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}
