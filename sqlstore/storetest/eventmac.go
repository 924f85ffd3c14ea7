package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore"
)

// exerciseEventMAC shows that only the service can write events (issue 14,
// item 2): a row someone inserts into audit_pending by hand, alters, or
// copies never enters the log; it is kept in audit_refused, counted, and
// the service's own events, the fast note path included, still go through.
func exerciseEventMAC(t *testing.T, open func(t testing.TB) *sqlstore.DB, dsn func(t testing.TB) string) {
	ctx := CLI()
	type bundle struct {
		db      *sqlstore.DB
		f       *Fixture
		refused *[]sqlstore.RefusedEvent
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		db := open(t)
		f := MustSeed(t, db)
		_, err := db.Sequence(ctx)
		ok(t, err)
		var refused []sqlstore.RefusedEvent
		db.OnRefused = func(r sqlstore.RefusedEvent) { refused = append(refused, r) }
		return &bundle{db: db, f: f, refused: &refused}
	}
	size := func(t *testing.T, db *sqlstore.DB) uint64 {
		t.Helper()
		h, err := db.Head(ctx)
		ok(t, err)
		return h.Size
	}
	// insertByHand inserts a pending event as an attacker with write access
	// to the database would: a plausible approval by a named supervisor.
	insertByHand := func(t *testing.T, db *sqlstore.DB, actorID string, nonce, mac []byte) {
		t.Helper()
		_, err := db.Raw().Exec(db.Raw().Rebind(`
			INSERT INTO audit_pending (at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac)
			VALUES (?, ?, 'supervisor', 'draft.approved', 'draft', 'drf_forged', 'cas_forged', '{}', ?, ?)`),
			time.Now().UTC().Format(audit.TimeFormat), actorID, nonce, mac)
		ok(t, err)
	}
	reasons := func(t *testing.T, db *sqlstore.DB) []string {
		t.Helper()
		rs, err := db.RefusedEvents(ctx)
		ok(t, err)
		var out []string
		for _, r := range rs {
			out = append(out, r.Reason)
		}
		return out
	}
	pendingCount := func(t *testing.T, db *sqlstore.DB) int {
		t.Helper()
		var n int
		ok(t, db.Raw().Get(&n, `SELECT COUNT(*) FROM audit_pending`))
		return n
	}

	t.Run("AnEventInsertedByHandIsRefusedKeptAndCounted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := size(t, b.db)
		insertByHand(t, b.db, b.f.Supervisor.ID, nil, nil)                                        // no MAC at all
		insertByHand(t, b.db, b.f.Supervisor.ID, make([]byte, 16), make([]byte, 32))              // a made-up MAC
		insertByHand(t, b.db, b.f.Supervisor.ID, []byte("n"), EventKey.MAC([]byte("n"), "guess")) // a real MAC of other columns
		// A note the service writes between them still goes through.
		ok(t, b.db.AddNote(As(ctx, b.f.Worker), &casefile.Note{CaseID: b.f.Case.ID, Body: "Phone call."}))
		after, err := b.db.Sequence(ctx)
		ok(t, err)
		if after != before+1 {
			t.Fatalf("log size %d -> %d, want only the note's event added", before, after)
		}
		if got, want := reasons(t, b.db), []string{sqlstore.RefusedMissingMAC, sqlstore.RefusedInvalidMAC, sqlstore.RefusedInvalidMAC}; !slices.Equal(got, want) {
			t.Fatalf("refused %v, want %v", got, want)
		}
		if len(*b.refused) != 3 || (*b.refused)[0].ActorID != b.f.Supervisor.ID || (*b.refused)[0].Action != audit.ActionDraftApproved {
			t.Fatalf("OnRefused was told %+v, want the three rows", *b.refused)
		}
		if n := pendingCount(t, b.db); n != 0 {
			t.Fatalf("%d rows still pending", n)
		}
		// Kept whole, out of the log.
		var payload string
		ok(t, b.db.Raw().Get(&payload, `SELECT payload FROM audit_refused ORDER BY id LIMIT 1`))
		if payload != "{}" {
			t.Fatalf("refused row kept payload %q", payload)
		}
		events, err := b.db.FindEvents(ctx, audit.EventFilter{})
		ok(t, err)
		for _, e := range events {
			if e.SubjectID == "drf_forged" {
				t.Fatalf("forged event in the log at %d", e.Seq)
			}
		}
		mustVerify(t, b.db)
	})

	t.Run("AnAlteredEventIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := size(t, b.db)
		ok(t, b.db.AddNote(As(ctx, b.f.Worker), &casefile.Note{CaseID: b.f.Case.ID, Body: "Visit."}))
		// Someone with the database's owner rights makes the note a supervisor's.
		_, err := b.db.Raw().Exec(b.db.Raw().Rebind(`UPDATE audit_pending SET actor_id = ?`), b.f.Supervisor.ID)
		ok(t, err)
		after, err := b.db.Sequence(ctx)
		ok(t, err)
		if after != before {
			t.Fatalf("log size %d -> %d, want the altered event kept out", before, after)
		}
		if got := reasons(t, b.db); !slices.Equal(got, []string{sqlstore.RefusedInvalidMAC}) {
			t.Fatalf("refused %v", got)
		}
	})

	t.Run("AReplayedEventIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := size(t, b.db)
		ok(t, b.db.AddNote(As(ctx, b.f.Worker), &casefile.Note{CaseID: b.f.Case.ID, Body: "Visit."}))
		// A copy of the service's pending row, valid MAC and all, taken
		// while it is pending...
		const copyRow = `INSERT INTO audit_pending (at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac)
			SELECT at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac FROM audit_pending`
		var saved []byte
		ok(t, b.db.Raw().Get(&saved, `SELECT mac FROM audit_pending`))
		_, err := b.db.Raw().Exec(copyRow)
		ok(t, err)
		// ...and kept for later.
		_, err = b.db.Raw().Exec(`CREATE TABLE stolen AS SELECT at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac FROM audit_pending LIMIT 1`)
		ok(t, err)
		after, err := b.db.Sequence(ctx)
		ok(t, err)
		if after != before+1 {
			t.Fatalf("log size %d -> %d, want the note's event once", before, after)
		}
		_, err = b.db.Raw().Exec(`INSERT INTO audit_pending (at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac)
			SELECT at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac FROM stolen`)
		ok(t, err)
		if after, err = b.db.Sequence(ctx); err != nil || after != before+1 {
			t.Fatalf("log size %d -> %d (%v) after the replay, want unchanged", before, after, err)
		}
		if got, want := reasons(t, b.db), []string{sqlstore.RefusedReplayed, sqlstore.RefusedReplayed}; !slices.Equal(got, want) {
			t.Fatalf("refused %v, want %v", got, want)
		}
		// A copy in the middle of a batch of the service's own events: the
		// log's unique nonce refuses the batch's INSERT, and the batch is
		// sequenced again without the copy, its events at the next places
		// with no gap, in their order.
		ok(t, b.db.AddNote(As(ctx, b.f.Worker), &casefile.Note{CaseID: b.f.Case.ID, Body: "Before the copy."}))
		_, err = b.db.Raw().Exec(`INSERT INTO audit_pending (at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac)
			SELECT at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac FROM stolen`)
		ok(t, err)
		ok(t, b.db.AddNote(As(ctx, b.f.Worker), &casefile.Note{CaseID: b.f.Case.ID, Body: "After the copy."}))
		if after, err = b.db.Sequence(ctx); err != nil || after != before+3 {
			t.Fatalf("log size %d -> %d (%v) after a batch with a copy, want the two notes' events", before, after, err)
		}
		var seqs []int64
		ok(t, b.db.Raw().Select(&seqs, b.db.Raw().Rebind(`SELECT seq FROM audit_event WHERE seq >= ? ORDER BY seq`), before+1))
		if !slices.Equal(seqs, []int64{int64(before) + 1, int64(before) + 2}) {
			t.Fatalf("the batch's events are at %v, want %d and %d", seqs, before+1, before+2)
		}
		if got, want := reasons(t, b.db), []string{sqlstore.RefusedReplayed, sqlstore.RefusedReplayed, sqlstore.RefusedReplayed}; !slices.Equal(got, want) {
			t.Fatalf("refused %v, want %v", got, want)
		}
		if n := len(*b.refused); n != 3 {
			t.Fatalf("OnRefused told of %d refused events, want 3 (once each, not again for the batch sequenced twice)", n)
		}
		mustVerify(t, b.db)
	})

	t.Run("EventsWrittenWithAnotherKeyAreRefused", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db := MustOpen(t, d)
		f := MustSeed(t, db)
		before, err := db.Sequence(ctx)
		ok(t, err)
		// A replica configured with a key of its own writes a note.
		stray := MustOpen(t, d)
		stray.EventKey = audit.NewEventKey()
		ok(t, stray.AddNote(As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: "Visit."}))
		if after, err := db.Sequence(ctx); err != nil || after != before {
			t.Fatalf("log size %d -> %d (%v), want the stray event kept out", before, after, err)
		}
		if got := reasons(t, db); !slices.Equal(got, []string{sqlstore.RefusedInvalidMAC}) {
			t.Fatalf("refused %v", got)
		}
		// Without a key, a handle neither writes nor sequences events.
		keyless := MustOpen(t, d)
		keyless.EventKey = nil
		if err := keyless.AddNote(As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: "Visit."}); err == nil {
			t.Fatal("a note was added without an event key")
		}
		if _, err := keyless.Sequence(ctx); err == nil {
			t.Fatal("events were sequenced without an event key")
		}
	})

	t.Run("AnEventWrittenStraightIntoTheLogIsNamed", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db := MustOpen(t, d)
		f := MustSeed(t, db)
		ok(t, db.AddNote(As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: "Visit."}))
		size, err := db.Sequence(ctx)
		ok(t, err)
		if seqs, n, err := db.UnauthenticatedEvents(ctx, 0); err != nil || n != 0 {
			t.Fatalf("the service's own events: %v %d %v, want none named", seqs, n, err)
		}
		// Someone runs a sequencer of their own, with their own key...
		stray := MustOpen(t, d)
		stray.EventKey = audit.NewEventKey()
		ok(t, stray.AddNote(As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: "Visit."}))
		_, err = stray.Sequence(ctx)
		ok(t, err)
		// ...or inserts an event with no MAC straight after it.
		_, err = db.Raw().Exec(db.Raw().Rebind(`
			INSERT INTO audit_event (seq, at, actor_id, role, action, subject_type, subject_id, case_id, payload, leaf_hash, chain_hash)
			VALUES (?, ?, ?, 'supervisor', 'draft.approved', 'draft', 'drf_forged', 'cas_forged', '{}', ?, ?)`),
			int64(size)+1, time.Now().UTC().Format(audit.TimeFormat), f.Supervisor.ID, make([]byte, 32), make([]byte, 32))
		ok(t, err)
		seqs, n, err := db.UnauthenticatedEvents(ctx, 1)
		ok(t, err)
		if n != 2 || !slices.Equal(seqs, []uint64{size}) {
			t.Fatalf("named %v of %d, want entry %d of 2", seqs, n, size)
		}
	})

	t.Run("TheFastNotePathIsAuthenticated", func(t *testing.T) {
		// On PostgreSQL a worker's and a supervisor's notes take the
		// one-statement path; on SQLite the general one.
		t.Parallel()
		b := setup(t)
		before := size(t, b.db)
		ok(t, b.db.AddNote(As(ctx, b.f.Worker), &casefile.Note{CaseID: b.f.Case.ID, Body: "Visit."}))
		ok(t, b.db.AddNote(As(ctx, b.f.Supervisor), &casefile.Note{CaseID: b.f.Case.ID, Body: "Reviewed."}))
		var rows []struct {
			At          string `db:"at"`
			ActorID     string `db:"actor_id"`
			Role        string `db:"role"`
			Action      string `db:"action"`
			SubjectType string `db:"subject_type"`
			SubjectID   string `db:"subject_id"`
			CaseID      string `db:"case_id"`
			Payload     string `db:"payload"`
			Nonce       []byte `db:"nonce"`
			MAC         []byte `db:"mac"`
		}
		ok(t, b.db.Raw().Select(&rows, `SELECT at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac FROM audit_pending ORDER BY id`))
		if len(rows) != 2 {
			t.Fatalf("%d pending rows, want 2", len(rows))
		}
		for _, r := range rows {
			if len(r.Nonce) != 16 || !EventKey.Verify(r.MAC, r.Nonce, r.At, r.ActorID, r.Role, r.Action, r.SubjectType, r.SubjectID, r.CaseID, r.Payload) {
				t.Fatalf("pending %s by %s: MAC does not verify", r.Action, r.ActorID)
			}
		}
		if after, err := b.db.Sequence(ctx); err != nil || after != before+2 {
			t.Fatalf("log size %d -> %d (%v), want both notes' events", before, after, err)
		}
		if got := reasons(t, b.db); len(got) != 0 {
			t.Fatalf("refused %v", got)
		}
	})

	t.Run("EventsPendingBeforeMigration0007AreSequencedOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := size(t, b.db)
		// As migration 0007 finds them: the events of two notes written by
		// the previous version, without a MAC, and the last of their ids
		// recorded.
		for _, body := range []string{"Visit.", "Phone call."} {
			ok(t, b.db.AddNote(As(ctx, b.f.Worker), &casefile.Note{CaseID: b.f.Case.ID, Body: body}))
		}
		_, err := b.db.Raw().Exec(`UPDATE audit_pending SET nonce = NULL, mac = NULL`)
		ok(t, err)
		_, err = b.db.Raw().Exec(`INSERT INTO audit_legacy_pending (id, up_to) SELECT 1, MAX(id) FROM audit_pending`)
		ok(t, err)
		ok(t, b.db.Migrate(context.Background())) // what every start does
		if got := size(t, b.db); got != before+2 {
			t.Fatalf("log size %d -> %d, want the two legacy events", before, got)
		}
		// Logged without a nonce or a MAC, NULL as the previous version
		// left them: UnauthenticatedEvents checks from the first MAC on.
		var nulls int
		ok(t, b.db.Raw().Get(&nulls, b.db.Raw().Rebind(`SELECT COUNT(*) FROM audit_event WHERE seq >= ? AND nonce IS NULL AND mac IS NULL`), before))
		if nulls != 2 {
			t.Fatalf("%d of the two legacy events are logged with NULL nonce and MAC", nulls)
		}
		var marks int
		ok(t, b.db.Raw().Get(&marks, `SELECT COUNT(*) FROM audit_legacy_pending`))
		if marks != 0 {
			t.Fatal("the legacy mark is still there")
		}
		// From then on, a row without a MAC is refused, whatever its id.
		insertByHand(t, b.db, b.f.Supervisor.ID, nil, nil)
		ok(t, b.db.Migrate(context.Background()))
		if after, err := b.db.Sequence(ctx); err != nil || after != before+2 {
			t.Fatalf("log size %d -> %d (%v), want the new row kept out", before, after, err)
		}
		if got := reasons(t, b.db); !slices.Equal(got, []string{sqlstore.RefusedMissingMAC}) {
			t.Fatalf("refused %v", got)
		}
		mustVerify(t, b.db)
	})

	t.Run("RefusedEventsCannotBeChangedOrDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		insertByHand(t, b.db, b.f.Supervisor.ID, nil, nil)
		_, err := b.db.Sequence(ctx)
		ok(t, err)
		for _, s := range []string{`UPDATE audit_refused SET reason = 'x'`, `DELETE FROM audit_refused`} {
			if _, err := b.db.Raw().Exec(s); err == nil {
				t.Errorf("%s: accepted, want refused", s)
			}
		}
		if got := reasons(t, b.db); !slices.Equal(got, []string{sqlstore.RefusedMissingMAC}) {
			t.Fatalf("refused %v", got)
		}
	})
}
