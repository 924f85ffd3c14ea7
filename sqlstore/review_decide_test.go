package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// A decision locks the draft's case before the draft, in the order
// closing, erasing and consent withdrawal lock them (the case first), so
// none of them can deadlock with it: a sign-off that waits for its draft
// already holds the case, and a closure or erasure waits behind it.
func TestDecisionLocksTheCaseBeforeTheDraft(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	db := storetest.MustOpen(t, dsn)
	f := storetest.MustSeed(t, db)
	d := storetest.MustDraft(t, db, f, assistant.KindSummary)
	var ap review.Approval
	for _, s := range d.Content.Statements {
		ap.Statements = append(ap.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed})
	}
	for _, it := range d.Content.Items {
		ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: true})
	}

	raw, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ctx := context.Background()
	holder, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `SELECT id FROM drafts WHERE id = $1 FOR UPDATE`, d.ID); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := db.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, ap)
		done <- err
	}()

	// While the sign-off waits for the draft, the case is already its:
	// closing's FOR UPDATE cannot have it.
	caseLocked := func() bool {
		tx, err := raw.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		_, err = tx.ExecContext(ctx, `SELECT id FROM cases WHERE id = $1 FOR UPDATE NOWAIT`, f.Case.ID)
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "55P03" {
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	for deadline := time.Now().Add(20 * time.Second); !caseLocked(); {
		select {
		case err := <-done:
			t.Fatalf("the sign-off ended (%v) while its draft was locked", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the sign-off waits for its draft without holding its case")
		}
		time.Sleep(5 * time.Millisecond) // polling for a state, not waiting out a race
	}
	select {
	case err := <-done:
		t.Fatalf("the sign-off ended (%v) while its draft was locked", err)
	default:
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("sign-off after the draft's lock was released: %v", err)
	}
}
