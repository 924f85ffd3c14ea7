package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
)

func TestDraftToRecord(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		c := b.f.Case.ID

		var cases struct {
			Cases []map[string]any `json:"cases"`
			Total int              `json:"total"`
		}
		b.call(t, "worker", "GET", "/v1/cases", nil, 200, &cases)
		if cases.Total != 1 || cases.Cases[0]["id"] != c {
			t.Fatalf("worker's cases: %+v", cases)
		}
		var note map[string]any
		b.call(t, "worker", "POST", "/v1/cases/"+c+"/notes", map[string]any{"body": "Visit: Marie is worried about the court hearing."}, 201, &note)
		var party map[string]any
		b.call(t, "worker", "POST", "/v1/cases/"+c+"/parties", map[string]any{"role": "other", "full_name": "Claire Dubois", "phone": "07 98 76 54 32"}, 201, &party)
		b.call(t, "worker", "GET", "/v1/cases/"+c+"/parties", nil, 200, nil)
		b.call(t, "worker", "GET", "/v1/cases/"+c+"/notes", nil, 200, nil)

		var d review.Draft
		resp := b.call(t, "worker", "POST", "/v1/cases/"+c+"/drafts", map[string]any{"kind": "summary"}, 202, &d)
		if d.Status != review.StatusQueued || resp.Header.Get("Location") != "/v1/drafts/"+d.ID {
			t.Fatalf("draft %s, location %q", d.Status, resp.Header.Get("Location"))
		}
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		var queue struct {
			Drafts []review.Draft `json:"drafts"`
		}
		b.call(t, "worker", "GET", "/v1/review/queue", nil, 200, &queue)
		if len(queue.Drafts) != 1 || queue.Drafts[0].ID != d.ID {
			t.Fatalf("queue: %+v", queue)
		}
		// The queue lists the draft without its text: reading it is
		// opening the draft, which logs the read.
		var listed struct {
			Drafts []map[string]any `json:"drafts"`
		}
		b.call(t, "worker", "GET", "/v1/review/queue", nil, 200, &listed)
		if _, has := listed.Drafts[0]["content"]; has {
			t.Fatalf("the queue lists the draft with its text: %v", listed.Drafts[0])
		}
		b.call(t, "worker", "GET", "/v1/drafts/"+d.ID, nil, 200, &d)
		if d.Status != review.StatusPendingReview || d.OpenedAt == nil || d.Content == nil {
			t.Fatalf("draft after generation: %+v", d)
		}
		var rec struct {
			Entries []review.Entry `json:"entries"`
		}
		b.call(t, "worker", "GET", "/v1/cases/"+c+"/record", nil, 200, &rec)
		if len(rec.Entries) != 0 {
			t.Fatal("record holds an unsigned draft")
		}
		b.call(t, "other", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{}, 403, nil)
		var e review.Entry
		// The note speaks of a court hearing: the service reads it as
		// high-stakes (police or court), so the worker confirms it.
		var decisions []map[string]any
		for _, s := range d.Content.Statements {
			if review.NeedsDecision(s) {
				decisions = append(decisions, map[string]any{"id": s.ID, "action": review.StatementConfirmed, "comment": "Checked against the note."})
			}
		}
		if len(decisions) == 0 {
			t.Fatalf("no statement of %+v reads as high-stakes", d.Content.Statements)
		}
		b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{"content": d.Content.Text() + " Checked with Marie.", "statements": decisions}, 200, &e)
		if !e.AIDrafted || !e.Edited || e.SignedBy != b.f.Worker.ID {
			t.Fatalf("entry: %+v", e)
		}
		b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{}, 409, nil)
		b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/reject", map[string]any{"reason": "other"}, 409, nil)
		b.call(t, "worker", "GET", "/v1/cases/"+c+"/record", nil, 200, &rec)
		if len(rec.Entries) != 1 {
			t.Fatalf("record: %+v", rec)
		}

		var d2 review.Draft
		b.call(t, "worker", "POST", "/v1/cases/"+c+"/drafts", map[string]any{"kind": "suggestions", "language": "fr"}, 202, &d2)
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.call(t, "supervisor", "POST", "/v1/drafts/"+d2.ID+"/reject", map[string]any{"reason": "incomplete", "comment": "court date missing"}, 200, &d2)
		if d2.Status != review.StatusRejected {
			t.Fatalf("rejected draft is %s", d2.Status)
		}

		// The ethics board sees the decisions, never the prose.
		var entries struct {
			Entries []map[string]any `json:"entries"`
			Next    string           `json:"next"`
		}
		b.call(t, "ethics", "GET", "/v1/audit/entries?action=draft.approved", nil, 200, &entries)
		if len(entries.Entries) != 1 || entries.Entries[0]["subject_id"] != d.ID {
			t.Fatalf("audit entries: %+v", entries)
		}
		b.call(t, "ethics", "GET", "/v1/audit/entries?case="+c+"&limit=1000", nil, 200, &entries)
		for _, ev := range entries.Entries {
			s := fmt.Sprint(ev)
			for _, prose := range []string{"Marie", "Dubois", "court", "rent"} {
				if strings.Contains(s, prose) {
					t.Errorf("audit entry %v contains %q", ev["seq"], prose)
				}
			}
		}
		b.call(t, "ethics", "GET", "/v1/cases/"+c, nil, 403, nil)
		b.call(t, "ethics", "GET", "/v1/cases/"+c+"/notes", nil, 403, nil)
		b.call(t, "ethics", "GET", "/v1/drafts/"+d.ID, nil, 403, nil)
		b.call(t, "worker", "GET", "/v1/audit/entries", nil, 403, nil)
	})
}

