package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	"golang.org/x/mod/sumdb/note"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore"
)

// tamperLog is a log the ethics board visited once (Saved is the checkpoint
// it kept) and that grew afterwards (Latest); then an attacker got in.
type tamperLog struct {
	db     *sqlstore.DB
	notary *audit.Notary
	keys   []note.Verifier
	Saved  *audit.Checkpoint
	Latest *audit.Checkpoint
}

func mustTamperLog(t *testing.T, open func(t testing.TB) *sqlstore.DB) *tamperLog {
	t.Helper()
	ctx := CLI()
	db := open(t)
	f := MustSeed(t, db)
	signer, vkey, err := audit.LoadOrCreateSigner(t.TempDir()+"/key", testOrigin)
	ok(t, err)
	keys, err := audit.ParseVerifierKeys(vkey)
	ok(t, err)
	l := &tamperLog{db: db, notary: &audit.Notary{Store: db, Signer: signer, Origin: testOrigin}, keys: keys}
	notes := func(n int) {
		for i := range n {
			ok(t, db.AddNote(As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: fmt.Sprintf("Visit %d.", i)}))
		}
	}
	notes(20)
	l.Saved, err = l.notary.Checkpoint(ctx)
	ok(t, err)
	notes(10)
	l.Latest, err = l.notary.Checkpoint(ctx)
	ok(t, err)
	if l.Latest.Size < l.Saved.Size+10 || l.Saved.Size < 20 {
		t.Fatalf("checkpoints at %d and %d", l.Saved.Size, l.Latest.Size)
	}
	if rep := l.verify(t, nil); !rep.OK {
		t.Fatalf("the untouched log does not verify: %s", rep.Problem)
	}
	if rep := l.verify(t, l.Saved); !rep.OK {
		t.Fatalf("the untouched log does not verify against the saved checkpoint: %s", rep.Problem)
	}
	return l
}

// verify runs what `countersign audit verify` runs against the live
// database: a checkpoint from the notary, then every event streamed in its
// stored form with AllStoredEvents into audit.Verifier.VerifyStored,
// optionally against the board's saved checkpoint. The same events read as
// audit.Events (AllEvents into VerifyEach) must give the same report.
func (l *tamperLog) verify(t *testing.T, since *audit.Checkpoint) *audit.Report {
	t.Helper()
	ctx, cancel := context.WithCancel(CLI())
	defer cancel()
	cp, err := l.notary.Checkpoint(ctx)
	ok(t, err)
	v := &audit.Verifier{Origin: testOrigin, Keys: l.keys, Since: since}
	rep, err := v.VerifyStored(ctx, l.db.AllStoredEvents, cp.Note)
	ok(t, err)
	slow, err := v.VerifyEach(ctx, l.db.AllEvents, cp.Note)
	ok(t, err)
	if !reflect.DeepEqual(rep, slow) {
		t.Fatalf("the stored and the decoded events verify differently:\n%+v\n%+v", rep, slow)
	}
	return rep
}

// mustFailAt checks that rep refuses the log, naming entry seq and saying want.
func mustFailAt(t *testing.T, rep *audit.Report, seq uint64, want string) {
	t.Helper()
	if rep.OK {
		t.Fatalf("the tampered log verifies (%d events)", rep.Events)
	}
	if rep.FirstBad == nil || *rep.FirstBad != seq {
		t.Fatalf("first bad entry = %v, want %d (%s)", rep.FirstBad, seq, rep.Problem)
	}
	if !strings.Contains(rep.Problem, want) {
		t.Fatalf("problem %q does not say %q", rep.Problem, want)
	}
}

