package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/caseload"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// AfterReadHook has f run between a sign-off's unlocked read of draftID
// and its fenced write, and returns what removes it: the sqlstore tests
// pass sqlstore.AfterDecisionRead, which only they can reach.
type AfterReadHook func(draftID string, f func()) (undo func())

// ExerciseCaseMove runs, on one dialect, the tests of what a case's
// assignment does to the drafts and agenda entries its previous worker
// held (CaseStore.AssignCase, review.DecideCaseAssignedDrafts,
// agenda.DecideCaseAssigned).
func ExerciseCaseMove(t *testing.T, open Opener, afterRead AfterReadHook) {
	ctx := context.Background()

	// A case with drafts in every status and agenda entries of its worker
	// and of someone else: the assignment moves exactly the worker's drafts
	// still to be reviewed and open entries, each with its event, before
	// case.assigned; the queues, agendas, reminders and caseload follow.
	t.Run("DraftsAndAgendaFollowTheCase", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		clock := &Clock{}
		db.Now = clock.Now
		db.Policy = review.DefaultPolicy()
		// Summaries need a countersignature, so one can wait for it.
		db.Policy.CountersignKinds = []assistant.Kind{assistant.KindSummary}
		f := MustSeed(t, db)
		w2 := mustUser(t, db, countersign.RoleWorker, f.Team.ID)
		peer := mustUser(t, db, countersign.RoleWorker, f.Team.ID)
		wctx, sctx, w2ctx := As(ctx, f.Worker), As(ctx, f.Supervisor), As(ctx, w2)
		n0, n1, n2 := f.Notes[0], f.Notes[1], f.Notes[2]

		// Drafts over different notes, so that none supersedes another.
		pending := mustDraftOver(t, db, f, assistant.KindSummary, n0)
		awaiting := mustDraftOver(t, db, f, assistant.KindSummary, n1)
		so, err := SignOff(db, wctx, awaiting.ID, review.Approval{})
		ok(t, err)
		if so.Draft.Status != review.StatusAwaitingCountersign {
			t.Fatalf("signed summary is %s, want awaiting_countersign", so.Draft.Status)
		}
		approved := mustDraftOver(t, db, f, assistant.KindSummary, n2)
		_, err = SignOff(db, wctx, approved.ID, review.Approval{})
		ok(t, err)
		_, err = Countersign(db, sctx, approved.ID, review.Countersign{})
		ok(t, err)
		rejected := mustDraftOver(t, db, f, assistant.KindSummary, n0, n1)
		_, err = db.RejectDraft(wctx, rejected.ID, review.Rejection{Reason: "not_needed"})
		ok(t, err)
		peers := mustDraftOver(t, db, f, assistant.KindSummary, n0, n2)
		_, err = db.ReassignDraft(sctx, peers.ID, peer.ID)
		ok(t, err)
		failed := requestOver(t, db, f, f.Case, assistant.KindSummary, n1, n2)
		ok(t, (&review.Runner{Store: db, Drafter: failingDrafter{}, Owner: "test"}).Drain(ctx))
		generating := requestOver(t, db, f, f.Case, assistant.KindSummary)
		_, err = db.ClaimDraft(ctx, "test", time.Hour, generating.ID)
		ok(t, err)
		queued := requestOver(t, db, f, f.Case, assistant.KindSuggestions, n0)
		// Another case of the worker, with a draft and a date of its own.
		other := &casefile.Case{Reference: countersign.NewID("ref"), Title: "Budget"}
		ok(t, db.CreateCase(wctx, other))
		ok(t, db.AddNote(wctx, &casefile.Note{CaseID: other.ID, Body: "Visit at the office. She asked for help with a form."}))
		ok(t, db.RecordConsent(wctx, &casefile.Consent{CaseID: other.ID, Given: true}))
		otherDraft := requestOver(t, db, f, other, assistant.KindSummary)
		want := map[string]review.Status{pending.ID: review.StatusPendingReview, awaiting.ID: review.StatusAwaitingCountersign,
			approved.ID: review.StatusApproved, rejected.ID: review.StatusRejected, peers.ID: review.StatusPendingReview,
			failed.ID: review.StatusFailed, generating.ID: review.StatusGenerating, queued.ID: review.StatusQueued,
			otherDraft.ID: review.StatusQueued}
		for id, st := range want {
			if _, got := draftState(t, db, id); got != st {
				t.Fatalf("draft %s is %s before the assignment, want %s", id, got, st)
			}
		}

		day := func(n int) string { return clock.Now().AddDate(0, 0, n).Format(time.DateOnly) }
		entry := func(caseID string, in agenda.Input) *agenda.Entry {
			e, err := db.CreateEntry(wctx, caseID, in)
			ok(t, err)
			return e
		}
		overdue := entry(f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: day(-3), Title: "Appeal"})
		appt := entry(f.Case.ID, agenda.Input{Kind: agenda.KindAppointment, Date: day(3), Time: "10:00", Title: "Job centre"})
		closed := entry(f.Case.ID, agenda.Input{Kind: agenda.KindSoftDeadline, Date: day(4), Title: "Call back"})
		_, _, err = db.CloseEntry(wctx, closed.ID, agenda.Close{Outcome: agenda.OutcomeDone})
		ok(t, err)
		// An open entry someone else owns, as one left behind by an
		// assignment made before entries followed their case.
		peerEntry := entry(f.Case.ID, agenda.Input{Kind: agenda.KindAppointment, Date: day(3), Time: "11:00", Title: "Doctor"})
		_, err = db.Raw().Exec(db.Raw().Rebind(`UPDATE agenda_entries SET owner_id = ? WHERE id = ?`), peer.ID, peerEntry.ID)
		ok(t, err)
		otherEntry := entry(other.ID, agenda.Input{Kind: agenda.KindAppointment, Date: day(5), Time: "09:00", Title: "Office"})

		// A refused assignment moves nothing.
		_, err = db.AssignCase(sctx, f.Case.ID, caseload.Assignment{WorkerID: f.Other.ID})
		code(t, err, countersign.EINVALID)
		if r, _ := draftState(t, db, pending.ID); r != f.Worker.ID {
			t.Fatalf("a refused assignment moved a draft to %s", r)
		}

		_, err = db.Sequence(CLI())
		ok(t, err)
		before := caseEvents(t, db, f.Case.ID)
		c, err := db.AssignCase(sctx, f.Case.ID, caseload.Assignment{WorkerID: w2.ID})
		ok(t, err)
		if c.WorkerID != w2.ID {
			t.Fatalf("case worker = %s", c.WorkerID)
		}

		// Exactly the previous worker's drafts still to be reviewed moved.
		moved := []string{pending.ID, failed.ID, generating.ID, queued.ID}
		for id, st := range want {
			reviewer, status := draftState(t, db, id)
			wantReviewer := f.Worker.ID
			switch {
			case slices.Contains(moved, id):
				wantReviewer = w2.ID
			case id == peers.ID:
				wantReviewer = peer.ID
			}
			if reviewer != wantReviewer || status != st {
				t.Errorf("draft %s (%s): reviewer %s, want %s; status %s", id, st, reviewer, wantReviewer, status)
			}
		}
		owners := map[string]string{overdue.ID: w2.ID, appt.ID: w2.ID, closed.ID: f.Worker.ID, peerEntry.ID: peer.ID, otherEntry.ID: f.Worker.ID}
		for id, o := range owners {
			e, err := db.FindEntryByID(sctx, id)
			if id == otherEntry.ID {
				e, err = db.FindEntryByID(wctx, id)
			}
			ok(t, err)
			if e.OwnerID != o {
				t.Errorf("entry %s owned by %s, want %s", id, e.OwnerID, o)
			}
		}

		// One event per thing moved, ids and codes only, then case.assigned.
		_, err = db.Sequence(CLI())
		ok(t, err)
		after := caseEvents(t, db, f.Case.ID)[len(before):]
		if len(after) != len(moved)+2+1 {
			t.Fatalf("%d events for the assignment, want %d drafts, 2 entries and case.assigned: %v", len(after), len(moved), actions(after))
		}
		if last := after[len(after)-1]; last.Action != caseload.ActionCaseAssigned || last.Payload["to"] != w2.ID {
			t.Errorf("the last event is %s %v, want case.assigned", last.Action, last.Payload)
		}
		var gotDrafts, gotEntries []string
		codes := payloadCodes(db.Policy)
		for _, e := range after[:len(after)-1] {
			if e.ActorID != f.Supervisor.ID {
				t.Errorf("%s by %s, want the supervisor", e.Action, e.ActorID)
			}
			switch e.Action {
			case audit.ActionDraftReassigned:
				gotDrafts = append(gotDrafts, e.SubjectID)
				if e.Payload["from"] != f.Worker.ID || e.Payload["to"] != w2.ID || e.Payload["cause"] != review.CauseCaseAssigned || e.Payload["kind"] == "" {
					t.Errorf("draft.reassigned %v", e.Payload)
				}
			case agenda.ActionEntryUpdated:
				gotEntries = append(gotEntries, e.SubjectID)
				if e.Payload["changed"] != agenda.ChangedOwner || e.Payload["owner"] != w2.ID || e.Payload["from"] != f.Worker.ID ||
					e.Payload["cause"] != agenda.CauseCaseAssigned || e.Payload["sequence"] != "1" {
					t.Errorf("agenda.entry_updated %v", e.Payload)
				}
			default:
				t.Errorf("unexpected %s event", e.Action)
			}
			for field, value := range e.Payload {
				k, known := payloadKind(e.Action, field)
				if !known {
					t.Errorf("%s: payload field %q has no kind: classify it in storetest/payloads.go", e.Action, field)
					continue
				}
				if problem := checkPayloadValue(k, field, value, codesFor(codes, e.Action), nil); problem != "" {
					t.Errorf("%s: %s=%q is %s", e.Action, field, value, problem)
				}
			}
		}
		slices.Sort(gotDrafts)
		slices.Sort(moved)
		if !slices.Equal(gotDrafts, moved) {
			t.Errorf("draft.reassigned for %v, want %v", gotDrafts, moved)
		}
		wantEntries := []string{overdue.ID, appt.ID}
		slices.Sort(gotEntries)
		slices.Sort(wantEntries)
		if !slices.Equal(gotEntries, wantEntries) {
			t.Errorf("agenda.entry_updated for %v, want %v", gotEntries, wantEntries)
		}

		// The new worker's queue holds the pending draft, the previous
		// worker's does not; the previous worker can no longer sign it, the
		// new one can.
		q2, _, err := db.FindQueue(w2ctx, review.QueueFilter{})
		ok(t, err)
		if len(q2) != 1 || q2[0].ID != pending.ID {
			t.Errorf("the new worker's queue = %v, want the pending draft", draftIDs(q2))
		}
		q1, _, err := db.FindQueue(wctx, review.QueueFilter{})
		ok(t, err)
		if len(q1) != 0 {
			t.Errorf("the previous worker's queue = %v, want none", draftIDs(q1))
		}
		_, err = db.SignOffDraft(wctx, pending.ID, review.Approval{})
		code(t, err, countersign.EFORBIDDEN)
		_, err = SignOff(db, w2ctx, pending.ID, review.Approval{})
		ok(t, err)

		// Their agendas follow.
		a2, err := db.FindMyAgenda(w2ctx, "", "")
		ok(t, err)
		if got := agendaIDs(a2); !slices.Equal(got, []string{overdue.ID, appt.ID}) {
			t.Errorf("the new worker's agenda = %v, want the overdue deadline and the appointment", got)
		}
		a1, err := db.FindMyAgenda(wctx, "", "")
		ok(t, err)
		if got := agendaIDs(a1); !slices.Equal(got, []string{otherEntry.ID}) {
			t.Errorf("the previous worker's agenda = %v, want their other case's entry only", got)
		}

		// The caseload the store computes is the one the log replays.
		team := mustCaseloadAsReplayed(t, db, sctx, f.Team.ID, clock.Now().UTC().Add(time.Minute).Truncate(time.Microsecond))
		for _, fg := range team.Workers {
			if fg.WorkerID == w2.ID && fg.OverdueHard != 1 || fg.WorkerID == f.Worker.ID && fg.OverdueHard != 0 {
				t.Errorf("%s has %d overdue hard deadlines", fg.WorkerID, fg.OverdueHard)
			}
		}
		db.Now = clock.Now

		// The appointment's reminder, scheduled for the previous worker,
		// reaches the new one.
		clock.Advance(appt.DueAt.Add(-20 * time.Hour).Sub(clock.Now()))
		notes, err := db.DeliverReminders(ctx, 100)
		ok(t, err)
		to := map[string][]string{}
		for _, n := range notes {
			to[n.EntryID] = append(to[n.EntryID], n.UserID)
			if n.UserID == f.Worker.ID {
				t.Errorf("the previous worker was reminded of %s", n.EntryID)
			}
		}
		if !slices.Equal(to[appt.ID], []string{w2.ID}) || !slices.Equal(to[peerEntry.ID], []string{peer.ID}) {
			t.Errorf("reminders went to %v", to)
		}
	})

	// A sign-off by the previous worker and the assignment, at once: each
	// draft is either signed before the move (and stays, decided) or moved
	// first (and the sign-off is refused), never both and never neither.
	t.Run("ASignOffRacingTheMoveWinsOrIsRefused", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		for round := range 3 {
			f := MustSeed(t, db)
			w2 := mustUser(t, db, countersign.RoleWorker, f.Team.ID)
			var drafts []*review.Draft
			for _, n := range f.Notes {
				drafts = append(drafts, mustDraftOver(t, db, f, assistant.KindSummary, n))
			}
			start := make(chan struct{})
			errs := make([]error, len(drafts))
			var assignErr error
			var wg sync.WaitGroup
			for i, d := range drafts {
				wg.Go(func() {
					<-start
					_, errs[i] = db.SignOffDraft(As(ctx, f.Worker), d.ID, review.Approval{})
				})
			}
			wg.Go(func() {
				<-start
				_, assignErr = db.AssignCase(As(ctx, f.Supervisor), f.Case.ID, caseload.Assignment{WorkerID: w2.ID})
			})
			close(start)
			wg.Wait()
			ok(t, assignErr)
			for i, d := range drafts {
				signedFirst := errs[i] == nil && decisionCount(t, db, d.ID) == 1 && reassignedCount(t, db, d.ID) == 0
				movedFirst := countersign.ErrorCode(errs[i]) == countersign.EFORBIDDEN && decisionCount(t, db, d.ID) == 0 &&
					reassignedCount(t, db, d.ID) == 1
				reviewer, status := draftState(t, db, d.ID)
				if signedFirst && (reviewer != f.Worker.ID || status != review.StatusApproved) ||
					movedFirst && (reviewer != w2.ID || status != review.StatusPendingReview) || signedFirst == movedFirst {
					t.Errorf("round %d, draft %d: sign-off %v, %d decisions, %d moves, reviewer %s, %s", round, i, errs[i],
						decisionCount(t, db, d.ID), reassignedCount(t, db, d.ID), reviewer, status)
				}
			}
		}
	})

	// On PostgreSQL a sign-off reads the draft unlocked and writes in one
	// statement fenced on what it read: an assignment committed in between
	// makes the fence fail, and the sign-off, decided again in a
	// transaction, finds the draft moved and is refused. SQLite decides a
	// sign-off in its transaction only, so there the sign-off comes first.
	t.Run("AMoveBetweenASignOffsReadAndWrite", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		w2 := mustUser(t, db, countersign.RoleWorker, f.Team.ID)
		d := mustDraftOver(t, db, f, assistant.KindSummary)
		assign := func() {
			if _, err := db.AssignCase(As(ctx, f.Supervisor), f.Case.ID, caseload.Assignment{WorkerID: w2.ID}); err != nil {
				t.Error(err)
			}
		}
		ran := false
		undo := afterRead(d.ID, func() { ran = true; assign() })
		_, err := db.SignOffDraft(As(ctx, f.Worker), d.ID, review.Approval{})
		undo()
		if ran != (db.Dialect() == "postgres") {
			t.Fatalf("on %s the sign-off's unlocked read ran: %v", db.Dialect(), ran)
		}
		if !ran {
			ok(t, err)
			assign()
		}
		reviewer, status := draftState(t, db, d.ID)
		switch {
		case ran && (countersign.ErrorCode(err) != countersign.EFORBIDDEN || decisionCount(t, db, d.ID) != 0 ||
			reassignedCount(t, db, d.ID) != 1 || reviewer != w2.ID || status != review.StatusPendingReview):
			t.Errorf("moved between read and write: sign-off %v, %d decisions, %d moves, reviewer %s, %s",
				err, decisionCount(t, db, d.ID), reassignedCount(t, db, d.ID), reviewer, status)
		case !ran && (decisionCount(t, db, d.ID) != 1 || reassignedCount(t, db, d.ID) != 0 || reviewer != f.Worker.ID ||
			status != review.StatusApproved):
			t.Errorf("signed before the move: %d decisions, %d moves, reviewer %s, %s",
				decisionCount(t, db, d.ID), reassignedCount(t, db, d.ID), reviewer, status)
		}
	})
}

