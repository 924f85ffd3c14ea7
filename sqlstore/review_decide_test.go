package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
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

// A sign-off on PostgreSQL reads its draft and case without a lock and
// writes in one statement fenced on the versions it read and on the case's
// key row: whatever changed the case, the draft or the key in between makes
// that statement write nothing, and the sign-off is decided again in a
// transaction, which answers as the change requires: a case closed
// meanwhile takes no decision, a draft approved meanwhile is not approved
// twice, a key shredded meanwhile takes no decision, and a case changed in
// a way that does not matter (its title) takes the approval. PostgreSQL
// only: SQLite decides every sign-off in a transaction, under its lock.
func TestSignOffFencedOnWhatItRead(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	db := storetest.MustOpen(t, dsn)
	ctx := context.Background()
	count := func(query string, args ...any) int { return countRows(t, db, query, args...) }
	decisions := func(d *review.Draft) int {
		return count(`SELECT COUNT(*) FROM decisions WHERE draft_id = $1`, d.ID)
	}
	approvedEvents := func(d *review.Draft) int {
		return count(`SELECT (SELECT COUNT(*) FROM audit_pending WHERE subject_id = $1 AND action = $2) +
			(SELECT COUNT(*) FROM audit_event WHERE subject_id = $1 AND action = $2)`, d.ID, "draft.approved")
	}

	t.Run("CaseClosedMeanwhile", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		d := storetest.MustDraft(t, db, f, assistant.KindSummary)
		ran := false
		defer sqlstore.AfterDecisionRead(d.ID, func() {
			ran = true
			if _, err := db.Raw().ExecContext(ctx, `UPDATE cases SET status = 'closed', closed_at = now() WHERE id = $1`, f.Case.ID); err != nil {
				t.Error(err)
			}
		})()
		_, err := db.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(d))
		if !ran {
			t.Fatal("the sign-off did not go through its unlocked read")
		}
		if countersign.ErrorCode(err) != countersign.ECONFLICT {
			t.Fatalf("a sign-off in a case closed after its read: %v, want the closed case's conflict", err)
		}
		if n := decisions(d); n != 0 {
			t.Fatalf("%d decisions in a case closed before the write", n)
		}
	})

	t.Run("DraftApprovedMeanwhile", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		d := storetest.MustDraft(t, db, f, assistant.KindSummary)
		undo := sqlstore.AfterDecisionRead(d.ID, nil)
		undo()
		var inner error
		defer sqlstore.AfterDecisionRead(d.ID, func() {
			undo() // the sign-off meanwhile reads and writes as any other
			_, inner = db.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(d))
		})()
		_, err := db.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(d))
		if inner != nil {
			t.Fatalf("the sign-off meanwhile: %v", inner)
		}
		if err == nil {
			t.Fatal("a draft approved after the read was approved again")
		}
		if n, e := decisions(d), approvedEvents(d); n != 1 || e != 1 {
			t.Fatalf("%d decisions and %d approval events, want one of each", n, e)
		}
	})

	// The key row alone shredded between the read and the write, the
	// case's row untouched (an erasure in the service marks the case too):
	// the write holds the key row read (keyHeld), claims nothing, and the
	// sign-off answers as one decided in a transaction on the shredded key.
	t.Run("CaseKeyShreddedMeanwhile", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		d := storetest.MustDraft(t, db, f, assistant.KindSummary)
		ran := false
		undo := sqlstore.AfterDecisionRead(d.ID, func() {
			ran = true
			if _, err := db.Raw().ExecContext(ctx, `UPDATE case_keys SET wrapped_key = NULL, master_key_id = '', shredded_at = now() WHERE case_id = $1`, f.Case.ID); err != nil {
				t.Error(err)
			}
		})
		_, err := db.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(d))
		undo()
		if !ran {
			t.Fatal("the sign-off did not go through its unlocked read")
		}
		// The key already shredded when read: the sign-off's answer.
		_, want := db.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(d))
		if err == nil || want == nil || countersign.ErrorCode(err) != countersign.ErrorCode(want) || countersign.ErrorMessage(err) != countersign.ErrorMessage(want) {
			t.Fatalf("a sign-off in a case whose key was shredded after its read: %v, want %v as when shredded before", err, want)
		}
		if n, e := decisions(d), approvedEvents(d); n != 0 || e != 0 {
			t.Fatalf("%d decisions and %d approval events under a key shredded before the write", n, e)
		}
		if n := count(`SELECT COUNT(*) FROM drafts WHERE id = $1 AND status = $2`, d.ID, string(review.StatusPendingReview)); n != 1 {
			t.Fatal("the draft left pending review under a key shredded before the write")
		}
	})

	t.Run("CaseTitleChangedMeanwhile", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		d := storetest.MustDraft(t, db, f, assistant.KindSummary)
		ran := false
		defer sqlstore.AfterDecisionRead(d.ID, func() {
			ran = true
			if _, err := db.Raw().ExecContext(ctx, `UPDATE cases SET title = title WHERE id = $1`, f.Case.ID); err != nil {
				t.Error(err)
			}
		})()
		s, err := db.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(d))
		if err != nil || !ran {
			t.Fatalf("sign-off after an unrelated change of the case (hook ran: %v): %v", ran, err)
		}
		if s.Entry == nil || s.Draft.Status != review.StatusApproved {
			t.Fatalf("sign-off: %+v", s)
		}
		if n, e := decisions(d), approvedEvents(d); n != 1 || e != 1 {
			t.Fatalf("%d decisions and %d approval events, want one of each", n, e)
		}
	})
}
