package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestClientNotFoundIsInTheClientsLanguage: an entry that is not the
// client's (or not at all) answers the same page, in the language the
// client reads, not the store's English sentence.
func TestClientNotFoundIsInTheClientsLanguage(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	code, _ := b.invite(t)
	cb := newClientBrowser(t, b.srv.URL)
	cb.signUp(code)
	if status, _, _ := cb.get("/client/lang/nl"); status != http.StatusSeeOther {
		t.Fatalf("language switch: %d", status)
	}
	status, _, body := cb.get("/client/record/rec_000000000000000000000000/respond")
	if status != http.StatusNotFound || !strings.Contains(body, "Deze pagina bestaat niet.") || strings.Contains(body, "There is no such") {
		t.Fatalf("not found in Dutch: %d %s", status, body)
	}
}

// TestClientWelcomeIsInTheLettersLanguage: the letter of a client whose
// language is Dutch is in Dutch; the page they reach with its code, and
// its answers, are too, whatever their browser asks, unless they chose
// another language with the switch.
func TestClientWelcomeIsInTheLettersLanguage(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	ctx := storetest.As(storetest.CLI(), b.f.Worker)
	p := &casefile.Party{CaseID: b.f.Case.ID, Role: "client", FullName: "Jan Peeters", Language: "nl"}
	if err := b.db.AddParty(ctx, p); err != nil {
		t.Fatal(err)
	}
	_, code, err := b.db.CreateInvitation(ctx, b.f.Case.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	cb := newClientBrowser(t, b.srv.URL)
	if resp, _ := cb.post("/client/signin", "/client/code", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("code: %d", resp.StatusCode)
	}
	if _, _, body := cb.get("/client/welcome"); !strings.Contains(body, `lang="nl"`) || !strings.Contains(body, "Welkom") {
		t.Fatalf("the welcome page is not in Dutch: %s", body)
	}
	resp, body := cb.post("/client/welcome", "/client/passphrase", url.Values{"passphrase": {clientPass}, "passphrase2": {clientPass + "!"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "De twee wachtzinnen zijn niet hetzelfde.") {
		t.Fatalf("mismatch: %d %s", resp.StatusCode, body)
	}
	// The switch wins.
	if status, _, _ := cb.get("/client/lang/fr"); status != http.StatusSeeOther {
		t.Fatalf("language switch: %d", status)
	}
	if _, _, body := cb.get("/client/welcome"); !strings.Contains(body, `lang="fr"`) {
		t.Fatal("the switch to French is not kept on the welcome page")
	}
}
