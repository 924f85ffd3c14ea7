package storetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// retentionPolicy returns a policy whose retention: section is raw.
func retentionPolicy(t testing.TB, raw map[string]any) *review.Policy {
	t.Helper()
	p := review.DefaultPolicy()
	rp, field, err := casefile.ParseRetention(raw, p.CaseTypes)
	if err != nil {
		t.Fatalf("retention %s: %v", field, err)
	}
	p.Retention = rp
	return p
}

// MustEraseOnRequest closes f's case as its supervisor, files an erasure
// request as f.Admin and confirms it as a second admin, and returns the
// erasure.
func MustEraseOnRequest(t testing.TB, db *sqlstore.DB, f *Fixture) *casefile.Erasure {
	t.Helper()
	_, err := db.CloseCase(As(CLI(), f.Supervisor), f.Case.ID, "goals_met")
	ok(t, err)
	r, err := db.RequestErasure(As(CLI(), f.Admin), f.Case.ID, "", "data_subject_request")
	ok(t, err)
	second := mustUser(t, db, countersign.RoleAdmin, "")
	e, err := db.ConfirmErasure(As(CLI(), second), r.ID)
	ok(t, err)
	return e
}

func exerciseRetention(t *testing.T, open func(t testing.TB) *sqlstore.DB, dsn func(t testing.TB) string) {
	t.Run("ClosingACaseSupersedesItsOpenDrafts", func(t *testing.T) { t.Parallel(); exerciseCloseDrafts(t, open) })
	t.Run("OnlyTheSupervisorClosesAndAClosedCaseTakesNothing", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx, sctx := As(CLI(), f.Worker), As(CLI(), f.Supervisor)
		_, err := db.CloseCase(wctx, f.Case.ID, "goals_met")
		code(t, err, countersign.EFORBIDDEN)
		_, err = db.CloseCase(As(CLI(), f.OtherSupervisor), f.Case.ID, "goals_met")
		code(t, err, countersign.EFORBIDDEN)
		before := eventCount(t, db)
		_, err = db.CloseCase(sctx, f.Case.ID, "because")
		code(t, err, countersign.EINVALID)
		if fe := countersign.ErrorFields(err); len(fe) != 1 || fe[0].Field != "reason_code" {
			t.Fatalf("fields %+v, want reason_code", fe)
		}
		if eventCount(t, db) != before {
			t.Fatal("a refused closure wrote an event")
		}
		c, err := db.CloseCase(sctx, f.Case.ID, "goals_met")
		ok(t, err)
		if c.Status != casefile.StatusClosed || c.ClosedAt == nil || c.CloseReason != "goals_met" {
			t.Fatalf("closed case %+v", c)
		}
		got, err := db.FindCaseByID(wctx, f.Case.ID)
		ok(t, err)
		if got.Status != casefile.StatusClosed || got.ClosedAt == nil {
			t.Fatalf("the case reads %+v after closure", got)
		}
		err = db.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "One more visit."})
		code(t, err, countersign.ECONFLICT)
		if !strings.HasPrefix(countersign.ErrorMessage(err), "This case is closed") {
			t.Fatalf("message %q", countersign.ErrorMessage(err))
		}
		err = db.AddNote(sctx, &casefile.Note{CaseID: f.Case.ID, Body: "One more visit."})
		code(t, err, countersign.ECONFLICT)
		_, err = db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		code(t, err, countersign.ECONFLICT)
		_, err = db.CloseCase(sctx, f.Case.ID, "goals_met")
		code(t, err, countersign.ECONFLICT)
		_, err = db.ReopenCase(wctx, f.Case.ID)
		code(t, err, countersign.EFORBIDDEN)
		c, err = db.ReopenCase(sctx, f.Case.ID)
		ok(t, err)
		if c.Status != casefile.StatusOpen || c.ClosedAt != nil {
			t.Fatalf("reopened case %+v", c)
		}
		ok(t, db.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "One more visit."}))
		if n := actionCount(t, db, casefile.ActionCaseClosed, "reason", "goals_met"); n != 1 {
			t.Fatalf("%d case.closed events, want 1", n)
		}
		if n := actionCount(t, db, casefile.ActionCaseReopened); n != 1 {
			t.Fatalf("%d case.reopened events, want 1", n)
		}
	})

	t.Run("NoNoteLandsInACaseClosedMeanwhileOnAnotherReplica", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db1, db2 := MustOpen(t, d), MustOpen(t, d)
		f := MustSeed(t, db1)
		wctx := As(CLI(), f.Worker)
		// Writers on both handles add notes until the case refuses them;
		// every third amends a note, which takes the general path on
		// PostgreSQL too (a plain note takes the one-statement path).
		const writers = 6
		var wg sync.WaitGroup
		var mu sync.Mutex
		started := make(chan struct{}, writers)
		added := map[string]bool{}
		for i := range writers {
			db := []*sqlstore.DB{db1, db2}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < 200; n++ {
					note := &casefile.Note{CaseID: f.Case.ID, Body: fmt.Sprintf("Visit %d of writer %d.", n, i)}
					if i%3 == 2 {
						note.Amends = f.Notes[0].ID
					}
					err := db.AddNote(wctx, note)
					if n == 0 {
						started <- struct{}{}
					}
					if err != nil {
						if countersign.ErrorCode(err) != countersign.ECONFLICT || !strings.HasPrefix(countersign.ErrorMessage(err), "This case is closed") {
							t.Errorf("writer %d: %v, want the closed case's conflict", i, err)
						}
						return
					}
					mu.Lock()
					added[note.ID] = true
					mu.Unlock()
				}
			}()
		}
		for range writers {
			<-started
		}
		c, err := db2.CloseCase(As(CLI(), f.Supervisor), f.Case.ID, "goals_met")
		ok(t, err)
		wg.Wait()
		// The closure counted the notes under its lock: a note that read the
		// case open and committed after it would make the case hold more.
		closed := lastEvent(t, events(t, db1, f.Case.ID), casefile.ActionCaseClosed)
		notes, err := db1.FindNotes(As(CLI(), f.Supervisor), f.Case.ID)
		ok(t, err)
		if want := fmt.Sprint(len(notes)); closed.Payload["notes"] != want {
			t.Fatalf("the closure counted %s notes, the closed case holds %s", closed.Payload["notes"], want)
		}
		if len(notes) != len(f.Notes)+len(added) || len(added) < writers {
			t.Fatalf("the case holds %d notes, %d seeded and %d added", len(notes), len(f.Notes), len(added))
		}
		for _, n := range notes {
			if n.CreatedAt.After(*c.ClosedAt) {
				t.Errorf("note %s is dated %s, after the closure at %s", n.ID, n.CreatedAt, *c.ClosedAt)
			}
		}
	})

	t.Run("EveryPathThatAddsToTheCaseRefusesItClosed", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx, sctx := As(CLI(), f.Worker), As(CLI(), f.Supervisor)
		entry := MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingShared, "")
		failed := MustFailedDraft(t, db, f, assistant.KindSummary)
		waiting := MustDraft(t, db, f, assistant.KindSummary)
		visit, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindAppointment,
			Date: time.Now().AddDate(0, 0, 7).Format(time.DateOnly), Title: "Home visit"})
		ok(t, err)
		cctx := client.NewContext(context.Background(), MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName))
		_, err = db.CloseCase(sctx, f.Case.ID, "goals_met")
		ok(t, err)
		before := eventCount(t, db)
		title := "Visit moved"
		for _, p := range []struct {
			name string
			add  func() error
		}{
			{"note", func() error { return db.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "One more visit."}) }},
			{"amending note", func() error {
				return db.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "Corrected visit.", Amends: f.Notes[0].ID})
			}},
			{"party", func() error {
				return db.AddParty(wctx, &casefile.Party{CaseID: f.Case.ID, Role: "relative", FullName: "Paul Dubois"})
			}},
			{"consent", func() error { return db.RecordConsent(wctx, &casefile.Consent{CaseID: f.Case.ID, Given: true}) }},
			{"draft", func() error {
				_, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
				return err
			}},
			{"draft retry", func() error { _, err := db.RetryDraft(wctx, failed.ID); return err }},
			{"draft retry by the supervisor", func() error { _, err := db.RetryDraft(sctx, failed.ID); return err }},
			{"agenda entry", func() error {
				_, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindAppointment,
					Date: time.Now().AddDate(0, 0, 8).Format(time.DateOnly), Title: "Another visit"})
				return err
			}},
			{"agenda change", func() error { _, err := db.UpdateEntry(wctx, visit.ID, agenda.Update{Title: &title}); return err }},
			{"correction", func() error {
				_, err := db.CorrectEntry(wctx, f.Case.ID, entry.ID, review.Correction{Content: "Corrected summary.", Reason: "Wrong month."})
				return err
			}},
			{"client response", func() error {
				_, err := db.Respond(cctx, entry.ID, client.ResponseOwnView, "I see it differently.")
				return err
			}},
			{"invitation", func() error { _, _, err := db.CreateInvitation(wctx, f.Case.ID, f.Client.ID); return err }},
			// Opened by MustDraft: the decision alone (reading the closed case's draft again is a read, logged).
			// The closure superseded the draft (ClosingACaseSupersedesItsOpenDrafts); the closed case is
			// what a decision checks first, so its reviewer hears that, not the draft's status.
			{"sign-off by the draft's reviewer", func() error { _, err := db.SignOffDraft(wctx, waiting.ID, readAll(waiting)); return err }},
		} {
			err := p.add()
			if countersign.ErrorCode(err) != countersign.ECONFLICT || !strings.HasPrefix(countersign.ErrorMessage(err), "This case is closed") {
				t.Errorf("%s in a closed case: %v, want the closed case's conflict", p.name, err)
			}
		}
		if n := eventCount(t, db); n != before {
			t.Fatalf("refused additions wrote %d events", n-before)
		}
	})

	t.Run("ErasureNeedsTwoAdminsAndNoHold", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		sctx, actx := As(CLI(), f.Supervisor), As(CLI(), f.Admin)
		second := mustUser(t, db, countersign.RoleAdmin, "")
		_, err := db.RequestErasure(actx, f.Case.ID, "", "data_subject_request")
		code(t, err, countersign.ECONFLICT) // still open
		_, err = db.CloseCase(sctx, f.Case.ID, "client_moved")
		ok(t, err)
		_, err = db.RequestErasure(sctx, f.Case.ID, "", "data_subject_request")
		code(t, err, countersign.EFORBIDDEN)
		_, err = db.RequestErasure(actx, f.Case.ID, "", "whim")
		code(t, err, countersign.EINVALID)
		_, err = db.SetHold(As(CLI(), f.Worker), f.Case.ID, "litigation")
		code(t, err, countersign.EFORBIDDEN)
		h, err := db.SetHold(sctx, f.Case.ID, "litigation")
		ok(t, err)
		_, err = db.RequestErasure(actx, f.Case.ID, "", "data_subject_request")
		code(t, err, countersign.ECONFLICT)
		if !strings.Contains(countersign.ErrorMessage(err), "legal hold") {
			t.Fatalf("message %q", countersign.ErrorMessage(err))
		}
		_, err = db.LiftHold(actx, f.Case.ID, h.ID, "resolved")
		ok(t, err)
		hs, err := db.FindHolds(actx, f.Case.ID)
		ok(t, err)
		if len(hs) != 1 || hs[0].Active() || hs[0].LiftReason != "resolved" {
			t.Fatalf("holds %+v", hs)
		}
		r, err := db.RequestErasure(actx, f.Case.ID, "", "data_subject_request")
		ok(t, err)
		_, err = db.RequestErasure(As(CLI(), second), f.Case.ID, "", "data_subject_request")
		code(t, err, countersign.ECONFLICT) // one pending request at a time
		_, err = db.ConfirmErasure(actx, r.ID)
		code(t, err, countersign.EFORBIDDEN)
		if !strings.Contains(countersign.ErrorMessage(err), "second admin") {
			t.Fatalf("message %q", countersign.ErrorMessage(err))
		}
		// A hold set after the request stops the confirmation.
		h2, err := db.SetHold(actx, f.Case.ID, "complaint")
		ok(t, err)
		_, err = db.ConfirmErasure(As(CLI(), second), r.ID)
		code(t, err, countersign.ECONFLICT)
		_, err = db.LiftHold(sctx, f.Case.ID, h2.ID, "resolved")
		ok(t, err)
		e, err := db.ConfirmErasure(As(CLI(), second), r.ID)
		ok(t, err)
		if e.Rule != casefile.RuleRequest || e.Counts["notes"] != 3 || e.Counts["parties"] != 1 || e.Counts["consents"] != 1 {
			t.Fatalf("erasure %+v", e)
		}
		_, err = db.ConfirmErasure(As(CLI(), second), r.ID)
		code(t, err, countersign.ECONFLICT)
		if n := actionCount(t, db, casefile.ActionCaseErased, "rule", "request", "notes", "3", "policy_version", e.PolicyVersion); n != 1 {
			t.Fatalf("%d case.erased events with rule, counts and policy version, want 1", n)
		}
		// The erased case answers as a tombstone and takes nothing.
		c, err := db.FindCaseByID(sctx, f.Case.ID)
		ok(t, err)
		if c.Status != casefile.StatusErased || c.Title != "" || c.ErasedAt == nil {
			t.Fatalf("erased case reads %+v", c)
		}
		ts, err := db.FindTombstone(As(CLI(), f.Ethics), f.Case.ID)
		ok(t, err)
		if ts.Reference != f.Case.Reference || ts.Rule != casefile.RuleRequest || ts.ClosedAt == nil || ts.PolicyVersion == "" {
			t.Fatalf("tombstone %+v", ts)
		}
		notes, err := db.FindNotes(sctx, f.Case.ID)
		ok(t, err)
		for _, n := range notes {
			if n.Body != "" {
				t.Fatalf("note %s still reads %q", n.ID, n.Body)
			}
		}
		code(t, db.AddNote(sctx, &casefile.Note{CaseID: f.Case.ID, Body: "x"}), countersign.ECONFLICT)
		_, err = db.ReopenCase(sctx, f.Case.ID)
		code(t, err, countersign.ECONFLICT)
		_, err = db.SetHold(sctx, f.Case.ID, "litigation")
		code(t, err, countersign.ECONFLICT)
		es, err := db.FindErasures(As(CLI(), f.Ethics), casefile.ErasureFilter{CaseID: &f.Case.ID})
		ok(t, err)
		if len(es) != 1 || es[0].ID != e.ID {
			t.Fatalf("erasures %+v", es)
		}
		board, err := db.RetentionBoard(As(CLI(), f.Ethics))
		ok(t, err)
		month := e.ErasedAt.Format("2006-01")
		want := map[string]int{"erasure/request": 1, "hold/set": 2, "hold/lifted": 2}
		for _, row := range board {
			if row.Month == month {
				want[row.Kind+"/"+row.Rule] -= row.Count
			}
		}
		for k, n := range want {
			if n != 0 {
				t.Errorf("board %s off by %d: %+v", k, n, board)
			}
		}
		_, err = db.RetentionBoard(sctx)
		code(t, err, countersign.EFORBIDDEN)
	})

	t.Run("TheCaseDataCheckAcceptsExactlyWhatAnErasureCovers", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		w := MustCaseDataWorld(t, db)
		other := MustSeed(t, db)
		MustEraseOnRequest(t, db, w.F)
		rep, fs := MustCheckCaseData(t, db)
		if !rep.OK() {
			t.Fatalf("after an erasure the case data check found %+v", fs)
		}
		var body string
		ok(t, db.Raw().Get(&body, db.Raw().Rebind(`SELECT body FROM notes WHERE id = ?`), w.F.Notes[0].ID))
		if body != "" {
			t.Fatalf("an erased note's body is %q", body)
		}
		// A missing text no erasure covers is still a finding; so is text
		// left behind in an erased case.
		asAttacker(t, db, []string{"notes"},
			fmt.Sprintf(`UPDATE notes SET body = '', salt = '' WHERE id = '%s'`, other.Notes[0].ID),
			fmt.Sprintf(`UPDATE notes SET body = 'Put back.' WHERE id = '%s'`, w.F.Notes[1].ID))
		_, fs = MustCheckCaseData(t, db)
		found := map[string]bool{}
		for _, f := range fs {
			found[f.Table+" "+f.ID] = true
		}
		if len(fs) != 2 || !found["notes "+other.Notes[0].ID] || !found["notes "+w.F.Notes[1].ID] {
			t.Fatalf("findings %+v, want the blanked note of the other case and the refilled erased note", fs)
		}
	})

	t.Run("ThePolicysMinimumRefusesAnEarlyRequest", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		db.Policy = retentionPolicy(t, map[string]any{"general": "10y", "minimum": map[string]any{"general": "2y"}})
		f := MustSeed(t, db)
		_, err := db.CloseCase(As(CLI(), f.Supervisor), f.Case.ID, "goals_met")
		ok(t, err)
		_, err = db.RequestErasure(As(CLI(), f.Admin), f.Case.ID, "", "data_subject_request")
		code(t, err, countersign.ECONFLICT)
		if msg := countersign.ErrorMessage(err); !strings.Contains(msg, "at least 2 years") {
			t.Fatalf("message %q", msg)
		}
		// Two years and a day later it may be erased.
		db.Now = func() time.Time { return time.Now().AddDate(2, 0, 1) }
		_, err = db.RequestErasure(As(CLI(), f.Admin), f.Case.ID, "", "data_subject_request")
		ok(t, err)
	})

	t.Run("APartyIsErasedWhileTheCaseContinues", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		actx := As(CLI(), f.Admin)
		r, err := db.RequestErasure(actx, f.Case.ID, f.Client.ID, "data_subject_request")
		ok(t, err)
		_, err = db.RequestErasure(actx, f.Case.ID, "pty_nobody", "data_subject_request")
		code(t, err, countersign.EINVALID)
		e, err := db.ConfirmErasure(As(CLI(), mustUser(t, db, countersign.RoleAdmin, "")), r.ID)
		ok(t, err)
		if e.PartyID != f.Client.ID || e.Counts["parties"] != 1 || e.Counts["notes"] != 0 {
			t.Fatalf("erasure %+v", e)
		}
		ps, err := db.FindParties(As(CLI(), f.Worker), f.Case.ID)
		ok(t, err)
		if len(ps) != 1 || ps[0].FullName != "" || ps[0].Address != "" || ps[0].NationalID != "" {
			t.Fatalf("parties %+v", ps)
		}
		ok(t, db.AddNote(As(CLI(), f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: "The case goes on."}))
		if n := actionCount(t, db, casefile.ActionPartyErased, "party", f.Client.ID); n != 1 {
			t.Fatalf("%d party.erased events, want 1", n)
		}
		if rep, fs := MustCheckCaseData(t, db); !rep.OK() {
			t.Fatalf("after a party erasure the case data check found %+v", fs)
		}
		cctx := client.NewContext(context.Background(), client.Principal{AccountID: "acct_x",
			Parties: []client.PartyRef{{CaseID: f.Case.ID, PartyID: f.Client.ID}}})
		es, err := db.FindErasures(cctx, casefile.ErasureFilter{CaseID: &f.Case.ID, PartyID: &f.Client.ID})
		ok(t, err)
		if len(es) != 1 || es[0].ID != e.ID {
			t.Fatalf("the party's erasures %+v", es)
		}
		other := "pty_000000000000000000000000"
		_, err = db.FindErasures(cctx, casefile.ErasureFilter{CaseID: &f.Case.ID, PartyID: &other})
		code(t, err, countersign.EFORBIDDEN)
		// An admin chooses whose details to erase by id and role alone.
		ps, err = db.FindRetentionParties(As(CLI(), f.Admin), f.Case.ID)
		ok(t, err)
		if len(ps) != 1 || ps[0].ID != f.Client.ID || ps[0].FullName != "" || ps[0].ErasedAt == nil {
			t.Fatalf("retention parties %+v", ps)
		}
		rc, err := db.FindRetentionCase(As(CLI(), f.Admin), f.Case.ID)
		ok(t, err)
		if rc.Title != "" || rc.Reference != f.Case.Reference || rc.Status != casefile.StatusOpen {
			t.Fatalf("retention case %+v", rc)
		}
		_, err = db.FindRetentionCase(As(CLI(), f.Other), f.Case.ID)
		code(t, err, countersign.EFORBIDDEN)
	})

	t.Run("TheRetentionJobErasesEachExpiredCaseOnceAcrossReplicas", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db1, db2 := MustOpen(t, d), MustOpen(t, d)
		pol := retentionPolicy(t, map[string]any{"general": "0d", "housing": "8y"})
		db1.Policy, db2.Policy = pol, pol
		f := MustSeed(t, db1)
		held := MustSeed(t, db1)
		kept := MustSeed(t, db1)
		sctx := func(f *Fixture) context.Context { return As(CLI(), f.Supervisor) }
		// kept stays open: its retention clock has not started.
		for _, x := range []*Fixture{f, held} {
			_, err := db1.CloseCase(sctx(x), x.Case.ID, "goals_met")
			ok(t, err)
		}
		_, err := db1.SetHold(sctx(held), held.Case.ID, "investigation")
		ok(t, err)
		plan, err := db1.RetentionPlan(CLI())
		ok(t, err)
		due := map[string]casefile.PlannedErasure{}
		for _, p := range plan {
			due[p.CaseID] = p
		}
		if p := due[f.Case.ID]; !p.Due || p.Held || p.Period != "0d" {
			t.Fatalf("plan of the expired case %+v", p)
		}
		if p := due[held.Case.ID]; p.Due || !p.Held {
			t.Fatalf("plan of the held case %+v", p)
		}
		_, err = db1.RunRetention(As(CLI(), f.Worker), 10)
		code(t, err, countersign.EFORBIDDEN)
		var wg sync.WaitGroup
		got := make([][]*casefile.Erasure, 2)
		for i, db := range []*sqlstore.DB{db1, db2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				es, err := db.RunRetention(CLI(), 10)
				if err != nil {
					t.Error(err)
				}
				got[i] = es
			}()
		}
		wg.Wait()
		erased := map[string]int{}
		for _, es := range got {
			for _, e := range es {
				erased[e.CaseID]++
				if e.Rule != casefile.RuleRetention || e.PolicyVersion != pol.Retention.Version {
					t.Errorf("erasure %+v", e)
				}
			}
		}
		if erased[f.Case.ID] != 1 || erased[held.Case.ID] != 0 || erased[kept.Case.ID] != 0 {
			t.Fatalf("erased %v, want the expired case once and the held one never", erased)
		}
		if n := actionCount(t, db1, casefile.ActionCaseErased, "rule", "retention"); n != erased[f.Case.ID]+erased[kept.Case.ID] {
			t.Fatalf("%d case.erased events for %v", n, erased)
		}
		again, err := db1.RunRetention(CLI(), 10)
		ok(t, err)
		if len(again) != 0 {
			t.Fatalf("a second run erased %+v", again)
		}
		if rep, fs := MustCheckCaseData(t, db1); !rep.OK() {
			t.Fatalf("after the retention job the case data check found %+v", fs)
		}
	})

	t.Run("NothingLingers", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db := MustOpen(t, d)
		f := MustSeed(t, db)
		marker := "Lingering" + strings.TrimPrefix(countersign.NewID("m"), "m_")
		wctx := As(CLI(), f.Worker)
		ok(t, db.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "Visit: " + marker + " said the boiler is broken."}))
		ok(t, db.AddParty(wctx, &casefile.Party{CaseID: f.Case.ID, Role: "other", FullName: marker + " Senior"}))
		dr := MustDraft(t, db, f, assistant.KindSummary)
		_, err := Approve(db, wctx, dr.ID, readAll(dr))
		ok(t, err)
		notes, err := db.FindNotes(wctx, f.Case.ID)
		ok(t, err)
		if !strings.Contains(notes[len(notes)-1].Body, marker) {
			t.Fatal("the marker is not in the case before the erasure")
		}
		MustEraseOnRequest(t, db, f)
		for _, where := range MustFindText(t, db, d, marker) {
			t.Errorf("after the erasure the marker is still in %s", where)
		}
	})
}

// MustFindText returns where text is still found in the database dsn
// names: on SQLite in the raw bytes of the database file and its WAL; on
// PostgreSQL in any row of any table of the schema, read as text.
func MustFindText(t testing.TB, db *sqlstore.DB, dsn, text string) []string {
	t.Helper()
	var where []string
	if !sqlstore.IsPostgres(dsn) {
		for _, p := range []string{dsn, dsn + "-wal"} {
			buf, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Contains(buf, []byte(text)) {
				where = append(where, p)
			}
		}
		return where
	}
	var tables []string
	ok(t, db.Raw().Select(&tables, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`))
	for _, tbl := range tables {
		var n int
		ok(t, db.Raw().Get(&n, `SELECT COUNT(*) FROM "`+tbl+`" t WHERE t::text LIKE $1`, "%"+text+"%"))
		if n > 0 {
			where = append(where, "table "+tbl)
		}
	}
	return where
}
