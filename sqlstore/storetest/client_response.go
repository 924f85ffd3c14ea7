package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// MustClientAccount gives party partyID of caseID a client account, as an
// invitation does, and returns the principal signed in with it.
func MustClientAccount(t testing.TB, db *sqlstore.DB, caseID, partyID, name string) client.Principal {
	t.Helper()
	id := countersign.NewID("cla")
	_, err := db.Raw().Exec(db.Raw().Rebind(`INSERT INTO client_accounts (id, party_id, created_at) VALUES (?, ?, ?)`), id, partyID, db.Now().UTC())
	ok(t, err)
	return client.Principal{AccountID: id, Name: name, Language: "en", Parties: []client.PartyRef{{CaseID: caseID, PartyID: partyID}}}
}

// MustSignedEntry drafts a kind of f's case, and its worker signs it with
// the sharing given (review.SharingShared, or withheld for a reason).
func MustSignedEntry(t testing.TB, db *sqlstore.DB, f *Fixture, kind assistant.Kind, sharing, reason string) *review.Entry {
	t.Helper()
	d := MustDraft(t, db, f, kind)
	ap := readAll(d)
	ap.Sharing, ap.WithheldReason = sharing, reason
	e, err := Approve(db, As(context.Background(), f.Worker), d.ID, ap)
	ok(t, err)
	if e == nil {
		t.Fatalf("the %s draft awaits a countersignature", kind)
	}
	return e
}

