package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestClientBrowserResponses answers an entry in headless Chromium on a
// phone-sized screen, with a passphrase, in German: the form, its refusal
// and the list of answers each pass axe-core's WCAG 2.2 A/AA rules.
func TestClientBrowserResponses(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	e := storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSummary, review.SharingShared, "")
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
		chromedp.Click(chromedp.CSS(`a[hreflang="de"]`)),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="de"]`)),
	)
	br.do("open the form of an entry", chromedp.Navigate(b.srv.URL+"/client/record/"+e.ID+"/respond"), chromedp.WaitVisible(chromedp.CSS("#text")))
	if h := br.html(); !strings.Contains(h, "Meine eigene Sicht ergänzen") {
		t.Fatal("the form is not in German")
	}
	checkAxe(t, ctx, "respond (de)")
	br.screenshot("client-respond-01-form")
	br.do("send nothing", chromedp.Click(chromedp.CSS(`#kind-correction`)), chromedp.Click(chromedp.CSS(`form[action$="/responses"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	checkAxe(t, ctx, "respond refused (de)")
	br.do("say it is wrong",
		chromedp.Click(chromedp.CSS(`#kind-correction`)),
		chromedp.SendKeys(chromedp.CSS("#text"), "Die Mietschulden betragen einen Monat, nicht zwei."),
		chromedp.Click(chromedp.CSS(`form[action$="/responses"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.responses`)),
	)
	if h := br.html(); !strings.Contains(h, "Die Mietschulden betragen einen Monat") || !strings.Contains(h, "Es gibt noch keine Antwort") {
		t.Fatal("the list of answers does not show the answer waiting")
	}
	checkAxe(t, ctx, "responses (de)")
	br.screenshot("client-respond-02-sent")
}