// requestOver requests a draft of kind over notes (all of the case's when
// none) in case c as the fixture's worker, and leaves it queued.
func requestOver(t testing.TB, db *sqlstore.DB, f *Fixture, c *casefile.Case, kind assistant.Kind, notes ...*casefile.Note) *review.Draft {
	t.Helper()
	var noteIDs []string
	for _, n := range notes {
		noteIDs = append(noteIDs, n.ID)
	}
	d, err := db.RequestDraft(As(context.Background(), f.Worker), review.DraftRequest{CaseID: c.ID, Kind: kind, NoteIDs: noteIDs,
		IdempotencyKey: countersign.NewID("k")})
	ok(t, err)
	return d
}

// mustDraftOver is MustDraft over the notes given: drafts of one kind over
// different notes do not supersede one another.
func mustDraftOver(t testing.TB, db *sqlstore.DB, f *Fixture, kind assistant.Kind, notes ...*casefile.Note) *review.Draft {
	t.Helper()
	d := requestOver(t, db, f, f.Case, kind, notes...)
	ok(t, (&review.Runner{Store: db, Drafter: drafter, Owner: "test"}).Drain(context.Background()))
	d, err := db.OpenDraft(As(context.Background(), f.Worker), d.ID)
	ok(t, err)
	if d.Status != review.StatusPendingReview {
		t.Fatalf("draft is %s (%s), want pending_review", d.Status, d.FailureReason)
	}
	return d
}

