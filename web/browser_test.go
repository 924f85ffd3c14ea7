package web_test

import (
	"context"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// EnvChrome names the variable that points the browser tests at a Chromium
// binary; CI sets it to Debian's chromium.
const EnvChrome = "COUNTERSIGN_CHROME"

// chromePath finds a Chromium to drive, or "".
func chromePath() string {
	if p := os.Getenv(EnvChrome); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotDir returns the directory the screenshots go to: the absolute
// directory COUNTERSIGN_SCREENSHOTS names, or "" when it is unset, and then
// no screenshot is taken: no test looks at the pictures, and a full-page
// capture costs Chromium a render and encode each time. Nothing is written
// into the repository.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("COUNTERSIGN_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		t.Fatalf("COUNTERSIGN_SCREENSHOTS=%q: give an absolute path outside the repository", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser drives one headless Chromium tab against the bundle's server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
}

func (br *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, patience)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		br.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](br *browser, what string, a chromedp.Action[T]) T {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, patience)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		br.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshot saves the whole page as name.png in the screenshot directory,
// when there is one (see screenshotDir).
func (br *browser) screenshot(name string) {
	br.t.Helper()
	if br.shot == "" {
		return
	}
	png := run(br, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(br.shot, name+".png"), png, 0o644); err != nil {
		br.t.Fatal(err)
	}
}