// asAttacker runs stmts with the append-only triggers of tables out of the
// way, the way someone with owner rights on the database could: on
// PostgreSQL the owner may disable a table's triggers (ENABLE ALWAYS only
// defeats session_replication_role), on SQLite anyone who can write the
// file can drop them. The triggers are put back afterwards.
func asAttacker(t testing.TB, db *sqlstore.DB, tables []string, stmts ...string) {
	t.Helper()
	ctx := CLI()
	tx, err := db.Raw().BeginTxx(ctx, nil)
	ok(t, err)
	defer tx.Rollback()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if db.Dialect() == "postgres" {
		for _, tb := range tables {
			exec(`ALTER TABLE ` + tb + ` DISABLE TRIGGER USER`)
		}
		for _, s := range stmts {
			exec(s)
		}
		// ENABLE ALWAYS takes trigger names; every audit trigger was ALWAYS.
		for _, tb := range tables {
			var names []string
			ok(t, tx.SelectContext(ctx, &names, `SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, tb))
			for _, n := range names {
				exec(`ALTER TABLE ` + tb + ` ENABLE ALWAYS TRIGGER ` + n)
			}
		}
		ok(t, tx.Commit())
		return
	}
	var triggers []struct {
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	for _, tb := range tables {
		var ts []struct {
			Name string `db:"name"`
			SQL  string `db:"sql"`
		}
		ok(t, tx.SelectContext(ctx, &ts, `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?`, tb))
		triggers = append(triggers, ts...)
	}
	for _, tr := range triggers {
		exec(`DROP TRIGGER ` + tr.Name)
	}
	for _, s := range stmts {
		exec(s)
	}
	for _, tr := range triggers {
		exec(tr.SQL)
	}
	ok(t, tx.Commit())
}

// exerciseTamper attacks the log the way issue 5 lists, each time with the
// triggers bypassed, and checks that verification names the damage.
func exerciseTamper(t *testing.T, open func(t testing.TB) *sqlstore.DB, dsn func(t testing.TB) string) {
	exerciseLeastPrivilege(t, dsn)
	events := []string{"audit_event"}
	t.Run("ChangedPayloadByteIsFoundAtItsEntry", func(t *testing.T) {
		t.Parallel()
		l := mustTamperLog(t, open)
		// Entry 5 onwards are notes with a body hash in their payload.
		const seq = 15
		var payload string
		ok(t, l.db.Raw().Get(&payload, l.db.Raw().Rebind(`SELECT payload FROM audit_event WHERE seq = ?`), seq))
		i := strings.LastIndexAny(payload, "0123456789abcdef")
		if i < 0 {
			t.Fatalf("payload %s has no hex digit to change", payload)
		}
		forged := []byte(payload)
		forged[i] ^= 0x01 // one bit of one byte: '0' <-> '1', 'a' <-> '`'...
		if !json.Valid(forged) {
			t.Fatalf("forged payload %s is not JSON", forged)
		}
		asAttacker(t, l.db, events, fmt.Sprintf(`UPDATE audit_event SET payload = '%s' WHERE seq = %d`, forged, seq))
		mustFailAt(t, l.verify(t, nil), seq, "leaf hash does not match")
	})
	t.Run("TimeRewrittenInAnotherFormIsRefused", func(t *testing.T) {
		// The same instant written another way would hash the same once
		// re-formatted; the stored text itself must be the one hashed.
		t.Parallel()
		// A morning hour: time.Parse also takes it without its leading zero.
		morning := func(t testing.TB) *sqlstore.DB {
			db := open(t)
			db.Now = func() time.Time { return time.Date(2026, 11, 27, 6, 30, 0, 123456000, time.UTC) }
			return db
		}
		l := mustTamperLog(t, morning)
		const seq = 9
		var at string
		ok(t, l.db.Raw().Get(&at, l.db.Raw().Rebind(`SELECT at FROM audit_event WHERE seq = ?`), seq))
		forged := strings.Replace(at, "T06:", "T6:", 1)
		if forged == at {
			t.Fatalf("stored time %s is not the fixed morning", at)
		}
		asAttacker(t, l.db, events, fmt.Sprintf(`UPDATE audit_event SET at = '%s' WHERE seq = %d`, forged, seq))
		ctx := CLI()
		cp, err := l.notary.Checkpoint(ctx)
		ok(t, err)
		v := &audit.Verifier{Origin: testOrigin, Keys: l.keys}
		for name, run := range map[string]func() (*audit.Report, error){
			"stored":  func() (*audit.Report, error) { return v.VerifyStored(ctx, l.db.AllStoredEvents, cp.Note) },
			"decoded": func() (*audit.Report, error) { return v.VerifyEach(ctx, l.db.AllEvents, cp.Note) },
		} {
			rep, err := run()
			if err == nil && rep.OK {
				t.Fatalf("%s: a log with a rewritten time verifies", name)
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("audit event %d: time", seq)) {
				t.Fatalf("%s: error %v does not name event %d's time", name, err, seq)
			}
		}
	})
	t.Run("DeletedMiddleEntryIsFoundMissing", func(t *testing.T) {
		t.Parallel()
		l := mustTamperLog(t, open)
		seq := l.Saved.Size / 2
		asAttacker(t, l.db, events, fmt.Sprintf(`DELETE FROM audit_event WHERE seq = %d`, seq))
		mustFailAt(t, l.verify(t, nil), seq, fmt.Sprintf("event %d is missing", seq))
	})
	t.Run("SwappedEntriesAreFoundAtTheFirst", func(t *testing.T) {
		t.Parallel()
		l := mustTamperLog(t, open)
		a, b := uint64(7), uint64(12)
		// seq is the primary key: move one row out of the way first.
		asAttacker(t, l.db, events,
			fmt.Sprintf(`UPDATE audit_event SET seq = 1000000 WHERE seq = %d`, a),
			fmt.Sprintf(`UPDATE audit_event SET seq = %d WHERE seq = %d`, a, b),
			fmt.Sprintf(`UPDATE audit_event SET seq = %d WHERE seq = 1000000`, b))
		mustFailAt(t, l.verify(t, nil), a, "leaf hash does not match")
	})
	t.Run("TruncatedTailIsFoundShortOfTheCheckpoint", func(t *testing.T) {
		t.Parallel()
		l := mustTamperLog(t, open)
		cut := l.Saved.Size - 3 // below the last checkpoint, and the saved one
		asAttacker(t, l.db, []string{"audit_event", "audit_head"},
			fmt.Sprintf(`DELETE FROM audit_event WHERE seq >= %d`, cut),
			fmt.Sprintf(`UPDATE audit_head SET size = %d`, cut))
		mustFailAt(t, l.verify(t, nil), cut, "checkpoint covers")
	})
	t.Run("TruncatedTailWithItsCheckpointsIsFoundBySavedCheckpoint", func(t *testing.T) {
		t.Parallel()
		l := mustTamperLog(t, open)
		// A thorough attacker also removes every checkpoint that covers the
		// removed events and moves the head back, so the service signs a
		// fresh, shorter checkpoint: only the board's copy remembers.
		cut := l.Saved.Size - 3
		h := l.mustHeadAt(t, cut)
		asAttacker(t, l.db, []string{"audit_event", "audit_node", "audit_checkpoint", "audit_head"},
			fmt.Sprintf(`DELETE FROM audit_event WHERE seq >= %d`, cut),
			fmt.Sprintf(`DELETE FROM audit_checkpoint WHERE size > %d`, cut),
			headUpdate(l.db, h))
		if rep := l.verify(t, nil); !rep.OK {
			t.Fatalf("without the saved checkpoint the shortened log should pass (that is the attack): %s", rep.Problem)
		}
		mustFailAt(t, l.verify(t, l.Saved), cut, "fewer than the")
	})
	t.Run("HistoryRewrittenAndResignedIsFoundBySavedCheckpoint", func(t *testing.T) {
		t.Parallel()
		l := mustTamperLog(t, open)
		ctx := CLI()
		// The attacker holds the signing key (see MustRewriteHistory).
		MustRewriteHistory(t, l.db, 15)

		rep := l.verify(t, nil)
		if !rep.OK || rep.Checkpoint == nil || rep.CheckpointSize != l.Latest.Size {
			t.Fatalf("the re-signed history should verify on its own (that is the attack): %+v", rep)
		}
		rep = l.verify(t, l.Saved)
		if rep.OK || !strings.Contains(rep.Problem, "history was rewritten") {
			t.Fatalf("the saved checkpoint did not catch the rewrite: %+v", rep)
		}
		// The board's consistency proof from its saved checkpoint fails too.
		c, err := l.notary.ConsistencyProof(ctx, l.Saved.Size, rep.CheckpointSize)
		ok(t, err)
		if err := audit.VerifyConsistency(l.Saved.Size, rep.CheckpointSize, c.Hashes, l.Saved.Root, rep.Checkpoint.Root); err == nil {
			t.Fatal("a consistency proof from the saved checkpoint to the rewritten log verifies")
		}
	})
	t.Run("ProofsWithAFlippedBitOrWrongIndexOrSizeAreRefused", func(t *testing.T) {
		t.Parallel()
		l := mustTamperLog(t, open)
		exerciseBadProofs(t, l)
	})
}

// MustRewriteHistory does what an attacker holding the signing key does to
// hide a change: it changes entry seq (a note: its body hash), recomputes
// every leaf and chain hash, the tree's tiles and the head, and deletes the
// checkpoints, so the service signs the new history with the real key.
// Only a checkpoint saved outside (the board's --since) can tell.
func MustRewriteHistory(t testing.TB, db *sqlstore.DB, seq uint64) {
	t.Helper()
	ctx := CLI()
	var all []*audit.Event
	ok(t, db.EachEvent(ctx, 0, func(e *audit.Event) error { all = append(all, e); return nil }))
	if uint64(len(all)) <= seq || all[seq].Action != audit.ActionNoteAdded {
		t.Fatalf("entry %d is not a note", seq)
	}
	all[seq].Payload["body_commitment"] = strings.Repeat("0", 64)
	h := audit.NewHead()
	var nodes []audit.Node
	stmts := []string{`DELETE FROM audit_event`, `DELETE FROM audit_tile`, `DELETE FROM audit_checkpoint`}
	for _, e := range all {
		ns, err := h.Append(e)
		ok(t, err)
		nodes = append(nodes, ns...)
		p, err := json.Marshal(e.Payload)
		ok(t, err)
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO audit_event (seq, at, actor_id, role, action, subject_type, subject_id, case_id, payload, leaf_hash, chain_hash)
			VALUES (%d, '%s', '%s', '%s', '%s', '%s', '%s', '%s', '%s', %s, %s)`, e.Seq, e.At.UTC().Format(audit.TimeFormat), e.ActorID, e.Role,
			e.Action, e.SubjectType, e.SubjectID, e.CaseID, p, blob(db, e.LeafHash), blob(db, e.ChainHash)))
	}
	// The tiles, as the sequencer writes them: the nodes at every
	// TileHeight-th level, TileWidth to a tile, in order.
	tiles := map[audit.TileKey][]byte{}
	var keys []audit.TileKey
	for _, n := range audit.TileNodes(nodes) {
		k := audit.TileKey{Level: uint64(n.Level / audit.TileHeight), Index: n.Index / audit.TileWidth}
		if _, seen := tiles[k]; !seen {
			keys = append(keys, k)
		}
		tiles[k] = append(tiles[k], n.Hash...)
	}
	for _, k := range keys {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO audit_tile (level, idx, hashes) VALUES (%d, %d, %s)`, k.Level, k.Index, blob(db, tiles[k])))
	}
	stmts = append(stmts, headUpdate(db, h))
	asAttacker(t, db, []string{"audit_event", "audit_tile", "audit_checkpoint", "audit_head"}, stmts...)
}

