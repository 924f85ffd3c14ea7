package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/sqlstore"
)

// caseReads counts the reads of caseID's case (client.ReadCase) by actor
// ("" for anyone), pending or sequenced.
func caseReads(t testing.TB, db *sqlstore.DB, caseID, actor string) int {
	t.Helper()
	where, args := `action = ? AND case_id = ? AND payload LIKE ?`, []any{audit.ActionCaseRead, caseID, `%"what":"case"%`}
	if actor != "" {
		where += ` AND actor_id = ?`
		args = append(args, actor)
	}
	var a, b int
	x := db.Raw()
	ok(t, x.Get(&a, x.Rebind(`SELECT COUNT(*) FROM audit_pending WHERE `+where), args...))
	ok(t, x.Get(&b, x.Rebind(`SELECT COUNT(*) FROM audit_event WHERE `+where), args...))
	return a + b
}

// exerciseCaseRead: ReadCase, a staff read of a case with its access
// event (issue 18), writes exactly one event per allowed read and none
// for a refused one, whatever this handle remembers of the case: another
// replica may have moved it since.
func exerciseCaseRead(t *testing.T, open func(t testing.TB) *sqlstore.DB, dsn func(t testing.TB) string) {
	read := func(t testing.TB, db *sqlstore.DB, u *identity.User, id string) (*casefile.Case, error) {
		t.Helper()
		c, err := db.ReadCase(As(CLI(), u), id)
		if err != nil && c != nil {
			t.Fatalf("ReadCase returned a case with its error %v", err)
		}
		return c, err
	}

	t.Run("EachReadWritesOneEvent", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		for i := range 3 {
			c, err := read(t, db, f.Worker, f.Case.ID)
			ok(t, err)
			if c.ID != f.Case.ID || c.Title != f.Case.Title || c.Reference != f.Case.Reference || c.TeamID != f.Team.ID ||
				c.WorkerID != f.Worker.ID || c.Status != casefile.StatusOpen || !c.CreatedAt.Equal(f.Case.CreatedAt) {
				t.Fatalf("read %d: %+v, want %+v", i, c, f.Case)
			}
			if n := caseReads(t, db, f.Case.ID, f.Worker.ID); n != i+1 {
				t.Fatalf("after %d reads: %d events", i+1, n)
			}
		}
		_, err := read(t, db, f.Supervisor, f.Case.ID)
		ok(t, err)
		// The service's own reads write none (client.ReadEvent).
		c, err := db.ReadCase(CLI(), f.Case.ID)
		ok(t, err)
		if c.ID != f.Case.ID {
			t.Fatalf("the service read %+v", c)
		}
		if n, s := caseReads(t, db, f.Case.ID, ""), caseReads(t, db, f.Case.ID, f.Supervisor.ID); n != 4 || s != 1 {
			t.Fatalf("%d events, %d of the supervisor; want 4 and 1", n, s)
		}

		// Concurrent reads: one event each.
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			u := f.Worker
			if i%2 == 1 {
				u = f.Supervisor
			}
			wg.Go(func() {
				_, err := db.ReadCase(As(CLI(), u), f.Case.ID)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			ok(t, err)
		}
		if n := caseReads(t, db, f.Case.ID, ""); n != 20 {
			t.Fatalf("after 20 reads: %d events", n)
		}

		// The events are the ordinary append's: the sequencer accepts
		// every one of them (their MAC holds).
		var refused []sqlstore.RefusedEvent
		db.OnRefused = func(e sqlstore.RefusedEvent) { refused = append(refused, e) }
		_, err = db.Sequence(CLI())
		ok(t, err)
		var pending, logged int
		ok(t, db.Raw().Get(&pending, `SELECT COUNT(*) FROM audit_pending`))
		ok(t, db.Raw().Get(&logged, db.Raw().Rebind(`SELECT COUNT(*) FROM audit_event WHERE action = ? AND case_id = ?`), audit.ActionCaseRead, f.Case.ID))
		if pending != 0 || logged != 20 || len(refused) != 0 {
			t.Fatalf("after sequencing: %d pending, %d reads logged, %d refused", pending, logged, len(refused))
		}

		// A read whose event cannot be written fails and returns nothing.
		cancelled, cancel := context.WithCancel(As(CLI(), f.Worker))
		cancel()
		if c, err := db.ReadCase(cancelled, f.Case.ID); err == nil || c != nil {
			t.Fatalf("a read with a cancelled context returned %+v, %v", c, err)
		}
	})

	t.Run("RefusedReadWritesNone", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		// This handle knows the case, and that the worker may read it.
		_, err := read(t, db, f.Worker, f.Case.ID)
		ok(t, err)
		_, err = read(t, db, f.Supervisor, f.Case.ID)
		ok(t, err)
		before := eventCount(t, db)
		for _, u := range []*identity.User{f.Other, f.OtherSupervisor, f.Ethics, f.Admin} {
			_, err := read(t, db, u, f.Case.ID)
			refused(t, db, before, err, countersign.EFORBIDDEN)
		}
		_, err = read(t, db, f.Worker, "cas_none")
		refused(t, db, before, err, countersign.ENOTFOUND)
		_, err = db.ReadCase(context.Background(), f.Case.ID)
		refused(t, db, before, err, countersign.EUNAUTHORIZED)
		if n := caseReads(t, db, f.Case.ID, ""); n != 2 {
			t.Fatalf("%d events, want the 2 allowed reads'", n)
		}
	})

	t.Run("MovedByAnotherReplica", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db, other := MustOpen(t, d), MustOpen(t, d)
		f := MustSeed(t, db)
		_, err := read(t, db, f.Worker, f.Case.ID)
		ok(t, err)
		_, err = read(t, db, f.Supervisor, f.Case.ID)
		ok(t, err)
		// The other replica moves the case to the other team and its worker,
		// and reads it there; this handle still remembers the first team.
		_, err = other.Raw().Exec(other.Raw().Rebind(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`),
			f.OtherTeam.ID, f.Other.ID, f.Case.ID)
		ok(t, err)
		c, err := read(t, other, f.OtherSupervisor, f.Case.ID)
		ok(t, err)
		if c.TeamID != f.OtherTeam.ID {
			t.Fatalf("the other replica reads %+v", c)
		}
		before := eventCount(t, db)
		for _, u := range []*identity.User{f.Supervisor, f.Worker} {
			_, err := read(t, db, u, f.Case.ID)
			refused(t, db, before, err, countersign.EFORBIDDEN)
		}
		// The new team reads it through this handle too, once per read.
		for i := range 2 {
			c, err := read(t, db, f.OtherSupervisor, f.Case.ID)
			ok(t, err)
			if c.TeamID != f.OtherTeam.ID || c.WorkerID != f.Other.ID {
				t.Fatalf("read %d: %+v", i, c)
			}
		}
		_, err = read(t, db, f.Other, f.Case.ID)
		ok(t, err)
		if n, s := caseReads(t, db, f.Case.ID, f.OtherSupervisor.ID), caseReads(t, db, f.Case.ID, f.Other.ID); n != 3 || s != 1 {
			t.Fatalf("reads of the new team: supervisor %d (want 3 with the other replica's), worker %d (want 1)", n, s)
		}
		// And back: the first team reads it again, the second no longer.
		_, err = other.Raw().Exec(other.Raw().Rebind(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`),
			f.Team.ID, f.Worker.ID, f.Case.ID)
		ok(t, err)
		before = eventCount(t, db)
		_, err = read(t, db, f.OtherSupervisor, f.Case.ID)
		refused(t, db, before, err, countersign.EFORBIDDEN)
		_, err = read(t, db, f.Supervisor, f.Case.ID)
		ok(t, err)
		if n := caseReads(t, db, f.Case.ID, f.Supervisor.ID); n != 2 {
			t.Fatalf("the supervisor's reads: %d, want 2", n)
		}
	})

	t.Run("ClosedAndErasedAsCheckReadSays", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		_, err := read(t, db, f.Worker, f.Case.ID)
		ok(t, err)
		check := func(status string) {
			t.Helper()
			for _, u := range []*identity.User{f.Worker, f.Supervisor, f.Other, f.OtherSupervisor, f.Ethics, f.Admin} {
				row, err := db.FindRetentionCase(As(CLI(), f.Admin), f.Case.ID)
				ok(t, err)
				want := casefile.CheckRead(u.Actor(), row)
				before := caseReads(t, db, f.Case.ID, u.ID)
				c, err := read(t, db, u, f.Case.ID)
				if want != nil {
					code(t, err, countersign.ErrorCode(want))
					if n := caseReads(t, db, f.Case.ID, u.ID); n != before {
						t.Fatalf("%s: a refused read of a %s case wrote an event", u.Name, status)
					}
					continue
				}
				ok(t, err)
				if c.Status != status {
					t.Fatalf("%s reads %+v, want it %s", u.Name, c, status)
				}
				if n := caseReads(t, db, f.Case.ID, u.ID); n != before+1 {
					t.Fatalf("%s: %d events for one read of a %s case", u.Name, n-before, status)
				}
			}
		}
		_, err = db.CloseCase(As(CLI(), f.Supervisor), f.Case.ID, "goals_met")
		ok(t, err)
		check(casefile.StatusClosed)
		r, err := db.RequestErasure(As(CLI(), f.Admin), f.Case.ID, "", "data_subject_request")
		ok(t, err)
		_, err = db.ConfirmErasure(As(CLI(), mustUser(t, db, countersign.RoleAdmin, "")), r.ID)
		ok(t, err)
		check(casefile.StatusErased)
		c, err := read(t, db, f.Worker, f.Case.ID)
		ok(t, err)
		if c.Title != "" || c.ErasedAt == nil {
			t.Fatalf("an erased case reads %+v", c)
		}
	})
}
