package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// signInClient invites the fixture's client as its worker and signs them
// in with a passphrase, and keeps their token as the role "client".
func (b *testBundle) signInClient(t *testing.T) {
	t.Helper()
	post := func(path, token string, body any, out any) {
		t.Helper()
		buf, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, b.srv.URL+path, bytes.NewReader(buf))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
		}
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
	var inv struct{ Code string }
	post("/v1/cases/"+b.f.Case.ID+"/parties/"+b.f.Client.ID+"/invitations", b.tokens["worker"], map[string]any{}, &inv)
	var sess struct{ Token string }
	post("/v1/client/session", "", map[string]any{"code": inv.Code, "passphrase": "blue kettle on a sunny hill"}, &sess)
	b.tokens["client"] = sess.Token
}

// get sends a GET as role and returns the body, checking the status (and,
// for JSON, the OpenAPI document).
func (b *testBundle) get(t *testing.T, role, path, accept string, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+b.tokens[role])
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s as %s: %d, want %d: %s", path, role, resp.StatusCode, want, raw)
	}
	b.spec.check(t, http.MethodGet, req.URL.Path, resp, raw)
	return raw
}

func TestClientFileAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, func(s *api.Server) { s.Clients = s.Cases.(*sqlstore.DB) })
		b.signInClient(t)
		ctx := storetest.As(context.Background(), b.f.Worker)
		sign := func(d *review.Draft, sharing, reason string) *review.Entry {
			ap := review.Approval{Sharing: sharing, WithheldReason: reason}
			for _, s := range d.Content.Statements {
				ap.Statements = append(ap.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed, Comment: "Checked."})
			}
			for _, it := range d.Content.Items {
				ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: true, Comment: "Checked."})
			}
			e, err := storetest.Approve(b.db, ctx, d.ID, ap)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		// Each draft opened is a read of it (OpenDraft logs it, as GET
		// /v1/drafts/{id} does): three opened, two of them again to sign.
		const setupDraftReads = 5
		shared := sign(storetest.MustDraft(t, b.db, b.f, assistant.KindSummary), review.SharingShared, "")
		withheld := sign(storetest.MustDraft(t, b.db, b.f, assistant.KindSuggestions), review.SharingWithheld, review.WithheldThirdParty)
		pending := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)

		t.Run("TheApprovalRefusesAWithholdingWithoutAReason", func(t *testing.T) {
			var p struct {
				Code   string `json:"code"`
				Errors []struct{ Field string }
			}
			b.call(t, "worker", "POST", "/v1/drafts/"+pending.ID+"/approve", map[string]any{"sharing": "withheld", "statements": confirmAll(pending)}, http.StatusUnprocessableEntity, &p)
			found := false
			for _, e := range p.Errors {
				found = found || e.Field == "withheld_reason"
			}
			if !found {
				t.Fatalf("problem %+v names no withheld_reason", p)
			}
		})

		// Staff reads, each logged before it is answered.
		b.call(t, "worker", "GET", "/v1/cases/"+b.f.Case.ID, nil, http.StatusOK, nil)
		b.call(t, "worker", "GET", "/v1/cases/"+b.f.Case.ID+"/notes", nil, http.StatusOK, nil)
		b.call(t, "supervisor", "GET", "/v1/cases/"+b.f.Case.ID+"/record", nil, http.StatusOK, nil)
		b.call(t, "worker", "GET", "/v1/drafts/"+pending.ID, nil, http.StatusOK, nil)
		// A refused read is no read.
		b.call(t, "other", "GET", "/v1/cases/"+b.f.Case.ID+"/notes", nil, http.StatusForbidden, nil)

		t.Run("TheClientReadsSharedEntriesAndWithheldNoticesOnly", func(t *testing.T) {
			raw := b.get(t, "client", "/v1/client/record", "", http.StatusOK)
			if bytes.Contains(raw, []byte(jsonText(withheld.Content))) {
				t.Fatal("the client's record holds a withheld entry's text")
			}
			var rec struct {
				Entries []struct {
					ID, Content string
					Shared      bool
					Withheld    *struct{ Reason string }
				}
			}
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatal(err)
			}
			if len(rec.Entries) != 2 || rec.Entries[0].ID != shared.ID || rec.Entries[0].Content != shared.Content ||
				rec.Entries[1].Withheld == nil || rec.Entries[1].Withheld.Reason != "third_party" {
				t.Fatalf("record %s", raw)
			}
		})

		t.Run("EachDoorRefusesTheOthersToken", func(t *testing.T) {
			b.get(t, "worker", "/v1/client/record", "", http.StatusUnauthorized)
			b.call(t, "client", "GET", "/v1/cases/"+b.f.Case.ID+"/notes", nil, http.StatusUnauthorized, nil)
		})

		t.Run("TheAccessLogListsEveryStaffReadWithAProofThatHolds", func(t *testing.T) {
			raw := b.get(t, "client", "/v1/client/access-log", "", http.StatusOK)
			var l struct {
				Checkpoint struct {
					Size uint64
					Root []byte
					Note string
				}
				Entries []struct {
					Seq       *uint64
					What      string
					Who       struct{ Name, Role string }
					Canonical []byte
					Proof     *audit.Inclusion
				}
			}
			if err := json.Unmarshal(raw, &l); err != nil {
				t.Fatal(err)
			}
			whats := map[string]int{}
			for _, e := range l.Entries {
				whats[e.What]++
				if e.Seq == nil || e.Proof == nil {
					t.Fatalf("a read without its proof: %s", raw)
				}
				// Checked with the library, not with the service's own code.
				leaf := rfc6962.DefaultHasher.HashLeaf(e.Canonical)
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, e.Proof.Index, e.Proof.Size, leaf, e.Proof.Hashes, l.Checkpoint.Root); err != nil {
					t.Fatalf("read %d: %v", *e.Seq, err)
				}
				if e.Proof.Size != l.Checkpoint.Size {
					t.Fatalf("proof against size %d, checkpoint %d", e.Proof.Size, l.Checkpoint.Size)
				}
			}
			if whats["case"] != 1 || whats["notes"] != 1 || whats["record"] != 1 || whats["draft"] != setupDraftReads+1 || len(l.Entries) != setupDraftReads+4 {
				t.Fatalf("reads %v: %s", whats, raw)
			}
			if !strings.Contains(l.Checkpoint.Note, "— test.local/audit") {
				t.Fatalf("checkpoint note %q", l.Checkpoint.Note)
			}
		})

		t.Run("TheExportIsOneBundleInJSONAndHTML", func(t *testing.T) {
			var bundle struct {
				Record    struct{ Entries []json.RawMessage }
				AccessLog struct{ Entries []json.RawMessage } `json:"access_log"`
				Responses []json.RawMessage
			}
			raw := b.get(t, "client", "/v1/client/export", "", http.StatusOK)
			if err := json.Unmarshal(raw, &bundle); err != nil {
				t.Fatal(err)
			}
			if len(bundle.Record.Entries) != 2 || len(bundle.AccessLog.Entries) != setupDraftReads+4 || bundle.Responses == nil {
				t.Fatalf("bundle %s", raw)
			}
			html := string(b.get(t, "client", "/v1/client/export?format=html", "", http.StatusOK))
			if !strings.Contains(html, "<h1>Everything about you</h1>") || !strings.Contains(html, "holds information about other people") ||
				strings.Contains(html, withheld.Content) {
				t.Fatalf("html export:\n%s", html)
			}
			if html2 := string(b.get(t, "client", "/v1/client/export", "text/html", http.StatusOK)); !strings.HasPrefix(html2, "<!doctype html>") {
				t.Fatalf("Accept: text/html gave %.100s", html2)
			}
		})

		t.Run("AWorkerExportsOnTheClientsBehalfAndThatIsALoggedRead", func(t *testing.T) {
			path := "/v1/cases/" + b.f.Case.ID + "/parties/" + b.f.Client.ID + "/export"
			b.get(t, "other", path, "", http.StatusForbidden)
			raw := b.get(t, "worker", path, "", http.StatusOK)
			if !bytes.Contains(raw, []byte(`"what":"export"`)) {
				t.Fatalf("the worker's export does not list itself: %s", raw)
			}
			b.get(t, "worker", "/v1/cases/"+b.f.Case.ID+"/parties/par_nobody/export", "", http.StatusNotFound)
		})
	})
}

// jsonText is s as it appears inside a JSON string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}
