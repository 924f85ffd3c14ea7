package sqlstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// A draft request on PostgreSQL reads its case, notes and consent without
// a lock and writes the draft and its event in one statement fenced on the
// case's version: whatever changed the case in between, a consent recorded
// included, makes that statement write nothing, and the request is decided
// again in a transaction, which answers as the change requires.
func TestRequestFencedOnWhatItRead(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	db := storetest.MustOpen(t, dsn)
	ctx := context.Background()
	count := func(query string, args ...any) int { return countRows(t, db, query, args...) }
	drafts := func(f *storetest.Fixture) int {
		return count(`SELECT COUNT(*) FROM drafts WHERE case_id = $1`, f.Case.ID)
	}
	requested := func(f *storetest.Fixture) int {
		return count(`SELECT (SELECT COUNT(*) FROM audit_pending WHERE case_id = $1 AND action = $2) +
			(SELECT COUNT(*) FROM audit_event WHERE case_id = $1 AND action = $2)`, f.Case.ID, "draft.requested")
	}
	request := func(f *storetest.Fixture) (*review.Draft, error) {
		return db.RequestDraft(storetest.As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
	}

	t.Run("AsStored", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		d, err := request(f)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := db.FindDraftByID(storetest.As(ctx, f.Worker), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(d)
		want, _ := json.Marshal(stored)
		if string(got) != string(want) {
			t.Fatalf("the request answered\n%s\nthe draft stored reads\n%s", got, want)
		}
		if n, e := drafts(f), requested(f); n != 1 || e != 1 {
			t.Fatalf("%d drafts and %d request events, want one of each", n, e)
		}
	})

	t.Run("ConsentWithdrawnMeanwhile", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		ran := false
		defer sqlstore.AfterRequestRead(f.Case.ID, func() {
			ran = true
			if err := db.RecordConsent(storetest.As(ctx, f.Worker), &casefile.Consent{CaseID: f.Case.ID, Given: false}); err != nil {
				t.Error(err)
			}
		})()
		_, err := request(f)
		if !ran {
			t.Fatal("the request did not go through its unlocked reads")
		}
		if countersign.ErrorCode(err) != countersign.ECONFLICT {
			t.Fatalf("a request after the client withdrew consent: %v, want the withdrawal's conflict", err)
		}
		if n, e := drafts(f), requested(f); n != 0 || e != 0 {
			t.Fatalf("%d drafts and %d request events after the client withdrew consent", n, e)
		}
	})

	t.Run("CaseClosedMeanwhile", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		defer sqlstore.AfterRequestRead(f.Case.ID, func() {
			if _, err := db.Raw().ExecContext(ctx, `UPDATE cases SET status = 'closed', closed_at = now() WHERE id = $1`, f.Case.ID); err != nil {
				t.Error(err)
			}
		})()
		if _, err := request(f); countersign.ErrorCode(err) != countersign.ECONFLICT {
			t.Fatalf("a request in a case closed after its read: %v, want the closed case's conflict", err)
		}
		if n, e := drafts(f), requested(f); n != 0 || e != 0 {
			t.Fatalf("%d drafts and %d request events in a closed case", n, e)
		}
	})

	t.Run("CaseTitleChangedMeanwhile", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		ran := false
		defer sqlstore.AfterRequestRead(f.Case.ID, func() {
			ran = true
			if _, err := db.Raw().ExecContext(ctx, `UPDATE cases SET title = title WHERE id = $1`, f.Case.ID); err != nil {
				t.Error(err)
			}
		})()
		d, err := request(f)
		if err != nil || !ran {
			t.Fatalf("a request after an unrelated change of the case (hook ran: %v): %v", ran, err)
		}
		if d.Status != review.StatusQueued {
			t.Fatalf("request: %+v", d)
		}
		if n, e := drafts(f), requested(f); n != 1 || e != 1 {
			t.Fatalf("%d drafts and %d request events, want one of each", n, e)
		}
	})
}

// countRows returns the number query (a SELECT COUNT) reads from db.
func countRows(t *testing.T, db *sqlstore.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Raw().GetContext(context.Background(), &n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}
