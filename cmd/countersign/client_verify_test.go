package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestServeTheRightToAnswerOnThePages runs the service as wired: a client
// answers a shared entry of their file on its page, reads their answer on
// their responses page, and the case's worker finds it on theirs. (The web
// interface found no store of responses in the service's wiring, so the
// form answered "no such page" and the lists came up empty.)
func TestServeTheRightToAnswerOnThePages(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, storetest.SQLiteDSN(t), true, io.Discard)
	base := "http://" + m.Addr()
	worker, caseID, partyID := demoCaseClient(t, m)

	// A summary, signed and shared with the client.
	var d struct{ ID string }
	post(t, base+"/v1/cases/"+caseID+"/drafts", worker, `{"kind":"summary"}`, http.StatusAccepted, &d)
	var draft struct {
		Status  string
		Content struct {
			Statements []struct{ ID string }
		}
	}
	etag := ""
	waitFor(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/drafts/"+d.ID, nil)
		req.Header.Set("Authorization", "Bearer "+worker)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&draft); err != nil {
			t.Fatal(err)
		}
		etag = resp.Header.Get("ETag")
		return draft.Status == "pending_review"
	})
	type decision struct {
		ID      string `json:"id"`
		Action  string `json:"action"`
		Comment string `json:"comment"`
	}
	var ap struct {
		Statements []decision `json:"statements"`
		Sharing    string     `json:"sharing"`
	}
	ap.Sharing = "shared"
	for _, s := range draft.Content.Statements {
		ap.Statements = append(ap.Statements, decision{ID: s.ID, Action: "confirmed", Comment: "Checked at the visit."})
	}
	body, _ := json.Marshal(ap)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/drafts/"+d.ID+"/approve", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+worker)
	req.Header.Set("If-Match", etag)
	var entry struct{ ID string }
	do(t, req, http.StatusOK, &entry)

	// The client signs up on the pages with their letter's code.
	var inv struct{ Code string }
	post(t, base+"/v1/cases/"+caseID+"/parties/"+partyID+"/invitations", worker, `{}`, http.StatusCreated, &inv)
	c := newBrowserless(t, base)
	c.get("/client/signin")
	if resp := c.post("/client/code", url.Values{"code": {inv.Code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("code: %d", resp.StatusCode)
	}
	c.get("/client/welcome")
	const pass = "blue kettle on a sunny hill"
	if resp := c.post("/client/passphrase", url.Values{"passphrase": {pass}, "passphrase2": {pass}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("passphrase: %d", resp.StatusCode)
	}

	const words = "My husband died in April, not in March."
	c.get("/client/record/" + entry.ID + "/respond")
	resp := c.post("/client/record/"+entry.ID+"/responses", url.Values{"kind": {"correction"}, "text": {words}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/client/responses") {
		t.Fatalf("the client's answer: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if page := c.get("/client/responses"); !strings.Contains(page, words) {
		t.Fatal("the client's responses page does not list their answer")
	}
	w := newBrowserless(t, base)
	w.signIn(worker)
	if page := w.get("/client-responses"); !strings.Contains(page, words) {
		t.Fatal("the worker's page of client responses does not list the answer")
	}
}

// TestServeDemoLettersTheDemosClientOnly: serve --demo gives a fresh letter
// at each start to the demo case's client, not to the client of whatever
// case was opened last on the same database.
func TestServeDemoLettersTheDemosClientOnly(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	m := MustRunMain(t, dsn, true, io.Discard)
	base := "http://" + m.Addr()
	var worker string
	for _, tok := range m.Tokens {
		if tok.Role == countersign.RoleWorker {
			worker = tok.Token
		}
	}
	var demo struct{ ID string }
	var cases struct {
		Cases []struct{ ID string } `json:"cases"`
	}
	get(t, base+"/v1/cases", worker, &cases)
	demo.ID = cases.Cases[0].ID
	if !strings.Contains(m.DemoInvitation.Letter, demo.ID) {
		t.Fatalf("the first start's letter %s is not for the demo case %s", m.DemoInvitation.Letter, demo.ID)
	}
	var other struct{ ID string }
	post(t, base+"/v1/cases", worker, `{"reference":"X-2","title":"Another case"}`, http.StatusCreated, &other)
	post(t, base+"/v1/cases/"+other.ID+"/parties", worker, `{"role":"client","full_name":"Jan Peeters","language":"nl"}`, http.StatusCreated, nil)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := MustRunMain(t, dsn, true, io.Discard)
	if !strings.Contains(m2.DemoInvitation.Letter, demo.ID) {
		t.Fatalf("the second start's letter %s is not for the demo case %s", m2.DemoInvitation.Letter, demo.ID)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
}