func TestAuditProofsOverHTTP(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		b.call(t, "ethics", "GET", "/v1/audit/checkpoint", nil, 200, nil)
		cp1, err := b.checkpoint(t)
		if err != nil {
			t.Fatal(err)
		}
		b.call(t, "worker", "POST", "/v1/cases/"+b.f.Case.ID+"/notes", map[string]any{"body": "Another visit."}, 201, nil)
		cp2, err := b.checkpoint(t)
		if err != nil {
			t.Fatal(err)
		}
		if cp2.Size <= cp1.Size {
			t.Fatalf("checkpoint did not grow: %d -> %d", cp1.Size, cp2.Size)
		}
		var inc audit.Inclusion
		b.call(t, "ethics", "GET", fmt.Sprintf("/v1/audit/proof/inclusion?index=%d&size=%d", cp1.Size, cp2.Size), nil, 200, &inc)
		if err := audit.VerifyInclusion(inc.Index, inc.Size, inc.LeafHash, inc.Hashes, cp2.Root); err != nil {
			t.Fatalf("inclusion proof does not verify: %v", err)
		}
		var con audit.Consistency
		b.call(t, "ethics", "GET", fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", cp1.Size, cp2.Size), nil, 200, &con)
		if err := audit.VerifyConsistency(cp1.Size, cp2.Size, con.Hashes, cp1.Root, cp2.Root); err != nil {
			t.Fatalf("consistency proof does not verify: %v", err)
		}
		var ev map[string]any
		b.call(t, "ethics", "GET", fmt.Sprintf("/v1/audit/entries/%d", cp1.Size), nil, 200, &ev)
		b.call(t, "ethics", "GET", "/v1/audit/entries/99999", nil, 404, nil)
		b.call(t, "ethics", "GET", "/v1/audit/entries/minus-one", nil, 422, nil)
		b.call(t, "ethics", "GET", fmt.Sprintf("/v1/audit/proof/inclusion?index=%d&size=%d", cp2.Size, cp2.Size), nil, 422, nil)
		b.call(t, "ethics", "GET", "/v1/audit/proof/inclusion", nil, 422, nil)
		b.call(t, "ethics", "GET", fmt.Sprintf("/v1/audit/proof/consistency?from=1&to=%d", cp2.Size+50), nil, 422, nil)
		b.call(t, "worker", "GET", "/v1/audit/checkpoint", nil, 403, nil)
	})
}

func (b *testBundle) checkpoint(t *testing.T) (*audit.Checkpoint, error) {
	req, _ := http.NewRequest("GET", b.srv.URL+"/v1/audit/checkpoint", nil)
	req.Header.Set("Authorization", "Bearer "+b.tokens["ethics"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	body, _, _ := strings.Cut(string(raw), "\n\n")
	return audit.ParseCheckpointBody([]byte(body + "\n"))
}