func exerciseClientResponses(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	const wrong = "I paid the rent in November; the arrears are one month, not two."

	t.Run("RespondAnswerDecline", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		e := MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingShared, "")
		p := MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName)
		cctx := client.NewContext(context.Background(), p)
		wctx := As(context.Background(), f.Worker)

		before := eventCount(t, db)
		r, err := db.Respond(cctx, e.ID, client.ResponseCorrection, wrong)
		ok(t, err)
		if r.Status != client.ResponseOpen || r.EntryID != e.ID || r.PartyID != f.Client.ID || eventCount(t, db) != before+1 {
			t.Fatalf("response %+v, %d events", r, eventCount(t, db)-before)
		}
		ev := lastEvent(t, events(t, db, r.ID), audit.ActionClientResponded)
		if ev.Role != string(countersign.RoleClient) || ev.Payload["entry"] != e.ID {
			t.Fatalf("event %+v", ev)
		}
		notProse(t, ev, wrong)

		// The worker and the team's supervisor see it waiting; another
		// team's worker does not.
		for u, want := range map[*identity.User]int{f.Worker: 1, f.Supervisor: 1, f.Other: 0, f.OtherSupervisor: 0} {
			rs, err := db.FindOpenResponses(As(context.Background(), u))
			ok(t, err)
			if len(rs) != want || want == 1 && (rs[0].ID != r.ID || rs[0].Text != wrong || rs[0].Type != client.ResponseType) {
				t.Fatalf("%s sees %+v, want %d", u.Name, rs, want)
			}
		}

		before = eventCount(t, db)
		_, err = db.AnswerResponse(wctx, r.ID, client.Answer{Outcome: client.OutcomeDeclined})
		refused(t, db, before, err, countersign.EINVALID)
		_, err = db.AnswerResponse(As(context.Background(), f.Other), r.ID, client.Answer{Outcome: client.OutcomeDeclined, Reason: "No."})
		refused(t, db, before, err, countersign.EFORBIDDEN)
		_, err = db.AnswerResponse(wctx, "rsp_nothing", client.Answer{Outcome: client.OutcomeDeclined, Reason: "No."})
		refused(t, db, before, err, countersign.ENOTFOUND)

		const why = "The rent office confirmed two months of arrears on 1 December."
		a, err := db.AnswerResponse(wctx, r.ID, client.Answer{Outcome: client.OutcomeDeclined, Reason: why})
		ok(t, err)
		if a.Status != client.ResponseAnswered || a.Outcome != client.OutcomeDeclined || a.Reason != why || a.AnsweredBy != f.Worker.ID {
			t.Fatalf("answer %+v", a)
		}
		ev = lastEvent(t, events(t, db, r.ID), audit.ActionClientResponseAnswered)
		notProse(t, ev, why)
		if ev.Payload["answer"] != "declined" || ev.Payload["reason_commitment"] != audit.Commit(a.Salt, why) {
			t.Fatalf("answer event %+v", ev.Payload)
		}
		before = eventCount(t, db)
		_, err = db.AnswerResponse(wctx, r.ID, client.Answer{Outcome: client.OutcomeAttached})
		refused(t, db, before, err, countersign.ECONFLICT)

		// The client reads the answer, with who gave it.
		mine, err := db.FindMyResponses(cctx)
		ok(t, err)
		if len(mine) != 1 || mine[0].Reason != why || mine[0].AnsweredByName != f.Worker.Name || mine[0].Status != client.ResponseAnswered {
			t.Fatalf("the client reads %+v", mine)
		}
		if _, err := db.FindOpenResponses(wctx); err != nil {
			t.Fatal(err)
		} else if rs, _ := db.FindOpenResponses(wctx); len(rs) != 0 {
			t.Fatalf("an answered response still waits: %+v", rs)
		}
	})

	t.Run("OnlyWhatTheClientReads", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		shared := MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingShared, "")
		withheld := MustSignedEntry(t, db, f, assistant.KindSuggestions, review.SharingWithheld, review.WithheldThirdParty)
		g := MustSeed(t, db)
		elsewhere := MustSignedEntry(t, db, g, assistant.KindSummary, review.SharingShared, "")
		p := MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName)
		cctx := client.NewContext(context.Background(), p)

		before := eventCount(t, db)
		_, errMissing := db.Respond(cctx, "rec_nothing", client.ResponseOwnView, wrong)
		refused(t, db, before, errMissing, countersign.ENOTFOUND)
		_, err := db.Respond(cctx, elsewhere.ID, client.ResponseOwnView, wrong)
		refused(t, db, before, err, countersign.ENOTFOUND)
		if err.Error() != errMissing.Error() {
			t.Fatalf("another case's entry answers %q, a missing one %q", err, errMissing)
		}
		_, err = db.Respond(cctx, withheld.ID, client.ResponseOwnView, wrong)
		refused(t, db, before, err, countersign.ENOTFOUND)
		_, err = db.Respond(cctx, shared.ID, "complaint", wrong)
		refused(t, db, before, err, countersign.EINVALID)
		_, err = db.Respond(cctx, shared.ID, client.ResponseOwnView, strings.Repeat("x", client.MaxResponseChars+1))
		refused(t, db, before, err, countersign.EINVALID)
		_, err = db.Respond(As(context.Background(), f.Worker), shared.ID, client.ResponseOwnView, wrong)
		refused(t, db, before, err, countersign.EUNAUTHORIZED)

		// A client reads only their own responses on a case.
		_, err = db.Respond(cctx, shared.ID, client.ResponseOwnView, wrong)
		ok(t, err)
		_, err = db.FindCaseResponses(cctx, g.Case.ID, "")
		code(t, err, countersign.ENOTFOUND)
		_, err = db.FindCaseResponses(As(context.Background(), f.Other), f.Case.ID, "")
		code(t, err, countersign.EFORBIDDEN)
		rs, err := db.FindCaseResponses(As(context.Background(), f.Supervisor), f.Case.ID, f.Client.ID)
		ok(t, err)
		if len(rs) != 1 {
			t.Fatalf("the case holds %d responses, want 1", len(rs))
		}
	})

	t.Run("CorrectedAndAttached", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		e := MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingShared, "")
		p := MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName)
		cctx := client.NewContext(context.Background(), p)
		wctx := As(context.Background(), f.Worker)

		r, err := db.Respond(cctx, e.ID, client.ResponseCorrection, wrong)
		ok(t, err)
		// The correction path's own rules apply: no text, no correction.
		before := eventCount(t, db)
		_, err = db.AnswerResponse(wctx, r.ID, client.Answer{Outcome: client.OutcomeCorrected})
		refused(t, db, before, err, countersign.EINVALID)
		corrected := "Marie has one month of rent arrears and the heating was cut off."
		a, err := db.AnswerResponse(wctx, r.ID, client.Answer{Outcome: client.OutcomeCorrected, Content: corrected,
			Reason: "Marie showed the November receipt."})
		ok(t, err)
		if a.CorrectionID == "" || a.CorrectionStatus != client.CorrectionInForce || eventCount(t, db) != before+2 {
			t.Fatalf("answer %+v, %d events", a, eventCount(t, db)-before)
		}
		rec, err := db.FindRecord(wctx, f.Case.ID)
		ok(t, err)
		var found bool
		for _, x := range rec {
			if x.ID == a.CorrectionID {
				found = x.Supersedes == e.ID && x.Content == corrected && x.Sharing == review.SharingShared
			}
		}
		if !found {
			t.Fatalf("the record lacks the correction %s: %+v", a.CorrectionID, rec)
		}
		if ev := lastEvent(t, events(t, db, r.ID), audit.ActionClientResponseAnswered); ev.Payload["correction"] != a.CorrectionID {
			t.Fatalf("the answer does not name its correction: %+v", ev.Payload)
		}
		// The corrected entry can no longer be answered; the new one can.
		before = eventCount(t, db)
		_, err = db.Respond(cctx, e.ID, client.ResponseOwnView, wrong)
		refused(t, db, before, err, countersign.ECONFLICT)
		view := "I want it noted that the heating was cut off while my son was ill."
		v, err := db.Respond(cctx, a.CorrectionID, client.ResponseOwnView, view)
		ok(t, err)
		_, err = db.AnswerResponse(wctx, v.ID, client.Answer{Outcome: client.OutcomeAttached})
		ok(t, err)
		views, err := db.FindAttachedViews(As(context.Background(), f.Supervisor), f.Case.ID)
		ok(t, err)
		if got := views[a.CorrectionID]; len(got) != 1 || got[0].Text != view {
			t.Fatalf("attached views %+v", views)
		}
	})

	t.Run("CorrectionWaitsForCountersign", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		db.Policy = review.DefaultPolicy()
		f := MustSeed(t, db)
		e := MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingShared, "")
		db.Policy.CountersignKinds = []assistant.Kind{assistant.KindSummary}
		p := MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName)
		cctx := client.NewContext(context.Background(), p)
		r, err := db.Respond(cctx, e.ID, client.ResponseCorrection, wrong)
		ok(t, err)
		a, err := db.AnswerResponse(As(context.Background(), f.Worker), r.ID, client.Answer{Outcome: client.OutcomeCorrected,
			Content: "Marie has one month of rent arrears."})
		ok(t, err)
		if a.CorrectionStatus != client.CorrectionPending {
			t.Fatalf("answer %+v", a)
		}
		_, err = db.RefuseCorrection(As(context.Background(), f.Supervisor), f.Case.ID, a.CorrectionID, "The receipt is for October.")
		ok(t, err)
		mine, err := db.FindMyResponses(cctx)
		ok(t, err)
		if len(mine) != 1 || mine[0].CorrectionStatus != client.CorrectionRefused {
			t.Fatalf("after the refusal the client reads %+v", mine)
		}
	})

	t.Run("BoundToTheLog", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		e := MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingShared, "")
		cctx := client.NewContext(context.Background(), MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName))
		wctx := As(context.Background(), f.Worker)
		open, err := db.Respond(cctx, e.ID, client.ResponseOwnView, wrong)
		ok(t, err)
		declined, err := db.Respond(cctx, e.ID, client.ResponseCorrection, wrong)
		ok(t, err)
		_, err = db.AnswerResponse(wctx, declined.ID, client.Answer{Outcome: client.OutcomeDeclined, Reason: "The rent office says two."})
		ok(t, err)
		rep, fs := MustCheckCaseData(t, db)
		if len(fs) != 0 || rep.Rows["client_responses"] != 2 {
			t.Fatalf("a faithful database: %d rows checked, findings %v", rep.Rows["client_responses"], fs)
		}
		// Behind the service's back: the client's words and the worker's
		// reason changed, an answer made up.
		x := db.Raw()
		_, err = x.Exec(x.Rebind(`UPDATE client_responses SET text = ? WHERE id = ?`), "I agree with everything.", open.ID)
		ok(t, err)
		_, err = x.Exec(x.Rebind(`UPDATE client_responses SET reason = ? WHERE id = ?`), "No reason.", declined.ID)
		ok(t, err)
		_, fs = MustCheckCaseData(t, db)
		found := map[string]bool{}
		for _, f := range fs {
			if f.Table == "client_responses" {
				found[f.ID] = true
			}
		}
		if len(fs) != 2 || !found[open.ID] || !found[declined.ID] {
			t.Fatalf("findings %v, want the two responses changed", fs)
		}
	})

	t.Run("OneAnswerWins", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		e := MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingShared, "")
		p := MustClientAccount(t, db, f.Case.ID, f.Client.ID, f.Client.FullName)
		r, err := db.Respond(client.NewContext(context.Background(), p), e.ID, client.ResponseOwnView, wrong)
		ok(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := f.Worker
				if i%2 == 1 {
					u = f.Supervisor
				}
				_, errs[i] = db.AnswerResponse(As(context.Background(), u), r.ID, client.Answer{Outcome: client.OutcomeAttached})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch countersign.ErrorCode(err) {
			case "":
				won++
			case countersign.ECONFLICT:
			default:
				t.Fatalf("a concurrent answer failed: %v", err)
			}
		}
		if won != 1 || actionCount(t, db, audit.ActionClientResponseAnswered) != 1 {
			t.Fatalf("%d answers won, %d logged", won, actionCount(t, db, audit.ActionClientResponseAnswered))
		}
	})

	t.Run("Letter", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(context.Background(), f.Worker)
		// No entry the client may read: no letter.
		before := eventCount(t, db)
		_, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindLetter})
		refused(t, db, before, err, countersign.EINVALID)

		shared := MustSignedEntry(t, db, f, assistant.KindSuggestions, review.SharingShared, "")
		withheld := MustSignedEntry(t, db, f, assistant.KindSummary, review.SharingWithheld, review.WithheldLegal)
		_, err = db.Raw().Exec(db.Raw().Rebind(`UPDATE parties SET language = ? WHERE id = ?`), "nl", f.Client.ID)
		ok(t, err)
		_, err = db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindLetter, NoteIDs: []string{withheld.ID}})
		code(t, err, countersign.EINVALID)
		d := MustDraft(t, db, f, assistant.KindLetter)
		if d.Language != "nl" || len(d.NoteIDs) != 1 || d.NoteIDs[0] != shared.ID || d.PromptVersion != assistant.LetterPromptVersion {
			t.Fatalf("letter draft: language %q, sources %v, prompt %q", d.Language, d.NoteIDs, d.PromptVersion)
		}
		if d.Ungrounded != 0 || len(d.Content.Statements) == 0 {
			t.Fatalf("letter: %d ungrounded of %+v", d.Ungrounded, d.Content.Statements)
		}
		for _, s := range d.Content.Statements {
			if s.Citations[0].NoteID != shared.ID {
				t.Fatalf("%q cites %+v", s.Text, s.Citations)
			}
		}
		ap := readAll(d)
		le, err := Approve(db, wctx, d.ID, ap)
		ok(t, err)
		if le.Kind != string(assistant.KindLetter) || le.Sharing != review.SharingShared || !strings.Contains(le.Content, "Volgende stap") && !strings.Contains(le.Content, "Afspraak op") && !strings.Contains(le.Content, "Te doen") {
			t.Fatalf("signed letter %+v", le)
		}
		// The next letter rests on entries, never on a letter.
		d2 := MustDraft(t, db, f, assistant.KindLetter)
		if len(d2.NoteIDs) != 1 || d2.NoteIDs[0] != shared.ID {
			t.Fatalf("the second letter rests on %v", d2.NoteIDs)
		}
		b, _ := json.Marshal(lastEvent(t, events(t, db, d2.ID), audit.ActionDraftRequested).Payload)
		if !strings.Contains(string(b), `"language":"nl"`) {
			t.Fatalf("request event %s", b)
		}
	})
}
