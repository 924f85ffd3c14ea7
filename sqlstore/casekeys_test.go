package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// caseKeyDSNs are the two databases, as DSNs, so a test can open a second
// handle (another replica, a restored backup) on the same data.
var caseKeyDSNs = map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN}

// rawText reads one text column of one row as the database stores it.
func rawText(t *testing.T, db *sqlstore.DB, table, column, id string) string {
	t.Helper()
	var s string
	if err := db.Raw().Get(&s, db.Raw().Rebind(`SELECT `+column+` FROM `+table+` WHERE id = ?`), id); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCaseTextIsSealedAtRest: a note's body and a party's personal data
// are stored sealed (the raw row holds none of their text), the store
// reads them back as written, and a sealed text moved to another row does
// not open there.
func TestCaseTextIsSealedAtRest(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			f := storetest.MustSeed(t, db)
			wctx := storetest.As(context.Background(), f.Worker)
			for _, n := range f.Notes {
				raw := rawText(t, db, "notes", "body", n.ID)
				if !strings.HasPrefix(raw, sealbox.Prefix) || strings.Contains(raw, "Marie") {
					t.Errorf("note %s is stored as %q, want it sealed", n.ID, raw)
				}
			}
			for _, col := range []string{"full_name", "date_of_birth", "address", "phone", "email", "national_id"} {
				if raw := rawText(t, db, "parties", col, f.Client.ID); !strings.HasPrefix(raw, sealbox.Prefix) || strings.Contains(raw, "Dubois") || strings.Contains(raw, "1948") {
					t.Errorf("parties.%s is stored as %q, want it sealed", col, raw)
				}
			}
			notes, err := db.FindNotes(wctx, f.Case.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(notes) != 3 || notes[0].Body != f.Notes[0].Body {
				t.Fatalf("notes read back %+v, want the bodies written", notes)
			}
			parties, err := db.FindParties(wctx, f.Case.ID)
			if err != nil {
				t.Fatal(err)
			}
			if p := parties[0]; p.FullName != "Marie Dubois" || p.NationalID != "248056912345678" || p.Email != "marie.dubois@example.org" {
				t.Fatalf("party read back %+v", p)
			}

			// A second party of the same case, then the first's sealed
			// name copied over its own: the same key, another row.
			other := &casefile.Party{CaseID: f.Case.ID, Role: "other", FullName: "Jean Martin"}
			if err := db.AddParty(wctx, other); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Raw().Exec(db.Raw().Rebind(`UPDATE parties SET full_name = ? WHERE id = ?`), rawText(t, db, "parties", "full_name", f.Client.ID), other.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := db.FindParties(wctx, f.Case.ID); !errors.Is(err, sealbox.ErrOpen) {
				t.Fatalf("a name moved to another row read with %v, want sealbox.ErrOpen", err)
			}

			// The same for a text sealed since migration 0018: an agenda
			// entry's closing reason moved to another entry's reason, and
			// to its own title.
			var es [2]*agenda.Entry
			for i := range es {
				var err error
				if es[i], err = db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindAppointment, Date: "2026-12-21", Time: "10:00", Title: "Visit"}); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := db.CloseEntry(wctx, es[0].ID, agenda.Close{Outcome: agenda.OutcomeNotRelevant, Reason: "Marie is in hospital."}); err != nil {
				t.Fatal(err)
			}
			reason := rawText(t, db, "agenda_entries", "reason", es[0].ID)
			if !sealbox.IsSealed(reason) || strings.Contains(reason, "Marie") {
				t.Fatalf("an agenda entry's closing reason is stored as %q", reason)
			}
			for _, m := range []struct{ col, set string }{{"reason", "reason = ?"}, {"title", "reason = '', title = ?"}} {
				col := m.col
				if _, err := db.Raw().Exec(db.Raw().Rebind(`UPDATE agenda_entries SET `+m.set+` WHERE id = ?`), reason, es[1].ID); err != nil {
					t.Fatal(err)
				}
				if _, err := db.FindEntryByID(wctx, es[1].ID); !errors.Is(err, sealbox.ErrOpen) {
					t.Fatalf("a closing reason moved to another entry's %s read with %v, want sealbox.ErrOpen", col, err)
				}
			}
		})
	}
}

