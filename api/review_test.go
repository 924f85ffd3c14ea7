package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// problem is the part of a problem+json document the review tests read.
type problem struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (b *testBundle) events(t *testing.T) int {
	t.Helper()
	var a, c int
	if err := b.db.Raw().Get(&a, `SELECT COUNT(*) FROM audit_pending`); err != nil {
		t.Fatal(err)
	}
	if err := b.db.Raw().Get(&c, `SELECT COUNT(*) FROM audit_event`); err != nil {
		t.Fatal(err)
	}
	return a + c
}

func TestReviewDecisionsOverHTTP(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		b.db.Policy = review.DefaultPolicy()
		b.db.Policy.CountersignKinds = []assistant.Kind{assistant.KindSuggestions}
		c := b.f.Case.ID
		var d review.Draft
		b.call(t, "worker", "POST", "/v1/cases/"+c+"/drafts", map[string]any{"kind": "suggestions"}, 202, &d)
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.call(t, "worker", "GET", "/v1/drafts/"+d.ID, nil, 200, &d)
		if !d.CountersignRequired || len(d.Content.Items) == 0 {
			t.Fatalf("draft: countersign %v, %d items", d.CountersignRequired, len(d.Content.Items))
		}
		path := "/v1/drafts/" + d.ID
		before := b.events(t)
		for _, tc := range []struct {
			name   string
			role   string
			body   any
			status int
			field  string
		}{
			{"UnknownItem", "worker", map[string]any{"items": []any{map[string]any{"id": "i404", "accepted": false}}}, 422, "items[0].id"},
			{"ItemWithoutVerdict", "worker", map[string]any{"items": []any{map[string]any{"id": d.Content.Items[0].ID}}}, 422, "items[0].accepted"},
			{"BadStatementAction", "worker", map[string]any{"statements": []any{map[string]any{"id": "s1", "action": "maybe"}}}, 422, "statements[0].action"},
			{"BadReasonCode", "worker", map[string]any{"content": "x", "reason_code": "whim"}, 422, "reason_code"},
			{"EmptyEdit", "worker", map[string]any{"content": "   "}, 422, "content"},
			{"BodyOverTheLimit", "worker", map[string]any{"content": strings.Repeat("a", 70<<10)}, 413, ""},
			{"NotYours", "other", map[string]any{}, 403, ""},
			{"CountersignBeforeApproval", "supervisor", map[string]any{}, 409, ""},
		} {
			target := path + "/approve"
			if tc.name == "CountersignBeforeApproval" {
				target = path + "/countersign"
			}
			var p problem
			b.call(t, tc.role, "POST", target, tc.body, tc.status, &p)
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
				t.Errorf("%s: fields %+v, want %s", tc.name, p.Errors, tc.field)
			}
			if after := b.events(t); after != before {
				t.Fatalf("%s: a refused request wrote %d audit events", tc.name, after-before)
			}
		}
		drop := d.Content.Items[0]
		var awaiting review.Draft
		b.call(t, "worker", "POST", path+"/approve", map[string]any{"items": []any{map[string]any{"id": drop.ID, "accepted": false, "reason_code": "missing_context"}}}, 202, &awaiting)
		if awaiting.Status != review.StatusAwaitingCountersign || awaiting.Decision == nil || len(awaiting.Decision.Diff) == 0 {
			t.Fatalf("approval awaiting countersignature: %+v", awaiting)
		}
		var p problem
		b.call(t, "worker", "POST", path+"/approve", map[string]any{}, 409, &p)
		if !strings.Contains(p.Detail, "awaiting countersign") {
			t.Fatalf("409 detail %q does not give the state", p.Detail)
		}
		var queue struct {
			Drafts []review.Draft `json:"drafts"`
		}
		b.call(t, "supervisor", "GET", "/v1/review/queue?status=awaiting_countersign", nil, 200, &queue)
		if len(queue.Drafts) != 1 || queue.Drafts[0].ID != d.ID {
			t.Fatalf("supervisor's countersign queue: %+v", queue.Drafts)
		}
		b.call(t, "supervisor", "GET", "/v1/review/queue?overdue=maybe", nil, 422, nil)
		b.call(t, "supervisor", "GET", "/v1/review/queue?overdue=true", nil, 200, &queue)
		if len(queue.Drafts) != 0 {
			t.Fatal("a fresh draft is overdue")
		}
		var e review.Entry
		b.call(t, "supervisor", "POST", path+"/countersign", map[string]any{"comment": "Agreed."}, 409, nil) // not read yet
		b.call(t, "supervisor", "GET", path, nil, 200, nil)
		b.call(t, "supervisor", "POST", path+"/countersign", map[string]any{"comment": "Agreed."}, 200, &e)
		if e.SignedBy != b.f.Worker.ID || e.CountersignedBy != b.f.Supervisor.ID || strings.Contains(e.Content, drop.Text) {
			t.Fatalf("countersigned entry: %+v", e)
		}
		b.call(t, "supervisor", "POST", path+"/countersign", map[string]any{}, 409, nil)

		// Corrections: a new entry supersedes the signed one; both stay.
		rec := "/v1/cases/" + c + "/record/"
		b.call(t, "worker", "POST", rec+e.ID+"/correct", map[string]any{"content": "Call the landlord on Monday.", "reason": ""}, 422, nil)
		b.call(t, "worker", "POST", rec+"rec_missing/correct", map[string]any{"content": "x", "reason": "y"}, 404, nil)
		b.call(t, "other", "POST", rec+e.ID+"/correct", map[string]any{"content": "x", "reason": "y"}, 403, nil)
		// The entry was countersigned, so its correction waits for a
		// supervisor other than its author (202), and only one waits.
		var fix review.Entry
		b.call(t, "worker", "POST", rec+e.ID+"/correct", map[string]any{"content": "Call the landlord on Monday.", "reason": "The day was missing."}, 202, &fix)
		if !fix.Pending {
			t.Fatalf("correction of a countersigned entry: %+v, want pending", fix)
		}
		b.call(t, "worker", "POST", rec+e.ID+"/correct", map[string]any{"content": "Again.", "reason": "x"}, 409, nil)
		b.call(t, "worker", "POST", rec+fix.ID+"/countersign", map[string]any{}, 403, nil)
		b.call(t, "supervisor", "POST", rec+fix.ID+"/refuse", map[string]any{"reason": " "}, 422, nil)
		var signed review.Entry
		b.call(t, "supervisor", "POST", rec+fix.ID+"/countersign", map[string]any{"comment": "Right."}, 200, &signed)
		if signed.ID != fix.ID || signed.Pending || signed.CountersignedBy != b.f.Supervisor.ID {
			t.Fatalf("countersigned correction: %+v", signed)
		}
		b.call(t, "worker", "POST", rec+e.ID+"/correct", map[string]any{"content": "Again.", "reason": "x"}, 409, nil)
		var record struct {
			Entries []review.Entry `json:"entries"`
		}
		b.call(t, "worker", "GET", "/v1/cases/"+c+"/record", nil, 200, &record)
		if len(record.Entries) != 2 || record.Entries[0].SupersededBy != fix.ID || record.Entries[1].Supersedes != e.ID {
			t.Fatalf("record: %+v", record.Entries)
		}
	})
}

func TestReassignOverHTTP(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		d := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
		path := "/v1/drafts/" + d.ID + "/reassign"
		before := b.events(t)
		b.call(t, "worker", "POST", path, map[string]any{"worker_id": b.f.Worker.ID}, 403, nil)
		b.call(t, "othersup", "POST", path, map[string]any{"worker_id": b.f.Other.ID}, 403, nil)
		var p problem
		b.call(t, "supervisor", "POST", path, map[string]any{"worker_id": b.f.Other.ID}, 422, &p)
		if len(p.Errors) != 1 || p.Errors[0].Field != "worker_id" {
			t.Fatalf("problem %+v", p)
		}
		b.call(t, "supervisor", "POST", path, map[string]any{}, 422, nil)
		if b.events(t) != before {
			t.Fatal("a refused reassignment wrote an audit event")
		}
	})
}