// mustHeadAt rebuilds the head the log had after its first size events.
func (l *tamperLog) mustHeadAt(t *testing.T, size uint64) *audit.Head {
	t.Helper()
	h := audit.NewHead()
	ok(t, l.db.EachEvent(context.Background(), size, func(e *audit.Event) error {
		_, err := h.Append(&audit.Event{At: e.At, ActorID: e.ActorID, Role: e.Role, Action: e.Action,
			SubjectType: e.SubjectType, SubjectID: e.SubjectID, CaseID: e.CaseID, Payload: e.Payload})
		return err
	}))
	return h
}

func headUpdate(db *sqlstore.DB, h *audit.Head) string {
	return fmt.Sprintf(`UPDATE audit_head SET size = %d, chain = %s, range_hashes = %s WHERE id = 1`, h.Size, blob(db, h.Chain), blob(db, h.MarshalRange()))
}

// blob writes b as a literal of the dialect's byte type.
func blob(db *sqlstore.DB, b []byte) string {
	if db.Dialect() == "postgres" {
		return fmt.Sprintf(`'\x%x'::bytea`, b)
	}
	return fmt.Sprintf(`X'%x'`, b)
}

// exerciseBadProofs checks that every proof the notary serves verifies, and
// that each variation of it an attacker could try is refused: any one bit
// of any hash flipped, the entry number moved, or the tree size changed
// (checked against the true root of the claimed size, as a client holding
// that size's checkpoint would).
func exerciseBadProofs(t *testing.T, l *tamperLog) {
	ctx := CLI()
	size := l.Latest.Size
	root := func(n uint64) []byte {
		r, err := audit.RootAt(ctx, l.db, n)
		ok(t, err)
		return r
	}
	// flips flips one bit in every byte of every hash, bit 0 of byte 0,
	// bit 1 of byte 1 and so on, so that every byte and every place in a
	// byte is tried once: every bit of every hash took 8 times as many
	// verifications (most of this test's time under -race) to show the
	// same refusal.
	flips := func(hashes [][]byte, fn func([][]byte) error, what string) {
		t.Helper()
		for i := range hashes {
			for b := range len(hashes[i]) {
				bit := b*8 + b%8
				c := make([][]byte, len(hashes))
				for j := range hashes {
					c[j] = append([]byte(nil), hashes[j]...)
				}
				c[i][bit/8] ^= 1 << (bit % 8)
				if err := fn(c); err == nil {
					t.Fatalf("%s with bit %d of hash %d flipped verifies", what, bit, i)
				}
			}
		}
	}
	checked := 0
	for _, index := range []uint64{0, 1, 5, l.Saved.Size - 1, l.Saved.Size, size - 2, size - 1} {
		for _, n := range []uint64{l.Saved.Size + 1, size - 1, size} {
			if index >= n {
				continue
			}
			p, err := l.notary.InclusionProof(ctx, index, n)
			ok(t, err)
			what := fmt.Sprintf("inclusion proof of %d in %d", index, n)
			ok(t, audit.VerifyInclusion(index, n, p.LeafHash, p.Hashes, p.Root))
			flips(p.Hashes, func(h [][]byte) error { return audit.VerifyInclusion(index, n, p.LeafHash, h, p.Root) }, what)
			flips([][]byte{p.LeafHash}, func(h [][]byte) error { return audit.VerifyInclusion(index, n, h[0], p.Hashes, p.Root) }, what+" (leaf)")
			flips([][]byte{p.Root}, func(h [][]byte) error { return audit.VerifyInclusion(index, n, p.LeafHash, p.Hashes, h[0]) }, what+" (root)")
			for _, wrong := range []uint64{index - 1, index + 1} {
				if wrong < n && wrong != index {
					if audit.VerifyInclusion(wrong, n, p.LeafHash, p.Hashes, p.Root) == nil {
						t.Fatalf("%s verifies as entry %d", what, wrong)
					}
				}
			}
			for _, wrong := range []uint64{n - 1, n + 1} {
				if wrong > index && wrong <= size {
					if audit.VerifyInclusion(index, wrong, p.LeafHash, p.Hashes, root(wrong)) == nil {
						t.Fatalf("%s verifies in a tree of %d", what, wrong)
					}
				}
			}
			if len(p.Hashes) > 0 {
				if audit.VerifyInclusion(index, n, p.LeafHash, p.Hashes[:len(p.Hashes)-1], p.Root) == nil {
					t.Fatalf("%s verifies with its last hash dropped", what)
				}
			}
			checked++
		}
	}
	for _, from := range []uint64{1, 2, 7, l.Saved.Size, size - 1} {
		for _, to := range []uint64{l.Saved.Size + 1, size} {
			if from >= to {
				continue
			}
			c, err := l.notary.ConsistencyProof(ctx, from, to)
			ok(t, err)
			what := fmt.Sprintf("consistency proof %d→%d", from, to)
			ok(t, audit.VerifyConsistency(from, to, c.Hashes, c.FromRoot, c.Root))
			flips(c.Hashes, func(h [][]byte) error { return audit.VerifyConsistency(from, to, h, c.FromRoot, c.Root) }, what)
			flips([][]byte{c.FromRoot, c.Root}, func(h [][]byte) error { return audit.VerifyConsistency(from, to, c.Hashes, h[0], h[1]) }, what+" (roots)")
			for _, wrong := range [][2]uint64{{from - 1, to}, {from + 1, to}, {from, to - 1}, {from, to + 1}} {
				if wrong[0] == 0 || wrong[0] >= wrong[1] || wrong[1] > size {
					continue
				}
				if audit.VerifyConsistency(wrong[0], wrong[1], c.Hashes, root(wrong[0]), root(wrong[1])) == nil {
					t.Fatalf("%s verifies as %d→%d", what, wrong[0], wrong[1])
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d proofs checked", checked)
	}
}

// AppRoleGrants are the privileges AUDIT.md gives the role the service runs
// as on PostgreSQL, when a separate owner role runs `countersign migrate`:
// everything on the business tables, but no UPDATE, DELETE or TRUNCATE on
// the log, nor on the case data whose rows never change. Each statement is run with %[1]s as the schema and %[2]s as the
// role.
var AppRoleGrants = []string{
	`GRANT USAGE ON SCHEMA %[1]s TO %[2]s`,
	`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %[1]s TO %[2]s`,
	`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %[1]s TO %[2]s`,
	`REVOKE UPDATE, DELETE, TRUNCATE ON %[1]s.audit_event, %[1]s.audit_node, %[1]s.audit_checkpoint, %[1]s.audit_refused FROM %[2]s`,
	`REVOKE UPDATE, TRUNCATE ON %[1]s.audit_pending FROM %[2]s`,
	`REVOKE INSERT, DELETE, TRUNCATE ON %[1]s.audit_head FROM %[2]s`,
	`REVOKE UPDATE, DELETE, TRUNCATE ON %[1]s.notes, %[1]s.decisions, %[1]s.record_entries FROM %[2]s`,
}

// exerciseLeastPrivilege runs the service as a role without UPDATE, DELETE
// or TRUNCATE on the audit tables: its own writes work, and the database
// refuses those statements for lack of privilege, before any trigger.
func exerciseLeastPrivilege(t *testing.T, dsn func(t testing.TB) string) {
	t.Run("AppRoleWritesTheLogButCannotChangeIt", func(t *testing.T) {
		t.Parallel()
		ctx := CLI()
		d := dsn(t)
		owner := MustOpen(t, d)
		if owner.Dialect() != "postgres" {
			t.Skip("roles and grants are PostgreSQL's; SQLite relies on its triggers")
		}
		f := MustSeed(t, owner)
		var schema string
		ok(t, owner.Raw().Get(&schema, `SELECT current_schema()`))
		var b [6]byte
		_, _ = rand.Read(b[:])
		role := "cs_app_" + hex.EncodeToString(b[:]) // roles are cluster-wide
		if _, err := owner.Raw().Exec(`CREATE ROLE ` + role + ` LOGIN`); err != nil {
			t.Fatalf("create role: %v", err)
		}
		t.Cleanup(func() {
			// Runs before the schema is dropped (cleanups run last first).
			for _, s := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
				if _, err := owner.Raw().Exec(s); err != nil {
					t.Errorf("%s: %v", s, err)
				}
			}
		})
		for _, g := range AppRoleGrants {
			s := fmt.Sprintf(g, schema, role)
			if _, err := owner.Raw().Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}

		// lib/pq passes unknown DSN parameters as run-time settings: every
		// connection of app starts with SET ROLE to the app role.
		u, err := url.Parse(d)
		ok(t, err)
		q := u.Query()
		q.Set("role", role)
		u.RawQuery = q.Encode()
		app := MustOpen(t, u.String())
		var current string
		ok(t, app.Raw().Get(&current, `SELECT current_user`))
		if current != role {
			t.Fatalf("app runs as %s, want %s", current, role)
		}

		// The service's writes: a note and its pending event, the sequencer
		// (INSERT into the log, DELETE of pending, UPDATE of the head), and a
		// checkpoint.
		before, err := app.Sequence(ctx)
		ok(t, err)
		ok(t, app.AddNote(As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: "Phone call."}))
		size, err := app.Sequence(ctx)
		ok(t, err)
		if size != before+1 {
			t.Fatalf("log size %d -> %d after one note", before, size)
		}
		mustVerify(t, app) // signs and stores a checkpoint as the app role

		for _, s := range []string{
			`UPDATE audit_event SET actor_id = 'mallory' WHERE seq = 1`,
			`DELETE FROM audit_event WHERE seq = 1`,
			`TRUNCATE audit_event`,
			`UPDATE audit_node SET hash = hash`,
			`DELETE FROM audit_node`,
			`TRUNCATE audit_node`,
			`UPDATE audit_checkpoint SET note = 'x'`,
			`DELETE FROM audit_checkpoint`,
			`TRUNCATE audit_checkpoint`,
			`DELETE FROM audit_head`,
			`TRUNCATE audit_head`,
			`UPDATE audit_refused SET reason = 'x'`,
			`DELETE FROM audit_refused`,
			`TRUNCATE audit_refused`,
			`ALTER TABLE audit_event DISABLE TRIGGER USER`,
		} {
			_, err := app.Raw().Exec(s)
			var pe *pq.Error
			// 42501 insufficient_privilege; 42501 too for ALTER by a non-owner.
			if !errors.As(err, &pe) || pe.Code != "42501" {
				t.Errorf("%s as the app role: %v, want permission denied (42501)", s, err)
			}
		}
	})
}
