package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// draftRowState is a draft's row as the closure leaves it, read behind the
// store's back (a read through the store would log an access event).
type draftRowState struct {
	Status     string     `db:"status"`
	LeaseOwner string     `db:"lease_owner"`
	LeaseUntil *time.Time `db:"lease_until"`
	Generated  *time.Time `db:"generated_at"`
	UpdatedAt  time.Time  `db:"updated_at"`
}

func mustDraftRow(t testing.TB, db *sqlstore.DB, id string) draftRowState {
	t.Helper()
	var s draftRowState
	ok(t, db.Raw().Get(&s, db.Raw().Rebind(`SELECT status, lease_owner, lease_until, generated_at, updated_at FROM drafts WHERE id = ?`), id))
	return s
}

// exerciseCloseDrafts: closing a case supersedes, in its transaction, every
// draft of it still on its way to a decision (review.DecideCaseClosedDrafts).
func exerciseCloseDrafts(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	t.Run("EveryUndecidedDraftEndsWithTheCaseAndNoWorkerBringsItBack", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		db.Policy = review.DefaultPolicy()
		db.Policy.CountersignKinds = []assistant.Kind{assistant.KindSummary}
		ctx := CLI()
		f, g := MustSeed(t, db), MustSeed(t, db)
		wctx, sctx := As(ctx, f.Worker), As(ctx, f.Supervisor)

		// Decided and failed drafts, which keep their status. Each draft
		// is made before the next is requested: a drafting run takes every
		// queued draft, and a newer pending draft of one kind over the same
		// notes supersedes the older.
		approved := MustDraft(t, db, f, assistant.KindSuggestions)
		_, err := Approve(db, wctx, approved.ID, readAll(approved))
		ok(t, err)
		rejected := MustDraft(t, db, f, assistant.KindSuggestions)
		_, err = db.RejectDraft(wctx, rejected.ID, review.Rejection{Reason: "not_needed"})
		ok(t, err)
		failed := MustFailedDraft(t, db, f, assistant.KindSummary)
		// One draft in each status that waits for a decision.
		awaiting := MustDraft(t, db, f, assistant.KindSummary)
		so, err := SignOff(db, wctx, awaiting.ID, readAll(awaiting))
		ok(t, err)
		if so.Entry != nil {
			t.Fatal("the summary entered the record without its countersignature")
		}
		pending := MustDraft(t, db, f, assistant.KindSuggestions)
		// Another case's pending draft, which this closure does not touch.
		elsewhere := MustDraft(t, db, g, assistant.KindSuggestions)
		generating, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		ok(t, err)
		job, err := db.ClaimJob(ctx, "replica-b:7", time.Minute)
		ok(t, err)
		if job.DraftID != generating.ID {
			t.Fatalf("claimed %s, want %s", job.DraftID, generating.ID)
		}
		queued, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSuggestions})
		ok(t, err)

		ending := map[string]review.Status{queued.ID: review.StatusQueued, generating.ID: review.StatusGenerating,
			pending.ID: review.StatusPendingReview, awaiting.ID: review.StatusAwaitingCountersign}
		kept := map[string]draftRowState{}
		for _, id := range []string{approved.ID, rejected.ID, failed.ID, elsewhere.ID} {
			kept[id] = mustDraftRow(t, db, id)
		}
		for id, want := range ending {
			if got := mustDraftRow(t, db, id).Status; got != string(want) {
				t.Fatalf("draft %s is %s before the closure, want %s", id, got, want)
			}
		}

		before := eventCount(t, db)
		_, err = db.CloseCase(sctx, f.Case.ID, "goals_met")
		ok(t, err)
		if n := eventCount(t, db) - before; n != 1+len(ending) {
			t.Fatalf("the closure wrote %d events, want the case's and one per draft (%d)", n, 1+len(ending))
		}
		for id := range ending {
			s := mustDraftRow(t, db, id)
			if s.Status != string(review.StatusSuperseded) || s.LeaseOwner != "" || s.LeaseUntil != nil {
				t.Errorf("draft %s after the closure: %+v, want superseded and no lease", id, s)
			}
		}
		for id, was := range kept {
			if now := mustDraftRow(t, db, id); now.Status != was.Status || !now.UpdatedAt.Equal(was.UpdatedAt) {
				t.Errorf("draft %s was %s (%s), is %s (%s): the closure touched it", id, was.Status, was.UpdatedAt, now.Status, now.UpdatedAt)
			}
		}

		// The events: the closure counts the drafts; each draft's event
		// names its cause and former status, by the supervisor who closed,
		// and holds only fields the payload suite classifies.
		evs := events(t, db, "")
		closed := lastEvent(t, evs, casefile.ActionCaseClosed)
		if closed.SubjectID != f.Case.ID || closed.Payload["drafts_superseded"] != "4" {
			t.Fatalf("case.closed %s: %v, want drafts_superseded 4", closed.SubjectID, closed.Payload)
		}
		codes := codesFor(payloadCodes(db.Policy), audit.ActionDraftSuperseded)
		seen := map[string]bool{}
		for _, e := range evs {
			if e.Action != audit.ActionDraftSuperseded || e.Payload["cause"] != review.CauseCaseClosed {
				continue
			}
			want, isEnding := ending[e.SubjectID]
			if !isEnding || seen[e.SubjectID] {
				t.Errorf("draft.superseded for %s (seen before: %v), which the closure should not supersede", e.SubjectID, seen[e.SubjectID])
				continue
			}
			seen[e.SubjectID] = true
			if e.Payload["previous_status"] != string(want) || e.ActorID != f.Supervisor.ID || e.CaseID != f.Case.ID || e.Seq <= closed.Seq {
				t.Errorf("draft.superseded of %s: actor %s, case %s, seq %d after %d, payload %v; want previous_status %s",
					e.SubjectID, e.ActorID, e.CaseID, e.Seq, closed.Seq, e.Payload, want)
			}
			for field, value := range e.Payload {
				k, known := payloadKind(e.Action, field)
				if !known {
					t.Errorf("payload field %q has no kind", field)
				} else if problem := checkPayloadValue(k, field, value, codes, nil); problem != "" {
					t.Errorf("%s=%q is %s", field, value, problem)
				}
			}
		}
		if len(seen) != len(ending) {
			t.Fatalf("%d drafts superseded by the closure in the log, want %d", len(seen), len(ending))
		}

		// No queue shows them: the reviewer's, the supervisor's, and the
		// operator's gauges (the job queue and the team's review queue).
		for _, qctx := range []context.Context{wctx, sctx} {
			q, _, err := db.FindQueue(qctx, review.QueueFilter{})
			ok(t, err)
			if len(q) != 0 {
				t.Fatalf("the queue still holds %d drafts of the closed case", len(q))
			}
		}
		ops, err := db.Operations(ctx)
		ok(t, err)
		if ops.Drafts[string(review.StatusQueued)] != 0 || ops.Drafts[string(review.StatusGenerating)] != 0 || !ops.OldestRunnable.IsZero() {
			t.Fatalf("job queue %v, oldest runnable %s: the closed case's drafts still count", ops.Drafts, ops.OldestRunnable)
		}
		for _, tq := range ops.Teams {
			if tq.TeamID == f.Team.ID || (tq.TeamID == g.Team.ID && tq.Depth != 1) {
				t.Fatalf("review queue of team %s: depth %d", tq.TeamID, tq.Depth)
			}
		}

		// The worker that held the generating draft comes back with its
		// result: its renewal, completion and failure are refused by the
		// lease's fence and write nothing, and nothing is left to claim.
		before = eventCount(t, db)
		code(t, db.RenewJob(ctx, job, time.Minute), countersign.ECONFLICT)
		code(t, db.CompleteJob(ctx, job, &assistant.Result{Content: *pending.Content, Model: pending.Model,
			Provider: pending.Provider, PromptVersion: pending.PromptVersion}), countersign.ECONFLICT)
		code(t, db.FailJob(ctx, job, "The model service failed.", nil), countersign.ECONFLICT)
		_, err = db.ClaimJob(ctx, "replica-c:9", time.Minute)
		code(t, err, countersign.ENOTFOUND)
		if n := eventCount(t, db) - before; n != 0 {
			t.Fatalf("the worker's refused writes logged %d events", n)
		}
		if s := mustDraftRow(t, db, generating.ID); s.Status != string(review.StatusSuperseded) || s.Generated != nil {
			t.Fatalf("the late completion left the draft %+v", s)
		}

		// Reopening the case does not bring them back: nothing to claim,
		// and the draft that waited for its reviewer cannot be signed.
		_, err = db.ReopenCase(sctx, f.Case.ID)
		ok(t, err)
		for id := range ending {
			if s := mustDraftRow(t, db, id); s.Status != string(review.StatusSuperseded) {
				t.Errorf("draft %s is %s after the reopening", id, s.Status)
			}
		}
		_, err = db.ClaimJob(ctx, "replica-c:9", time.Minute)
		code(t, err, countersign.ENOTFOUND)
		_, err = db.SignOffDraft(wctx, pending.ID, readAll(pending))
		code(t, err, countersign.ECONFLICT)
		if msg := countersign.ErrorMessage(err); msg != "This draft cannot be decided: it is superseded." {
			t.Fatalf("sign-off after the reopening: %q", msg)
		}
	})

	// The lock order, shown where it matters: a completion in its
	// transaction (a vigilance check is planted, so the one-statement path
	// is not taken) locks its own draft, then the older pending draft it
	// supersedes. A closure that locked the older draft first, then waited
	// for the completion's, would deadlock with it; the closure takes the
	// generating draft first and so waits, holding no draft, for the
	// completion to commit.
	t.Run("TheClosureWaitsForACompletionHoldingItsDraftWithoutDeadlock", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		if db.Raw().DriverName() != "postgres" {
			t.Skip("SQLite's one writer runs the closure and the completion one after the other")
		}
		db.Policy = review.DefaultPolicy()
		db.Policy.Vigilance, db.Policy.VigilanceRate = true, 1
		ctx := CLI()
		var f *Fixture
		var older *review.Draft
		var job *review.Job
		// A closure ordered by id alone locks the older draft first when
		// its id is the smaller: the order this test needs to tell the two
		// apart. Ids are random; a pair in the other order is left aside.
		for f == nil {
			ff := MustSeed(t, db)
			o := MustDraft(t, db, ff, assistant.KindSuggestions)
			n, err := db.RequestDraft(As(ctx, ff.Worker), review.DraftRequest{CaseID: ff.Case.ID, Kind: assistant.KindSuggestions})
			ok(t, err)
			j, err := db.ClaimJob(ctx, "replica-b:7", time.Minute)
			ok(t, err)
			if j.DraftID != n.ID {
				t.Fatalf("claimed %s, want %s", j.DraftID, n.ID)
			}
			if o.ID < n.ID {
				f, older, job = ff, o, j
			}
		}
		holder, err := db.Raw().BeginTxx(ctx, nil)
		ok(t, err)
		defer holder.Rollback()
		_, err = holder.Exec(`SELECT id FROM drafts WHERE id = $1 FOR UPDATE`, job.DraftID)
		ok(t, err)
		waiting := func(want int) {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); ; {
				var n int
				ok(t, db.Raw().Get(&n, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))
				if n == want {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d sessions wait for a lock, want %d", n, want)
				}
				time.Sleep(5 * time.Millisecond) // polling for a state, not waiting out a race
			}
		}
		completed, closed := make(chan error, 1), make(chan error, 1)
		go func() {
			completed <- db.CompleteJob(ctx, job, &assistant.Result{Content: *older.Content, Model: older.Model,
				Provider: older.Provider, PromptVersion: older.PromptVersion})
		}()
		waiting(1) // the completion, for its draft
		go func() {
			_, err := db.CloseCase(As(ctx, f.Supervisor), f.Case.ID, "goals_met")
			closed <- err
		}()
		waiting(2) // and the closure, behind it
		ok(t, holder.Rollback())
		if err := <-completed; err != nil {
			t.Fatalf("the completion, first to wait for its draft: %v", err)
		}
		if err := <-closed; err != nil {
			t.Fatalf("the closure: %v", err)
		}
		// The completion superseded the older draft; the closure, the one
		// it had just put up for review.
		for _, id := range []string{older.ID, job.DraftID} {
			if s := mustDraftRow(t, db, id); s.Status != string(review.StatusSuperseded) {
				t.Fatalf("draft %s is %s", id, s.Status)
			}
		}
		if e := lastEvent(t, events(t, db, older.ID), audit.ActionDraftSuperseded); e.Payload["by"] != job.DraftID {
			t.Fatalf("the older draft's supersession: %v", e.Payload)
		}
		evs := events(t, db, job.DraftID)
		if e := lastEvent(t, evs, audit.ActionDraftSuperseded); e.Payload["cause"] != review.CauseCaseClosed ||
			e.Payload["previous_status"] != string(review.StatusPendingReview) || count(evs, audit.ActionDraftGenerated) != 1 {
			t.Fatalf("the newer draft's events %v, its supersession %v", actions(evs), e.Payload)
		}
	})

	// A completion that supersedes an older pending draft holds its own
	// draft while it waits for the older one; the closure takes the case's
	// generating drafts before its pending ones, so the two never wait for
	// each other. Whichever commits first, both drafts end superseded, the
	// closure succeeds, and the completion either succeeded before it or
	// was refused by its fence.
	t.Run("ACompletionRacingTheClosureEndsSupersededEitherWay", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		ctx := CLI()
		for round := range 3 {
			f := MustSeed(t, db)
			older := MustDraft(t, db, f, assistant.KindSuggestions)
			newer, err := db.RequestDraft(As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSuggestions})
			ok(t, err)
			job, err := db.ClaimJob(ctx, "replica-b:7", time.Minute)
			ok(t, err)
			if job.DraftID != newer.ID {
				t.Fatalf("round %d: claimed %s, want %s", round, job.DraftID, newer.ID)
			}
			var wg sync.WaitGroup
			var completeErr, closeErr error
			start := make(chan struct{})
			wg.Go(func() {
				<-start
				completeErr = db.CompleteJob(ctx, job, &assistant.Result{Content: *older.Content, Model: older.Model,
					Provider: older.Provider, PromptVersion: older.PromptVersion})
			})
			wg.Go(func() {
				<-start
				_, closeErr = db.CloseCase(As(ctx, f.Supervisor), f.Case.ID, "goals_met")
			})
			close(start)
			wg.Wait()
			ok(t, closeErr)
			if completeErr != nil && countersign.ErrorCode(completeErr) != countersign.ECONFLICT {
				t.Fatalf("round %d: the completion failed with %v, want success or the lease's conflict", round, completeErr)
			}
			for _, id := range []string{older.ID, newer.ID} {
				if s := mustDraftRow(t, db, id); s.Status != string(review.StatusSuperseded) {
					t.Fatalf("round %d: draft %s is %s after the closure", round, id, s.Status)
				}
			}
			generated := count(events(t, db, newer.ID), audit.ActionDraftGenerated)
			if (completeErr == nil) != (generated == 1) {
				t.Fatalf("round %d: completion %v, %d draft.generated events", round, completeErr, generated)
			}
		}
	})
}
