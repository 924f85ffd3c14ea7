package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai/fakeopenai"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// exerciseGrounding drafts the fixture's notes through the go-openai
// provider from a stand-in model that labels nothing and cites one-word
// quotes: the service's own grounding check leaves every entry ungrounded,
// and an approval is refused until each one is confirmed (or accepted) with
// a comment, or removed (or rejected).
func exerciseGrounding(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	setup := func(t *testing.T, kind assistant.Kind) (*draftingBundle, *review.Draft) {
		t.Helper()
		b := setupDrafting(t, open)
		f := fakeopenai.OneWordQuotes()
		b.fake.Always(&f)
		d := b.settle(t, b.request(t, review.DraftRequest{Kind: kind}).ID)
		if d.Status != review.StatusPendingReview {
			t.Fatalf("draft %s: %s", d.Status, d.FailureReason)
		}
		n := len(d.Content.Statements) + len(d.Content.Items)
		if n == 0 || d.Ungrounded != n {
			t.Fatalf("%d of %d entries ungrounded: %+v", d.Ungrounded, n, d.Content)
		}
		if g := lastEvent(t, events(t, b.db, d.ID), audit.ActionDraftGenerated); g.Payload["ungrounded"] != fmt.Sprint(n) {
			t.Fatalf("draft.generated ungrounded = %q, want %d", g.Payload["ungrounded"], n)
		}
		return b, d
	}

	t.Run("UngroundedStatementsAreConfirmedWithACommentOrRemoved", func(t *testing.T) {
		t.Parallel()
		b, d := setup(t, assistant.KindSummary)
		wctx := As(CLI(), b.f.Worker)
		var ids []string
		for _, s := range d.Content.Statements {
			if s.UngroundedCode != assistant.UngroundedQuoteTooShort || s.UngroundedReason == "" {
				t.Fatalf("statement %+v has no reason", s)
			}
			ids = append(ids, s.ID)
		}
		_, err := b.db.OpenDraft(wctx, d.ID)
		ok(t, err)
		before := eventCount(t, b.db)
		_, err = b.db.SignOffDraft(wctx, d.ID, review.Approval{})
		refused(t, b.db, before, err, countersign.EINVALID)
		if fe := countersign.ErrorFields(err); len(fe) != 1 || fe[0].Field != "statements" ||
			slices.ContainsFunc(ids, func(id string) bool { return !strings.Contains(fe[0].Message, id) }) {
			t.Fatalf("the refusal does not list every ungrounded statement: %+v", fe)
		}
		var decisions []review.StatementDecision
		for _, id := range ids {
			decisions = append(decisions, review.StatementDecision{ID: id, Action: review.StatementConfirmed})
		}
		_, err = b.db.SignOffDraft(wctx, d.ID, review.Approval{Statements: decisions})
		refused(t, b.db, before, err, countersign.EINVALID)
		if !hasField(err, "statements[0].comment") || !hasField(err, fmt.Sprintf("statements[%d].comment", len(ids)-1)) {
			t.Fatalf("the refusal does not ask for the comments: %+v", countersign.ErrorFields(err))
		}
		decisions[0].Action = review.StatementRemoved
		for i := range decisions[1:] {
			decisions[i+1].Comment = "Checked at the home visit."
		}
		so, err := SignOff(b.db, wctx, d.ID, review.Approval{Statements: decisions})
		ok(t, err)
		if so.Entry == nil || strings.Contains(so.Entry.Content, d.Content.Statements[0].Text) {
			t.Fatalf("entry %+v", so.Entry)
		}
		got, err := b.db.FindDraftByID(wctx, d.ID)
		ok(t, err)
		if sd := got.Decision.Statements; len(sd) != len(ids) || sd[1].Comment != "Checked at the home visit." {
			t.Fatalf("the comments are not kept with the decision: %+v", sd)
		}
	})

	t.Run("UngroundedItemsAreAcceptedWithACommentOrRejected", func(t *testing.T) {
		t.Parallel()
		b, d := setup(t, assistant.KindSuggestions)
		wctx := As(CLI(), b.f.Worker)
		_, err := b.db.OpenDraft(wctx, d.ID)
		ok(t, err)
		var statements []review.StatementDecision
		for _, s := range d.Content.Statements {
			statements = append(statements, review.StatementDecision{ID: s.ID, Action: review.StatementRemoved})
		}
		_, err = SignOff(b.db, wctx, d.ID, review.Approval{Statements: statements})
		code(t, err, countersign.EINVALID)
		if !hasField(err, "items") {
			t.Fatalf("the refusal does not name the items: %+v", countersign.ErrorFields(err))
		}
		var items []review.ItemDecision
		for _, it := range d.Content.Items {
			items = append(items, review.ItemDecision{ID: it.ID, Accepted: true})
		}
		_, err = SignOff(b.db, wctx, d.ID, review.Approval{Statements: statements, Items: items})
		code(t, err, countersign.EINVALID)
		if !hasField(err, "items[0].comment") {
			t.Fatalf("the refusal does not ask for the comment: %+v", countersign.ErrorFields(err))
		}
		items[0].Accepted = false
		for i := range items[1:] {
			items[i+1].Comment = "Agreed with the client."
		}
		so, err := SignOff(b.db, wctx, d.ID, review.Approval{Statements: statements, Items: items})
		ok(t, err)
		if so.Entry == nil && so.Draft.Status != review.StatusAwaitingCountersign {
			t.Fatalf("approval: %+v", so)
		}
	})
}