func (br *browser) text(sel string) string {
	br.t.Helper()
	return run(br, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (br *browser) html() string {
	br.t.Helper()
	return run(br, "read the page", chromedp.OuterHTML(chromedp.CSS("html")))
}

func (br *browser) signIn(token, landmark string) {
	br.t.Helper()
	br.do("sign in",
		chromedp.Navigate(br.base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(landmark)),
	)
}

func (br *browser) signOut() {
	br.t.Helper()
	br.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#token")),
	)
}

// TestUIBrowser walks the three roles through the web interface in headless
// Chromium: a worker requests, edits and signs a draft; a supervisor
// countersigns a draft that needs it; an ethics-board member finds the
// decisions in the audit trail, with no case prose on the page, and verifies
// the log. Each main page is saved as a PNG (see screenshotDir).
func TestUIBrowser(t *testing.T) {
	t.Parallel()
	if chromePath() == "" {
		t.Skipf("browser tests skipped: no Chromium found; install chromium or set %s to its path", EnvChrome)
	}
	b := uiSetup(t)
	ctx := context.Background()

	// Suggestions need a supervisor's countersignature under this policy.
	policy := review.DefaultPolicy()
	policy.CountersignKinds = []assistant.Kind{assistant.KindSuggestions}
	b.db.Policy = policy
	// A suggestions draft the worker has already approved waits for the
	// supervisor. It is made before the drafting workers start, so that
	// MustDraft's own runner finds the job.
	sugg := storetest.MustDraft(t, b.db, b.f, assistant.KindSuggestions)
	var confirm []review.StatementDecision
	for _, st := range sugg.Content.Statements {
		if review.HighStakes(st.Category) {
			confirm = append(confirm, review.StatementDecision{ID: st.ID, Action: review.StatementConfirmed})
		}
	}
	so, err := storetest.SignOff(b.db, storetest.As(ctx, b.f.Worker), sugg.ID, review.Approval{Statements: confirm})
	if err != nil {
		t.Fatal(err)
	}
	if so.Entry != nil {
		t.Fatal("the suggestions draft went into the record without a countersignature")
	}

	// A new case whose client was never asked about AI-assisted drafting.
	fresh := &casefile.Case{Reference: "REF-NEW-" + b.f.Case.ID, Title: "New referral"}
	if err := b.db.CreateCase(storetest.As(ctx, b.f.Worker), fresh); err != nil {
		t.Fatal(err)
	}

	br := &browser{t: t, ctx: newChromium(t, 1280, 900), base: b.srv.URL, shot: screenshotDir(t)}

	t.Run("WorkerRequestsEditsAndSignsADraft", func(t *testing.T) {
		br.t = t
		br.do("open the sign-in page", chromedp.Navigate(br.base+"/signin"), chromedp.WaitVisible(chromedp.CSS("#token")))
		br.screenshot("01-signin")
		br.signIn(b.tokens["worker"], "table.list")
		br.screenshot("02-worker-cases")
		br.do("open the case",
			chromedp.Click(chromedp.CSS(`a[href="/cases/`+b.f.Case.ID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#h-record")),
		)
		br.screenshot("03-worker-case")

		// The drafting workers are not running yet, so the progress page
		// shows the draft waiting; it opens the review by itself once they run.
		br.do("request a summary",
			chromedp.Click(chromedp.CSS(`button[name=kind][value=summary]`)),
			chromedp.WaitVisible(chromedp.CSS("#draft-progress")),
		)
		if got := br.text("#draft-status"); got != "Waiting to be written" {
			t.Fatalf("progress shows %q", got)
		}
		br.screenshot("04-worker-draft-progress")
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		b.runner.Poll = 100 * time.Millisecond
		go func() { defer close(done); b.runner.Run(rctx) }()
		defer func() { stop(); <-done }()
		b.runner.Wake("")
		br.do("wait for the review page", chromedp.WaitVisible(chromedp.CSS("#approve-form")))
		br.screenshot("05-worker-review")

		// Focusing a citation highlights the passage it quotes.
		br.do("focus a citation", chromedp.Focus(chromedp.CSS("a.cite")))
		if active := run(br, "read the highlight", chromedp.Evaluate[bool](`document.querySelector("mark.quote.active") !== null && document.querySelector(".note.active") !== null`)); !active {
			t.Fatal("focusing a citation did not highlight its passage")
		}
		br.screenshot("06-worker-review-citation")

		text := run(br, "read the text", chromedp.Value(chromedp.CSS("#content")))
		lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
		const edited = "Home visit: two months of rent arrears, and the heating was cut off."
		lines[0] = edited
		steps := []chromedp.Action[chromedp.Void]{chromedp.SetValue(chromedp.CSS("#content"), strings.Join(lines, "\n")+"\n")}
		radios := run(br, "find high-stakes statements", chromedp.Nodes(chromedp.CSSAll(`input[type=radio][value=confirmed]`), chromedp.AtLeast(0)))
		for _, n := range radios {
			steps = append(steps, chromedp.MouseClickNode(n))
		}
		steps = append(steps,
			chromedp.SetValue(chromedp.CSS("#reason_code"), "factual_error"),
			// The form asks whether the client may read the entry.
			chromedp.Click(chromedp.CSS(`input[name=sharing][value=shared]`)),
			chromedp.Click(chromedp.CSS(`#approve-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
		)
		br.do("edit a sentence and approve", steps...)
		if got := br.text(".notice.ok"); !strings.Contains(got, "approved and signed") {
			t.Fatalf("after approval the page says %q", got)
		}
		entry := br.text("article.entry")
		for _, want := range []string{edited, "AI-assisted", "extractive-v1", "of the words changed"} {
			if !strings.Contains(entry, want) {
				t.Errorf("the record entry does not show %q:\n%s", want, entry)
			}
		}
		br.do("open what was changed", chromedp.Click(chromedp.CSS("article.entry details.changes summary")))
		br.screenshot("07-worker-record")
		br.signOut()
	})

	t.Run("WorkerRecordsConsentAndCorrectsAnEntry", func(t *testing.T) {
		br.t = t
		br.signIn(b.tokens["worker"], "table.list")
		br.do("open the case without consent",
			chromedp.Navigate(br.base+"/cases/"+fresh.ID),
			chromedp.WaitVisible(chromedp.CSS("#consent-blocked")),
		)
		if got := br.text("#consent-blocked"); !strings.Contains(got, "has not been recorded") {
			t.Fatalf("the disabled buttons are explained as %q", got)
		}
		if !run(br, "read the buttons", chromedp.Evaluate[bool](`document.querySelector("button[name=kind][value=summary]").disabled`)) {
			t.Fatal("the draft buttons work without the client's consent")
		}
		br.screenshot("07a-worker-consent-missing")
		br.do("record consent with the keyboard",
			chromedp.SendKeys(chromedp.CSS("#consent-note"), "Asked at the home visit; she agreed."),
			chromedp.SendKeys(chromedp.CSS(`#consent-form button[value=yes]`), kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
		)
		if got := br.text(".consent-state"); !strings.Contains(got, "Given") || !strings.Contains(got, "recorded by worker") {
			t.Fatalf("after recording, the consent reads %q", got)
		}
		if run(br, "read the buttons", chromedp.Evaluate[bool](`document.querySelector("button[name=kind][value=summary]").disabled`)) {
			t.Fatal("the draft buttons are still off after consent was recorded")
		}
		br.screenshot("07b-worker-consent-given")

		const corrected = "Home visit: rent arrears; the heating was restored on 3 December."
		br.do("open the correction form",
			chromedp.Navigate(br.base+"/cases/"+b.f.Case.ID),
			chromedp.Click(chromedp.CSS(`article.entry a[href$="/correct"]`)),
			chromedp.WaitVisible(chromedp.CSS("#correct-form")),
		)
		br.do("correct the entry and sign",
			chromedp.SetValue(chromedp.CSS("#correct-content"), corrected),
			chromedp.SendKeys(chromedp.CSS("#correct-reason"), "The heating was restored after the visit."),
			chromedp.Click(chromedp.CSS(`#correct-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
		)
		if got := br.text("article.entry.superseded"); !strings.Contains(got, "See the correction") {
			t.Fatalf("the old entry is not marked as corrected:\n%s", got)
		}
		if got := br.text("article.entry"); !strings.Contains(got, corrected) || !strings.Contains(got, "See the corrected entry") {
			t.Fatalf("the correction is not the newest entry:\n%s", got)
		}
		br.screenshot("07c-worker-record-corrected")
		br.signOut()
	})

	t.Run("SupervisorCountersignsADraft", func(t *testing.T) {
		br.t = t
		br.signIn(b.tokens["supervisor"], "#h-awaiting")
		br.screenshot("08-supervisor-team")
		br.do("open the draft to countersign",
			chromedp.Click(chromedp.CSS(`a[href="/drafts/`+sugg.ID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/drafts/`+sugg.ID+`/countersign"]`)),
		)
		br.screenshot("09-supervisor-countersign")
		br.do("countersign",
			chromedp.SendKeys(chromedp.CSS("#cs-comment"), "Checked against the notes."),
			chromedp.Click(chromedp.CSS(`form[action="/drafts/`+sugg.ID+`/countersign"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
		)
		if got := br.text(".notice.ok"); !strings.Contains(got, "countersigned") {
			t.Fatalf("after countersigning the page says %q", got)
		}
		if got := br.text("section[aria-labelledby=h-awaiting]"); !strings.Contains(got, "No draft is waiting") {
			t.Errorf("the countersigned draft is still listed: %q", got)
		}
		if table := br.text("section[aria-labelledby=h-decisions] table"); !strings.Contains(table, "Draft countersigned") || !strings.Contains(table, "Draft approved") {
			t.Errorf("the team's decisions do not list the countersignature and the approval:\n%s", table)
		}
		br.screenshot("10-supervisor-team-after")
		br.signOut()
	})

	t.Run("EthicsBoardSeesDecisionsButNoCaseProse", func(t *testing.T) {
		br.t = t
		br.signIn(b.tokens["ethics"], "#h-trail")
		br.screenshot("11-ethics-audit")
		// The unfiltered page has a table.events too: mark it, so the wait
		// below ends only on the filtered page.
		run(br, "mark the page", chromedp.Evaluate[bool](`document.body.dataset.before = "1"; true`))
		br.do("filter the approvals",
			chromedp.SetValue(chromedp.CSS("#f-action"), "draft.approved"),
			chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("body:not([data-before]) table.events")),
		)
		trail := br.text("table.events")
		if !strings.Contains(trail, "Draft approved") || !strings.Contains(trail, sugg.ID) {
			t.Fatalf("the approvals are not in the trail:\n%s", trail)
		}
		page := br.html()
		notes := b.notes(t)
		for _, n := range notes {
			for _, s := range strings.FieldsFunc(n.Body, func(r rune) bool { return r == '.' || r == ';' }) {
				if s = strings.TrimSpace(s); len(s) >= 12 && (strings.Contains(page, s) || strings.Contains(page, html.EscapeString(s))) {
					t.Fatalf("note text %q is on the ethics page", s)
				}
			}
		}
		if strings.Contains(page, "two months of rent arrears") {
			t.Fatal("signed record text is on the ethics page")
		}
		br.do("verify the log",
			chromedp.Click(chromedp.CSS(`form[action="/audit/verify"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#verify-result")),
		)
		if got := br.text("#verify-result"); !strings.Contains(got, "The log is intact") {
			t.Fatalf("verification says %q", got)
		}
		br.screenshot("12-ethics-verified")

		// The same page in French, at tablet width.
		br.do("switch to French on a tablet",
			chromedp.EmulateViewport(820, 1180),
			chromedp.Click(chromedp.CSS(`a[hreflang=fr]`)),
			chromedp.WaitVisible(chromedp.CSS(`html[lang=fr]`)),
		)
		if got := br.text("h1"); got != "Journal d'audit" {
			t.Errorf("the French page is titled %q", got)
		}
		br.screenshot("13-ethics-audit-fr-tablet")
	})
}
