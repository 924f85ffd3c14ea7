package storetest

import (
	"context"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// MustFailedDraft requests a draft as the fixture's worker and lets it fail
// (failingDrafter: a model endpoint that is down, not retried).
func MustFailedDraft(t testing.TB, db *sqlstore.DB, f *Fixture, kind assistant.Kind) *review.Draft {
	t.Helper()
	ctx := As(context.Background(), f.Worker)
	d, err := db.RequestDraft(ctx, review.DraftRequest{CaseID: f.Case.ID, Kind: kind, IdempotencyKey: countersign.NewID("k")})
	ok(t, err)
	ok(t, (&review.Runner{Store: db, Drafter: failingDrafter{}, Owner: "test"}).Drain(context.Background()))
	d, err = db.FindDraftByID(ctx, d.ID)
	ok(t, err)
	if d.Status != review.StatusFailed || d.FailureReason == "" {
		t.Fatalf("draft is %s (%q), want failed with a reason", d.Status, d.FailureReason)
	}
	return d
}

func exerciseRetry(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := context.Background()

	t.Run("AFailedDraftIsQueuedAgainAndDrafted", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d := MustFailedDraft(t, db, f, assistant.KindSummary)
		before := eventCount(t, db)
		for _, u := range []struct {
			name string
			ctx  context.Context
			code string
		}{
			{"worker of another team", As(ctx, f.Other), countersign.EFORBIDDEN},
			{"supervisor of another team", As(ctx, f.OtherSupervisor), countersign.EFORBIDDEN},
			{"ethics board", As(ctx, f.Ethics), countersign.EFORBIDDEN},
			{"admin", As(ctx, f.Admin), countersign.EFORBIDDEN},
		} {
			_, err := db.RetryDraft(u.ctx, d.ID)
			if c := countersign.ErrorCode(err); c != u.code && c != countersign.ENOTFOUND {
				t.Fatalf("%s: code %q (%v), want %s or ENOTFOUND", u.name, c, err, u.code)
			}
		}
		_, err := db.RetryDraft(As(ctx, f.Worker), "drf_missing")
		code(t, err, countersign.ENOTFOUND)
		_, err = db.RetryDraft(ctx, d.ID)
		code(t, err, countersign.EUNAUTHORIZED)
		if eventCount(t, db) != before {
			t.Fatal("a refused retry wrote an audit event")
		}

		got, err := db.RetryDraft(As(ctx, f.Worker), d.ID)
		ok(t, err)
		if got.Status != review.StatusQueued || got.FailureReason != "" || got.Attempts != 0 {
			t.Fatalf("retried draft is %s (%q) after %d attempts", got.Status, got.FailureReason, got.Attempts)
		}
		if n := actionCount(t, db, audit.ActionDraftRequeued, "kind", "summary", "attempts", "1"); n != 1 {
			t.Fatalf("%d draft.requeued events, want 1", n)
		}
		// Not failed any more: a second retry is a conflict, and writes nothing.
		before = eventCount(t, db)
		_, err = db.RetryDraft(As(ctx, f.Worker), d.ID)
		code(t, err, countersign.ECONFLICT)
		if eventCount(t, db) != before {
			t.Fatal("a refused retry wrote an audit event")
		}
		ok(t, (&review.Runner{Store: db, Drafter: drafter, Owner: "test"}).Drain(ctx))
		got, err = db.FindDraftByID(As(ctx, f.Worker), d.ID)
		ok(t, err)
		if got.Status != review.StatusPendingReview || got.Content == nil {
			t.Fatalf("after the retry the draft is %s", got.Status)
		}
		_, err = db.RetryDraft(As(ctx, f.Supervisor), d.ID)
		code(t, err, countersign.ECONFLICT)
	})

	t.Run("ASupervisorOfTheTeamMayRetry", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d := MustFailedDraft(t, db, f, assistant.KindSuggestions)
		got, err := db.RetryDraft(As(ctx, f.Supervisor), d.ID)
		ok(t, err)
		if got.Status != review.StatusQueued {
			t.Fatalf("status %s", got.Status)
		}
	})

	t.Run("WithdrawnConsentKeepsItFailed", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d := MustFailedDraft(t, db, f, assistant.KindSummary)
		ok(t, db.RecordConsent(As(ctx, f.Worker), &casefile.Consent{CaseID: f.Case.ID, Given: false, Note: "Marie withdrew her consent at the office."}))
		_, err := db.RetryDraft(As(ctx, f.Worker), d.ID)
		code(t, err, countersign.ECONFLICT)
		got, err := db.FindDraftByID(As(ctx, f.Worker), d.ID)
		ok(t, err)
		if got.Status != review.StatusFailed {
			t.Fatalf("status %s", got.Status)
		}
	})
}