// TestSQLiteFileHoldsNoNoteText greps the SQLite database file and its
// write-ahead log for a note's words.
func TestSQLiteFileHoldsNoNoteText(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	db := storetest.MustOpen(t, dsn)
	f := storetest.MustSeed(t, db)
	const secret = "Quetzalcoatl-7731 lives behind the bakery"
	if err := db.AddNote(storetest.As(context.Background(), f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: secret}); err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) == 0 {
		t.Fatalf("no database file at %s", path)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, word := range []string{"Quetzalcoatl-7731", "Marie Dubois", "248056912345678", "rent arrears"} {
			if bytes.Contains(b, []byte(word)) {
				t.Errorf("%s holds %q in plaintext", filepath.Base(file), word)
			}
		}
	}
}

// TestShreddedCaseKey: once erasure shreds a case's key, no replica writes
// the case's text again (one that cached the key included), and its
// sealed text reads as erased.
func TestShreddedCaseKey(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			db, replica := storetest.MustOpen(t, dsn), storetest.MustOpen(t, dsn)
			f := storetest.MustSeed(t, db)
			wctx := storetest.As(context.Background(), f.Worker)
			// The replica writes once, so it holds the case's key in its cache.
			if err := replica.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "Before the erasure."}); err != nil {
				t.Fatal(err)
			}
			n, err := db.ShredCaseKey(storetest.CLI(), f.Case.ID)
			if err != nil || n != 1 {
				t.Fatalf("shred: %d keys, %v; want 1", n, err)
			}
			if n, err := db.ShredCaseKey(storetest.CLI(), f.Case.ID); err != nil || n != 0 {
				t.Fatalf("shred again: %d keys, %v; want 0", n, err)
			}
			for who, d := range map[string]*sqlstore.DB{"the shredding handle": db, "the replica": replica} {
				err := d.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "After the erasure."})
				if countersign.ErrorCode(err) != countersign.ECONFLICT {
					t.Errorf("%s wrote a note after the shred: %v, want a conflict", who, err)
				}
				if err := d.AddParty(wctx, &casefile.Party{CaseID: f.Case.ID, Role: "other", FullName: "Late Person"}); countersign.ErrorCode(err) != countersign.ECONFLICT {
					t.Errorf("%s added a party after the shred: %v, want a conflict", who, err)
				}
				notes, err := d.FindNotes(wctx, f.Case.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range notes {
					if n.Body != "" {
						t.Errorf("%s read note %s as %q after the shred, want it erased", who, n.ID, n.Body)
					}
				}
			}
			var count int
			if err := db.Raw().Get(&count, db.Raw().Rebind(`SELECT COUNT(*) FROM case_keys WHERE case_id = ? AND wrapped_key IS NOT NULL`), f.Case.ID); err != nil || count != 0 {
				t.Fatalf("%d wrapped keys left, %v", count, err)
			}
		})
	}
}

