package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// signInClient invites the fixture's client and signs them in on the
// pages with a passphrase, as a person with the letter does.
func (b *uiBundle) signInClient(t *testing.T, lang string) *uiClient {
	t.Helper()
	_, code, err := b.db.CreateInvitation(storetest.As(context.Background(), b.f.Worker), b.f.Case.ID, b.f.Client.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := b.client(t)
	c.lang = lang
	c.get("/client/signin")
	resp, body := c.post("/client/code", url.Values{"code": {code}})
	wantRedirect(t, resp, "/client/welcome")
	resp, body = c.get("/client/welcome")
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = c.post("/client/passphrase", url.Values{"passphrase": {"blue kettle on a sunny hill"}, "passphrase2": {"blue kettle on a sunny hill"}})
	wantRedirect(t, resp, "/client")
	c.get("/client/lang/" + lang + "?back=/client")
	c.get("/client")
	return c
}

// The right to answer on the pages: the client answers an entry in their
// language, the worker finds the answer from their list of cases and
// answers it on its page, the client reads the outcome, and an attached
// view shows on the case page's record.
func TestUIClientResponses(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	shared := storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSummary, review.SharingShared, "")
	withheld := storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSuggestions, review.SharingWithheld, review.WithheldThirdParty)
	cl := b.signInClient(t, "nl")

	// A signed letter reads as a letter: greeting, the signed text, the
	// closing with its signer, and it can be answered like any entry.
	letter := storetest.MustSignedEntry(t, b.db, b.f, assistant.KindLetter, review.SharingShared, "")
	resp, body := cl.get("/client/record")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Beste Marie Dubois,") || !strings.Contains(body, "In your file: ") ||
		!strings.Contains(body, "Met vriendelijke groeten, worker") || !strings.Contains(body, "/client/record/"+letter.ID+"/respond") {
		t.Fatalf("the letter in the client's file:\n%s", body)
	}

	resp, body = cl.get("/client/record/" + withheld.ID + "/respond")
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = cl.get("/client/record/" + shared.ID + "/respond")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Zeggen dat dit niet klopt") || !strings.Contains(body, `lang="nl"`) {
		t.Fatalf("the form is not in Dutch:\n%s", body)
	}
	before := b.countEvents(t, audit.ActionClientResponded)
	resp, body = cl.post("/client/record/"+shared.ID+"/responses", url.Values{"kind": {"own_view"}, "text": {" "}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Schrijf uw reactie") || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("the refusal does not say what to do, in Dutch:\n%s", body)
	}
	const view = "De verwarming was afgesloten terwijl mijn zoon ziek was."
	resp, _ = cl.post("/client/record/"+shared.ID+"/responses", url.Values{"kind": {"own_view"}, "text": {view}})
	wantRedirect(t, resp, "/client/responses")
	if got := b.countEvents(t, audit.ActionClientResponded); got != before+1 {
		t.Fatalf("%d responses logged", got-before)
	}
	resp, body = cl.get("/client/responses?done=responded")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, view) || !strings.Contains(body, "nog niet geantwoord") {
		t.Fatalf("the client's answers:\n%s", body)
	}

	sup := b.signIn(t, "supervisor")
	if _, body := sup.get("/team"); !strings.Contains(body, `href="/client-responses"`) {
		t.Fatalf("the supervisor's team page does not lead to the clients' answers:\n%s", body)
	}
	w := b.signIn(t, "worker")
	resp, body = w.get("/cases")
	if !strings.Contains(body, `href="/client-responses"`) {
		t.Fatalf("the worker's cases do not lead to the clients' answers:\n%s", body)
	}
	resp, body = w.get("/client-responses")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, view) || !strings.Contains(body, "The client adds their own view") {
		t.Fatalf("the worker's page:\n%s", body)
	}
	id := strings.Split(strings.Split(body, `action="/client-responses/`)[1], "/answer")[0]
	resp, body = w.post("/client-responses/"+id+"/answer", url.Values{"outcome": {"declined"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	resp, _ = w.post("/client-responses/"+id+"/answer", url.Values{"outcome": {"attached"}})
	wantRedirect(t, resp, "/client-responses")
	_, body = w.get("/cases/" + b.f.Case.ID)
	if !strings.Contains(body, view) || !strings.Contains(body, "client-view") {
		t.Fatalf("the record does not show the attached view:\n%s", body)
	}
	other := b.signIn(t, "other")
	resp, body = other.post("/client-responses/"+id+"/answer", url.Values{"outcome": {"attached"}})
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusConflict {
		t.Fatalf("another team's worker answered: %d", resp.StatusCode)
	}

	_, body = cl.get("/client/responses")
	if !strings.Contains(body, "Uw mening staat nu bij de tekst") {
		t.Fatalf("the client does not read the outcome:\n%s", body)
	}
	if _, body = cl.get("/client/record"); !strings.Contains(body, "Uw eigen mening, bewaard bij deze tekst") || !strings.Contains(body, view) {
		t.Fatalf("the client does not read their view with the entry:\n%s", body)
	}
}
