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
	ctx, br := clientSignedUpInBrowser(t, b)
	br.do("read in German",
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
