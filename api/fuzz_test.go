package api_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// FuzzJSONBodies sends arbitrary bytes as the body of every endpoint that
// takes one. Whatever arrives, the answer is never a 500, and a refused
// request writes nothing. Seeds (f.Add below and testdata/fuzz) run as
// ordinary tests; `go test -fuzz FuzzJSONBodies ./api` explores further.
func FuzzJSONBodies(f *testing.F) {
	db := storetest.OpenSQLite(f)
	fx := storetest.MustSeed(f, db)
	signer, _, err := audit.LoadOrCreateSigner(f.TempDir()+"/key", "fuzz.local/audit")
	if err != nil {
		f.Fatal(err)
	}
	s := api.NewServer()
	s.Identity, s.Cases, s.Review, s.Audit = db, db, db, db
	s.AuditProofs = &audit.Notary{Store: db, Signer: signer, Origin: "fuzz.local/audit"}
	s.MaxBodyBytes = 64 << 10
	h := s.Handler()
	_, token, err := db.CreateToken(storetest.CLI(), fx.Worker.ID, "fuzz", nil)
	if err != nil {
		f.Fatal(err)
	}
	d := storetest.MustDraft(f, db, fx, assistant.KindSuggestions)
	entry := storetest.MustDraft(f, db, fx, assistant.KindSummary)
	var confirm []review.StatementDecision
	for _, st := range entry.Content.Statements {
		if st.Category != "" {
			confirm = append(confirm, review.StatementDecision{ID: st.ID, Action: "confirmed"})
		}
	}
	e, err := storetest.Approve(db, storetest.As(context.Background(), fx.Worker), entry.ID, review.Approval{Statements: confirm})
	if err != nil {
		f.Fatal(err)
	}
	c := "/v1/cases/" + fx.Case.ID
	endpoints := []string{
		"/v1/cases", c + "/parties", c + "/notes", c + "/drafts", c + "/consent",
		"/v1/drafts/" + d.ID + "/approve", "/v1/drafts/" + d.ID + "/reject", "/v1/drafts/" + d.ID + "/reassign",
		"/v1/drafts/" + d.ID + "/countersign", c + "/record/" + e.ID + "/correct",
	}
	for i := range endpoints {
		for _, seed := range []string{
			`{}`, `null`, `[]`, `"x"`, `{"body":"A visit."}`, `{"kind":"summary"}`, `{"reason":"other"}`,
			`{"body":"<script>alert(1)</script>"}`, `{"body":"'; DROP TABLE notes; --"}`, `{"body":"a\u0000b"}`,
			"{\"body\":\"\xff\xfe\"}", `{"items":[{"id":"i1","accepted":true}]}`, `{"statements":[{"id":"s1","action":"removed"}]}`,
			strings.Repeat(`{"a":`, 500) + `1` + strings.Repeat(`}`, 500), `{"body":` + strings.Repeat(`"`, 3),
			`{"reference":"R","title":"T","worker_id":"` + fx.Worker.ID + `"}`, `{"given":true}`, `{"content":"x","reason":"factual_error"}`,
		} {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := endpoints[int(which)%len(endpoints)]
		before := dbFootprint(t, db)
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			if rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("refusal without problem+json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if after := dbFootprint(t, db); after != before {
				t.Fatalf("POST %s %q refused with %d but wrote: %s -> %s", path, body, rec.Code, before, after)
			}
		}
	})
}
