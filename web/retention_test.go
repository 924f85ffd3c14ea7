package web_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// The service gives the API's and the pages' export the whole store as
// the client's file: it must list erasures (client.Export asks it).
var _ client.ErasureLister = (*sqlstore.DB)(nil)

// retentionSetup is the web interface on a database of the dialect open
// gives, with a token for the worker, the supervisor, the ethics board,
// the fixture's admin and a second admin ("admin2") for the four eyes.
func retentionSetup(t testing.TB, open storetest.Opener) *uiBundle {
	t.Helper()
	db := open(t)
	f := storetest.MustSeed(t, db)
	admin2 := &identity.User{Name: "Second Admin", Email: fmt.Sprintf("admin2.%s@example.org", f.Admin.ID), Role: countersign.RoleAdmin}
	if err := db.CreateUser(storetest.CLI(), admin2); err != nil {
		t.Fatal(err)
	}
	s := &web.Server{Identity: db, Cases: db, Review: db, Audit: db, Clients: db}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b := &uiBundle{srv: srv, db: db, f: f, tokens: map[string]string{}}
	for name, u := range map[string]string{"worker": f.Worker.ID, "supervisor": f.Supervisor.ID, "ethics": f.Ethics.ID,
		"admin": f.Admin.ID, "admin2": admin2.ID} {
		_, secret, err := db.CreateToken(storetest.CLI(), u, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		b.tokens[name] = secret
	}
	return b
}

// wantIn fails unless body holds each of want, as text or as HTML
// escapes it ("case&#39;s").
func wantIn(t testing.TB, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) && !strings.Contains(body, html.EscapeString(w)) {
			t.Errorf("the page lacks %q", w)
		}
	}
}

func wantNotIn(t testing.TB, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) || strings.Contains(body, html.EscapeString(w)) {
			t.Errorf("the page shows %q", w)
		}
	}
}

