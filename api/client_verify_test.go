package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestClientAccessLogListsPartyReads: the list of a case's people (the
// client's name, date of birth, address, national number) is content of
// the case like the case page that shows them; a staff read of it through
// the API is in the client's access log, and a refused one is not.
func TestClientAccessLogListsPartyReads(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, func(s *api.Server) { s.Clients = s.Cases.(*sqlstore.DB) })
		b.signInClient(t)
		b.call(t, "worker", "GET", "/v1/cases/"+b.f.Case.ID+"/parties", nil, http.StatusOK, nil)
		b.call(t, "other", "GET", "/v1/cases/"+b.f.Case.ID+"/parties", nil, http.StatusForbidden, nil)
		var l struct {
			Entries []struct {
				What  string
				Who   struct{ Name, Role string }
				Proof json.RawMessage
			}
		}
		if err := json.Unmarshal(b.get(t, "client", "/v1/client/access-log", "", http.StatusOK), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Entries) != 1 || l.Entries[0].What != "case" || l.Entries[0].Who.Role != "worker" {
			t.Fatalf("access log %+v, want the worker's one read of the case's people", l.Entries)
		}
	})
}

// TestClientExportRefusesAnUnknownFormat: asked for a format it does not
// have, the export says so (422 naming format) instead of answering JSON,
// through either door; the worker's refused request is no read.
func TestClientExportRefusesAnUnknownFormat(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, func(s *api.Server) { s.Clients = s.Cases.(*sqlstore.DB) })
		b.signInClient(t)
		var p struct {
			Errors []struct{ Field string }
		}
		b.call(t, "client", "GET", "/v1/client/export?format=pdf", nil, http.StatusUnprocessableEntity, &p)
		if len(p.Errors) != 1 || p.Errors[0].Field != "format" {
			t.Fatalf("problem %+v names no format", p)
		}
		b.call(t, "worker", "GET", "/v1/cases/"+b.f.Case.ID+"/parties/"+b.f.Client.ID+"/export?format=pdf", nil, http.StatusUnprocessableEntity, nil)
		var l struct{ Entries []json.RawMessage }
		if err := json.Unmarshal(b.get(t, "client", "/v1/client/access-log", "", http.StatusOK), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Entries) != 0 {
			t.Fatalf("a refused export was logged as a read: %d reads", len(l.Entries))
		}
	})
}
