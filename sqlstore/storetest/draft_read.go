package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// exerciseDraftRead: a staff read of a draft (OpenDraft, what GET
// /v1/drafts/{id} and the draft page call) writes its access event before
// it returns the draft, in the same transaction as a first opening, and a
// refused read or a read of a draft not yet written writes none (issue 18).
func exerciseDraftRead(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := CLI()
	t.Run("AFirstOpeningAndItsReadCommitTogether", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		d := mustGenerated(t, db, f)

		undo := refuseReads(t, db)
		if got, err := db.OpenDraft(wctx, d.ID); err == nil || got != nil {
			t.Fatalf("OpenDraft returned a draft (%t), %v while its read could not be logged, want an error and no draft", got != nil, err)
		}
		if n := draftEvents(t, db, d, audit.ActionDraftOpened); n != 0 {
			t.Fatalf("%d openings recorded without their read's event", n)
		}
		var openings int
		ok(t, db.Raw().Get(&openings, db.Raw().Rebind(`SELECT COUNT(*) FROM draft_openings WHERE draft_id = ?`), d.ID))
		if openings != 0 {
			t.Fatalf("%d draft_openings rows written without the read's event", openings)
		}
		if cur, err := db.FindDraftByID(wctx, d.ID); err != nil || cur.OpenedAt != nil {
			t.Fatalf("the review clock started without the read's event: %+v, %v", cur, err)
		}
		undo()

		opened, err := db.OpenDraft(wctx, d.ID)
		ok(t, err)
		if opened.OpenedAt == nil || opened.Content == nil {
			t.Fatalf("the first opening returned %+v, want its opening time and content", opened)
		}
		if o, r := draftEvents(t, db, d, audit.ActionDraftOpened), draftEvents(t, db, d, audit.ActionCaseRead); o != 1 || r != 1 {
			t.Fatalf("the first opening wrote %d draft.opened and %d case.read events, want 1 and 1", o, r)
		}
		// The draft it returns without reading it again is the draft as stored.
		cur, err := db.FindDraftByID(wctx, d.ID)
		ok(t, err)
		if !cur.OpenedAt.Equal(*opened.OpenedAt) || !cur.UpdatedAt.Equal(opened.UpdatedAt) || review.DraftETag(cur) != review.DraftETag(opened) ||
			cur.Status != opened.Status || cur.Content.Text() != opened.Content.Text() {
			t.Fatalf("the first opening returned\n%+v\nthe store holds\n%+v", opened, cur)
		}
	})
	t.Run("LaterReadsWriteTheirReadAlone", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		d := mustGenerated(t, db, f)
		first, err := db.OpenDraft(wctx, d.ID)
		ok(t, err)
		again, err := db.OpenDraft(wctx, d.ID)
		ok(t, err)
		if again.OpenedAt == nil || !again.OpenedAt.Equal(*first.OpenedAt) {
			t.Fatalf("a second read moved the review clock: %v, then %v", first.OpenedAt, again.OpenedAt)
		}
		if o, r := draftEvents(t, db, d, audit.ActionDraftOpened), draftEvents(t, db, d, audit.ActionCaseRead); o != 1 || r != 2 {
			t.Fatalf("two reads wrote %d draft.opened and %d case.read events, want 1 and 2", o, r)
		}
		// The supervisor may decide it too: their first opening is their own.
		_, err = db.OpenDraft(As(ctx, f.Supervisor), d.ID)
		ok(t, err)
		if o, r := draftEvents(t, db, d, audit.ActionDraftOpened), draftEvents(t, db, d, audit.ActionCaseRead); o != 2 || r != 3 {
			t.Fatalf("the supervisor's first read: %d draft.opened and %d case.read events, want 2 and 3", o, r)
		}
		// A later read whose event cannot be written returns nothing.
		undo := refuseReads(t, db)
		if got, err := db.OpenDraft(wctx, d.ID); err == nil || got != nil {
			t.Fatalf("OpenDraft returned a draft (%t), %v while its read could not be logged, want an error and no draft", got != nil, err)
		}
		undo()
	})
	t.Run("ConcurrentFirstOpeningsRecordOneOpeningAndEveryRead", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		d := mustGenerated(t, db, f)
		const readers = 6
		errs := make(chan error, readers)
		for range readers {
			go func() {
				got, err := db.OpenDraft(wctx, d.ID)
				if err == nil && got.OpenedAt == nil {
					err = fmt.Errorf("a read after the opening returned no opening time")
				}
				errs <- err
			}()
		}
		for range readers {
			ok(t, <-errs)
		}
		if o, r := draftEvents(t, db, d, audit.ActionDraftOpened), draftEvents(t, db, d, audit.ActionCaseRead); o != 1 || r != readers {
			t.Fatalf("%d concurrent first reads wrote %d draft.opened and %d case.read events, want 1 and %d", readers, o, r, readers)
		}
	})
	t.Run("AReadOfNothingYetWritesNothing", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		d, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		ok(t, err)
		before := eventCount(t, db)
		got, err := db.OpenDraft(wctx, d.ID)
		ok(t, err)
		if got.Content != nil || got.OpenedAt != nil {
			t.Fatalf("a queued draft read as %+v", got)
		}
		if n := eventCount(t, db) - before; n != 0 {
			t.Fatalf("reading a draft not yet written wrote %d events, want none", n)
		}
	})
	t.Run("ARefusedReadWritesNothing", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d := mustGenerated(t, db, f)
		before := eventCount(t, db)
		_, err := db.OpenDraft(As(ctx, f.Other), d.ID)
		code(t, err, countersign.EFORBIDDEN)
		_, err = db.OpenDraft(As(ctx, f.Worker), "drf_none")
		code(t, err, countersign.ENOTFOUND)
		if n := eventCount(t, db) - before; n != 0 {
			t.Fatalf("refused reads wrote %d events, want none", n)
		}
		var openings int
		ok(t, db.Raw().Get(&openings, db.Raw().Rebind(`SELECT COUNT(*) FROM draft_openings WHERE draft_id = ?`), d.ID))
		if openings != 0 {
			t.Fatalf("a refused read recorded %d openings", openings)
		}
	})
}