// TestUIRetention walks a case through the retention pages on both
// databases: its supervisor closes it (a missing reason comes back as the
// domain's sentence on the case page), a closed case takes no note, a
// legal hold makes the admin's erasure request fail with its sentence, the
// admin who filed a request cannot confirm it, a second admin finds it on
// the list and confirms it; the worker then sees a tombstone with the
// dates, the rule and the policy version and nothing of the content, and
// the ethics board, from its audit page, the erasure and the holds by rule
// and month without a case or a name.
func TestUIRetention(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := retentionSetup(t, open)
			f := b.f
			casePath := "/cases/" + f.Case.ID
			sup, worker, admin, admin2, ethics := b.signIn(t, "supervisor"), b.signIn(t, "worker"), b.signIn(t, "admin"), b.signIn(t, "admin2"), b.signIn(t, "ethics")

			resp, body := sup.get(casePath)
			wantStatus(t, resp, body, http.StatusOK)
			wantIn(t, body, `id="retention"`, `action="/cases/`+f.Case.ID+`/close"`, `action="/cases/`+f.Case.ID+`/holds"`, "Open",
				`action="/cases/`+f.Case.ID+`/parties/`+f.Client.ID+`/invitations"`)

			// No reason: the domain's sentence, on the case page, nothing closed.
			resp, body = sup.post(casePath+"/close", url.Values{"from": {"case"}})
			wantStatus(t, resp, body, http.StatusUnprocessableEntity)
			wantIn(t, body, "The case could not be closed.", "Choose one of: goals_met", `id="h-notes"`)
			resp, body = sup.post(casePath+"/close", url.Values{"from": {"case"}, "reason_code": {"goals_met"}})
			wantRedirect(t, resp, casePath+"?done=case_closed")
			resp, body = sup.get(casePath)
			wantStatus(t, resp, body, http.StatusOK)
			wantIn(t, body, "Closed", "Goals met", `action="/cases/`+f.Case.ID+`/reopen"`)
			// Nor an invitation: the client is not invited to a closed case.
			wantNotIn(t, body, `id="add-note"`, `action="/cases/`+f.Case.ID+`/close"`, `id="h-invite"`, `/invitations"`)
			resp, body = sup.get("/cases")
			wantIn(t, body, f.Case.Title+` <span class="badge">Closed</span>`)

			// A closed case takes no note: the worker reads why.
			worker.get(casePath)
			resp, body = worker.post(casePath+"/notes", url.Values{"body": {"One more visit."}})
			wantStatus(t, resp, body, http.StatusConflict)
			wantIn(t, body, "This case is closed")
			wantNotIn(t, body, `action="/cases/`+f.Case.ID+`/reopen"`)

			resp, body = sup.post(casePath+"/holds", url.Values{"from": {"case"}, "reason_code": {"litigation"}})
			wantRedirect(t, resp, casePath+"?done=hold_set")

			// The admin reads no content, but has the case's retention page.
			resp, body = admin.get(casePath)
			wantStatus(t, resp, body, http.StatusForbidden)
			resp, body = admin.get(casePath + "/retention")
			wantStatus(t, resp, body, http.StatusOK)
			wantIn(t, body, f.Case.Reference, "Litigation", `id="erasure-form"`, `id="retention-held"`)
			wantNotIn(t, body, f.Case.Title, f.Client.FullName, f.Notes[0].Body)
			resp, body = admin.post(casePath+"/erasure-requests", url.Values{"from": {"retention"}, "reason_code": {"data_subject_request"}})
			wantStatus(t, resp, body, http.StatusConflict)
			wantIn(t, body, "under a legal hold", `id="erasure-form"`)

			holds, err := b.db.FindHolds(storetest.As(context.Background(), f.Supervisor), f.Case.ID)
			if err != nil || len(holds) != 1 {
				t.Fatalf("holds %v, %v", holds, err)
			}
			sup.get(casePath + "/retention")
			resp, body = sup.post(casePath+"/holds/"+holds[0].ID+"/lift", url.Values{"reason_code": {"resolved"}})
			wantRedirect(t, resp, casePath+"/retention?done=hold_lifted")

			admin.get(casePath + "/retention")
			resp, body = admin.post(casePath+"/erasure-requests", url.Values{"from": {"retention"}, "reason_code": {"data_subject_request"}})
			wantRedirect(t, resp, casePath+"/retention?done=erasure_requested")
			resp, body = admin.get(casePath + "/retention")
			wantIn(t, body, "Waiting for a second admin", "You filed this request")
			reqs, err := b.db.FindErasureRequests(storetest.As(context.Background(), f.Admin), f.Case.ID, true)
			if err != nil || len(reqs) != 1 {
				t.Fatalf("requests %v, %v", reqs, err)
			}
			// Four eyes: not the admin who filed it.
			resp, body = admin.post("/erasure-requests/"+reqs[0].ID+"/confirm", url.Values{"from": {"retention"}, "case": {f.Case.ID}})
			wantStatus(t, resp, body, http.StatusForbidden)
			wantIn(t, body, "A second admin must confirm this erasure")

			resp, body = admin2.get("/erasure-requests")
			wantStatus(t, resp, body, http.StatusOK)
			wantIn(t, body, `href="/erasure-requests" aria-current="page"`)
			wantIn(t, body, f.Case.Reference, `action="/erasure-requests/`+reqs[0].ID+`/confirm"`, "Request of the person concerned")
			resp, body = admin2.post("/erasure-requests/"+reqs[0].ID+"/confirm", url.Values{"from": {"list"}, "case": {f.Case.ID}})
			wantRedirect(t, resp, casePath+"/retention?done=erased")

			erasures, err := b.db.FindErasures(storetest.As(context.Background(), f.Admin), casefile.ErasureFilter{CaseID: &f.Case.ID})
			if err != nil || len(erasures) != 1 {
				t.Fatalf("erasures %v, %v", erasures, err)
			}
			e := erasures[0]

			// The tombstone: reference, dates, rule, policy version; no content, no names.
			resp, body = worker.get(casePath)
			wantStatus(t, resp, body, http.StatusOK)
			wantIn(t, body, `id="tombstone"`, f.Case.Reference, "This case was erased", "Erasure on request, confirmed by a second admin",
				e.PolicyVersion, `datetime="`+e.ErasedAt.UTC().Format(time.RFC3339)+`"`, `datetime="`+f.Case.CreatedAt.UTC().Format(time.RFC3339)+`"`)
			wantNotIn(t, body, f.Case.Title, f.Client.FullName, f.Notes[0].Body, `id="add-note"`)
			resp, body = worker.get("/cases")
			wantIn(t, body, f.Case.Reference, `<span class="badge">Erased</span>`)
			wantNotIn(t, body, f.Case.Title)
			resp, body = admin2.get(casePath + "/retention")
			wantStatus(t, resp, body, http.StatusOK)
			wantIn(t, body, `id="tombstone"`, e.PolicyVersion)

			// The board: from the audit page, by rule and month, no case.
			resp, body = ethics.get("/audit")
			wantStatus(t, resp, body, http.StatusOK)
			wantIn(t, body, `href="/audit/retention"`)
			resp, body = ethics.get("/audit/retention")
			wantStatus(t, resp, body, http.StatusOK)
			month := e.ErasedAt.UTC().Format("January 2006")
			wantIn(t, body, month, "1 case erased", "1 hold set", "1 hold lifted", "Case erased", "Erasure on request, confirmed by a second admin",
				"Request of the person concerned", "Litigation", "Resolved")
			wantNotIn(t, body, f.Case.Reference, f.Case.ID, f.Case.Title, f.Client.FullName, f.Notes[0].Body)
			ethics.lang = "fr"
			resp, body = ethics.get("/audit/retention")
			wantStatus(t, resp, body, http.StatusOK)
			wantIn(t, body, "Effacements et gels juridiques", "1 dossier effacé", "Effacement sur demande")
			resp, body = worker.get("/audit/retention")
			wantStatus(t, resp, body, http.StatusForbidden)
		})
	}
}

