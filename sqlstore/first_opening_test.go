package sqlstore_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// openingWritten is what a draft's openings wrote: the rows of
// draft_openings, the draft.opened events (with the kind and stage each
// names) and the case.read events of the draft's case.
type openingWritten struct {
	openings, opened, reads int
	kinds, stages           []string
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
			continue
		}
		w.opened++
		w.kinds, w.stages = append(w.kinds, e.payload["kind"]), append(w.stages, e.payload["stage"])
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

// TestFirstOpeningInTheReadingStatement: on PostgreSQL the reviewer's
// first opening of a draft requested and generated through the same
// handle is written by the statement that reads the draft
// (firstOpeningQuery), and writes what a first opening writes on any
// path: the reviewer's opening, the draft.opened event naming the draft's
// kind and stage, the read's case.read event and the review clock. The
// approval that follows decides on what it read and writes in one
// statement. SQLite writes the same in its transaction.
func TestFirstOpeningInTheReadingStatement(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := storetest.MustOpen(t, dsnOf(t))
			f := storetest.MustSeed(t, db)
			d := generatedDraft(t, db, f)
			one := 0 // what takes one statement on PostgreSQL
			if db.Dialect() == "postgres" {
				one = 1
			}
			var inStatement, remembered atomic.Int64
			t.Cleanup(sqlstore.AfterDraftReadLogged(d.ID, func() { inStatement.Add(1) }))
			t.Cleanup(sqlstore.AfterRememberedDecision(d.ID, func(written bool) {
				if written {
					remembered.Add(1)
				}
			}))
			ctx := storetest.As(context.Background(), f.Worker)
			got, err := db.OpenDraft(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := int(inStatement.Load()); n != one {
				t.Fatalf("%d first openings written by the reading statement, want %d", n, one)
			}
			if got.Content == nil || got.OpenedAt == nil || got.Status != review.StatusPendingReview {
				t.Fatalf("opened draft: content %v, review clock %v, status %s", got.Content != nil, got.OpenedAt, got.Status)
			}
			w := readOpeningWritten(t, db, d)
			if w.openings != 1 || w.opened != 1 || w.reads != 1 ||
				w.kinds[0] != string(assistant.KindSummary) || w.stages[0] != string(review.StatusPendingReview) {
				t.Fatalf("the first opening wrote %+v, want one opening, one draft.opened (summary, pending_review) and one case.read", w)
			}
			var clock *string
			if err := db.Raw().Get(&clock, db.Raw().Rebind(`SELECT CAST(opened_at AS TEXT) FROM drafts WHERE id = ?`), d.ID); err != nil || clock == nil {
				t.Fatalf("the draft's review clock: %v, %v", clock, err)
			}
			out, err := db.SignOffDraft(ctx, d.ID, approveAll(got))
			if err != nil {
				t.Fatal(err)
			}
			if out.Draft.Status != review.StatusApproved || out.Entry == nil {
				t.Fatalf("approval: %s, entry %v", out.Draft.Status, out.Entry)
			}
			if n := int(remembered.Load()); n != one {
				t.Fatalf("%d approvals written on what the first opening read, want %d", n, one)
			}
		})
	}
}

