package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// The client's file on the pages: the record in the client's language
// (shared entries with their provenance, a notice for a withheld one),
// every staff page showing case content logged as a read, the access log
// listing those reads, and the export as a page and as JSON.
func TestUIClientRecord(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	shared := storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSummary, review.SharingShared, "")
	withheld := storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSuggestions, review.SharingWithheld, review.WithheldSafeguarding)
	// Each entry's draft was read twice, opened then opened again to sign
	// (OpenDraft logs each read, as the draft page does): four reads.
	const draftReads = 4

	// The worker opens the case page and the correction page: two reads.
	before := countEvents(t, b, audit.ActionCaseRead)
	w := b.signIn(t, "worker")
	resp, body := w.get("/cases/" + b.f.Case.ID)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = w.get("/cases/" + b.f.Case.ID + "/record/" + shared.ID + "/correct")
	wantStatus(t, resp, body, http.StatusOK)
	// Another team's worker is refused, and that is no read.
	o := b.signIn(t, "other")
	resp, body = o.get("/cases/" + b.f.Case.ID)
	wantStatus(t, resp, body, http.StatusForbidden)
	if got := countEvents(t, b, audit.ActionCaseRead) - before; got != 2 {
		t.Fatalf("%d reads logged, want 2", got)
	}

	cl := b.signInClient(t, "fr")
	resp, body = cl.get("/client/record")
	wantStatus(t, resp, body, http.StatusOK)
	text := html.UnescapeString(body)
	if !strings.Contains(text, shared.Content) || !strings.Contains(text, "vérifié et signé par worker") {
		t.Fatalf("the record does not show the shared entry with its provenance in French:\n%s", body)
	}
	if strings.Contains(text, withheld.Content) || !strings.Contains(text, "pourrait mettre quelqu'un en danger") {
		t.Fatalf("the withheld entry shows its text, or no notice:\n%s", body)
	}

	resp, body = cl.get("/client/access")
	wantStatus(t, resp, body, http.StatusOK)
	text = html.UnescapeString(body)
	if strings.Count(body, `data-leaf="`) != 2+draftReads || !strings.Contains(text, "worker (assistant social) a regardé votre dossier") ||
		!strings.Contains(body, "/static/client_proof.js") || !strings.Contains(body, "— test.local/audit") {
		t.Fatalf("the access page does not list the two reads with their proofs and the checkpoint:\n%s", body)
	}

	// Mobile first and light: each page with its assets under 100 KB.
	for _, path := range []string{"/client/record", "/client/access"} {
		_, page := cl.get(path)
		total := len(page)
		for _, m := range regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(page, -1) {
			_, asset := cl.get(m[1])
			total += len(asset)
		}
		if total >= 100<<10 {
			t.Errorf("%s weighs %d bytes with its assets, over 100 KB", path, total)
		}
	}

	resp, body = cl.get("/client/export")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `<html lang="fr">`) || !strings.Contains(html.UnescapeString(body), "Tout ce qui vous concerne") ||
		strings.Contains(html.UnescapeString(body), withheld.Content) {
		t.Fatalf("the printable export:\n%s", body)
	}
	resp, body = cl.get("/client/export?format=json")
	wantStatus(t, resp, body, http.StatusOK)
	var bundle struct {
		Record struct {
			Entries []struct{ ID string }
		}
		AccessLog struct {
			Entries []json.RawMessage
		} `json:"access_log"`
	}
	if err := json.Unmarshal([]byte(body), &bundle); err != nil || len(bundle.Record.Entries) != 2 || len(bundle.AccessLog.Entries) != 2+draftReads {
		t.Fatalf("the JSON export (%v):\n%s", err, body)
	}

	// A staff session is not a client's.
	resp, _ = w.get("/client/record")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/client/signin") {
		t.Fatalf("a staff session reached the client's record: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// The sign-off form asks whether the client may read the entry, and an
// approval that leaves it unanswered signs nothing.
func TestUISignOffAsksSharing(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	d := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
	w := b.signIn(t, "worker")
	resp, body := w.get("/drafts/" + d.ID)
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `name="sharing_asked" value="1"`) || !strings.Contains(body, `value="withheld"`) {
		t.Fatalf("the form does not ask about sharing:\n%s", body)
	}
	form := url.Values{"content": {d.Content.Text()}, "sharing_asked": {"1"}}
	for _, s := range d.Content.Statements {
		form.Set("st."+s.ID, review.StatementConfirmed)
		form.Set("st."+s.ID+".comment", "Checked.")
	}
	for _, it := range d.Content.Items {
		form.Set("item."+it.ID, "accept")
		form.Set("item."+it.ID+".comment", "Checked.")
	}
	resp, body = w.post("/drafts/"+d.ID+"/approve", form)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Choose whether the client may read this entry") {
		t.Fatalf("the refusal does not say what is missing:\n%s", body)
	}
	form.Set("sharing", review.SharingWithheld)
	form.Set("withheld_reason", review.WithheldLegal)
	resp, body = w.post("/drafts/"+d.ID+"/approve", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", resp.StatusCode, body)
	}
	rec := b.record(t)
	if len(rec) != 1 || rec[0].Sharing != review.SharingWithheld || rec[0].WithheldReason != review.WithheldLegal {
		t.Fatalf("record %+v", rec)
	}
}

