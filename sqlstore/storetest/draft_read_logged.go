package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// exerciseDraftReadLogged: a later read of a draft (OpenDraft, not a first
// opening) writes exactly one access event per allowed read and none for
// a refused one, whatever this handle remembers of the draft and its case
// (on PostgreSQL it predicts the read's access from them and writes the
// event in the statement that reads the draft): another replica may have
// moved the case, reassigned the draft or decided it since (issue 18).
func exerciseDraftReadLogged(t *testing.T, open func(t testing.TB) *sqlstore.DB, dsn func(t testing.TB) string) {
	// read opens d as u through db and checks that it is the draft the
	// store holds, and that exactly one read event was added when allowed.
	read := func(t testing.TB, db *sqlstore.DB, u *identity.User, d *review.Draft) (*review.Draft, error) {
		t.Helper()
		before := draftEvents(t, db, d, audit.ActionCaseRead)
		got, err := db.OpenDraft(As(CLI(), u), d.ID)
		after := draftEvents(t, db, d, audit.ActionCaseRead)
		if err != nil {
			if got != nil {
				t.Fatalf("OpenDraft returned a draft with its error %v", err)
			}
			if after != before {
				t.Fatalf("%s's refused read (%v) wrote %d read events", u.Name, err, after-before)
			}
			return nil, err
		}
		if after != before+1 {
			t.Fatalf("%s's read wrote %d read events, want 1", u.Name, after-before)
		}
		cur, err := db.FindDraftByID(As(CLI(), u), d.ID)
		ok(t, err)
		if got.Status != cur.Status || got.ReviewerID != cur.ReviewerID || review.DraftETag(got) != review.DraftETag(cur) ||
			got.Content == nil || got.Content.Text() != cur.Content.Text() || (got.Decision == nil) != (cur.Decision == nil) ||
			got.CountersignRequired != cur.CountersignRequired {
			t.Fatalf("%s read\n%+v\nthe store holds\n%+v", u.Name, got, cur)
		}
		return got, nil
	}
	forbidden := func(t testing.TB, db *sqlstore.DB, u *identity.User, d *review.Draft) {
		t.Helper()
		before := eventCount(t, db)
		_, err := read(t, db, u, d)
		refused(t, db, before, err, countersign.EFORBIDDEN)
	}
	moveCase := func(t testing.TB, db *sqlstore.DB, caseID, teamID, workerID string) {
		t.Helper()
		_, err := db.Raw().Exec(db.Raw().Rebind(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`), teamID, workerID, caseID)
		ok(t, err)
	}

	t.Run("EachLaterReadWritesOneEvent", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d := mustGenerated(t, db, f)
		for range 3 {
			_, err := read(t, db, f.Worker, d)
			ok(t, err)
		}
		// The supervisor's first read is their first opening, whatever
		// this handle remembers of the worker's reads; then later reads.
		for range 2 {
			_, err := read(t, db, f.Supervisor, d)
			ok(t, err)
		}
		if o, r := draftEvents(t, db, d, audit.ActionDraftOpened), draftEvents(t, db, d, audit.ActionCaseRead); o != 2 || r != 5 {
			t.Fatalf("%d draft.opened and %d case.read events, want 2 and 5", o, r)
		}
		for _, u := range []*identity.User{f.Other, f.OtherSupervisor, f.Ethics, f.Admin} {
			forbidden(t, db, u, d)
		}
		// The service's own read writes none (client.ReadEvent).
		before := eventCount(t, db)
		_, err := db.OpenDraft(CLI(), d.ID)
		ok(t, err)
		if n := eventCount(t, db) - before; n != 0 {
			t.Fatalf("the service's read wrote %d events", n)
		}

		// Concurrent later reads: one event each.
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			u := f.Worker
			if i%2 == 1 {
				u = f.Supervisor
			}
			wg.Go(func() {
				_, err := db.OpenDraft(As(CLI(), u), d.ID)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			ok(t, err)
		}
		if o, r := draftEvents(t, db, d, audit.ActionDraftOpened), draftEvents(t, db, d, audit.ActionCaseRead); o != 2 || r != 21 {
			t.Fatalf("after 21 reads: %d draft.opened and %d case.read events, want 2 and 21", o, r)
		}
		// The events are the ordinary append's: the sequencer accepts
		// every one of them (their MAC holds).
		var refusedEvents []sqlstore.RefusedEvent
		db.OnRefused = func(e sqlstore.RefusedEvent) { refusedEvents = append(refusedEvents, e) }
		_, err = db.Sequence(CLI())
		ok(t, err)
		var pending int
		ok(t, db.Raw().Get(&pending, `SELECT COUNT(*) FROM audit_pending`))
		if pending != 0 || len(refusedEvents) != 0 || draftEvents(t, db, d, audit.ActionCaseRead) != 21 {
			t.Fatalf("after sequencing: %d pending, %d refused", pending, len(refusedEvents))
		}
		// A later read whose event cannot be written returns nothing.
		undo := refuseReads(t, db)
		if got, err := db.OpenDraft(As(CLI(), f.Worker), d.ID); err == nil || got != nil {
			t.Fatalf("OpenDraft returned a draft (%t), %v while its read could not be logged", got != nil, err)
		}
		undo()
	})

	t.Run("CaseMovedByAnotherReplica", func(t *testing.T) {
		t.Parallel()
		dsn := dsn(t)
		db, other := MustOpen(t, dsn), MustOpen(t, dsn)
		f := MustSeed(t, db)
		d := mustGenerated(t, db, f)
		for _, u := range []*identity.User{f.Worker, f.Worker, f.Supervisor, f.Supervisor} {
			_, err := read(t, db, u, d)
			ok(t, err)
		}
		// The other replica moves the case to the other team and its
		// worker; this handle still remembers the first team.
		moveCase(t, other, f.Case.ID, f.OtherTeam.ID, f.Other.ID)
		_, err := read(t, other, f.OtherSupervisor, d)
		ok(t, err)
		// The supervisor reads it only through its case: refused now.
		forbidden(t, db, f.Supervisor, d)
		// The worker is still the draft's reviewer, which lets them read
		// the draft (not the case).
		for range 2 {
			_, err := read(t, db, f.Worker, d)
			ok(t, err)
		}
		// The new team reads it through this handle too, once per read.
		for _, u := range []*identity.User{f.OtherSupervisor, f.OtherSupervisor, f.Other, f.Other} {
			_, err := read(t, db, u, d)
			ok(t, err)
		}
		// And back: the first team reads it again, the second no longer.
		moveCase(t, other, f.Case.ID, f.Team.ID, f.Worker.ID)
		forbidden(t, db, f.OtherSupervisor, d)
		forbidden(t, db, f.Other, d)
		_, err = read(t, db, f.Supervisor, d)
		ok(t, err)
		if o := draftEvents(t, db, d, audit.ActionDraftOpened); o != 2 {
			t.Fatalf("%d draft.opened events, want the worker's and the supervisor's", o)
		}
	})

	t.Run("ReassignedByAnotherReplica", func(t *testing.T) {
		t.Parallel()
		dsn := dsn(t)
		db, other := MustOpen(t, dsn), MustOpen(t, dsn)
		f := MustSeed(t, db)
		d := mustGenerated(t, db, f)
		second, third := mustUser(t, db, countersign.RoleWorker, f.Team.ID), mustUser(t, db, countersign.RoleWorker, f.Team.ID)
		sctx := As(CLI(), f.Supervisor)
		_, err := other.ReassignDraft(sctx, d.ID, second.ID)
		ok(t, err)
		// The second worker, its reviewer but not the case's worker, opens
		// it, then reads it again; this handle remembers them as reviewer.
		for range 2 {
			_, err := read(t, db, second, d)
			ok(t, err)
		}
		_, err = other.ReassignDraft(sctx, d.ID, third.ID)
		ok(t, err)
		forbidden(t, db, second, d)
		// The third worker's first read is their opening, then a later read.
		for range 2 {
			_, err := read(t, db, third, d)
			ok(t, err)
		}
		// The case's worker reads it through the case.
		_, err = read(t, db, f.Worker, d)
		ok(t, err)
		if o := draftEvents(t, db, d, audit.ActionDraftOpened); o != 2 {
			t.Fatalf("%d draft.opened events, want the second worker's and the third's", o)
		}
		// Back to the second worker, who opened it at this stage before.
		_, err = other.ReassignDraft(sctx, d.ID, second.ID)
		ok(t, err)
		forbidden(t, db, third, d)
		_, err = read(t, db, second, d)
		ok(t, err)
	})

	t.Run("DecidedByAnotherReplica", func(t *testing.T) {
		t.Parallel()
		dsn := dsn(t)
		db, other := MustOpen(t, dsn), MustOpen(t, dsn)
		f := MustSeed(t, db)
		d := mustGenerated(t, db, f)
		for _, u := range []*identity.User{f.Worker, f.Worker, f.Supervisor, f.Supervisor} {
			_, err := read(t, db, u, d)
			ok(t, err)
		}
		_, err := other.RejectDraft(As(context.Background(), f.Worker), d.ID, review.Rejection{Reason: "not_needed"})
		ok(t, err)
		// Each read of the decided draft is one read, with its decision.
		for _, u := range []*identity.User{f.Worker, f.Supervisor, f.Worker, f.Supervisor} {
			got, err := read(t, db, u, d)
			ok(t, err)
			if got.Status != review.StatusRejected || got.Decision == nil || got.Decision.Outcome != review.OutcomeRejected {
				t.Fatalf("%s read the decided draft as %+v", u.Name, got)
			}
		}
		for _, u := range []*identity.User{f.Other, f.OtherSupervisor, f.Ethics} {
			forbidden(t, db, u, d)
		}
		if o := draftEvents(t, db, d, audit.ActionDraftOpened); o != 2 {
			t.Fatalf("%d draft.opened events, want 2", o)
		}
	})
}
