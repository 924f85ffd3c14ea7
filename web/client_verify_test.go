package web_test

import (
	"net/http"
	"strings"
	"testing"
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
