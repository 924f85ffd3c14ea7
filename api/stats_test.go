package api_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestAuditStats(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		t.Run("CountsDecisionsByPseudonymousWorker", func(t *testing.T) {
			t.Parallel()
			b := setup(t, open)
			mustDecideThreeDrafts(t, b)

			var s audit.Stats
			b.call(t, "ethics", "GET", "/v1/audit/stats", nil, 200, &s)
			c := s.Total
			if c.Requested != 3 || c.Generated != 3 || c.ApprovedUnchanged != 1 || c.ApprovedEdited != 1 || c.Rejected != 1 || c.RejectedByReason["incomplete"] != 1 {
				t.Fatalf("totals: %+v", c)
			}
			if sum(c.EditRatio) != 2 || sum(c.ReviewTime) != 3 {
				t.Errorf("edit ratio buckets %v (want 2 approvals), review time buckets %v (want 3 decisions)", c.EditRatio, c.ReviewTime)
			}
			if !s.Pseudonymous || len(s.Groups) == 0 {
				t.Fatalf("pseudonymous %v, %d groups", s.Pseudonymous, len(s.Groups))
			}
			for _, g := range s.Groups {
				if g.Worker == b.f.Worker.ID || !strings.HasPrefix(g.Worker, "w_") {
					t.Errorf("group shows worker %q, want a pseudonym", g.Worker)
				}
				if g.ApprovedEdited+g.ApprovedUnchanged > 0 && (g.Kind != "summary" || g.Model == "" || g.PromptVersion == "") {
					t.Errorf("approvals grouped without their kind, model or prompt: %+v", g)
				}
			}
			// The same worker keeps the same pseudonym from one request to the next.
			var again audit.Stats
			b.call(t, "admin", "GET", "/v1/audit/stats?by=worker", nil, 200, &again)
			if len(again.Groups) != 1 || again.Groups[0].Worker != s.Groups[0].Worker || again.Groups[0].Kind != "" {
				t.Fatalf("by=worker groups: %+v", again.Groups)
			}

			b.call(t, "ethics", "GET", "/v1/audit/stats?by=kind&since=2000-01-01&until=2000-01-02", nil, 200, &s)
			if s.Total.Requested != 0 || len(s.Groups) != 0 || s.Events != 0 {
				t.Fatalf("stats of an empty window: %+v", s)
			}
			b.call(t, "worker", "GET", "/v1/audit/stats", nil, 403, nil)
			b.call(t, "supervisor", "GET", "/v1/audit/stats", nil, 403, nil)
			b.call(t, "", "GET", "/v1/audit/stats", nil, 401, nil)
			b.call(t, "ethics", "GET", "/v1/audit/stats?by=case", nil, 422, nil)
			b.call(t, "ethics", "GET", "/v1/audit/stats?since=yesterday", nil, 422, nil)
			b.call(t, "ethics", "GET", "/v1/audit/stats?format=xml", nil, 422, nil)
		})
		t.Run("CSVHoldsTheSameFigures", func(t *testing.T) {
			t.Parallel()
			b := setup(t, open)
			mustDecideThreeDrafts(t, b)
			for _, how := range []struct{ query, accept string }{{"?format=csv", ""}, {"", "text/csv"}} {
				req, _ := http.NewRequest("GET", b.srv.URL+"/v1/audit/stats"+how.query, nil)
				req.Header.Set("Authorization", "Bearer "+b.tokens["ethics"])
				if how.accept != "" {
					req.Header.Set("Accept", how.accept)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %d %s", how, resp.StatusCode, raw)
				}
				b.spec.check(t, "GET", "/v1/audit/stats", resp, raw)
				recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				head, total := recs[0], recs[1]
				col := func(name string) string {
					i := slices.Index(head, name)
					if i < 0 {
						t.Fatalf("no column %s in %v", name, head)
					}
					return total[i]
				}
				if total[0] != "*" || col("requested") != "3" || col("approved_unchanged") != "1" || col("approved_edited") != "1" || col("rejected_incomplete") != "1" {
					t.Fatalf("CSV totals %v for header %v", total, head)
				}
				if strings.Contains(string(raw), b.f.Worker.ID) {
					t.Fatal("the CSV shows a real worker id")
				}
			}
		})
		t.Run("RealIDsWhenConfigured", func(t *testing.T) {
			t.Parallel()
			b := setup(t, open, func(s *api.Server) { s.StatsRealIDs = true })
			mustDecideThreeDrafts(t, b)
			var s audit.Stats
			b.call(t, "ethics", "GET", "/v1/audit/stats?by=worker", nil, 200, &s)
			if s.Pseudonymous || len(s.Groups) != 1 || s.Groups[0].Worker != b.f.Worker.ID {
				t.Fatalf("pseudonymous %v, groups %+v", s.Pseudonymous, s.Groups)
			}
		})
	})
}

// mustDecideThreeDrafts has the worker request three summaries, approve one
// as written, approve one with an edit and reject the third.
func mustDecideThreeDrafts(t *testing.T, b *testBundle) {
	t.Helper()
	c := b.f.Case.ID
	// Each draft is decided before the next is requested: a newer draft of
	// the same kind over the same notes would supersede a pending one.
	for i := range 3 {
		var d review.Draft
		b.call(t, "worker", "POST", "/v1/cases/"+c+"/drafts", map[string]any{"kind": "summary"}, 202, &d)
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.call(t, "worker", "GET", "/v1/drafts/"+d.ID, nil, 200, &d)
		switch i {
		case 0:
			b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{"statements": confirmAll(&d)}, 200, nil)
		case 1:
			b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{"content": d.Content.Text() + " Checked with the client.", "statements": confirmAll(&d)}, 200, nil)
		case 2:
			b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/reject", map[string]any{"reason": "incomplete"}, 200, nil)
		}
	}
}

func sum(xs []uint64) (n uint64) {
	for _, x := range xs {
		n += x
	}
	return n
}
