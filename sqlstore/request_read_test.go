package sqlstore_test

import (
	"context"
	"slices"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// A draft request answers the same on both databases, whichever path it
// takes: on PostgreSQL the case, its notes and its consent are one read
// (requestRead) before the fenced write, on SQLite the transaction reads
// them in turn under the case's lock. The refusals come in the same order:
// the case (none, not the actor's, closed), then the consent, then the
// notes.
func TestRequestAnswersAsBefore(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"SQLite": storetest.SQLiteDSN, "PostgreSQL": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			exerciseRequestAnswers(t, storetest.MustOpen(t, dsn(t)))
		})
	}
}

func exerciseRequestAnswers(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	raw := func(query string, args ...any) {
		t.Helper()
		if _, err := db.Raw().ExecContext(ctx, db.Raw().Rebind(query), args...); err != nil {
			t.Fatal(err)
		}
	}
	request := func(f *storetest.Fixture, who func(*storetest.Fixture) context.Context, noteIDs ...string) (*review.Draft, error) {
		return db.RequestDraft(who(f), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, NoteIDs: noteIDs})
	}
	worker := func(f *storetest.Fixture) context.Context { return storetest.As(ctx, f.Worker) }
	other := func(f *storetest.Fixture) context.Context { return storetest.As(ctx, f.Other) }
	otherSupervisor := func(f *storetest.Fixture) context.Context { return storetest.As(ctx, f.OtherSupervisor) }
	withdraw := func(f *storetest.Fixture) {
		t.Helper()
		if err := db.RecordConsent(worker(f), &casefile.Consent{CaseID: f.Case.ID, Given: false}); err != nil {
			t.Fatal(err)
		}
	}
	closeCase := func(f *storetest.Fixture) {
		raw(`UPDATE cases SET status = 'closed', closed_at = ? WHERE id = ?`, f.Notes[0].CreatedAt, f.Case.ID)
	}
	refused := func(t *testing.T, err error, code, message string) {
		t.Helper()
		got := countersign.ErrorMessage(err)
		if fs := countersign.ErrorFields(err); len(fs) == 1 {
			got = fs[0].Message // a mistake in a field: which one says the reason
		}
		if countersign.ErrorCode(err) != code || got != message {
			t.Fatalf("answered %v (%s), want %s: %s", err, got, code, message)
		}
	}
	const (
		notYours   = "This case is not assigned to you or your team."
		closed     = "This case is closed; its supervisor must reopen it before anything is added."
		notOfCase  = "Some of these notes are not notes of this case."
		noNotesYet = "The case has no notes to draft from yet."
	)

	t.Run("TheNotesNamedInTheOrderWritten", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		d, err := request(f, worker, f.Notes[2].ID, f.Notes[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{f.Notes[0].ID, f.Notes[2].ID}; !slices.Equal(d.NoteIDs, want) || d.Status != review.StatusQueued ||
			d.ReviewerID != f.Worker.ID || d.TeamID != f.Team.ID {
			t.Fatalf("draft %+v, want queued for the case's worker and team from %v", d, want)
		}
		all, err := request(f, worker)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{f.Notes[0].ID, f.Notes[1].ID, f.Notes[2].ID}; !slices.Equal(all.NoteIDs, want) {
			t.Fatalf("a request naming no note drafts from %v, want every note %v", all.NoteIDs, want)
		}
	})

	t.Run("NoSuchCase", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		_, err := db.RequestDraft(worker(f), review.DraftRequest{CaseID: "cas_none", Kind: assistant.KindSummary})
		refused(t, err, countersign.ENOTFOUND, "There is no case with this id.")
	})

	t.Run("AnotherTeamsCase", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		withdraw(f) // the case's refusal comes before the consent's
		_, err := request(f, other)
		refused(t, err, countersign.EFORBIDDEN, notYours)
		_, err = request(f, otherSupervisor, f.Notes[0].ID)
		refused(t, err, countersign.EFORBIDDEN, notYours)
	})

	t.Run("CaseMovedToAnotherTeam", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		raw(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`, f.OtherTeam.ID, f.Other.ID, f.Case.ID)
		_, err := request(f, worker)
		refused(t, err, countersign.EFORBIDDEN, notYours)
		d, err := request(f, other, f.Notes[1].ID)
		if err != nil {
			t.Fatalf("the new team's worker: %v", err)
		}
		if d.ReviewerID != f.Other.ID || d.TeamID != f.OtherTeam.ID {
			t.Fatalf("draft for %s of %s, want the new team's worker", d.ReviewerID, d.TeamID)
		}
	})

	t.Run("ClosedCase", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		withdraw(f) // the closure's refusal comes before the consent's
		closeCase(f)
		_, err := request(f, worker, f.Notes[0].ID)
		refused(t, err, countersign.ECONFLICT, closed)
		_, err = request(f, other, f.Notes[0].ID)
		refused(t, err, countersign.EFORBIDDEN, notYours)
	})

	t.Run("ConsentWithdrawn", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		withdraw(f)
		_, err := request(f, worker, f.Notes[0].ID)
		refused(t, err, countersign.ECONFLICT, casefile.ConsentObjection)
		if err := db.RecordConsent(worker(f), &casefile.Consent{CaseID: f.Case.ID, Given: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := request(f, worker, f.Notes[0].ID); err != nil {
			t.Fatalf("a request once the client agreed again: %v", err)
		}
	})

	t.Run("NeverConsented", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		raw(`DELETE FROM consents WHERE case_id = ?`, f.Case.ID)
		_, err := request(f, worker, f.Notes[0].ID)
		refused(t, err, countersign.ECONFLICT, casefile.ConsentRefusal)
	})

	t.Run("ANoteOfAnotherCase", func(t *testing.T) {
		f, g := storetest.MustSeed(t, db), storetest.MustSeed(t, db)
		raw(`UPDATE cases SET team_id = ?, worker_id = ? WHERE id = ?`, f.Team.ID, f.Worker.ID, g.Case.ID)
		_, err := request(f, worker, f.Notes[0].ID, g.Notes[0].ID)
		refused(t, err, countersign.EINVALID, notOfCase)
		// Only notes of another case: none matches, and the consent is
		// still read, and still refuses first.
		_, err = request(f, worker, g.Notes[1].ID)
		refused(t, err, countersign.EINVALID, notOfCase)
		withdraw(f)
		_, err = request(f, worker, g.Notes[1].ID)
		refused(t, err, countersign.ECONFLICT, casefile.ConsentObjection)
	})

	t.Run("NoNotes", func(t *testing.T) {
		f := storetest.MustSeed(t, db)
		c := &casefile.Case{Reference: "REF-EMPTY-" + f.Case.ID, Title: "No notes yet"}
		if err := db.CreateCase(worker(f), c); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordConsent(worker(f), &casefile.Consent{CaseID: c.ID, Given: true}); err != nil {
			t.Fatal(err)
		}
		_, err := db.RequestDraft(worker(f), review.DraftRequest{CaseID: c.ID, Kind: assistant.KindSummary})
		refused(t, err, countersign.EINVALID, noNotesYet)
	})
}

// On PostgreSQL a draft request is two statements: the read of its case,
// notes and consent (requestRead), then the fenced write of the draft and
// its event. Counted with pg_stat_statements in the test's own database:
// the statements that read or write the case's tables (the sequencer's
// work on the log's tables is not counted).
func TestRequestIsTwoStatements(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t, storetest.PostgresDSN(t))
	ctx := context.Background()
	count := countStatements(t, db)
	f := storetest.MustSeed(t, db)
	count.reset()
	if _, err := db.RequestDraft(storetest.As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary,
		NoteIDs: []string{f.Notes[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if calls := count.calls(`cases|notes|consents|case_keys|drafts`); calls != 2 {
		t.Fatalf("a draft request made %d statements on the case's tables, want 2", calls)
	}
}