// draftState returns a draft's reviewer and status as stored.
func draftState(t testing.TB, db *sqlstore.DB, id string) (string, review.Status) {
	t.Helper()
	var r struct {
		Reviewer string `db:"reviewer_id"`
		Status   string `db:"status"`
	}
	ok(t, db.Raw().Get(&r, db.Raw().Rebind(`SELECT reviewer_id, status FROM drafts WHERE id = ?`), id))
	return r.Reviewer, review.Status(r.Status)
}

func decisionCount(t testing.TB, db *sqlstore.DB, draftID string) int {
	t.Helper()
	var n int
	ok(t, db.Raw().Get(&n, db.Raw().Rebind(`SELECT COUNT(*) FROM decisions WHERE draft_id = ?`), draftID))
	return n
}

// reassignedCount counts a draft's draft.reassigned events, pending or sequenced.
func reassignedCount(t testing.TB, db *sqlstore.DB, draftID string) int {
	t.Helper()
	var n int
	ok(t, db.Raw().Get(&n, db.Raw().Rebind(`SELECT (SELECT COUNT(*) FROM audit_pending WHERE subject_id = ? AND action = ?) +
		(SELECT COUNT(*) FROM audit_event WHERE subject_id = ? AND action = ?)`),
		draftID, audit.ActionDraftReassigned, draftID, audit.ActionDraftReassigned))
	return n
}

// caseEvents returns the sequenced events of a case, in order.
func caseEvents(t testing.TB, db *sqlstore.DB, caseID string) []*audit.Event {
	t.Helper()
	evs, err := db.FindEvents(CLI(), audit.EventFilter{CaseID: &caseID, Limit: 1000})
	ok(t, err)
	return evs
}

// draftIDs lists the drafts' ids.
func draftIDs(ds []*review.Draft) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// agendaIDs lists an agenda's entries, overdue first, then today's and
// those to come.
func agendaIDs(a *agenda.Agenda) []string {
	var out []string
	for _, l := range [][]*agenda.Entry{a.Overdue, a.Today, a.Upcoming} {
		for _, e := range l {
			out = append(out, e.ID)
		}
	}
	return out
}