// mustGenerated requests a draft as the fixture's worker and generates it,
// without opening it.
func mustGenerated(t testing.TB, db *sqlstore.DB, f *Fixture) *review.Draft {
	t.Helper()
	d, err := db.RequestDraft(As(context.Background(), f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
	ok(t, err)
	ok(t, (&review.Runner{Store: db, Drafter: drafter, Owner: "test"}).Drain(context.Background()))
	return d
}

// draftEvents counts the events about d with action: its openings, or the
// reads of its case naming it.
func draftEvents(t testing.TB, db *sqlstore.DB, d *review.Draft, action string) int {
	t.Helper()
	var n int
	raw := db.Raw()
	q := `SELECT COUNT(*) FROM (
		SELECT action, subject_id, payload FROM audit_pending WHERE case_id = ?
		UNION ALL SELECT action, subject_id, payload FROM audit_event WHERE case_id = ?) e
		WHERE e.action = ? AND (e.subject_id = ? OR e.payload LIKE ?)`
	ok(t, raw.Get(&n, raw.Rebind(q), d.CaseID, d.CaseID, action, d.ID, `%"target":"`+d.ID+`"%`))
	return n
}

// refuseReads makes db refuse to write any read's access event, as a full
// disk would, until the function it returns is called.
func refuseReads(t testing.TB, db *sqlstore.DB) (undo func()) {
	t.Helper()
	do, un := []string{
		`CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_pending
		WHEN NEW.action = '` + audit.ActionCaseRead + `' BEGIN SELECT RAISE(ABORT, 'reads refused'); END`,
	}, []string{`DROP TRIGGER refuse_reads`}
	if db.Dialect() == "postgres" {
		do = []string{
			`CREATE FUNCTION refuse_reads() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'reads refused'; END $$`,
			`CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_pending FOR EACH ROW
			WHEN (NEW.action = '` + audit.ActionCaseRead + `') EXECUTE FUNCTION refuse_reads()`,
		}
		un = []string{`DROP TRIGGER refuse_reads ON audit_pending`, `DROP FUNCTION refuse_reads()`}
	}
	for _, s := range do {
		_, err := db.Raw().Exec(s)
		ok(t, err)
	}
	return func() {
		t.Helper()
		for _, s := range un {
			_, err := db.Raw().Exec(s)
			ok(t, err)
		}
	}
}