// TestClientBrowserAccessProofs shows the access log in headless Chromium
// on a phone-sized screen: the page's own script checks each read's
// inclusion proof against the signed checkpoint with WebCrypto and marks
// it checked; against a wrong root it marks every one as not checked. The
// record and access pages pass axe-core's WCAG 2.2 A/AA rules.
func TestClientBrowserAccessProofs(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSummary, review.SharingShared, "")
	storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSuggestions, review.SharingWithheld, review.WithheldThirdParty)
	// Each entry's draft was read twice (opened, then opened to sign): four reads.
	const draftReads = 4
	w := b.signIn(t, "worker")
	for range 3 {
		resp, body := w.get("/cases/" + b.f.Case.ID)
		wantStatus(t, resp, body, http.StatusOK)
	}
	ctx, br := clientSignedUpInBrowser(t, b)
	br.do("open the record", chromedp.Click(chromedp.CSS(`a[href="/client/record"]`)), chromedp.WaitVisible(chromedp.CSS(`article.withheld`)))
	checkAxe(t, ctx, "record (en)")
	br.screenshot("client-record-01")

	br.do("open who looked", chromedp.Click(chromedp.CSS(`a[href="/client/access"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#access li[data-proof]`)))
	ok := run(br, "count the checked proofs", chromedp.Evaluate[int](`new Promise(done => {
		const all = document.querySelectorAll('#access li[data-leaf]');
		const wait = () => document.querySelectorAll('#access li[data-proof]').length === all.length ? done(document.querySelectorAll('#access li[data-proof="ok"]').length) : setTimeout(wait, 20);
		wait();
	})`, chromedp.EvalAwaitPromise))
	if ok != 3+draftReads {
		t.Fatalf("%d reads checked in the browser, want %d:\n%s", ok, 3+draftReads, br.html())
	}
	if got := br.text(`#access li[data-proof="ok"] .proof`); !strings.Contains(got, "Checked: this is in the log.") {
		t.Fatalf("a checked read says %q", got)
	}
	checkAxe(t, ctx, "access (en)")
	br.screenshot("client-access-01-checked")

	// The same script against a root that is not the checkpoint's.
	bad := run(br, "check against a wrong root", chromedp.Evaluate[int](`new Promise(done => {
		const list = document.getElementById('access');
		list.querySelectorAll('li').forEach(li => li.removeAttribute('data-proof'));
		list.setAttribute('data-root', btoa(String.fromCharCode(...new Uint8Array(32))));
		const s = document.createElement('script');
		s.src = '/static/client_proof.js?again';
		document.body.appendChild(s);
		const all = list.querySelectorAll('li[data-leaf]');
		const wait = () => list.querySelectorAll('li[data-proof]').length === all.length ? done(list.querySelectorAll('li[data-proof="bad"]').length) : setTimeout(wait, 20);
		wait();
	})`, chromedp.EvalAwaitPromise))
	if bad != 3+draftReads {
		t.Fatalf("%d of %d reads refused against a wrong root", bad, 3+draftReads)
	}

	// Every other page of the client's file meets WCAG 2.2 AA too.
	for _, pg := range []struct{ path, ready string }{
		{"/client/export", "h1"},
		{"/client/agenda", "h1"},
		{"/client/responses", "h1"},
	} {
		br.do("open "+pg.path, chromedp.Navigate(b.srv.URL+pg.path), chromedp.WaitVisible(chromedp.CSS(pg.ready)))
		checkAxe(t, ctx, pg.path)
	}
}

// clientSignedUpInBrowser invites the fixture's client and signs them up in
// headless Chromium on a phone-sized screen, with their code and a
// passphrase, as a person without a passkey does; it returns the browser
// at the client's home page.
func clientSignedUpInBrowser(t *testing.T, b *uiBundle) (context.Context, *browser) {
	t.Helper()
	ctx := newChromium(t, 390, 844)
	br := &browser{t: t, ctx: ctx, base: b.srv.URL, shot: screenshotDir(t)}
	_, code, err := b.db.CreateInvitation(storetest.As(storetest.CLI(), b.f.Worker), b.f.Case.ID, b.f.Client.ID)
	if err != nil {
		t.Fatal(err)
	}
	const pass = "blue kettle on a sunny hill"
	br.do("sign up with a passphrase",
		chromedp.Navigate(b.srv.URL+"/client/signin"),
		chromedp.WaitVisible(chromedp.CSS("#code")),
		chromedp.SendKeys(chromedp.CSS("#code"), code),
		chromedp.Click(chromedp.CSS(`form[action="/client/code"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#passphrase")),
		chromedp.SendKeys(chromedp.CSS("#passphrase"), pass),
		chromedp.SendKeys(chromedp.CSS("#passphrase2"), pass),
		chromedp.Click(chromedp.CSS(`form[action="/client/passphrase"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/client/signout"]`)),
	)
	return ctx, br
}