// TestRotateCaseKeys: `keys rotate` rewraps every case key with a new
// master key in batches, recording one event with the counts; the old
// master key can then be retired, and the text still opens. A copy of the
// database taken before an erasure (a backup) still opens the erased
// case's text with the master key of the day, and no longer once that
// master key is rotated out and retired: what SECURITY.md claims.
func TestRotateCaseKeys(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			db := storetest.MustOpen(t, dsn)
			f := storetest.MustSeed(t, db)
			wctx := storetest.As(context.Background(), f.Worker)
			for i := range 4 { // five cases in all
				c := &casefile.Case{Reference: fmt.Sprintf("ROT-%s-%d", f.Case.ID, i), Title: "Rotation"}
				if err := db.CreateCase(wctx, c); err != nil {
					t.Fatal(err)
				}
			}
			ring, err := sealbox.ParseKeyring(storetest.CaseKeys.String())
			if err != nil {
				t.Fatal(err)
			}
			old := ring.Primary()

			// The backup: what a copy of the database taken now holds of
			// the case's key.
			var backup struct {
				KeyID   string `db:"key_id"`
				Master  string `db:"master_key_id"`
				Wrapped []byte `db:"wrapped_key"`
				Body    string `db:"body"`
			}
			if err := db.Raw().Get(&backup, db.Raw().Rebind(`SELECT k.key_id, k.master_key_id, k.wrapped_key, n.body
				FROM case_keys k JOIN notes n ON n.case_id = k.case_id WHERE n.id = ?`), f.Notes[0].ID); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ShredCaseKey(storetest.CLI(), f.Case.ID); err != nil {
				t.Fatal(err)
			}
			opensBackup := func(r *sealbox.Keyring) bool {
				dek, err := r.Unwrap(backup.Master, f.Case.ID, backup.KeyID, backup.Wrapped)
				if err != nil {
					return false
				}
				k, err := sealbox.NewCaseKey(dek)
				if err != nil {
					t.Fatal(err)
				}
				body, err := k.Open(sealbox.Where{Table: "notes", Column: "body", Row: f.Notes[0].ID}, backup.Body)
				return err == nil && body == f.Notes[0].Body
			}
			if !opensBackup(ring) {
				t.Fatal("the backup does not open with the master key that wrapped its case key")
			}

			// Rotate, two keys a batch: four cases keep a key.
			ring.Add()
			db.CaseKeys = ring
			rot, err := db.RotateCaseKeys(storetest.CLI(), 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rot.Rewrapped != 4 || rot.Batches != 3 || rot.Total != 4 || rot.MasterKeyID != ring.Primary() {
				t.Fatalf("rotation %+v, want 4 rewrapped in 3 batches under %s", rot, ring.Primary())
			}
			var under int
			if err := db.Raw().Get(&under, db.Raw().Rebind(`SELECT COUNT(*) FROM case_keys WHERE master_key_id = ?`), old); err != nil || under != 0 {
				t.Fatalf("%d keys still under the old master key, %v", under, err)
			}
			var payload string
			if err := db.Raw().Get(&payload, db.Raw().Rebind(`SELECT payload FROM audit_pending WHERE action = ? UNION ALL SELECT payload FROM audit_event WHERE action = ?`),
				sealbox.ActionMasterKeyRotated, sealbox.ActionMasterKeyRotated); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`"rewrapped":"4"`, `"batches":"3"`, `"case_keys":"4"`} {
				if !strings.Contains(payload, want) {
					t.Errorf("the rotation's event says %s, want %s in it", payload, want)
				}
			}
			// Run again: nothing left to rewrap, one batch.
			if rot, err := db.RotateCaseKeys(storetest.CLI(), 2, nil); err != nil || rot.Rewrapped != 0 {
				t.Fatalf("second run: %+v, %v", rot, err)
			}

			// Retire the old master key; a fresh replica reads with the
			// new keyring alone.
			if err := ring.Remove(old); err != nil {
				t.Fatal(err)
			}
			fresh := storetest.MustOpen(t, dsn)
			fresh.CaseKeys = ring
			c := &casefile.Case{Reference: "ROT-NEW-" + f.Case.ID, Title: "After"}
			if err := fresh.CreateCase(wctx, c); err != nil {
				t.Fatal(err)
			}
			if err := fresh.AddNote(wctx, &casefile.Note{CaseID: c.ID, Body: "Written after the rotation."}); err != nil {
				t.Fatal(err)
			}
			if notes, err := fresh.FindNotes(wctx, c.ID); err != nil || len(notes) != 1 || notes[0].Body != "Written after the rotation." {
				t.Fatalf("after the rotation: %v, %v", notes, err)
			}
			if opensBackup(ring) {
				t.Fatal("the backup taken before the erasure still opens the erased case's text after its master key was retired")
			}
		})
	}
}