// TestUIRetentionRefusals shows the domain's refusals as its sentences:
// only the case's supervisor closes it (a worker's POST is refused and
// the worker sees no Close button), a case still open cannot be erased
// as a whole, the erasure list is the admins' (who open a case's page
// from it by id), and the board has no case's retention page.
func TestUIRetentionRefusals(t *testing.T) {
	t.Parallel()
	b := retentionSetup(t, storetest.OpenSQLite)
	casePath := "/cases/" + b.f.Case.ID
	worker, admin, ethics := b.signIn(t, "worker"), b.signIn(t, "admin"), b.signIn(t, "ethics")

	resp, body := worker.get(casePath)
	wantStatus(t, resp, body, http.StatusOK)
	wantNotIn(t, body, `action="/cases/`+b.f.Case.ID+`/close"`, `action="/cases/`+b.f.Case.ID+`/holds"`)
	resp, body = worker.post(casePath+"/close", url.Values{"from": {"case"}, "reason_code": {"goals_met"}})
	wantStatus(t, resp, body, http.StatusForbidden)
	wantIn(t, body, "Only a supervisor of the case's team can close it.")

	admin.get(casePath + "/retention")
	resp, body = admin.post(casePath+"/erasure-requests", url.Values{"reason_code": {"data_subject_request"}})
	wantStatus(t, resp, body, http.StatusConflict)
	wantIn(t, body, "This case is still open")
	resp, body = admin.post(casePath+"/erasure-requests", url.Values{"reason_code": {"because"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantIn(t, body, "The erasure request could not be filed.")

	resp, body = ethics.get("/erasure-requests")
	wantStatus(t, resp, body, http.StatusForbidden)
	// The board sees figures, not a case's retention page with staff names.
	resp, body = ethics.get(casePath + "/retention")
	wantStatus(t, resp, body, http.StatusForbidden)
	resp, body = admin.get("/erasure-requests?case=" + url.QueryEscape(b.f.Case.ID))
	wantRedirect(t, resp, casePath+"/retention")
	// Without the CSRF token nothing is done.
	resp, body = admin.post(casePath+"/erasure-requests", url.Values{"csrf": {"forged"}, "reason_code": {"data_subject_request"}})
	wantStatus(t, resp, body, http.StatusForbidden)
}

// TestRetentionExport shows, on both databases, that the subject access
// export (the worker's export on the person's behalf, read as the client
// would read it) lists what was erased in the person's file: the erasure
// of their own details, then of the whole case, each with its date and
// rule in their language, in the JSON bundle and on the printable page;
// and never another person's erasure.
func TestRetentionExport(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			f := storetest.MustSeed(t, db)
			ctx := context.Background()
			admin2 := &identity.User{Name: "Second Admin", Email: "admin2." + f.Admin.ID + "@example.org", Role: countersign.RoleAdmin}
			if err := db.CreateUser(storetest.CLI(), admin2); err != nil {
				t.Fatal(err)
			}
			wctx, actx, a2ctx := storetest.As(ctx, f.Worker), storetest.As(ctx, f.Admin), storetest.As(ctx, admin2)
			other := &casefile.Party{CaseID: f.Case.ID, Role: "other", FullName: "Jean Voisin"}
			if err := db.AddParty(wctx, other); err != nil {
				t.Fatal(err)
			}
			erase := func(partyID string) {
				t.Helper()
				q, err := db.RequestErasure(actx, f.Case.ID, partyID, "data_subject_request")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.ConfirmErasure(a2ctx, q.ID); err != nil {
					t.Fatal(err)
				}
			}
			erase(other.ID) // another person's: never in the client's export
			erase(f.Client.ID)
			if _, err := db.CloseCase(storetest.As(ctx, f.Supervisor), f.Case.ID, "goals_met"); err != nil {
				t.Fatal(err)
			}
			erase("")

			for _, lang := range []string{"en", "nl"} {
				p, err := db.PartyPrincipal(wctx, f.Case.ID, f.Client.ID)
				if err != nil {
					t.Fatal(err)
				}
				p.Language = lang
				b, err := client.Export(client.NewContext(wctx, p), db, db, nil, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if len(b.Erased) != 2 || b.Erased[0].Scope != client.ErasedParty || b.Erased[1].Scope != client.ErasedCase {
					t.Fatalf("%s: erased %+v, want the client's details, then the case", lang, b.Erased)
				}
				for _, e := range b.Erased {
					if e.Rule != casefile.RuleRequest || e.CaseID != f.Case.ID || e.PolicyVersion == "" || e.ErasedAt.IsZero() ||
						!strings.Contains(e.Words, client.Date(lang, e.ErasedAt)) || !strings.Contains(e.Words, e.PolicyVersion) {
						t.Errorf("%s: erased %+v", lang, e)
					}
				}
				var page bytes.Buffer
				if err := client.RenderBundle(&page, b); err != nil {
					t.Fatal(err)
				}
				wantIn(t, page.String(), client.Words(lang, "export.erased"), b.Erased[0].Words, b.Erased[1].Words)
				wantNotIn(t, page.String(), other.ID, "Jean Voisin", f.Notes[0].Body)
			}
		})
	}
}

// TestRetentionBrowser closes a case, files and confirms its erasure with
// two admins and reads the tombstone and the board's figures in headless
// Chromium, and checks each retention page with axe-core (WCAG 2.2 AA).
func TestRetentionBrowser(t *testing.T) {
	t.Parallel()
	b := retentionSetup(t, storetest.OpenSQLite)
	ctx := newChromium(t, 1280, 900)
	br := &browser{t: t, ctx: ctx, base: b.srv.URL, shot: screenshotDir(t)}
	casePath := b.srv.URL + "/cases/" + b.f.Case.ID

	br.signIn(b.tokens["supervisor"], "nav")
	br.do("close the case",
		chromedp.Navigate(casePath),
		chromedp.WaitVisible(chromedp.CSS("#close-form")),
		chromedp.SetValue(chromedp.CSS("#close-reason"), "goals_met"),
		chromedp.Click(chromedp.CSS(`#close-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#reopen-form")),
	)
	if got := br.text("#retention-state"); !strings.Contains(got, "Closed") {
		t.Errorf("the case's state reads %q", got)
	}
	checkAxe(t, ctx, "case page, closed")
	br.screenshot("case-closed")
	br.do("open the retention page", chromedp.Navigate(casePath+"/retention"), chromedp.WaitVisible(chromedp.CSS("#holds")))
	checkAxe(t, ctx, "retention page")
	br.signOut()

	br.signIn(b.tokens["admin"], "nav")
	br.do("request the erasure",
		chromedp.Navigate(casePath+"/retention"),
		chromedp.WaitVisible(chromedp.CSS("#erasure-form")),
		chromedp.SetValue(chromedp.CSS("#erase-reason"), "data_subject_request"),
		chromedp.Click(chromedp.CSS(`#erasure-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	checkAxe(t, ctx, "retention page, admin")
	br.screenshot("retention-admin")
	br.signOut()

	br.signIn(b.tokens["admin2"], "nav")
	br.do("confirm from the list",
		chromedp.Navigate(b.srv.URL+"/erasure-requests"),
		chromedp.WaitVisible(chromedp.CSS(".confirm-form")),
	)
	checkAxe(t, ctx, "erasure requests")
	br.screenshot("erasure-requests")
	br.do("confirm", chromedp.Click(chromedp.CSS(`.confirm-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#tombstone")))
	br.signOut()

	br.signIn(b.tokens["worker"], "nav")
	br.do("read the tombstone", chromedp.Navigate(casePath), chromedp.WaitVisible(chromedp.CSS("#tombstone")))
	tomb := br.text("#tombstone")
	wantIn(t, tomb, b.f.Case.Reference, "Erasure on request")
	wantNotIn(t, br.html(), b.f.Case.Title, b.f.Client.FullName)
	checkAxe(t, ctx, "tombstone")
	br.screenshot("tombstone")
	br.signOut()

	br.signIn(b.tokens["ethics"], "nav")
	br.do("reach the board's figures from the audit page",
		chromedp.Navigate(b.srv.URL+"/audit"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/audit/retention"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/audit/retention"]`)),
		chromedp.WaitVisible(chromedp.CSS(".board-month")),
	)
	wantIn(t, br.text("main"), "1 case erased", "Erasure on request")
	checkAxe(t, ctx, "retention board")
	br.screenshot("retention-board")
}
