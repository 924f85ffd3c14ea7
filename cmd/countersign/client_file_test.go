package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestServeLogsStaffReadsForTheClient runs the service as wired: a
// worker's reads through either door are logged (the service gives both
// doors the store of the client's file), and the client, signed in with
// their invitation, sees them in their access log with proofs, and gets
// their whole file.
func TestServeLogsStaffReadsForTheClient(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, storetest.SQLiteDSN(t), true, io.Discard)
	base := "http://" + m.Addr()
	worker, caseID, partyID := demoCaseClient(t, m)

	// Two reads: the notes through the API, the case page on the web.
	get(t, base+"/v1/cases/"+caseID+"/notes", worker, nil)
	b := newBrowserless(t, base)
	b.signIn(worker)
	b.get("/cases/" + caseID)

	var inv struct{ Code string }
	post(t, base+"/v1/cases/"+caseID+"/parties/"+partyID+"/invitations", worker, `{}`, http.StatusCreated, &inv)
	var sess struct{ Token string }
	post(t, base+"/v1/client/session", "", `{"code":"`+inv.Code+`","passphrase":"blue kettle on a sunny hill"}`, http.StatusCreated, &sess)

	var log struct {
		Entries []struct {
			What  string
			Proof *struct{ Index uint64 }
		}
	}
	get(t, base+"/v1/client/access-log", sess.Token, &log)
	whats := []string{}
	for _, e := range log.Entries {
		whats = append(whats, e.What)
		if e.Proof == nil {
			t.Errorf("read %s has no proof", e.What)
		}
	}
	// Newest first: the case page, the notes, and the list of the case's
	// people read above to find the client.
	if got := strings.Join(whats, ","); got != "case,notes,case" {
		t.Fatalf("the access log lists %q, want the case page, the notes and the list of parties", got)
	}
	var bundle struct {
		Responses []any `json:"responses"`
		Record    struct {
			Entries []any
		}
	}
	get(t, base+"/v1/client/export", sess.Token, &bundle)
	if bundle.Responses == nil {
		t.Fatal("the export has no list of responses")
	}
}

// demoCaseClient returns the demo's worker token, its case and the party
// of that case whose role is client, as a newcomer finds them through the API.
func demoCaseClient(t *testing.T, m *Main) (worker, caseID, partyID string) {
	t.Helper()
	base := "http://" + m.Addr()
	for _, tok := range m.Tokens {
		if tok.Role == countersign.RoleWorker {
			worker = tok.Token
		}
	}
	var cases struct {
		Cases []struct {
			ID string `json:"id"`
		} `json:"cases"`
	}
	get(t, base+"/v1/cases", worker, &cases)
	caseID = cases.Cases[0].ID
	var parties struct {
		Parties []struct{ ID, Role string } `json:"parties"`
	}
	get(t, base+"/v1/cases/"+caseID+"/parties", worker, &parties)
	for _, p := range parties.Parties {
		if p.Role == "client" {
			partyID = p.ID
		}
	}
	if partyID == "" {
		t.Fatal("the demo case has no client")
	}
	return worker, caseID, partyID
}