// TestSealExisting: a case written by release 1.0 (no key, plaintext rows)
// reads as before; encrypt-existing gives it a key and seals its rows in
// place, which read back the same, and the rows still refuse any other
// change.
func TestSealExisting(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			f := storetest.MustSeed(t, storetest.MustOpen(t, dsn))
			wctx := storetest.As(context.Background(), f.Worker)
			// A database upgraded from 1.0 does not seal until
			// encrypt-existing: replicas of 1.0 read what is written.
			if _, err := storetest.MustOpen(t, dsn).Raw().Exec(`DELETE FROM case_text_sealing`); err != nil {
				t.Fatal(err)
			}
			db := storetest.MustOpen(t, dsn)
			raw := db.Raw()
			during := &casefile.Note{CaseID: f.Case.ID, Body: "Written while 1.0 replicas still run."}
			if err := db.AddNote(wctx, during); err != nil {
				t.Fatal(err)
			}
			if b := rawText(t, db, "notes", "body", during.ID); b != during.Body {
				t.Fatalf("a note written before sealing is switched on is stored as %q", b)
			}
			legacy, party, note, draft := "case_legacy"+f.Case.ID[5:], "pty_legacy"+f.Case.ID[5:], "note_legacy"+f.Case.ID[5:], "drf_legacy"+f.Case.ID[5:]
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO cases (id, reference, title, case_type, team_id, worker_id, created_by, created_at) VALUES (?, ?, 'Old', '', ?, ?, ?, ?)`,
					[]any{legacy, "OLD-" + f.Case.Reference, f.Team.ID, f.Worker.ID, f.Worker.ID, f.Case.CreatedAt}},
				{`INSERT INTO parties (id, case_id, role, full_name, date_of_birth, address, phone, email, national_id, created_by, created_at)
					VALUES (?, ?, 'client', 'Anna Old', '1950-01-01', 'Old Street 1', '', 'anna@example.org', '', ?, ?)`,
					[]any{party, legacy, f.Worker.ID, f.Case.CreatedAt}},
				{`INSERT INTO notes (id, case_id, author_id, body, body_sha256, written_at, created_at) VALUES (?, ?, ?, 'Plain words of 1.0.', 'x', ?, ?)`,
					[]any{note, legacy, f.Worker.ID, f.Case.CreatedAt, f.Case.CreatedAt}},
				{`INSERT INTO drafts (id, case_id, kind, status, requested_by, reviewer_id, team_id, note_ids, language, content, run_after, created_at, updated_at)
					VALUES (?, ?, 'summary', 'approved', ?, ?, ?, '[]', 'en', '{"summary":"Old signed words."}', ?, ?, ?)`,
					[]any{draft, legacy, f.Worker.ID, f.Worker.ID, f.Team.ID, f.Case.CreatedAt, f.Case.CreatedAt, f.Case.CreatedAt}},
				{`INSERT INTO decisions (id, draft_id, outcome, decided_by, final_text, edited, edit_ratio, reason, comment, review_ms, fast, decided_at, statements)
					VALUES (?, ?, 'approved', ?, 'Old signed words.', ?, 0, '', 'Read twice.', 1000, ?, ?, '[{"id":"st_1","action":"confirmed","comment":"Anna said so."}]')`,
					[]any{"dec" + draft, draft, f.Worker.ID, false, false, f.Case.CreatedAt}},
				{`INSERT INTO countersignatures (draft_id, outcome, signed_by, reason, comment, signed_at) VALUES (?, 'approved', ?, '', 'Anna agreed.', ?)`,
					[]any{draft, f.Supervisor.ID, f.Case.CreatedAt}},
				{`INSERT INTO vigilance_checks (draft_id, statement_id, text, inserted_at) VALUES (?, 'st_v', 'Anna moved in 1990.', ?)`,
					[]any{draft, f.Case.CreatedAt}},
				{`INSERT INTO consents (id, case_id, seq, given, note, recorded_by, recorded_at) VALUES (?, ?, 1, ?, 'Anna agreed by letter.', ?, ?)`,
					[]any{"cns" + draft, legacy, true, f.Worker.ID, f.Case.CreatedAt}},
				{`INSERT INTO record_entries (id, case_id, draft_id, kind, content, ai_drafted, model, prompt_version, edited, edited_by, signed_by, signed_at)
					VALUES (?, ?, ?, 'summary', 'Old signed words.', ?, 'm', 'p', ?, '', ?, ?)`,
					[]any{"rec" + draft, legacy, draft, true, false, f.Worker.ID, f.Case.CreatedAt}},
				{`INSERT INTO record_corrections (id, case_id, supersedes, kind, content, reason, signed_by, signed_at, status)
					VALUES (?, ?, ?, 'summary', 'Anna paid.', 'Anna said.', ?, ?, 'pending')`,
					[]any{"cor" + draft, legacy, "rec" + draft, f.Worker.ID, f.Case.CreatedAt}},
			} {
				if _, err := raw.Exec(raw.Rebind(q.sql), q.args...); err != nil {
					t.Fatal(err)
				}
			}
			notes, err := db.FindNotes(wctx, legacy)
			if err != nil || len(notes) != 1 || notes[0].Body != "Plain words of 1.0." {
				t.Fatalf("legacy notes: %v, %v", notes, err)
			}
			s, err := db.SealExisting(storetest.CLI(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if s.Keys != 1 || s.Rows["notes"] != 2 || s.Rows["parties"] != 1 || s.Rows["drafts"] != 1 || s.Rows["decisions"] != 1 || s.Rows["record_entries"] != 1 ||
				s.Rows["consents"] != 1 || s.Rows["countersignatures"] != 1 || s.Rows["vigilance_checks"] != 1 || s.Rows["record_corrections"] != 1 {
				t.Fatalf("sealed %+v, want one key, and one row of each of notes, parties, drafts, decisions, record entries, consents, countersignatures, vigilance checks, corrections", s)
			}
			for what, q := range map[string]string{
				"the decision": `SELECT final_text FROM decisions WHERE draft_id = ?`, "its comment": `SELECT comment FROM decisions WHERE draft_id = ?`,
				"the entry": `SELECT content FROM record_entries WHERE draft_id = ?`, "the draft": `SELECT content FROM drafts WHERE id = ?`,
				"its statements' verdicts":       `SELECT statements FROM decisions WHERE draft_id = ?`,
				"its countersignature's comment": `SELECT comment FROM countersignatures WHERE draft_id = ?`,
				"its vigilance statement":        `SELECT text FROM vigilance_checks WHERE draft_id = ?`,
			} {
				var v string
				if err := raw.Get(&v, raw.Rebind(q), draft); err != nil || !strings.HasPrefix(v, sealbox.Prefix) {
					t.Errorf("%s of 1.0 is stored as %q after encrypt-existing (%v)", what, v, err)
				}
			}
			if d, err := db.FindDraftByID(wctx, draft); err != nil || d.Decision == nil || d.Decision.FinalText != "Old signed words." || d.Decision.Comment != "Read twice." {
				t.Fatalf("the sealed decision of 1.0 read back: %+v, %v", d, err)
			}
			if d, err := db.FindDraftByID(wctx, draft); err != nil || d.Countersignature == nil || d.Countersignature.Comment != "Anna agreed." ||
				len(d.Decision.Statements) != 1 || d.Decision.Statements[0].Comment != "Anna said so." {
				t.Fatalf("the sealed countersignature and verdicts of 1.0 read back: %+v, %v", d, err)
			}
			if v := rawText(t, db, "record_corrections", "content", "cor"+draft); storetest.MustOpenRaw(t, db, legacy, sealbox.Where{Table: "record_corrections", Column: "content", Row: "cor" + draft}, v) != "Anna paid." || !sealbox.IsSealed(v) {
				t.Fatalf("the pending correction of 1.0 is stored as %q after encrypt-existing", v)
			}
			if st, err := db.FindConsent(wctx, legacy); err != nil || st.Current == nil || st.Current.Note != "Anna agreed by letter." ||
				!sealbox.IsSealed(rawText(t, db, "consents", "note", "cns"+draft)) {
				t.Fatalf("the sealed consent of 1.0 read back: %+v, %v", st, err)
			}
			rec, err := db.FindRecord(wctx, legacy)
			if err != nil {
				t.Fatal(err)
			}
			read := map[string]string{}
			for _, e := range rec {
				read[e.ID] = e.Content
			}
			if read["rec"+draft] != "Old signed words." || read["cor"+draft] != "Anna paid." {
				t.Fatalf("the sealed entry and pending correction of 1.0 read back: %v", read)
			}
			if b := rawText(t, db, "notes", "body", note); !strings.HasPrefix(b, sealbox.Prefix) {
				t.Fatalf("the legacy note is stored as %q after encrypt-existing", b)
			}
			if n := rawText(t, db, "parties", "full_name", party); !strings.HasPrefix(n, sealbox.Prefix) {
				t.Fatalf("the legacy party is stored as %q after encrypt-existing", n)
			}
			if p := rawText(t, db, "parties", "phone", party); p != "" {
				t.Fatalf("an empty phone is stored as %q", p)
			}
			notes, err = db.FindNotes(wctx, legacy)
			if err != nil || len(notes) != 1 || notes[0].Body != "Plain words of 1.0." {
				t.Fatalf("sealed legacy notes: %v, %v", notes, err)
			}
			parties, err := db.FindParties(wctx, legacy)
			if err != nil || parties[0].FullName != "Anna Old" || parties[0].Email != "anna@example.org" {
				t.Fatalf("sealed legacy party: %+v, %v", parties, err)
			}
			if b := rawText(t, db, "notes", "body", during.ID); !strings.HasPrefix(b, sealbox.Prefix) {
				t.Fatalf("the note written before sealing was switched on is stored as %q after encrypt-existing", b)
			}
			after := &casefile.Note{CaseID: f.Case.ID, Body: "Written once sealing is on."}
			if err := db.AddNote(wctx, after); err != nil {
				t.Fatal(err)
			}
			if b := rawText(t, db, "notes", "body", after.ID); !strings.HasPrefix(b, sealbox.Prefix) {
				t.Fatalf("a note written after encrypt-existing is stored as %q", b)
			}
			// Nothing left: a second run seals nothing.
			if s, err := db.SealExisting(storetest.CLI(), 1); err != nil || s.Keys != 0 || s.Rows["notes"] != 0 {
				t.Fatalf("second run: %+v, %v", s, err)
			}
			// Notes still refuse every other change.
			if _, err := raw.Exec(raw.Rebind(`UPDATE notes SET body = ? WHERE id = ?`), "cs1:forged", f.Notes[0].ID); err == nil {
				t.Fatal("a sealed note was overwritten")
			}
			if _, err := raw.Exec(raw.Rebind(`UPDATE notes SET author_id = ? WHERE id = ?`), f.Supervisor.ID, note); err == nil {
				t.Fatal("a note's author was changed")
			}
			// Consents too (migration 0018).
			if _, err := raw.Exec(raw.Rebind(`UPDATE consents SET given = ? WHERE id = ?`), false, "cns"+draft); err == nil {
				t.Fatal("a consent was changed")
			}
		})
	}
}

// TestEveryCaseTextIsSealed: a draft's content, a decision's final text, a
// signed entry, a client's response and an agenda entry's title are
// stored sealed, read back as written, and the case data check finds
// every sealed text to be the one the log committed to; the rows that
// never change refuse a sealed text replaced.
func TestEveryCaseTextIsSealed(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			w := storetest.MustCaseDataWorld(t, db)
			f := w.F
			wctx := storetest.As(context.Background(), f.Worker)
			raw := db.Raw()
			sealed := func(what, query string, args ...any) {
				t.Helper()
				var s string
				if err := raw.Get(&s, raw.Rebind(query), args...); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if !strings.HasPrefix(s, sealbox.Prefix) || strings.Contains(s, "Marie") {
					t.Errorf("%s is stored as %.80q, want it sealed", what, s)
				}
			}
			sealed("a draft's content", `SELECT content FROM drafts WHERE id = ?`, w.Waiting.ID)
			sealed("a decision's final text", `SELECT final_text FROM decisions WHERE draft_id = ?`, w.Signed.ID)
			sealed("a decision's diff", `SELECT diff FROM decisions WHERE draft_id = ?`, w.Signed.ID)
			sealed("a record entry", `SELECT content FROM record_entries WHERE id = ?`, w.Entry.ID)

			e := storetest.MustSignedEntry(t, db, f, assistant.KindSuggestions, review.SharingShared, "")
			p := storetest.MustClientAccount(t, db, f.Case.ID, f.Client.ID, "Marie Dubois")
			cctx := client.NewContext(context.Background(), p)
			const answer = "I paid the rent in November; the arrears are one month."
			r, err := db.Respond(cctx, e.ID, client.ResponseCorrection, answer)
			if err != nil {
				t.Fatal(err)
			}
			sealed("a client's response", `SELECT text FROM client_responses WHERE id = ?`, r.ID)
			mine, err := db.FindMyResponses(cctx)
			if err != nil || len(mine) != 1 || mine[0].Text != answer {
				t.Fatalf("responses read back: %+v, %v", mine, err)
			}
			entry, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: "2026-12-20", Title: "Marie's appeal to the energy fund"})
			if err != nil {
				t.Fatal(err)
			}
			sealed("an agenda entry's title", `SELECT title FROM agenda_entries WHERE id = ?`, entry.ID)
			if got, err := db.FindEntryByID(wctx, entry.ID); err != nil || got.Title != "Marie's appeal to the energy fund" {
				t.Fatalf("agenda entry read back: %+v, %v", got, err)
			}

			signed, err := db.FindDraftByID(wctx, w.Signed.ID)
			if err != nil || signed.Decision == nil || signed.Decision.FinalText != w.Entry.Content || !strings.Contains(w.Entry.Content, "Marie") {
				t.Fatalf("the decision read back: %+v, %v", signed.Decision, err)
			}

			// The texts sealed since migration 0018.
			const consentNote = "Marie agreed on the phone, her daughter present."
			if err := db.RecordConsent(wctx, &casefile.Consent{CaseID: f.Case.ID, Given: true, Note: consentNote}); err != nil {
				t.Fatal(err)
			}
			st, err := db.FindConsent(wctx, f.Case.ID)
			if err != nil || st.Current == nil || st.Current.Note != consentNote {
				t.Fatalf("consent read back: %+v, %v", st, err)
			}
			sealed("a consent's note", `SELECT note FROM consents WHERE id = ?`, st.Current.ID)

			const agendaReason = "Marie withdrew the appeal."
			if _, _, err := db.CloseEntry(wctx, entry.ID, agenda.Close{Outcome: agenda.OutcomeNotRelevant, Reason: agendaReason}); err != nil {
				t.Fatal(err)
			}
			sealed("a closed agenda entry's reason", `SELECT reason FROM agenda_entries WHERE id = ?`, entry.ID)
			if got, err := db.FindEntryByID(wctx, entry.ID); err != nil || got.Reason != agendaReason {
				t.Fatalf("closed agenda entry read back: %+v, %v", got, err)
			}

			const answerReason = "Marie's landlord confirms two months of arrears."
			if _, err := db.AnswerResponse(wctx, r.ID, client.Answer{Outcome: client.OutcomeDeclined, Reason: answerReason}); err != nil {
				t.Fatal(err)
			}
			sealed("an answer's reason", `SELECT reason FROM client_responses WHERE id = ?`, r.ID)
			if mine, err := db.FindMyResponses(cctx); err != nil || len(mine) != 1 || mine[0].Reason != answerReason {
				t.Fatalf("answered response read back: %+v, %v", mine, err)
			}

			// The correction waiting for a second signature: its proposed
			// text and reason, then the countersigner's comment.
			sealed("a pending correction's text", `SELECT content FROM record_corrections WHERE id = ?`, w.Pending.ID)
			sealed("a pending correction's reason", `SELECT reason FROM record_corrections WHERE id = ?`, w.Pending.ID)
			sctx := storetest.As(context.Background(), f.Supervisor)
			corrected, err := db.CountersignCorrection(sctx, f.Case.ID, w.Pending.ID, "Checked with Marie.")
			if err != nil || corrected.Content != w.Pending.Content || corrected.Correction != w.Pending.Correction {
				t.Fatalf("the countersigned correction: %+v, %v", corrected, err)
			}
			sealed("a correction's countersigning comment", `SELECT comment FROM record_corrections WHERE id = ?`, w.Pending.ID)

			// A countersignature's comment and the reviewer's comments on
			// each statement and item.
			d := storetest.MustDraft(t, db, f, assistant.KindSummary)
			var ap review.Approval
			for _, s := range d.Content.Statements {
				ap.Statements = append(ap.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed, Comment: "Marie said so herself."})
			}
			for _, it := range d.Content.Items {
				ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: true, Comment: "Marie agrees."})
			}
			if _, err := storetest.SignOff(db, wctx, d.ID, ap); err != nil {
				t.Fatal(err)
			}
			const csComment = "Marie's budget checked with her."
			if _, err := storetest.Countersign(db, sctx, d.ID, review.Countersign{Comment: csComment}); err != nil {
				t.Fatal(err)
			}
			sealed("a countersignature's comment", `SELECT comment FROM countersignatures WHERE draft_id = ?`, d.ID)
			sealed("the comments on statements", `SELECT statements FROM decisions WHERE draft_id = ?`, d.ID)
			sealed("the comments on items", `SELECT items FROM decisions WHERE draft_id = ?`, d.ID)
			got, err := db.FindDraftByID(sctx, d.ID)
			if err != nil || got.Countersignature == nil || got.Countersignature.Comment != csComment || got.Decision == nil ||
				len(got.Decision.Statements) == 0 || got.Decision.Statements[0].Comment != "Marie said so herself." ||
				(len(d.Content.Items) > 0 && (len(got.Decision.Items) == 0 || got.Decision.Items[0].Comment != "Marie agrees.")) {
				t.Fatalf("the countersigned draft read back: %+v, %v", got, err)
			}

			// A vigilance statement: planted in the draft, sealed where it
			// is kept, and opened to tell the reviewer who missed it.
			db.Policy.Vigilance, db.Policy.VigilanceRate = true, 0.5
			db.Rand = func() float64 { return 0 }
			v := storetest.MustDraft(t, db, f, assistant.KindSummary)
			sealed("a vigilance statement", `SELECT text FROM vigilance_checks WHERE draft_id = ?`, v.ID)
			var planted string
			if err := raw.Get(&planted, raw.Rebind(`SELECT statement_id FROM vigilance_checks WHERE draft_id = ?`), v.ID); err != nil {
				t.Fatal(err)
			}
			var ap2 review.Approval
			text := ""
			for _, s := range v.Content.Statements {
				if s.ID == planted {
					text = s.Text
				}
				ap2.Statements = append(ap2.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed})
			}
			for _, it := range v.Content.Items {
				ap2.Items = append(ap2.Items, review.ItemDecision{ID: it.ID, Accepted: true})
			}
			so, err := storetest.SignOff(db, wctx, v.ID, ap2)
			if err != nil || text == "" || so.Vigilance == nil || !so.Vigilance.Missed || !strings.Contains(so.Vigilance.Message, text) {
				t.Fatalf("the missed vigilance statement %q: %+v, %v", text, so, err)
			}
			record, err := db.FindRecord(wctx, f.Case.ID)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, re := range record {
				found = found || (re.ID == w.Entry.ID && re.Content == w.Entry.Content)
			}
			if !found {
				t.Fatalf("the signed entry is not read back from the record: %+v", record)
			}
			if _, findings := storetest.MustCheckCaseData(t, db); len(findings) != 0 {
				t.Fatalf("the case data check found %v", findings)
			}
			if _, err := raw.Exec(raw.Rebind(`UPDATE consents SET note = 'cs1:x' WHERE id = ?`), st.Current.ID); err == nil {
				t.Error("a sealed consent note was replaced")
			}
			for _, q := range []string{`UPDATE decisions SET final_text = 'cs1:x' WHERE draft_id = ?`, `UPDATE record_entries SET content = 'cs1:x' WHERE draft_id = ?`,
				`UPDATE decisions SET statements = 'cs1:x' WHERE draft_id = ?`} {
				if _, err := raw.Exec(raw.Rebind(q), w.Signed.ID); err == nil {
					t.Errorf("%s: a sealed text was replaced", q)
				}
			}

			// The erasure blanks each of them, and the log still verifies.
			storetest.MustEraseOnRequest(t, db, f)
			for what, q := range map[string]string{
				"consents":               `SELECT COUNT(*) FROM consents WHERE case_id = ? AND note <> ''`,
				"agenda reasons":         `SELECT COUNT(*) FROM agenda_entries WHERE case_id = ? AND reason <> ''`,
				"answer reasons":         `SELECT COUNT(*) FROM client_responses WHERE case_id = ? AND reason <> ''`,
				"corrections":            `SELECT COUNT(*) FROM record_corrections WHERE case_id = ? AND (content <> '' OR reason <> '' OR comment <> '')`,
				"countersignatures":      `SELECT COUNT(*) FROM countersignatures WHERE draft_id IN (SELECT id FROM drafts WHERE case_id = ?) AND comment <> ''`,
				"vigilance statements":   `SELECT COUNT(*) FROM vigilance_checks WHERE draft_id IN (SELECT id FROM drafts WHERE case_id = ?) AND text <> ''`,
				"verdicts with comments": `SELECT COUNT(*) FROM decisions WHERE draft_id IN (SELECT id FROM drafts WHERE case_id = ?) AND (items <> '[]' OR statements <> '[]')`,
			} {
				var n int
				if err := raw.Get(&n, raw.Rebind(q), f.Case.ID); err != nil || n != 0 {
					t.Errorf("after the erasure, %d rows of %s keep their text (%v)", n, what, err)
				}
			}
			if got, err := db.FindDraftByID(storetest.As(context.Background(), f.Admin), d.ID); err == nil && got.Countersignature != nil && got.Countersignature.Comment != "" {
				t.Errorf("an erased countersignature reads %q", got.Countersignature.Comment)
			}
			if _, findings := storetest.MustCheckCaseData(t, db); len(findings) != 0 {
				t.Fatalf("after the erasure, the case data check found %v", findings)
			}
		})
	}
}
