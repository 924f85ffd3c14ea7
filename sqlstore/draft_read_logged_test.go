package sqlstore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestDraftReadLoggedPath: on PostgreSQL a later read of a draft that this
// handle read before writes its event in the statement that reads the
// draft, and a read that is a first opening, refused, or whose draft or
// case changed meanwhile does not: those take the plain path, which then
// gives the handle its prediction back. SQLite never takes it (its reads
// join the group commit). StoreTest DraftReadLogged checks the events of
// the same reads on both databases; this checks the path they took.
func TestDraftReadLoggedPath(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			db, other := storetest.MustOpen(t, dsn), storetest.MustOpen(t, dsn)
			f := storetest.MustSeed(t, db)
			d, err := db.RequestDraft(storetest.As(context.Background(), f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
			if err != nil {
				t.Fatal(err)
			}
			if err := (&review.Runner{Store: db, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "test"}).Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			var inStatement atomic.Int64
			t.Cleanup(sqlstore.AfterDraftReadLogged(d.ID, func() { inStatement.Add(1) }))
			reads := func() int {
				t.Helper()
				var n int
				if err := db.Raw().Get(&n, db.Raw().Rebind(`SELECT (SELECT COUNT(*) FROM audit_pending WHERE case_id = ? AND action = ?)
					+ (SELECT COUNT(*) FROM audit_event WHERE case_id = ? AND action = ?)`), f.Case.ID, audit.ActionCaseRead, f.Case.ID, audit.ActionCaseRead); err != nil {
					t.Fatal(err)
				}
				return n
			}
			logged := 0 // the reads that take the one statement on PostgreSQL
			step := func(u *identity.User, inOne bool, want string) {
				t.Helper()
				before := reads()
				_, err := db.OpenDraft(storetest.As(context.Background(), u), d.ID)
				if got := countersign.ErrorCode(err); got != want {
					t.Fatalf("%s's read: %q (%v), want %q", u.Name, got, err, want)
				}
				if n := reads() - before; (want == "") != (n == 1) || n > 1 {
					t.Fatalf("%s's read (%q) wrote %d read events", u.Name, want, n)
				}
				if inOne && db.Dialect() == "postgres" {
					logged++
				}
				if n := int(inStatement.Load()); n != logged {
					t.Fatalf("after %s's read: %d reads logged in the statement that read the draft, want %d", u.Name, n, logged)
				}
			}
			step(f.Worker, false, "") // nothing known yet; the first opening
			step(f.Worker, true, "")  // later reads
			step(f.Worker, true, "")
			step(f.Supervisor, false, "") // their own first opening
			step(f.Supervisor, true, "")
			step(f.Other, false, countersign.EFORBIDDEN) // refused, as predicted
			step(f.Ethics, false, countersign.EFORBIDDEN)
			// Another replica moves the case away: the prediction no longer
			// holds, and the row read decides.
			if _, err := other.Raw().Exec(other.Raw().Rebind(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`),
				f.OtherTeam.ID, f.Other.ID, f.Case.ID); err != nil {
				t.Fatal(err)
			}
			step(f.Worker, false, "") // the reviewer still reads the draft
			step(f.Worker, true, "")  // predicted from the row just read
			step(f.Other, true, "")   // the case's new worker, predicted from it too
			step(f.Supervisor, false, countersign.EFORBIDDEN)
			// And back, the supervisor reading first this time.
			if _, err := other.Raw().Exec(other.Raw().Rebind(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`),
				f.Team.ID, f.Worker.ID, f.Case.ID); err != nil {
				t.Fatal(err)
			}
			step(f.Supervisor, false, "")
			step(f.Other, false, countersign.EFORBIDDEN)
			step(f.Supervisor, true, "")
			// The draft is decided on the other replica: the status changed.
			if _, err := other.RejectDraft(storetest.As(context.Background(), f.Worker), d.ID, review.Rejection{Reason: "not_needed"}); err != nil {
				t.Fatal(err)
			}
			step(f.Worker, false, "")
			step(f.Worker, true, "")
			step(f.Supervisor, true, "")
			step(f.Other, false, countersign.EFORBIDDEN)
		})
	}
}
