package sqlstore_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// openingWritten is what a draft's openings wrote: the rows of
// draft_openings, the draft.opened events and the case.read events of the
// draft's case.
type openingWritten struct {
	openings, opened, reads int
}

func readOpeningWritten(t *testing.T, db *sqlstore.DB, d *review.Draft) openingWritten {
	t.Helper()
	var w openingWritten
	q := db.Raw()
	if err := q.Get(&w.openings, q.Rebind(`SELECT COUNT(*) FROM draft_openings WHERE draft_id = ?`), d.ID); err != nil {
		t.Fatal(err)
	}
	for _, e := range loggedEvents(t, db, `case_id = ? AND action IN (?, ?)`, d.CaseID, audit.ActionDraftOpened, audit.ActionCaseRead) {
		if e.action == audit.ActionCaseRead {
			w.reads++
		} else {
			w.opened++
		}
	}
	return w
}

// loggedEvent is an event's action and payload, pending or in the log.
type loggedEvent struct {
	action  string
	payload audit.Payload
}

// loggedEvents returns the events where cond holds, still pending or
// already in the log.
func loggedEvents(t *testing.T, db *sqlstore.DB, cond string, args ...any) []loggedEvent {
	t.Helper()
	var out []loggedEvent
	q := db.Raw()
	for _, table := range []string{"audit_pending", "audit_event"} {
		var rows []struct {
			Action  string `db:"action"`
			Payload string `db:"payload"`
		}
		if err := q.Select(&rows, q.Rebind(`SELECT action, payload FROM `+table+` WHERE `+cond), args...); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			e := loggedEvent{action: r.Action}
			if err := json.Unmarshal([]byte(r.Payload), &e.payload); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
	return out
}

// TestFirstOpeningsAtOnce: two first openings of a draft by its reviewer
// at once, through one handle, record one opening and one draft.opened
// event, and each read its own case.read event: the one that loses the
// opening's primary key is a later read, logged alone.
func TestFirstOpeningsAtOnce(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := storetest.MustOpen(t, dsnOf(t))
			for range 4 {
				f := storetest.MustSeed(t, db)
				d := generatedDraft(t, db, f)
				ctx := storetest.As(context.Background(), f.Worker)
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i := range errs {
					wg.Go(func() {
						_, errs[i] = db.OpenDraft(ctx, d.ID)
					})
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				if w := readOpeningWritten(t, db, d); w.openings != 1 || w.opened != 1 || w.reads != 2 {
					t.Fatalf("two first openings at once wrote %+v, want one opening, one draft.opened and two case.read", w)
				}
			}
		})
	}
}
