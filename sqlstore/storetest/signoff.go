package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// exerciseSignOff checks the rules of issue 12 as the store applies them:
// sign what you saw, no actor no access, and corrections under the same
// policy as first sign-offs.
func exerciseSignOff(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := CLI()

	t.Run("ApprovalNeedsTheSignersOwnOpening", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx, sctx := As(ctx, f.Worker), As(ctx, f.Supervisor)
		// A draft nobody opened: neither its reviewer nor a supervisor may sign it.
		dr, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		ok(t, err)
		ok(t, (&review.Runner{Store: db, Drafter: drafter, Owner: "t"}).Drain(ctx))
		before := eventCount(t, db)
		for _, c := range []context.Context{wctx, sctx} {
			_, err = db.SignOffDraft(c, dr.ID, review.Approval{})
			refused(t, db, before, err, countersign.ECONFLICT)
			if !strings.Contains(countersign.ErrorMessage(err), "Open the draft") {
				t.Fatalf("message: %q", countersign.ErrorMessage(err))
			}
		}
		// The worker opening it does not let the supervisor sign it unseen.
		_, err = db.OpenDraft(wctx, dr.ID)
		ok(t, err)
		before = eventCount(t, db)
		_, err = db.SignOffDraft(sctx, dr.ID, review.Approval{})
		refused(t, db, before, err, countersign.ECONFLICT)
		// Opening by the supervisor records their own opening, once.
		_, err = db.OpenDraft(sctx, dr.ID)
		ok(t, err)
		_, err = db.OpenDraft(sctx, dr.ID)
		ok(t, err)
		if n := actionCount(t, db, audit.ActionDraftOpened, "stage", string(review.StatusPendingReview)); n != 2 {
			t.Fatalf("%d openings logged, want 2 (worker and supervisor, once each)", n)
		}
		so, err := db.SignOffDraft(sctx, dr.ID, review.Approval{})
		ok(t, err)
		if so.Entry == nil || so.Entry.SignedBy != f.Supervisor.ID {
			t.Fatalf("entry: %+v", so.Entry)
		}
	})

	t.Run("ApprovalOnAStaleVersionIsRefused", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		w2 := mustUser(t, db, countersign.RoleWorker, f.Team.ID)
		wctx, sctx, w2ctx := As(ctx, f.Worker), As(ctx, f.Supervisor), As(ctx, w2)
		d := MustDraft(t, db, f, assistant.KindSummary)
		seen := review.DraftETag(d)
		// Another opening does not change the version…
		_, err := db.OpenDraft(sctx, d.ID)
		ok(t, err)
		again, err := db.FindDraftByID(wctx, d.ID)
		ok(t, err)
		if review.DraftETag(again) != seen {
			t.Fatal("an opening changed the draft's ETag")
		}
		// …a reassignment does: the new reviewer's approval with the
		// version read before it is refused, with the current one accepted.
		_, err = db.ReassignDraft(sctx, d.ID, w2.ID)
		ok(t, err)
		cur, err := db.OpenDraft(w2ctx, d.ID)
		ok(t, err)
		if review.DraftETag(cur) == seen {
			t.Fatal("reassigning kept the ETag")
		}
		before := eventCount(t, db)
		_, err = db.SignOffDraft(w2ctx, d.ID, review.Approval{IfMatch: seen})
		refused(t, db, before, err, countersign.EPRECONDITION)
		_, err = db.SignOffDraft(w2ctx, d.ID, review.Approval{IfMatch: review.DraftETag(cur)})
		ok(t, err)
	})

	t.Run("CountersignatureNeedsAnOpeningAfterTheApproval", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		db.Policy = review.DefaultPolicy()
		db.Policy.CountersignKinds = []assistant.Kind{assistant.KindSummary}
		f := MustSeed(t, db)
		wctx, sctx := As(ctx, f.Worker), As(ctx, f.Supervisor)
		d := MustDraft(t, db, f, assistant.KindSummary)
		// The supervisor looked while the draft was pending, before the
		// worker's edit: that is not what they would countersign.
		_, err := db.OpenDraft(sctx, d.ID)
		ok(t, err)
		so, err := db.SignOffDraft(wctx, d.ID, review.Approval{Content: "Edited by the worker after the supervisor looked."})
		ok(t, err)
		if so.Entry != nil || so.Draft.Status != review.StatusAwaitingCountersign {
			t.Fatalf("draft %s, entry %+v: want awaiting countersign", so.Draft.Status, so.Entry)
		}
		before := eventCount(t, db)
		_, err = db.CountersignDraft(sctx, d.ID, review.Countersign{})
		refused(t, db, before, err, countersign.ECONFLICT)
		cur, err := db.OpenDraft(sctx, d.ID)
		ok(t, err)
		e, err := db.CountersignDraft(sctx, d.ID, review.Countersign{IfMatch: review.DraftETag(cur)})
		ok(t, err)
		if e.CountersignedBy != f.Supervisor.ID || e.Content != "Edited by the worker after the supervisor looked." {
			t.Fatalf("entry: %+v", e)
		}
	})

	t.Run("NoActorNoAccess", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d := MustDraft(t, db, f, assistant.KindSummary)
		e, err := Approve(db, As(ctx, f.Worker), d.ID, review.Approval{})
		ok(t, err)
		bare := context.Background()
		before := eventCount(t, db)
		calls := map[string]func() error{
			"FindCaseByID": func() error { _, err := db.FindCaseByID(bare, f.Case.ID); return err },
			"FindCases":    func() error { _, _, err := db.FindCases(bare, casefile.CaseFilter{}); return err },
			"FindNotes":    func() error { _, err := db.FindNotes(bare, f.Case.ID); return err },
			"FindParties":  func() error { _, err := db.FindParties(bare, f.Case.ID); return err },
			"FindConsent":  func() error { _, err := db.FindConsent(bare, f.Case.ID); return err },
			"AddNote": func() error {
				return db.AddNote(bare, &casefile.Note{CaseID: f.Case.ID, Body: "Written by nobody."})
			},
			"AddParty": func() error {
				return db.AddParty(bare, &casefile.Party{CaseID: f.Case.ID, Role: "client", FullName: "Nobody"})
			},
			"CreateCase": func() error { return db.CreateCase(bare, &casefile.Case{Reference: "X-1", WorkerID: f.Worker.ID}) },
			"RequestDraft": func() error {
				_, err := db.RequestDraft(bare, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
				return err
			},
			"FindDraftByID": func() error { _, err := db.FindDraftByID(bare, d.ID); return err },
			"OpenDraft":     func() error { _, err := db.OpenDraft(bare, d.ID); return err },
			"FindQueue":     func() error { _, _, err := db.FindQueue(bare, review.QueueFilter{}); return err },
			"SignOffDraft":  func() error { _, err := db.SignOffDraft(bare, d.ID, review.Approval{}); return err },
			"RejectDraft":   func() error { _, err := db.RejectDraft(bare, d.ID, review.Rejection{Reason: "other"}); return err },
			"CountersignDraft": func() error {
				_, err := db.CountersignDraft(bare, d.ID, review.Countersign{})
				return err
			},
			"ReassignDraft": func() error { _, err := db.ReassignDraft(bare, d.ID, f.Worker.ID); return err },
			"FindRecord":    func() error { _, err := db.FindRecord(bare, f.Case.ID); return err },
			"CorrectEntry": func() error {
				_, err := db.CorrectEntry(bare, f.Case.ID, e.ID, review.Correction{Content: "x", Reason: "y"})
				return err
			},
			"CountersignCorrection": func() error { _, err := db.CountersignCorrection(bare, f.Case.ID, e.ID, ""); return err },
			"CreateToken":           func() error { _, _, err := db.CreateToken(bare, f.Worker.ID, "t", nil); return err },
			"RevokeToken":           func() error { return db.RevokeToken(bare, "tok_x") },
			"FindTeamWorkers":       func() error { _, err := db.FindTeamWorkers(bare, f.Team.ID); return err },
			"FindEvents":            func() error { _, err := db.FindEvents(bare, audit.EventFilter{}); return err },
			"FindEventBySeq":        func() error { _, err := db.FindEventBySeq(bare, 0); return err },
			"AuditStats":            func() error { _, err := db.AuditStats(bare, audit.StatsOptions{}); return err },
		}
		for name, call := range calls {
			if err := call(); countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
				t.Errorf("%s without an actor: %v, want EUNAUTHORIZED", name, err)
			}
		}
		if after := eventCount(t, db); after != before {
			t.Fatalf("calls without an actor wrote %d audit events", after-before)
		}
	})

	t.Run("OnlyAdministratorsManageTeamsUsersAndTokens", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		before := eventCount(t, db)
		for _, u := range []*identity.User{f.Worker, f.Supervisor, f.Ethics} {
			c := As(ctx, u)
			code(t, db.CreateTeam(c, &identity.Team{Name: "Team of " + u.ID}), countersign.EFORBIDDEN)
			code(t, db.CreateUser(c, &identity.User{Name: "N", Email: u.ID + "@x.org", Role: countersign.RoleEthics}), countersign.EFORBIDDEN)
			_, _, err := db.CreateToken(c, u.ID, "mine", nil)
			code(t, err, countersign.EFORBIDDEN)
		}
		if after := eventCount(t, db); after != before {
			t.Fatalf("refused identity changes wrote %d events", after-before)
		}
		_, _, err := db.CreateToken(As(ctx, f.Admin), f.Worker.ID, "by the admin", nil)
		ok(t, err)
	})

	t.Run("CorrectionOfACountersignedEntryNeedsACountersignatureAgain", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		db.Policy = review.DefaultPolicy()
		db.Policy.CountersignKinds = []assistant.Kind{assistant.KindSummary}
		f := MustSeed(t, db)
		sup2 := mustUser(t, db, countersign.RoleSupervisor, f.Team.ID)
		wctx, sctx, s2ctx := As(ctx, f.Worker), As(ctx, f.Supervisor), As(ctx, sup2)
		d := MustDraft(t, db, f, assistant.KindSummary)
		_, err := SignOff(db, wctx, d.ID, review.Approval{})
		ok(t, err)
		e1, err := Countersign(db, sctx, d.ID, review.Countersign{})
		ok(t, err)

		// The worker's correction waits; the signed entry stays in force.
		p, err := db.CorrectEntry(wctx, f.Case.ID, e1.ID, review.Correction{Content: "Corrected by the worker alone.", Reason: "Date."})
		ok(t, err)
		if !p.Pending || p.Supersedes != e1.ID || p.CountersignedBy != "" {
			t.Fatalf("correction: %+v, want pending", p)
		}
		rec, err := db.FindRecord(wctx, f.Case.ID)
		ok(t, err)
		if len(rec) != 2 || rec[0].ID != e1.ID || rec[0].SupersededBy != "" || rec[0].PendingCorrection != p.ID || !rec[1].Pending {
			t.Fatalf("record with a pending correction: %+v", rec)
		}
		if actionCount(t, db, audit.ActionRecordCorrectionPending, "supersedes", e1.ID) != 1 {
			t.Fatal("pending correction not audited")
		}
		before := eventCount(t, db)
		// No second correction while one waits; the worker cannot sign it.
		_, err = db.CorrectEntry(sctx, f.Case.ID, e1.ID, review.Correction{Content: "Another.", Reason: "x"})
		refused(t, db, before, err, countersign.ECONFLICT)
		_, err = db.CountersignCorrection(wctx, f.Case.ID, p.ID, "")
		refused(t, db, before, err, countersign.EFORBIDDEN)

		// A supervisor's own correction needs another supervisor.
		_, err = db.RefuseCorrection(sctx, f.Case.ID, p.ID, "The date was right.")
		ok(t, err)
		p2, err := db.CorrectEntry(sctx, f.Case.ID, e1.ID, review.Correction{Content: "Corrected by the supervisor.", Reason: "Date."})
		ok(t, err)
		before = eventCount(t, db)
		_, err = db.CountersignCorrection(sctx, f.Case.ID, p2.ID, "")
		refused(t, db, before, err, countersign.EFORBIDDEN)
		e2, err := db.CountersignCorrection(s2ctx, f.Case.ID, p2.ID, "Checked.")
		ok(t, err)
		if e2.Pending || e2.SignedBy != f.Supervisor.ID || e2.CountersignedBy != sup2.ID || e2.Supersedes != e1.ID {
			t.Fatalf("countersigned correction: %+v", e2)
		}
		rec, err = db.FindRecord(wctx, f.Case.ID)
		ok(t, err)
		if len(rec) != 2 || rec[0].SupersededBy != e2.ID || rec[0].PendingCorrection != "" || rec[1].ID != e2.ID || rec[1].Pending {
			t.Fatalf("record after the countersignature: %+v", rec)
		}
		before = eventCount(t, db)
		_, err = db.CountersignCorrection(s2ctx, f.Case.ID, p2.ID, "")
		refused(t, db, before, err, countersign.ECONFLICT)
	})

	t.Run("CorrectionAddingHighStakesStatementsMustConfirmThem", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		db.Policy = review.DefaultPolicy()
		db.Policy.CountersignOnRisk = true
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		d := MustDraft(t, db, f, assistant.KindSummary)
		e1, err := Approve(db, wctx, d.ID, review.Approval{})
		ok(t, err)
		text := e1.Content + "\nThe child told the teacher there is violence at home."
		before := eventCount(t, db)
		_, err = db.CorrectEntry(wctx, f.Case.ID, e1.ID, review.Correction{Content: text, Reason: "Missing."})
		refused(t, db, before, err, countersign.EINVALID)
		if !hasField(err, "confirm_high_stakes") || !strings.Contains(countersign.ErrorFields(err)[0].Message, "violence at home") {
			t.Fatalf("fields: %+v", countersign.ErrorFields(err))
		}
		// Confirmed, it waits for a countersignature: the policy countersigns risks.
		p, err := db.CorrectEntry(wctx, f.Case.ID, e1.ID, review.Correction{Content: text, Reason: "Missing.", ConfirmHighStakes: true})
		ok(t, err)
		if !p.Pending {
			t.Fatalf("a correction adding a risk was signed alone: %+v", p)
		}
		// A correction that adds nothing high-stakes is signed at once.
		e2, err := Approve(db, wctx, MustDraft(t, db, f, assistant.KindSummary).ID, review.Approval{})
		ok(t, err)
		plain, err := db.CorrectEntry(wctx, f.Case.ID, e2.ID, review.Correction{Content: e2.Content + "\nShe prefers morning visits.", Reason: "Added."})
		ok(t, err)
		if plain.Pending {
			t.Fatalf("a plain correction waits: %+v", plain)
		}
	})
}
