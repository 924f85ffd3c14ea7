package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai/fakeopenai"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// stakesNotes are issue 13's notes that once came out with no category.
var stakesNotes = []string{
	"Lucas told the teacher he is afraid to go home. The teacher saw bruises on his arm.",
	"Sofie has stopped taking her antidepressants and says she cannot cope any more.",
	"Lucas heeft blauwe plekken op zijn arm en zegt dat hij bang is thuis.",
	"Mme Martin dit qu'elle ne veut plus vivre.",
}

// exerciseHighStakes drafts issue 13's notes through the go-openai provider
// and a stand-in model that labels nothing: the service's own detector
// categorises them, the reviewer must decide each one, and the policy's
// countersignature on risk follows.
func exerciseHighStakes(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := CLI()
	setup := func(t *testing.T, kind assistant.Kind) (*draftingBundle, *review.Draft) {
		t.Helper()
		b := setupDrafting(t, open)
		b.db.Policy = review.DefaultPolicy()
		b.db.Policy.CountersignOnRisk = true
		b.fake.SetResponder(fakeopenai.ExtractUnlabelled)
		wctx := As(ctx, b.f.Worker)
		var ids []string
		for _, body := range stakesNotes {
			n := &casefile.Note{CaseID: b.f.Case.ID, Body: body}
			ok(t, b.db.AddNote(wctx, n))
			ids = append(ids, n.ID)
		}
		d := b.settle(t, b.request(t, review.DraftRequest{Kind: kind, NoteIDs: ids}).ID)
		if d.Status != review.StatusPendingReview {
			t.Fatalf("draft %s: %s", d.Status, d.FailureReason)
		}
		if d.DetectorVersion != assistant.DetectorVersion() {
			t.Fatalf("detector version %q, want %q", d.DetectorVersion, assistant.DetectorVersion())
		}
		g := lastEvent(t, events(t, b.db, d.ID), audit.ActionDraftGenerated)
		if g.Payload["detector_version"] != d.DetectorVersion {
			t.Fatalf("draft.generated detector_version = %q, want %q", g.Payload["detector_version"], d.DetectorVersion)
		}
		return b, d
	}

	t.Run("UnlabelledStatementsAreCategorisedConfirmedAndCountersigned", func(t *testing.T) {
		t.Parallel()
		b, d := setup(t, assistant.KindSummary)
		wctx := As(ctx, b.f.Worker)
		var flagged []review.StatementDecision
		for _, s := range d.Content.Statements {
			if !review.HighStakes(s.Category) {
				t.Errorf("statement %q has category %q", s.Text, s.Category)
				continue
			}
			flagged = append(flagged, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed})
		}
		if len(flagged) < len(stakesNotes) || !review.FlagsRisk(d.Content) || !d.CountersignRequired {
			t.Fatalf("%d statements flagged, flags risk %v, countersign required %v", len(flagged), review.FlagsRisk(d.Content), d.CountersignRequired)
		}
		_, err := b.db.OpenDraft(wctx, d.ID)
		ok(t, err)
		before := eventCount(t, b.db)
		_, err = b.db.SignOffDraft(wctx, d.ID, review.Approval{})
		refused(t, b.db, before, err, countersign.EINVALID)
		fe := countersign.ErrorFields(err)
		if len(fe) == 0 || fe[0].Field != "statements" || !slices.ContainsFunc(flagged, func(sd review.StatementDecision) bool {
			return strings.Contains(fe[0].Message, sd.ID)
		}) {
			t.Fatalf("the refusal does not list the statements to decide: %+v", fe)
		}
		so, err := SignOff(b.db, wctx, d.ID, review.Approval{Statements: flagged})
		ok(t, err)
		if so.Draft.Status != review.StatusAwaitingCountersign || so.Entry != nil {
			t.Fatalf("draft %s with entry %v after the worker's approval, want awaiting_countersign", so.Draft.Status, so.Entry)
		}
	})

	t.Run("UnlabelledItemsAreCategorisedAndDecidedOneByOne", func(t *testing.T) {
		t.Parallel()
		b, d := setup(t, assistant.KindSuggestions)
		wctx := As(ctx, b.f.Worker)
		var decisions []review.ItemDecision
		for _, it := range d.Content.Items {
			if it.Type == assistant.ItemRisk {
				t.Errorf("item %q kept the type risk the model did not give", it.Text)
			}
			if review.HighStakes(it.Category) {
				decisions = append(decisions, review.ItemDecision{ID: it.ID, Accepted: true})
			}
		}
		if len(decisions) < len(stakesNotes) || !d.CountersignRequired {
			t.Fatalf("%d of %d items flagged, countersign required %v: %+v", len(decisions), len(d.Content.Items), d.CountersignRequired, d.Content.Items)
		}
		_, err := SignOff(b.db, wctx, d.ID, review.Approval{Statements: decideAll(d.Content)})
		code(t, err, countersign.EINVALID)
		if !hasField(err, "items") {
			t.Fatalf("the refusal does not name the items: %+v", countersign.ErrorFields(err))
		}
		so, err := SignOff(b.db, wctx, d.ID, review.Approval{Statements: decideAll(d.Content), Items: decisions})
		ok(t, err)
		if so.Draft.Status != review.StatusAwaitingCountersign {
			t.Fatalf("draft %s after the worker's approval, want awaiting_countersign", so.Draft.Status)
		}
	})
}

// decideAll confirms every high-stakes statement of c.
func decideAll(c *assistant.Content) []review.StatementDecision {
	var out []review.StatementDecision
	for _, s := range c.Statements {
		if review.HighStakes(s.Category) {
			out = append(out, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed})
		}
	}
	return out
}
