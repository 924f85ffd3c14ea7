package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai/fakeopenai"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// carelessModel is a stand-in model that labels nothing and cites one-word
// quotes (fakeopenai.CarelessAnswer over the offline drafter's answer).
type carelessModel struct{ assistant.Extractive }

func (carelessModel) Generate(ctx context.Context, p *assistant.Prompt) (*assistant.Completion, error) {
	comp, err := assistant.Extractive{}.Generate(ctx, p)
	if err == nil {
		comp.Text = fakeopenai.CarelessAnswer(comp.Text)
	}
	return comp, err
}

// TestUngroundedStatements drafts with a model that labels nothing and
// cites one-word quotes: every statement comes out ungrounded with its
// reason, and the draft cannot be approved until each one is confirmed
// with a comment or removed (422 listing the ids, then naming the comment).
func TestUngroundedStatements(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		b.runner.Drafter = &assistant.Drafter{Model: carelessModel{}}
		var d review.Draft
		b.call(t, "worker", "POST", "/v1/cases/"+b.f.Case.ID+"/drafts", map[string]any{"kind": "summary"}, 202, &d)
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.call(t, "worker", "GET", "/v1/drafts/"+d.ID, nil, 200, &d)
		if d.Content == nil || len(d.Content.Statements) == 0 || d.Ungrounded != len(d.Content.Statements) {
			t.Fatalf("draft %+v: %d ungrounded", d.Content, d.Ungrounded)
		}
		var ids []string
		for _, s := range d.Content.Statements {
			if !s.Ungrounded || s.UngroundedCode != assistant.UngroundedQuoteTooShort || s.UngroundedReason == "" || !strings.HasPrefix(s.ID, "st_") {
				t.Fatalf("statement %+v", s)
			}
			ids = append(ids, s.ID)
		}

		var p problem
		b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{}, 422, &p)
		if len(p.Errors) != 1 || p.Errors[0].Field != "statements" || !allIn(p.Errors[0].Message, ids) {
			t.Fatalf("the refusal does not list every unsupported statement: %+v", p)
		}

		var decisions []map[string]any
		var want []string
		for i, id := range ids {
			decisions = append(decisions, map[string]any{"id": id, "action": "confirmed"})
			want = append(want, fmt.Sprintf("statements[%d].comment", i))
		}
		p = problem{}
		b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{"statements": decisions}, 422, &p)
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Field)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("fields %v, want %v", got, want)
		}
		if n := len(b.recordEntries(t)); n != 0 {
			t.Fatalf("%d entries signed from unsupported statements", n)
		}

		// Each one confirmed with a comment, but the first left out.
		decisions[0]["action"] = "removed"
		for _, dec := range decisions[1:] {
			dec["comment"] = "Checked with the client at the visit."
		}
		var e review.Entry
		b.call(t, "worker", "POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{"statements": decisions}, 200, &e)
		if strings.Contains(e.Content, d.Content.Statements[0].Text) || !strings.Contains(e.Content, d.Content.Statements[len(ids)-1].Text) {
			t.Fatalf("entry %q", e.Content)
		}
	})
}

func allIn(s string, ids []string) bool {
	for _, id := range ids {
		if !strings.Contains(s, id) {
			return false
		}
	}
	return true
}

func (b *testBundle) recordEntries(t *testing.T) []review.Entry {
	t.Helper()
	var rec struct {
		Entries []review.Entry `json:"entries"`
	}
	b.call(t, "worker", "GET", "/v1/cases/"+b.f.Case.ID+"/record", nil, 200, &rec)
	return rec.Entries
}