// TestFirstOpeningPredictionChecked: a first opening predicted on an
// input the draft's row or its case's row does not have (a stale
// prediction: another replica reassigned the draft, moved the case,
// decided the draft; or one wrong in any single input) writes nothing in
// the reading statement; the row read decides, and the read writes what
// it writes without a prediction: a first opening with the draft's own
// kind, a later read, or nothing when refused.
func TestFirstOpeningPredictionChecked(t *testing.T) {
	t.Parallel()
	type change func(*sqlstore.DraftPrediction, *casefile.ReadScope)
	cases := []struct {
		name   string
		change change
	}{
		{"Case", func(p *sqlstore.DraftPrediction, _ *casefile.ReadScope) { p.CaseID = countersign.NewID("case") }},
		{"Kind", func(p *sqlstore.DraftPrediction, _ *casefile.ReadScope) { p.Kind = assistant.KindSuggestions }},
		{"Status", func(p *sqlstore.DraftPrediction, _ *casefile.ReadScope) { p.Status = review.StatusAwaitingCountersign }},
		{"Reviewer", func(p *sqlstore.DraftPrediction, _ *casefile.ReadScope) { p.ReviewerID = countersign.NewID("u") }},
		{"Team", func(p *sqlstore.DraftPrediction, _ *casefile.ReadScope) { p.TeamID = countersign.NewID("t") }},
		{"CaseTeam", func(_ *sqlstore.DraftPrediction, s *casefile.ReadScope) { s.TeamID = countersign.NewID("t") }},
		{"CaseWorker", func(_ *sqlstore.DraftPrediction, s *casefile.ReadScope) { s.WorkerID = countersign.NewID("u") }},
	}
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			db, other := storetest.MustOpen(t, dsn), storetest.MustOpen(t, dsn)
			for _, c := range cases {
				t.Run("Wrong"+c.name, func(t *testing.T) {
					f := storetest.MustSeed(t, db)
					d := generatedDraft(t, db, f)
					var inStatement atomic.Int64
					t.Cleanup(sqlstore.AfterDraftReadLogged(d.ID, func() { inStatement.Add(1) }))
					if predicted := sqlstore.MisPredict(db, d.ID, c.change); predicted != (db.Dialect() == "postgres") {
						t.Fatalf("predicted: %v", predicted)
					}
					for _, u := range []*identity.User{f.Worker, f.Supervisor} {
						if _, err := db.OpenDraft(storetest.As(context.Background(), u), d.ID); err != nil {
							t.Fatal(err)
						}
					}
					// The worker's wrong prediction wrote nothing; the row
					// it read gave the handle a right one, on which the
					// supervisor's opening is written in the statement.
					want := 0
					if db.Dialect() == "postgres" {
						want = 1
					}
					if n := int(inStatement.Load()); n != want {
						t.Fatalf("%d openings written by the reading statement, want %d", n, want)
					}
					w := readOpeningWritten(t, db, d)
					if w.openings != 2 || w.opened != 2 || w.reads != 2 {
						t.Fatalf("two first openings wrote %+v, want two openings, two draft.opened and two case.read", w)
					}
					for _, k := range w.kinds {
						if k != string(assistant.KindSummary) {
							t.Fatalf("draft.opened names kind %q, want summary", k)
						}
					}
				})
			}
			staleCases := []struct {
				name string
				// stale changes the draft or its case through the other
				// handle; then the worker reads the draft.
				stale func(t *testing.T, f *storetest.Fixture, d *review.Draft)
				// opened and reads are the events the worker's read writes
				// then, and forbidden whether it is refused; inOne, whether
				// the reading statement writes them on PostgreSQL (the
				// prediction still holds).
				opened, reads int
				forbidden     bool
				inOne         bool
			}{
				{name: "Reassigned", stale: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					if _, err := other.ReassignDraft(storetest.As(context.Background(), f.Supervisor), d.ID, mustWorker(t, db, f).ID); err != nil {
						t.Fatal(err)
					}
				}, opened: 0, reads: 1}, // the case's worker still reads it, but may no longer decide it
				{name: "CaseMoved", stale: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					if _, err := other.Raw().Exec(other.Raw().Rebind(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`),
						f.OtherTeam.ID, f.Other.ID, f.Case.ID); err != nil {
						t.Fatal(err)
					}
				}, opened: 1, reads: 1}, // the draft's reviewer still opens it
				{name: "Rejected", stale: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					if _, err := other.RejectDraft(storetest.As(context.Background(), f.Worker), d.ID, review.Rejection{Reason: "not_needed"}); err != nil {
						t.Fatal(err)
					}
				}, opened: 0, reads: 1},
				{name: "OpenedElsewhere", stale: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					if _, err := other.OpenDraft(storetest.As(context.Background(), f.Worker), d.ID); err != nil {
						t.Fatal(err)
					}
				}, opened: 1, reads: 2, inOne: true}, // the other handle's opening; this read is a later one
				{name: "ReassignedAway", stale: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					// The case moved to another team and the draft to its worker.
					if _, err := other.Raw().Exec(other.Raw().Rebind(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`),
						f.OtherTeam.ID, f.Other.ID, f.Case.ID); err != nil {
						t.Fatal(err)
					}
					if _, err := other.Raw().Exec(other.Raw().Rebind(`UPDATE drafts SET team_id = ?, reviewer_id = ? WHERE id = ?`),
						f.OtherTeam.ID, f.Other.ID, d.ID); err != nil {
						t.Fatal(err)
					}
				}, forbidden: true},
			}
			for _, c := range staleCases {
				t.Run(c.name, func(t *testing.T) {
					f := storetest.MustSeed(t, db)
					d := generatedDraft(t, db, f)
					var inStatement atomic.Int64
					t.Cleanup(sqlstore.AfterDraftReadLogged(d.ID, func() { inStatement.Add(1) }))
					c.stale(t, f, d)
					_, err := db.OpenDraft(storetest.As(context.Background(), f.Worker), d.ID)
					if got := countersign.ErrorCode(err) == countersign.EFORBIDDEN; got != c.forbidden {
						t.Fatalf("the worker's read: %v, want refused %v", err, c.forbidden)
					} else if err != nil && !got {
						t.Fatal(err)
					}
					if n, want := inStatement.Load(), c.inOne && db.Dialect() == "postgres"; (n == 1) != want || n > 1 {
						t.Fatalf("%d reads written by the reading statement, want one: %v", n, want)
					}
					if w := readOpeningWritten(t, db, d); w.opened != c.opened || w.reads != c.reads {
						t.Fatalf("after the stale read: %d draft.opened and %d case.read events, want %d and %d", w.opened, w.reads, c.opened, c.reads)
					}
				})
			}
		})
	}
}

// TestFirstOpeningsAtOnce: two first openings of a draft by its reviewer
// at once, both predicted by the handle that generated it, record one
// opening and one draft.opened event, and each read its own case.read
// event.
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
