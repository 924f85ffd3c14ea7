package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// MustCheckCaseData runs the case data check of `countersign audit
// verify` and returns its report and findings.
func MustCheckCaseData(t testing.TB, db *sqlstore.DB) (*audit.DataReport, []audit.DataFinding) {
	t.Helper()
	var fs []audit.DataFinding
	rep, err := db.CheckCaseData(CLI(), func(f audit.DataFinding) error {
		fs = append(fs, f)
		return nil
	})
	ok(t, err)
	if rep.Problems != len(fs) {
		t.Fatalf("the report counts %d problems but %d were passed on", rep.Problems, len(fs))
	}
	return rep, fs
}

// CaseDataWorld is a case with a row in every table the case data check
// reads: notes, a party, a consent answer, a countersigned entry with a
// correction waiting, an entry signed at once, and a draft still waiting.
type CaseDataWorld struct {
	F *Fixture
	// Countersigned is the draft signed by two, Signed the one signed at
	// once, Waiting the one not yet decided.
	Countersigned, Signed, Waiting *review.Draft
	// Entry is Signed's record entry; Pending the correction of
	// Countersigned's entry that waits for a supervisor.
	Entry, Pending *review.Entry
}

// MustCaseDataWorld builds a CaseDataWorld in db; db's policy has a
// supervisor countersign summaries.
func MustCaseDataWorld(t testing.TB, db *sqlstore.DB) *CaseDataWorld {
	t.Helper()
	db.Policy = review.DefaultPolicy()
	db.Policy.CountersignKinds = []assistant.Kind{assistant.KindSummary}
	w := &CaseDataWorld{F: MustSeed(t, db)}
	f := w.F
	wctx, sctx := As(CLI(), f.Worker), As(CLI(), f.Supervisor)
	w.Countersigned = MustDraft(t, db, f, assistant.KindSummary)
	_, err := SignOff(db, wctx, w.Countersigned.ID, readAll(w.Countersigned))
	ok(t, err)
	e1, err := Countersign(db, sctx, w.Countersigned.ID, review.Countersign{})
	ok(t, err)
	w.Pending, err = db.CorrectEntry(wctx, f.Case.ID, e1.ID, review.Correction{Content: "Corrected: the referral to the budget advice service was sent.", Reason: "Wrong service.", ConfirmHighStakes: true})
	ok(t, err)
	if !w.Pending.Pending {
		t.Fatal("the correction of a countersigned entry does not wait")
	}
	w.Signed = MustDraft(t, db, f, assistant.KindSuggestions)
	w.Entry, err = Approve(db, wctx, w.Signed.ID, readAll(w.Signed))
	ok(t, err)
	if w.Signed, err = db.FindDraftByID(wctx, w.Signed.ID); err != nil || w.Signed.Decision == nil {
		t.Fatalf("signed draft: %v, %+v", err, w.Signed)
	}
	w.Waiting = MustDraft(t, db, f, assistant.KindSummary)
	return w
}

// readAll is the approval of a reviewer who read every statement and item
// of d and signs them as drafted.
func readAll(d *review.Draft) review.Approval {
	var ap review.Approval
	if d.Content == nil {
		return ap
	}
	for _, s := range d.Content.Statements {
		ap.Statements = append(ap.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed, Comment: "Checked against the notes."})
	}
	for _, it := range d.Content.Items {
		ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: true})
	}
	return ap
}

// MustTamperCaseData changes the case data of w behind the service's
// back, as a database administrator could (triggers out of the way), and
// returns what the case data check must then report: "table id" → a part
// of the problem.
func MustTamperCaseData(t testing.TB, db *sqlstore.DB, w *CaseDataWorld) map[string]string {
	t.Helper()
	f := w.F
	st, err := db.FindConsent(As(CLI(), f.Worker), f.Case.ID)
	ok(t, err)
	forged := "note_forged" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	q := func(s string, args ...any) string { return fmt.Sprintf(s, args...) }
	asAttacker(t, db, []string{"notes", "decisions", "record_entries", "consents"},
		q(`UPDATE notes SET body = 'She paid the rent.' WHERE id = '%s'`, f.Notes[0].ID),
		q(`DELETE FROM notes WHERE id = '%s'`, f.Notes[1].ID),
		q(`INSERT INTO notes (id, case_id, author_id, body, body_sha256, written_at, created_at)
			SELECT '%s', case_id, author_id, 'A note nobody wrote.', body_sha256, written_at, created_at FROM notes WHERE id = '%s'`, forged, f.Notes[2].ID),
		q(`UPDATE parties SET full_name = 'Jeanne Martin' WHERE id = '%s'`, f.Client.ID),
		q(`UPDATE consents SET note = 'She agreed to everything.' WHERE id = '%s'`, st.Current.ID),
		q(`UPDATE decisions SET final_text = 'Nothing to report.' WHERE id = '%s'`, w.Signed.Decision.ID),
		// The content is sealed at rest (sqlstore/casekeys.go): whoever
		// lacks the case keyring writes plaintext in its place.
		q(`UPDATE drafts SET content = '{"summary":"Jeanne is fine."}' WHERE id = '%s'`, w.Waiting.ID),
		q(`DELETE FROM record_entries WHERE id = '%s'`, w.Entry.ID),
		q(`UPDATE record_corrections SET content = 'Corrected: no appointment.' WHERE id = '%s'`, w.Pending.ID),
	)
	return map[string]string{
		"notes " + f.Notes[0].ID:             "does not match the stored body",
		"notes " + f.Notes[1].ID:             "the row is gone",
		"notes " + forged:                    "no event in the log records this note",
		"parties " + f.Client.ID:             "does not match the stored details",
		"consents " + st.Current.ID:          "it has a note but the log records none",
		"decisions " + w.Signed.Decision.ID:  "does not match the stored final text",
		"drafts " + w.Waiting.ID:             "does not match the stored content",
		"record_entries " + w.Entry.ID:       "the row is gone",
		"record_corrections " + w.Pending.ID: "does not match the stored content",
	}
}

