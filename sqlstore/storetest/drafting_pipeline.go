package storetest

import (
	"context"
	"fmt"
	"strings"
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

// exerciseDraftingPipeline holds the drafting pipeline's statements to
// their guarantees where folding them could break one (issue 18): a
// claim is made once per draft and attempt, a completion writes nothing
// with a key shredded behind the replica's back, and a draft request reads
// the client's consent after the case's lock.
func exerciseDraftingPipeline(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := CLI()
	t.Run("ConcurrentWorkersClaimAndCompleteEachOfManyDraftsOnce", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		// Each draft over a note of its own: no draft supersedes another,
		// so every completion may take the one-statement path.
		const drafts = 16
		ids := map[string]bool{}
		for _, id := range requestDraftsOverNotesOfTheirOwn(t, db, wctx, f, drafts) {
			ids[id] = true
		}
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				r := &review.Runner{Store: db, Drafter: drafter, Owner: fmt.Sprint("w", i), Logger: quiet}
				if err := r.Drain(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var rows []struct {
			ID       string `db:"id"`
			Status   string `db:"status"`
			Attempts int    `db:"attempts"`
		}
		ok(t, db.Raw().Select(&rows, db.Raw().Rebind(`SELECT id, status, attempts FROM drafts WHERE case_id = ?`), f.Case.ID))
		for _, r := range rows {
			if ids[r.ID] && (r.Status != string(review.StatusPendingReview) || r.Attempts != 1) {
				t.Errorf("draft %s is %s after %d attempts, want pending_review after 1", r.ID, r.Status, r.Attempts)
			}
		}
		_, err := db.Sequence(ctx)
		ok(t, err)
		claimed, generated := map[string]int{}, map[string]int{}
		ok(t, db.EachEvent(ctx, 0, func(e *audit.Event) error {
			switch e.Action {
			case audit.ActionDraftClaimed:
				claimed[e.SubjectID]++
				if e.Payload["attempt"] != "1" || e.Payload["previous_status"] != string(review.StatusQueued) {
					t.Errorf("claim of %s: %v", e.SubjectID, e.Payload)
				}
			case audit.ActionDraftGenerated:
				generated[e.SubjectID]++
			}
			return nil
		}))
		for id := range ids {
			if claimed[id] != 1 || generated[id] != 1 {
				t.Errorf("draft %s claimed %d times and generated %d times, want once each", id, claimed[id], generated[id])
			}
		}
		// Every draft has left the queue, leaving its queued and
		// generating versions' entries behind in the queue's indexes: the
		// next claim's read of its candidates scans those indexes in
		// order, which marks the dead entries once, and not by bitmap,
		// which would read their rows again on every call. (With the
		// table's statistics up to date, PostgreSQL's planner takes the
		// bitmap scans unless they are switched off.)
		if db.Raw().DriverName() == "postgres" {
			_, err := db.Raw().Exec(`ANALYZE drafts`)
			ok(t, err)
		}
		if plan, err := db.ExplainClaimCandidates(ctx); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			ok(t, err)
			// A table this small may be read whole (a sequential scan,
			// which CI's run once chose); what must never be is a bitmap.
			if strings.Contains(plan, "Bitmap") {
				t.Errorf("the claim's candidates are read by a bitmap scan:\n%s", plan)
			}
		}
		mustVerify(t, db)
	})

	t.Run("AWorkerClaimsTheDraftItWasWokenForByItsID", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		ids := requestDraftsOverNotesOfTheirOwn(t, db, As(ctx, f.Worker), f, 3)
		before := eventCount(t, db)
		job, err := db.ClaimDraft(ctx, "w", time.Minute, ids[2])
		ok(t, err)
		if job.DraftID != ids[2] || job.Attempt != 1 || job.Owner != "w" || len(job.Request.Notes) != 1 {
			t.Fatalf("claimed %+v, want the newest draft %s at attempt 1 with its note", job, ids[2])
		}
		if eventCount(t, db) != before+1 {
			t.Fatalf("one claim wrote %d events", eventCount(t, db)-before)
		}
		// Claimed, it no longer waits: a second worker woken for it is
		// told so, and claims the oldest draft from the queue instead.
		if _, err := db.ClaimDraft(ctx, "v", time.Minute, ids[2]); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("claiming a draft being generated: %v, want ENOTFOUND", err)
		}
		if _, err := db.ClaimDraft(ctx, "v", time.Minute, "drf_nosuchdraft"); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("claiming a draft that does not exist: %v, want ENOTFOUND", err)
		}
		job, err = db.ClaimJob(ctx, "v", time.Minute)
		ok(t, err)
		if job.DraftID != ids[0] {
			t.Fatalf("the queue gave %s, want the oldest draft %s", job.DraftID, ids[0])
		}
		if eventCount(t, db) != before+2 {
			t.Fatalf("two claims wrote %d events", eventCount(t, db)-before)
		}
		mustVerify(t, db)
	})

	t.Run("AClaimPassesOverTheDraftAnotherWorkerIsClaiming", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		if db.Raw().DriverName() != "postgres" {
			t.Skip("SQLite's one writer claims one draft at a time")
		}
		f := MustSeed(t, db)
		ids := requestDraftsOverNotesOfTheirOwn(t, db, As(ctx, f.Worker), f, 3)
		// Another worker's claim holds the oldest draft's row, as its
		// claiming statement does until it commits.
		other, err := db.Raw().Beginx()
		ok(t, err)
		defer other.Rollback()
		var oldest string
		ok(t, other.Get(&oldest, `SELECT id FROM drafts WHERE status = 'queued' ORDER BY run_after, id LIMIT 1 FOR UPDATE`))
		before := eventCount(t, db)
		job, err := db.ClaimJob(ctx, "w", time.Minute)
		ok(t, err)
		if job.DraftID == oldest || job.Attempt != 1 {
			t.Fatalf("claimed %s at attempt %d while another worker held %s", job.DraftID, job.Attempt, oldest)
		}
		if eventCount(t, db) != before+1 {
			t.Fatalf("one claim wrote %d events", eventCount(t, db)-before)
		}
		ok(t, other.Rollback())
		// Released, the oldest is claimed like the third, once each.
		next, err := db.ClaimJob(ctx, "w", time.Minute)
		ok(t, err)
		last, err := db.ClaimJob(ctx, "w", time.Minute)
		ok(t, err)
		_, err = db.ClaimJob(ctx, "w", time.Minute)
		code(t, err, countersign.ENOTFOUND)
		got := map[string]bool{job.DraftID: true, next.DraftID: true, last.DraftID: true}
		for _, id := range ids {
			if !got[id] {
				t.Errorf("draft %s was never claimed (claimed %v)", id, got)
			}
		}
	})

	t.Run("ACompletionWritesNothingWithAKeyShreddedBehindTheReplicasBack", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d, err := db.RequestDraft(As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		ok(t, err)
		job, err := db.ClaimJob(ctx, "w", time.Minute)
		ok(t, err)
		if job.DraftID != d.ID || job.Attempt != 1 || len(job.Request.Notes) == 0 || len(job.Request.Parties) == 0 {
			t.Fatalf("job %+v", job)
		}
		res, err := drafter.Draft(ctx, job.Request)
		ok(t, err)
		// The key goes as an erasure takes it, while this replica still
		// holds it in memory.
		_, err = db.Raw().Exec(db.Raw().Rebind(`UPDATE case_keys SET wrapped_key = NULL, master_key_id = '', shredded_at = ? WHERE case_id = ?`),
			time.Now().UTC(), f.Case.ID)
		ok(t, err)
		before := eventCount(t, db)
		code(t, db.CompleteJob(ctx, job, res), countersign.ECONFLICT)
		var status string
		var content *string
		ok(t, db.Raw().QueryRow(db.Raw().Rebind(`SELECT status, content FROM drafts WHERE id = ?`), d.ID).Scan(&status, &content))
		if status != string(review.StatusGenerating) || content != nil {
			t.Fatalf("the draft is %s with content %v after a refused completion", status, content != nil)
		}
		if eventCount(t, db) != before {
			t.Fatal("a refused completion wrote an audit event")
		}
	})

	t.Run("ARequestSeesAConsentWithdrawnWhileItWaitedForTheCase", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		// Requests race a withdrawal: each either commits first, and the
		// withdrawal stops its draft, or reads the withdrawal and is
		// refused. None may leave a draft queued after the withdrawal.
		var wg sync.WaitGroup
		start := make(chan struct{})
		var mu sync.Mutex
		codes := map[string]int{}
		for range 8 {
			wg.Go(func() {
				<-start
				_, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
				mu.Lock()
				codes[countersign.ErrorCode(err)]++
				mu.Unlock()
			})
		}
		wg.Go(func() {
			<-start
			if err := db.RecordConsent(wctx, &casefile.Consent{CaseID: f.Case.ID, Given: false}); err != nil {
				t.Error(err)
			}
		})
		close(start)
		wg.Wait()
		if codes[""]+codes[countersign.ECONFLICT] != 8 {
			t.Fatalf("request outcomes %v", codes)
		}
		var queued int
		ok(t, db.Raw().Get(&queued, db.Raw().Rebind(`SELECT COUNT(*) FROM drafts WHERE case_id = ? AND status = ?`), f.Case.ID, string(review.StatusQueued)))
		if queued != 0 {
			t.Fatalf("%d drafts queued after the client withdrew consent (outcomes %v)", queued, codes)
		}
		if _, err := db.ClaimJob(context.Background(), "w", time.Minute); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			t.Fatalf("a claim after the withdrawal: %v", err)
		}
	})
}

// requestDraftsOverNotesOfTheirOwn writes n notes to f's case and requests
// a summary of each, oldest first, and returns the drafts' ids: no draft
// supersedes another.
func requestDraftsOverNotesOfTheirOwn(t *testing.T, db *sqlstore.DB, wctx context.Context, f *Fixture, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		note := &casefile.Note{CaseID: f.Case.ID, Body: fmt.Sprintf("Visit %d: the rent is paid.", i)}
		ok(t, db.AddNote(wctx, note))
		d, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, NoteIDs: []string{note.ID}})
		ok(t, err)
		if d.Status != review.StatusQueued || d.Attempts != 0 || d.CaseID != f.Case.ID || len(d.NoteIDs) != 1 || d.NoteIDs[0] != note.ID {
			t.Fatalf("a requested draft reads %+v", d)
		}
		ids = append(ids, d.ID)
	}
	return ids
}
