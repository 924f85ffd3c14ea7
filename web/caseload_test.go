package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/caseload"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// caseloadSetup is uiSetup with the caseload policy of the store tests.
func caseloadSetup(t *testing.T) *uiBundle {
	t.Helper()
	b := uiSetup(t)
	b.db.Policy = storetest.CaseloadPolicy(t, b.f.Worker.ID)
	return b
}

// TestCaseloadPage: the supervisor's page draws each worker's load against
// the band and the history as SVG, with the table; the board sees
// pseudonyms; a worker is refused; a recommendation is shown and the case
// assigned by the form, with a non-member refused on the form.
func TestCaseloadPage(t *testing.T) {
	t.Parallel()
	b := caseloadSetup(t)
	path := "/teams/" + b.f.Team.ID + "/caseload"
	sup := b.signIn(t, "supervisor")
	resp, body := sup.get(path)
	wantStatus(t, resp, body, http.StatusOK)
	for _, want := range []string{`<svg`, `class="load within"`, `id="caseload-history"`, `<polyline`, ">worker<", `href="` + path + `"`, "test-1"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if charts := between(body, `id="h-loads"`, `id="h-figures"`); charts == "" || strings.Contains(charts, "<script") {
		t.Error("the charts are missing or need a script")
	}
	resp, body = sup.get(path + ".csv")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.HasPrefix(body, "team_id,worker_id,") || !strings.Contains(body, b.f.Worker.ID) {
		t.Errorf("CSV:\n%s", body)
	}

	// The board reaches the team's page from the audit log's page.
	board := b.signIn(t, "ethics")
	resp, body = board.get("/audit")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `href="/audit/caseload"`) {
		t.Error("the audit page does not lead to the caseloads")
	}
	resp, body = board.get("/audit/caseload")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `href="`+path+`"`) || !strings.Contains(body, b.f.Team.Name) {
		t.Error("the board's list of teams does not lead to the team's caseload")
	}
	resp, body = b.signIn(t, "worker").get("/audit/caseload")
	wantStatus(t, resp, body, http.StatusForbidden)
	resp, body = board.get(path)
	wantStatus(t, resp, body, http.StatusOK)
	if strings.Contains(body, b.f.Worker.ID) || strings.Contains(body, ">worker<") || !strings.Contains(body, "w_") || strings.Contains(body, "caseload/assign") {
		t.Error("the board's page shows a worker's id or name, or the assignment form")
	}
	resp, body = b.signIn(t, "worker").get(path)
	wantStatus(t, resp, body, http.StatusForbidden)

	// A recommendation for the fixture's case, then the assignment.
	second := &identity.User{Name: "Second", Email: "second." + b.f.Team.ID + "@example.org", Role: "worker", TeamID: b.f.Team.ID}
	if err := b.db.CreateUser(storetest.CLI(), second); err != nil {
		t.Fatal(err)
	}
	resp, body = sup.get("/cases/" + b.f.Case.ID)
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `href="`+path+`?case_id=`+b.f.Case.ID+`#h-allocate"`) {
		t.Error("the supervisor's case page does not lead to the recommendation")
	}
	recs := b.countEvents(t, caseload.ActionRecommended)
	resp, body = sup.get(path + "?case_id=" + b.f.Case.ID)
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `class="recommendation"`) || !strings.Contains(body, "Lowest weighted load") || !strings.Contains(body, `name="recommendation_id"`) {
		t.Fatal("no recommendation or assignment form")
	}
	if n := b.countEvents(t, caseload.ActionRecommended); n != recs+1 {
		t.Errorf("recommendations recorded %d → %d", recs, n)
	}
	resp, body = sup.get(path + "?case_type=astrology")
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	resp, body = sup.get(path + "?case_id=" + b.f.Case.ID)
	wantStatus(t, resp, body, http.StatusOK)
	recID := between(body, `name="recommendation_id" value="`, `"`)
	resp, body = sup.post(path+"/assign", url.Values{"case_id": {b.f.Case.ID}, "worker_id": {b.f.Other.ID}, "recommendation_id": {recID}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Choose a worker of the case") {
		t.Error("the refusal does not say why")
	}
	resp, body = sup.post(path+"/assign", url.Values{"case_id": {b.f.Case.ID}, "worker_id": {second.ID}, "recommendation_id": {recID}})
	wantRedirect(t, resp, "/cases/"+b.f.Case.ID)
	c, err := b.db.FindCaseByID(storetest.As(context.Background(), b.f.Supervisor), b.f.Case.ID)
	if err != nil || c.WorkerID != second.ID {
		t.Fatalf("case worker = %v, %v", c, err)
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	return s[:max(strings.Index(s, end), 0)]
}

// TestCaseloadBrowser shows the supervisor's caseload page in headless
// Chromium: the load chart and the history chart are drawn (no script),
// and axe-core finds no WCAG 2.2 AA violation.
func TestCaseloadBrowser(t *testing.T) {
	t.Parallel()
	ctx := newChromium(t, 1280, 900)
	b := caseloadSetup(t)
	br := &browser{t: t, ctx: ctx, base: b.srv.URL, shot: screenshotDir(t)}
	br.signIn(b.tokens["supervisor"], "nav")
	br.do("open the caseload page",
		chromedp.Click(chromedp.CSS(`nav a[href="/teams/`+b.f.Team.ID+`/caseload"]`)),
		chromedp.WaitVisible(chromedp.CSS("#caseload-chart svg")),
	)
	n := run(br, "count the bars", chromedp.Evaluate[int](`document.querySelectorAll("#caseload-chart g.load rect").length`))
	if n != 1 {
		t.Errorf("%d bars, want one for the team's worker", n)
	}
	w := run(br, "measure the bar", chromedp.Evaluate[float64](`document.querySelector("#caseload-chart g.load rect").getBoundingClientRect().width`))
	if w <= 0 {
		t.Errorf("the bar is %v pixels wide", w)
	}
	if !strings.Contains(br.text("#caseload-history figcaption"), "audit log") {
		t.Error("the history chart has no caption")
	}
	br.screenshot("caseload-supervisor")
	checkAxe(t, ctx, "caseload")
}

// TestCaseloadNewCase: a supervisor asks for the recommendation for a case
// type, sees the workers lowest load first with the reason and the form
// to open a case, chooses a worker who is not first, and the case opens
// with case.created naming the recommendation and the chosen rank; a
// missing reference and another type's recommendation are refused on the
// form, naming the field.
func TestCaseloadNewCase(t *testing.T) {
	t.Parallel()
	b := caseloadSetup(t)
	path := "/teams/" + b.f.Team.ID + "/caseload"
	second := &identity.User{Name: "Second", Email: "second." + b.f.Team.ID + "@example.org", Role: "worker", TeamID: b.f.Team.ID}
	if err := b.db.CreateUser(storetest.CLI(), second); err != nil {
		t.Fatal(err)
	}
	sup := b.signIn(t, "supervisor")
	resp, body := sup.get("/cases")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `href="`+path+`#h-allocate"`) {
		t.Error("the supervisor's cases page does not lead to the new-case form")
	}
	resp, body = sup.get(path + "?case_type=housing")
	wantStatus(t, resp, body, http.StatusOK)
	form := between(body, `action="`+path+`/cases"`, `</form>`)
	if !strings.Contains(body, "Lowest weighted load") || form == "" || !strings.Contains(form, `name="case_type" value="housing"`) {
		t.Fatalf("no recommendation or new-case form:\n%s", form)
	}
	recID := between(form, `name="recommendation_id" value="`, `"`)
	// The second worker (no load) comes first; the fixture's worker second.
	if i, j := strings.Index(form, `value="`+second.ID+`"`), strings.Index(form, `value="`+b.f.Worker.ID+`"`); i < 0 || j < i {
		t.Fatalf("the workers are not offered lowest load first:\n%s", form)
	}
	resp, body = sup.get(path + "?case_type=general")
	wantStatus(t, resp, body, http.StatusOK)
	general := between(body, `name="recommendation_id" value="`, `"`)

	created := b.countEvents(t, audit.ActionCaseCreated)
	for _, bad := range []struct {
		field, say string
		form       url.Values
	}{
		{"reference", "This field is required.", url.Values{"reference": {""}, "title": {"Eviction"}, "case_type": {"housing"}, "worker_id": {b.f.Worker.ID}, "recommendation_id": {recID}}},
		{"recommendation_id", "Give a recommendation made for this case", url.Values{"reference": {"NEW-" + b.f.Team.ID}, "title": {"Eviction"}, "case_type": {"housing"}, "worker_id": {b.f.Worker.ID}, "recommendation_id": {general}}},
	} {
		resp, body = sup.post(path+"/cases", bad.form)
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, bad.say) {
			t.Errorf("%s: the refusal does not say %q", bad.field, bad.say)
		}
		// The form comes back with a fresh recommendation for the type.
		if again := between(body, `action="`+path+`/cases"`, `</form>`); !strings.Contains(again, `value="Eviction"`) || strings.Contains(again, `value="`+recID+`"`) {
			t.Errorf("%s: the form is not refilled with a new recommendation", bad.field)
		}
	}
	if n := b.countEvents(t, audit.ActionCaseCreated); n != created {
		t.Errorf("refused forms opened %d cases", n-created)
	}
	resp, body = sup.post(path+"/cases", url.Values{"reference": {"NEW-" + b.f.Team.ID}, "title": {"Eviction"}, "case_type": {"housing"},
		"worker_id": {b.f.Worker.ID}, "recommendation_id": {recID}})
	loc := wantRedirect(t, resp, "/cases/case_")
	caseID := strings.TrimPrefix(loc[:strings.IndexByte(loc, '?')], "/cases/")
	if _, err := b.db.Sequence(storetest.CLI()); err != nil {
		t.Fatal(err)
	}
	evs, err := b.db.FindEvents(storetest.CLI(), audit.EventFilter{CaseID: &caseID})
	if err != nil || len(evs) != 1 || evs[0].Payload["recommendation"] != recID || evs[0].Payload["rank"] != "2" || evs[0].Payload["worker"] != b.f.Worker.ID {
		t.Fatalf("events = %+v, %v", evs, err)
	}
}