func exerciseCaseData(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	t.Run("UntouchedDataAgreesWithTheLog", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		MustCaseDataWorld(t, db)
		rep, fs := MustCheckCaseData(t, db)
		if len(fs) != 0 {
			t.Fatalf("untouched data: %v", fs)
		}
		want := map[string]int{"notes": 3, "parties": 1, "consents": 1, "drafts": 3, "decisions": 2, "record_entries": 2, "record_corrections": 1}
		if !maps.Equal(rep.Rows, want) {
			t.Fatalf("rows checked %v, want %v", rep.Rows, want)
		}
		if rep.Waiting == 0 {
			t.Fatal("rows whose events were not sequenced yet are not counted")
		}
		// Once sequenced, every row is held against the log itself.
		_, err := db.Sequence(CLI())
		ok(t, err)
		if rep, fs = MustCheckCaseData(t, db); len(fs) != 0 || rep.Waiting != 0 {
			t.Fatalf("after sequencing: %d waiting, %v", rep.Waiting, fs)
		}
	})
	t.Run("ChangedDeletedAndForgedRowsAreReportedByID", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		w := MustCaseDataWorld(t, db)
		_, err := db.Sequence(CLI())
		ok(t, err)
		want := MustTamperCaseData(t, db, w)
		rep, fs := MustCheckCaseData(t, db)
		got := map[string]string{}
		for _, f := range fs {
			k := f.Table + " " + f.ID
			if _, dup := got[k]; dup {
				t.Errorf("%s reported twice: %v", k, fs)
			}
			got[k] = f.Problem
			if f.Seq == nil && !strings.Contains(f.Problem, "no event") {
				t.Errorf("%s: the finding names no entry of the log", f)
			}
		}
		for k, problem := range want {
			if !strings.Contains(got[k], problem) {
				t.Errorf("%s: reported %q, want %q", k, got[k], problem)
			}
		}
		if extra := slices.DeleteFunc(slices.Collect(maps.Keys(got)), func(k string) bool { _, ok := want[k]; return ok }); len(extra) > 0 {
			t.Errorf("reported beyond the tampering: %v", extra)
		}
		if rep.OK() {
			t.Fatal("the report says OK")
		}
		// The log itself was not touched and still verifies.
		mustVerifyLog(t, db)
	})
	t.Run("RowsThatNeverChangeRefuseUpdateAndDelete", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		w := MustCaseDataWorld(t, db)
		stmts := []string{
			`UPDATE notes SET body = 'rewritten'`,
			`DELETE FROM notes WHERE id = '` + w.F.Notes[0].ID + `'`,
			`UPDATE decisions SET final_text = 'rewritten'`,
			`DELETE FROM decisions WHERE id = '` + w.Signed.Decision.ID + `'`,
			`UPDATE record_entries SET content = 'rewritten'`,
			`DELETE FROM record_entries WHERE id = '` + w.Entry.ID + `'`,
		}
		if db.Dialect() == "postgres" {
			stmts = append(stmts, `TRUNCATE decisions`)
		}
		for _, s := range stmts {
			if _, err := db.Raw().Exec(s); err == nil || !strings.Contains(err.Error(), "not allowed") {
				t.Errorf("%s: %v, want refused by the append-only trigger", s, err)
			}
		}
		if db.Dialect() == "postgres" {
			// ENABLE ALWAYS: replica mode, which skips ordinary triggers, must not help.
			tx, err := db.Raw().Beginx()
			ok(t, err)
			defer tx.Rollback()
			ok(t, tx.QueryRowx(`SELECT set_config('session_replication_role', 'replica', true)`).Err())
			if _, err := tx.Exec(`DELETE FROM decisions WHERE id = $1`, w.Signed.Decision.ID); err == nil {
				t.Error("DELETE under session_replication_role=replica: accepted, want refused")
			}
		}
		if _, fs := MustCheckCaseData(t, db); len(fs) != 0 {
			t.Fatalf("refused changes left findings: %v", fs)
		}
	})
}
