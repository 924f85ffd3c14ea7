package api_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestGateHoldsWhatItMeasures drafts over notes that hold a high-stakes
// statement and ordinary-looking statements the detector cannot place
// (issue 13), with a stand-in model that labels nothing and quotes one
// word: every high-stakes statement comes out with its category all the
// same, and what the gate's measured recall counts (high-stakes or
// unclear, review.NeedsDecision) is what holds back the approval — 422
// listing exactly those ids until each is confirmed or left out.
func TestGateHoldsWhatItMeasures(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		b.runner.Drafter = &assistant.Drafter{Model: carelessModel{}}
		ctx := storetest.As(context.Background(), b.f.Worker)
		note := &casefile.Note{CaseID: b.f.Case.ID, Body: "Lucas told the teacher he is afraid to go home. The teacher saw bruises on his arm. His mother often skips meals."}
		if err := b.db.AddNote(ctx, note); err != nil {
			t.Fatal(err)
		}
		var d review.Draft
		b.call(t, "worker", "POST", "/v1/cases/"+b.f.Case.ID+"/drafts", map[string]any{"kind": "summary"}, 202, &d)
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.call(t, "worker", "GET", "/v1/drafts/"+d.ID, nil, 200, &d)
		if d.Content == nil {
			t.Fatal("the draft has no content")
		}
		var high, unclear, gated []string
		for _, s := range d.Content.Statements {
			switch {
			case review.HighStakes(s.Category):
				high = append(high, s.ID)
			case s.Category == assistant.CategoryUnclear:
				if len(s.UnclearWords) == 0 {
					t.Errorf("unclear statement %q shows no words", s.Text)
				}
				unclear = append(unclear, s.ID)
			}
			if strings.Contains(s.Text, "bruises") && !review.HighStakes(s.Category) {
				t.Errorf("statement %q has category %q from a model that labels nothing; want a high-stakes one", s.Text, s.Category)
			}
			if review.NeedsDecision(s) {
				gated = append(gated, s.ID)
			}
		}
		if len(high) == 0 || len(unclear) == 0 {
			t.Fatalf("want high-stakes and unclear statements, got %v and %v in %+v", high, unclear, d.Content.Statements)
		}

		refusedFor := func(body map[string]any, want []string) {
			t.Helper()
			var p problem
			b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", body, 422, &p)
			if len(p.Errors) != 1 || p.Errors[0].Field != "statements" || !allIn(p.Errors[0].Message, want) {
				t.Fatalf("refusal %+v; want the field statements listing %v", p, want)
			}
			for _, s := range d.Content.Statements {
				if !slices.Contains(want, s.ID) && strings.Contains(p.Errors[0].Message, s.ID) {
					t.Fatalf("refusal %+v lists %s, which needs no decision", p, s.ID)
				}
			}
		}
		refusedFor(map[string]any{}, gated)

		// The high-stakes and unsupported statements decided, the unclear
		// ones not: still refused, naming the unclear ones only.
		var decisions []map[string]any
		for _, s := range d.Content.Statements {
			if review.NeedsDecision(s) && s.Category != assistant.CategoryUnclear {
				decisions = append(decisions, map[string]any{"id": s.ID, "action": "confirmed", "comment": "Read against the note."})
			}
		}
		var undecided []string
		for _, s := range d.Content.Statements {
			if s.Category == assistant.CategoryUnclear {
				undecided = append(undecided, s.ID)
			}
		}
		refusedFor(map[string]any{"statements": decisions}, undecided)
		if n := len(b.recordEntries(t)); n != 0 {
			t.Fatalf("%d entries signed with unclear statements undecided", n)
		}

		// Each unclear statement confirmed, the first left out: signed.
		for i, id := range unclear {
			action := "confirmed"
			if i == 0 {
				action = "removed"
			}
			decisions = append(decisions, map[string]any{"id": id, "action": action, "comment": "Read against the note."})
		}
		b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{"statements": decisions}, 200, nil)
		if n := len(b.recordEntries(t)); n != 1 {
			t.Fatalf("%d entries signed, want 1", n)
		}
	})
}
