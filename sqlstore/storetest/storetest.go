package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// Exercise runs the conformance suite against the dialect whose fresh,
// migrated databases dsn names, and whose databases without any table
// emptyDSN names (the migrations are tested on those). Each subtest gets
// its own database; tests that need two handles on one database (two
// replicas) open the same DSN twice.
func Exercise(t *testing.T, dsn, emptyDSN func(t testing.TB) string) {
	open := func(t testing.TB) *sqlstore.DB { return MustOpen(t, dsn(t)) }
	t.Run("Migrations", func(t *testing.T) { t.Parallel(); exerciseMigrations(t, emptyDSN) })
	t.Run("Identity", func(t *testing.T) { t.Parallel(); exerciseIdentity(t, open) })
	t.Run("TeamWorkers", func(t *testing.T) { t.Parallel(); exerciseTeamWorkers(t, open) })
	t.Run("CaseFile", func(t *testing.T) { t.Parallel(); exerciseCaseFile(t, open) })
	t.Run("Drafts", func(t *testing.T) { t.Parallel(); exerciseDrafts(t, open, dsn) })
	t.Run("Audit", func(t *testing.T) { t.Parallel(); exerciseAudit(t, open, dsn) })
	t.Run("Tamper", func(t *testing.T) { t.Parallel(); exerciseTamper(t, open, dsn) })
	t.Run("TileVerify", func(t *testing.T) { t.Parallel(); exerciseTileVerify(t, open) })
	t.Run("CaseData", func(t *testing.T) { t.Parallel(); exerciseCaseData(t, open) })
	t.Run("EventMAC", func(t *testing.T) { t.Parallel(); exerciseEventMAC(t, open, dsn) })
	t.Run("Drafting", func(t *testing.T) { t.Parallel(); exerciseDrafting(t, open) })
	t.Run("Review", func(t *testing.T) { t.Parallel(); exerciseReview(t, open, dsn, emptyDSN) })
	t.Run("SignOff", func(t *testing.T) { t.Parallel(); exerciseSignOff(t, open) })
	t.Run("DraftRead", func(t *testing.T) { t.Parallel(); exerciseDraftRead(t, open) })
	t.Run("Grounding", func(t *testing.T) { t.Parallel(); exerciseGrounding(t, open) })
	t.Run("Retry", func(t *testing.T) { t.Parallel(); exerciseRetry(t, open) })
	t.Run("Payloads", func(t *testing.T) { t.Parallel(); exercisePayloads(t, open) })
	t.Run("ClientResponses", func(t *testing.T) { t.Parallel(); exerciseClientResponses(t, open) })
	t.Run("Retention", func(t *testing.T) { t.Parallel(); exerciseRetention(t, open, dsn) })
	t.Run("CaseRead", func(t *testing.T) { t.Parallel(); exerciseCaseRead(t, open, dsn) })
	t.Run("DraftReadLogged", func(t *testing.T) { t.Parallel(); exerciseDraftReadLogged(t, open, dsn) })
}

// code fails the test unless err carries the wanted code.
func code(t testing.TB, err error, want string) {
	t.Helper()
	if got := countersign.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pending counts audit events not yet sequenced plus those sequenced: every
// state change adds exactly one or more, every refusal none.
func eventCount(t testing.TB, db *sqlstore.DB) int {
	t.Helper()
	var a, b int
	ok(t, db.Raw().Get(&a, `SELECT COUNT(*) FROM audit_pending`))
	ok(t, db.Raw().Get(&b, `SELECT COUNT(*) FROM audit_event`))
	return a + b
}

// exerciseMigrations applies the migrations for real: dsn names databases
// without any table, not copies of a migrated template.
func exerciseMigrations(t *testing.T, dsn func(t testing.TB) string) {
	t.Run("MigrateTwiceChangesNothing", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db := MustOpen(t, d)
		MustSeed(t, db)
		before := eventCount(t, db)
		db2 := MustOpen(t, d)
		ok(t, db2.Migrate(context.Background()))
		if after := eventCount(t, db2); after != before {
			t.Fatalf("events %d -> %d after migrating again", before, after)
		}
	})
	t.Run("RefusesChangesToAuditTables", func(t *testing.T) {
		t.Parallel()
		db := MustOpen(t, dsn(t))
		f := MustSeed(t, db)
		d := MustDraft(t, db, f, assistant.KindSummary)
		_, err := Approve(db, As(context.Background(), f.Worker), d.ID, review.Approval{})
		ok(t, err)
		_, err = db.Sequence(context.Background())
		ok(t, err)
		_, err = (&audit.Notary{Store: db, Signer: testSigner(t), Origin: testOrigin}).Checkpoint(context.Background())
		ok(t, err)
		// This release keeps the tree in audit_tile alone; a node row as a
		// 1.0.0 replica still writes it during a rolling upgrade, which the
		// table's triggers must keep as they keep the log.
		_, err = db.Raw().Exec(`INSERT INTO audit_node (level, idx, hash) VALUES (1, 0, ` + blob(db, make([]byte, 32)) + `)`)
		ok(t, err)
		stmts := []string{
			`UPDATE audit_event SET actor_id = 'mallory' WHERE seq = 1`,
			`DELETE FROM audit_event WHERE seq = 1`,
			`DELETE FROM audit_event`,
			`UPDATE audit_node SET hash = hash WHERE level = 1`,
			`DELETE FROM audit_node`,
			`UPDATE audit_checkpoint SET note = 'x'`,
			`DELETE FROM audit_checkpoint`,
			`DELETE FROM audit_head`,
			`UPDATE audit_head SET size = 0`,
			`UPDATE notes SET body = 'rewritten'`,
			`UPDATE record_entries SET content = 'rewritten'`,
		}
		if db.Dialect() == "postgres" {
			stmts = append(stmts, `TRUNCATE audit_event`, `TRUNCATE audit_node`, `TRUNCATE audit_checkpoint`, `TRUNCATE audit_head`)
		}
		for _, s := range stmts {
			if _, err := db.Raw().Exec(s); err == nil {
				t.Errorf("%s: accepted, want refused", s)
			}
		}
		if db.Dialect() == "postgres" {
			// ENABLE ALWAYS: replica mode, which skips ordinary triggers, must not help.
			tx, err := db.Raw().Beginx()
			ok(t, err)
			defer tx.Rollback()
			ok(t, tx.QueryRowx(`SELECT set_config('session_replication_role', 'replica', true)`).Err())
			if _, err := tx.Exec(`DELETE FROM audit_event WHERE seq = 1`); err == nil {
				t.Error("DELETE under session_replication_role=replica: accepted, want refused")
			}
		}
	})
}

func exerciseIdentity(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := CLI()
	t.Run("AuthenticatesOnlyLiveTokens", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		tok, secret, err := db.CreateToken(ctx, f.Worker.ID, "laptop", nil)
		ok(t, err)
		_, u, err := db.Authenticate(ctx, secret)
		ok(t, err)
		if u.ID != f.Worker.ID || u.Role != countersign.RoleWorker {
			t.Fatalf("authenticated as %+v", u)
		}
		_, _, err = db.Authenticate(ctx, secret+"x")
		code(t, err, countersign.EUNAUTHORIZED)
		ok(t, db.RevokeToken(ctx, tok.ID))
		_, _, err = db.Authenticate(ctx, secret)
		code(t, err, countersign.EUNAUTHORIZED)
		code(t, db.RevokeToken(ctx, tok.ID), countersign.ENOTFOUND)

		soon := time.Now().Add(time.Minute)
		_, expired, err := db.CreateToken(ctx, f.Worker.ID, "old", &soon)
		ok(t, err)
		db.Now = func() time.Time { return soon }
		_, _, err = db.Authenticate(ctx, expired)
		code(t, err, countersign.EUNAUTHORIZED)
		past := time.Now().Add(-time.Minute)
		_, _, err = db.CreateToken(ctx, f.Worker.ID, "expired at once", &past)
		code(t, err, countersign.EINVALID)
	})
	t.Run("TokenCacheAgesOutAndForgetsOnRevocation", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		now := time.Now()
		db.Now = func() time.Time { return now }
		db.TokenCache = time.Minute
		tok, secret, err := db.CreateToken(ctx, f.Worker.ID, "laptop", nil)
		ok(t, err)
		_, _, err = db.Authenticate(ctx, secret)
		ok(t, err)
		// Another replica revokes it: this one accepts it until the entry ages out.
		_, err = db.Raw().Exec(db.Raw().Rebind(`UPDATE tokens SET revoked_at = ? WHERE id = ?`), now, tok.ID)
		ok(t, err)
		_, u, err := db.Authenticate(ctx, secret)
		ok(t, err)
		if u.ID != f.Worker.ID {
			t.Fatalf("cached token authenticated as %s", u.ID)
		}
		now = now.Add(time.Minute)
		_, _, err = db.Authenticate(ctx, secret)
		code(t, err, countersign.EUNAUTHORIZED)

		// Revoked through this DB: refused at once.
		tok2, secret2, err := db.CreateToken(ctx, f.Worker.ID, "phone", nil)
		ok(t, err)
		_, _, err = db.Authenticate(ctx, secret2)
		ok(t, err)
		ok(t, db.RevokeToken(ctx, tok2.ID))
		_, _, err = db.Authenticate(ctx, secret2)
		code(t, err, countersign.EUNAUTHORIZED)

		// A token's own expiry holds even inside the cache period.
		soon := now.Add(30 * time.Second)
		_, secret3, err := db.CreateToken(ctx, f.Worker.ID, "kiosk", &soon)
		ok(t, err)
		_, _, err = db.Authenticate(ctx, secret3)
		ok(t, err)
		now = soon
		_, _, err = db.Authenticate(ctx, secret3)
		code(t, err, countersign.EUNAUTHORIZED)
	})
	t.Run("StoresTokensOnlyAsHashes", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		_, secret, err := db.CreateToken(ctx, f.Worker.ID, "x", nil)
		ok(t, err)
		var n int
		ok(t, db.Raw().Get(&n, db.Raw().Rebind(`SELECT COUNT(*) FROM tokens WHERE label = ? OR CAST(hash AS TEXT) LIKE ?`), secret, "%"+secret[4:20]+"%"))
		if n != 0 {
			t.Fatal("the token secret is stored in clear")
		}
	})
	t.Run("RefusesDuplicateEmailAndBadRole", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		before := eventCount(t, db)
		err := db.CreateUser(ctx, &identity.User{Name: "Dup", Email: f.Worker.Email, Role: countersign.RoleWorker, TeamID: f.Team.ID})
		code(t, err, countersign.EINVALID)
		err = db.CreateUser(ctx, &identity.User{Name: "X", Email: "x@example.org", Role: "boss"})
		code(t, err, countersign.EINVALID)
		if len(countersign.ErrorFields(err)) == 0 {
			t.Fatal("no field named in the error")
		}
		err = db.CreateUser(ctx, &identity.User{Name: "X", Email: "y@example.org", Role: countersign.RoleWorker, TeamID: "team_missing"})
		code(t, err, countersign.EINVALID)
		if after := eventCount(t, db); after != before {
			t.Fatalf("refused calls wrote %d audit events", after-before)
		}
	})
}

func exerciseCaseFile(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := CLI()
	t.Run("ShowsCasesOnlyToTheirWorkerAndTeam", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		for _, tc := range []struct {
			who  *identity.User
			want string
			n    int
		}{
			{f.Worker, "", 1}, {f.Supervisor, "", 1}, {f.Other, countersign.EFORBIDDEN, 0},
			{f.OtherSupervisor, countersign.EFORBIDDEN, 0}, {f.Ethics, countersign.EFORBIDDEN, -1}, {f.Admin, countersign.EFORBIDDEN, -1},
		} {
			_, err := db.FindCaseByID(As(ctx, tc.who), f.Case.ID)
			code(t, err, tc.want)
			_, err = db.FindNotes(As(ctx, tc.who), f.Case.ID)
			code(t, err, tc.want)
			cases, total, err := db.FindCases(As(ctx, tc.who), casefile.CaseFilter{})
			if tc.n < 0 {
				code(t, err, countersign.EFORBIDDEN)
				continue
			}
			ok(t, err)
			if len(cases) != tc.n || total != tc.n {
				t.Errorf("%s sees %d cases (total %d), want %d", tc.who.Role, len(cases), total, tc.n)
			}
		}
		_, err := db.FindCaseByID(As(ctx, f.Worker), "case_missing")
		code(t, err, countersign.ENOTFOUND)
	})
	t.Run("KeepsNotesInWritingOrderAndRefusesForeignAmends", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		g := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		before := eventCount(t, db)
		err := db.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: "Correction.", Amends: g.Notes[0].ID})
		code(t, err, countersign.EINVALID)
		err = db.AddNote(As(ctx, f.Other), &casefile.Note{CaseID: f.Case.ID, Body: "Not my case."})
		code(t, err, countersign.EFORBIDDEN)
		if eventCount(t, db) != before {
			t.Fatal("a refused note wrote an audit event")
		}
		amend := &casefile.Note{CaseID: f.Case.ID, Body: "Correction: the GP appointment is on 15 December.", Amends: f.Notes[1].ID,
			WrittenAt: time.Now().Add(-365 * 24 * time.Hour)}
		ok(t, db.AddNote(wctx, amend))
		notes, err := db.FindNotes(wctx, f.Case.ID)
		ok(t, err)
		if len(notes) != 4 || notes[0].ID != amend.ID || notes[0].Amends != f.Notes[1].ID {
			t.Fatalf("notes not in writing order or amend lost: %+v", notes[0])
		}
		if notes[1].Body != f.Notes[0].Body {
			t.Fatalf("note body changed: %q", notes[1].Body)
		}
	})
	t.Run("NoteWritesFollowCaseAccessAndLogTheirEvent", func(t *testing.T) {
		// PostgreSQL adds a plain note in one statement and SQLite in a
		// transaction; both must accept and refuse the same writers and
		// log the same event.
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		for _, tc := range []struct {
			who  *identity.User
			cs   string
			want string
		}{
			{f.Worker, f.Case.ID, ""},
			{f.Supervisor, f.Case.ID, ""},
			{f.Other, f.Case.ID, countersign.EFORBIDDEN},
			{f.OtherSupervisor, f.Case.ID, countersign.EFORBIDDEN},
			{f.Ethics, f.Case.ID, countersign.EFORBIDDEN},
			{f.Admin, f.Case.ID, countersign.EFORBIDDEN},
			{f.Worker, "case_missing", countersign.ENOTFOUND},
		} {
			before := eventCount(t, db)
			n := &casefile.Note{CaseID: tc.cs, Body: "Phone call with the client."}
			err := db.AddNote(As(ctx, tc.who), n)
			if tc.cs == f.Case.ID {
				// The store (on PostgreSQL, one SQL statement) decides as
				// the domain function does, for every role.
				_, derr := casefile.DecideNote(tc.who.Actor(), f.Case, &casefile.Note{CaseID: tc.cs}, "", time.Now())
				if got, want := countersign.ErrorCode(err), countersign.ErrorCode(derr); got != want {
					t.Fatalf("%s: the store answered %q, casefile.DecideNote %q", tc.who.Role, got, want)
				}
			}
			if tc.want != "" {
				code(t, err, tc.want)
				if n.ID != "" || eventCount(t, db) != before {
					t.Fatalf("%s: a refused note was given an id (%q) or wrote an event", tc.who.Role, n.ID)
				}
				continue
			}
			ok(t, err)
			notes, err := db.FindNotes(As(ctx, tc.who), tc.cs)
			ok(t, err)
			if !slices.ContainsFunc(notes, func(x *casefile.Note) bool { return x.ID == n.ID && x.AuthorID == tc.who.ID && x.Body == n.Body }) {
				t.Fatalf("%s: note %s not stored as written", tc.who.Role, n.ID)
			}
			_, err = db.Sequence(ctx)
			ok(t, err)
			action := audit.ActionNoteAdded
			all, err := db.FindEvents(ctx, audit.EventFilter{CaseID: &tc.cs, Action: &action})
			ok(t, err)
			events := slices.DeleteFunc(all, func(e *audit.Event) bool { return e.SubjectID != n.ID })
			if len(events) != 1 {
				t.Fatalf("%s: %d events for note %s, want 1", tc.who.Role, len(events), n.ID)
			}
			e := events[0]
			if e.Action != audit.ActionNoteAdded || e.ActorID != tc.who.ID || e.Role != string(tc.who.Role) || e.SubjectType != "note" ||
				e.CaseID != tc.cs || !e.At.Equal(n.CreatedAt) || len(n.Salt) != 64 || !maps.Equal(e.Payload, audit.Payload{"body_commitment": audit.Commit(n.Salt, n.Body)}) {
				t.Fatalf("%s: event %+v does not describe note %+v", tc.who.Role, e, n)
			}
		}
		mustVerify(t, db)
	})
	t.Run("SupervisorOpensCasesOnlyForTheirTeam", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		sctx := As(ctx, f.Supervisor)
		ok(t, db.CreateCase(sctx, &casefile.Case{Reference: "S-1-" + f.Case.Reference, Title: "t", WorkerID: f.Worker.ID}))
		code(t, db.CreateCase(sctx, &casefile.Case{Reference: "S-2-" + f.Case.Reference, Title: "t", WorkerID: f.Other.ID}), countersign.EINVALID)
		code(t, db.CreateCase(As(ctx, f.Worker), &casefile.Case{Reference: "S-3-" + f.Case.Reference, Title: "t", WorkerID: f.Other.ID}), countersign.EFORBIDDEN)
		code(t, db.CreateCase(As(ctx, f.Ethics), &casefile.Case{Reference: "S-4-" + f.Case.Reference, Title: "t"}), countersign.EFORBIDDEN)
		code(t, db.CreateCase(As(ctx, f.Worker), &casefile.Case{Reference: f.Case.Reference, Title: "dup"}), countersign.EINVALID)
	})
}

// drafter is the offline drafter the suite generates drafts with.
var drafter = &assistant.Drafter{Model: assistant.Extractive{}}

// MustDraft requests a draft as the fixture's worker and generates it.
func MustDraft(t testing.TB, db *sqlstore.DB, f *Fixture, kind assistant.Kind) *review.Draft {
	t.Helper()
	ctx := As(context.Background(), f.Worker)
	d, err := db.RequestDraft(ctx, review.DraftRequest{CaseID: f.Case.ID, Kind: kind})
	ok(t, err)
	r := &review.Runner{Store: db, Drafter: drafter, Owner: "test"}
	ok(t, r.Drain(context.Background()))
	// The worker opens it, as reading it on the page does.
	d, err = db.OpenDraft(ctx, d.ID)
	ok(t, err)
	if d.Status != review.StatusPendingReview {
		t.Fatalf("draft is %s (%s), want pending_review", d.Status, d.FailureReason)
	}
	return d
}

func exerciseDrafts(t *testing.T, open func(t testing.TB) *sqlstore.DB, dsn func(t testing.TB) string) {
	ctx := CLI()
	t.Run("ApprovedDraftEntersTheRecordOnce", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		d := MustDraft(t, db, f, assistant.KindSummary)
		if d.Content == nil || len(d.Content.Statements) == 0 || d.Model != "extractive-v1" || d.PromptVersion == "" {
			t.Fatalf("generated draft lacks content or provenance: %+v", d)
		}
		queue, _, err := db.FindQueue(wctx, review.QueueFilter{})
		ok(t, err)
		if len(queue) != 1 || queue[0].ID != d.ID {
			t.Fatalf("queue = %v, want the draft", queue)
		}
		entries, err := db.FindRecord(wctx, f.Case.ID)
		ok(t, err)
		if len(entries) != 0 {
			t.Fatal("a draft pending review is in the record")
		}
		_, err = Approve(db, As(ctx, f.Other), d.ID, review.Approval{})
		code(t, err, countersign.EFORBIDDEN)
		opened, err := db.OpenDraft(wctx, d.ID)
		ok(t, err)
		if opened.OpenedAt == nil {
			t.Fatal("opening did not record the time")
		}
		edited := d.Content.Text() + " Reviewed with Marie on the phone."
		e, err := Approve(db, wctx, d.ID, review.Approval{Content: edited})
		ok(t, err)
		if !e.AIDrafted || !e.Edited || e.SignedBy != f.Worker.ID || e.Model != "extractive-v1" || e.Content != edited {
			t.Fatalf("entry provenance wrong: %+v", e)
		}
		_, err = Approve(db, wctx, d.ID, review.Approval{})
		code(t, err, countersign.ECONFLICT)
		_, err = db.RejectDraft(wctx, d.ID, review.Rejection{Reason: "inaccurate"})
		code(t, err, countersign.ECONFLICT)
		entries, err = db.FindRecord(wctx, f.Case.ID)
		ok(t, err)
		if len(entries) != 1 || entries[0].ID != e.ID {
			t.Fatalf("record = %+v", entries)
		}
		got, err := db.FindDraftByID(wctx, d.ID)
		ok(t, err)
		if got.Status != review.StatusApproved || got.Decision == nil || !got.Decision.Edited || got.Decision.EditRatio <= 0 {
			t.Fatalf("decision not stored: %+v", got.Decision)
		}
		queue, _, err = db.FindQueue(wctx, review.QueueFilter{})
		ok(t, err)
		if len(queue) != 0 {
			t.Fatal("a decided draft is still queued")
		}
	})
	t.Run("RejectionNeedsAKnownReasonAndWritesNothingElse", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		d := MustDraft(t, db, f, assistant.KindSuggestions)
		before := eventCount(t, db)
		_, err := db.RejectDraft(wctx, d.ID, review.Rejection{Reason: "meh"})
		code(t, err, countersign.EINVALID)
		if eventCount(t, db) != before {
			t.Fatal("a refused rejection wrote an audit event")
		}
		r, err := db.RejectDraft(wctx, d.ID, review.Rejection{Reason: "incomplete", Comment: "misses the court date"})
		ok(t, err)
		if r.Status != review.StatusRejected {
			t.Fatalf("status %s", r.Status)
		}
		entries, err := db.FindRecord(wctx, f.Case.ID)
		ok(t, err)
		if len(entries) != 0 {
			t.Fatal("a rejected draft entered the record")
		}
	})
	t.Run("IdempotencyKeyReturnsTheSameDraft", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		req := review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, IdempotencyKey: "k-1"}
		var wg sync.WaitGroup
		ids := make([]string, 5)
		for i := range ids {
			wg.Go(func() {
				d, err := db.RequestDraft(wctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = d.ID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("idempotent requests made different drafts: %v", ids)
			}
		}
		req.IdempotencyKey = "k-2"
		d2, err := db.RequestDraft(wctx, req)
		ok(t, err)
		if d2.ID == ids[0] {
			t.Fatal("a new key returned the old draft")
		}
	})
	t.Run("PeriodKeepsOnlyTheNotesWrittenInIt", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		jan := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
		old := &casefile.Note{CaseID: f.Case.ID, Body: "January visit: the client asked about the energy fund.", WrittenAt: jan}
		ok(t, db.AddNote(wctx, old))
		since, until := jan.Add(-24*time.Hour), jan.Add(24*time.Hour)
		d, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, Since: &since, Until: &until})
		ok(t, err)
		if len(d.NoteIDs) != 1 || d.NoteIDs[0] != old.ID {
			t.Fatalf("notes of the period: %v, want only %s", d.NoteIDs, old.ID)
		}
		before := eventCount(t, db)
		empty := jan.Add(-48 * time.Hour)
		_, err = db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, Until: &empty})
		code(t, err, countersign.EINVALID)
		if eventCount(t, db) != before {
			t.Fatal("a refused request wrote an audit event")
		}
	})
	t.Run("RefusesDraftsFromForeignOrMissingNotes", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		g := MustSeed(t, db)
		_, err := db.RequestDraft(As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, NoteIDs: []string{g.Notes[0].ID}})
		code(t, err, countersign.EINVALID)
		_, err = db.RequestDraft(As(ctx, f.Other), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		code(t, err, countersign.EFORBIDDEN)
		_, err = db.RequestDraft(As(ctx, f.Ethics), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		code(t, err, countersign.EFORBIDDEN)
	})
	t.Run("ExpiredLeaseIsTakenOverAndTheOldWorkerFenced", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		now := time.Now()
		db.Now = func() time.Time { return now }
		_, err := db.RequestDraft(As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		ok(t, err)
		first, err := db.ClaimJob(ctx, "dead-replica", time.Minute)
		ok(t, err)
		_, err = db.ClaimJob(ctx, "other", time.Minute)
		code(t, err, countersign.ENOTFOUND)
		now = now.Add(2 * time.Minute)
		second, err := db.ClaimJob(ctx, "live-replica", time.Minute)
		ok(t, err)
		if second.DraftID != first.DraftID || second.Attempt != 2 {
			t.Fatalf("took over %s attempt %d", second.DraftID, second.Attempt)
		}
		res, err := drafter.Draft(ctx, first.Request)
		ok(t, err)
		code(t, db.CompleteJob(ctx, first, res), countersign.ECONFLICT)
		ok(t, db.CompleteJob(ctx, second, res))
	})
	t.Run("FailedGenerationIsRetriedThenMarkedFailed", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		now := time.Now()
		db.Now = func() time.Time { return now }
		d, err := db.RequestDraft(As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		ok(t, err)
		job, err := db.ClaimJob(ctx, "w", time.Minute)
		ok(t, err)
		retry := now.Add(10 * time.Second)
		ok(t, db.FailJob(ctx, job, "The model did not answer in time.", &retry))
		_, err = db.ClaimJob(ctx, "w", time.Minute)
		code(t, err, countersign.ENOTFOUND)
		now = now.Add(11 * time.Second)
		job, err = db.ClaimJob(ctx, "w", time.Minute)
		ok(t, err)
		ok(t, db.FailJob(ctx, job, "The model did not answer in time.", nil))
		got, err := db.FindDraftByID(As(ctx, f.Worker), d.ID)
		ok(t, err)
		if got.Status != review.StatusFailed || got.FailureReason == "" || got.Attempts != 2 {
			t.Fatalf("draft %s after final failure: %+v", got.Status, got)
		}
	})
	t.Run("RunnerRecordsModelFailuresAsFailedDrafts", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d, err := db.RequestDraft(As(ctx, f.Worker), review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
		ok(t, err)
		r := &review.Runner{Store: db, Drafter: failingDrafter{}, Owner: "t", MaxAttempts: 1}
		ok(t, r.Drain(ctx))
		got, err := db.FindDraftByID(As(ctx, f.Worker), d.ID)
		ok(t, err)
		if got.Status != review.StatusFailed || !strings.Contains(got.FailureReason, "model") {
			t.Fatalf("draft %s: %q", got.Status, got.FailureReason)
		}
	})
	t.Run("NewerDraftSupersedesThePendingOne", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		first := MustDraft(t, db, f, assistant.KindSummary)
		MustDraft(t, db, f, assistant.KindSummary)
		got, err := db.FindDraftByID(As(ctx, f.Worker), first.ID)
		ok(t, err)
		if got.Status != review.StatusSuperseded {
			t.Fatalf("first draft is %s, want superseded", got.Status)
		}
		_, err = Approve(db, As(ctx, f.Worker), first.ID, review.Approval{})
		code(t, err, countersign.ECONFLICT)
	})
	t.Run("QueuePagesWithAStableCursor", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		wctx := As(ctx, f.Worker)
		for i := range 5 {
			_, err := db.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary, NoteIDs: []string{f.Notes[i%3].ID}, IdempotencyKey: fmt.Sprint(i)})
			ok(t, err)
		}
		// Generate without superseding: each draft covers different notes except i and i+3.
		r := &review.Runner{Store: db, Drafter: drafter, Owner: "t"}
		ok(t, r.Drain(ctx))
		var seen []string
		after := ""
		for {
			page, next, err := db.FindQueue(wctx, review.QueueFilter{Limit: 2, After: after})
			ok(t, err)
			for _, d := range page {
				seen = append(seen, d.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
		all, _, err := db.FindQueue(wctx, review.QueueFilter{Limit: 100})
		ok(t, err)
		if len(seen) != len(all) || len(all) == 0 {
			t.Fatalf("paged %d drafts, one page has %d", len(seen), len(all))
		}
		for i := range all {
			if all[i].ID != seen[i] {
				t.Fatal("paging changed the order")
			}
		}
		sup, _, err := db.FindQueue(As(ctx, f.Supervisor), review.QueueFilter{Limit: 100})
		ok(t, err)
		if len(sup) != len(all) {
			t.Fatalf("supervisor sees %d of the team's %d", len(sup), len(all))
		}
		other, _, err := db.FindQueue(As(ctx, f.OtherSupervisor), review.QueueFilter{})
		ok(t, err)
		if len(other) != 0 {
			t.Fatal("another team's supervisor sees the queue")
		}
		_, _, err = db.FindQueue(wctx, review.QueueFilter{After: "garbage!"})
		code(t, err, countersign.EINVALID)
	})
	t.Run("TwentyConcurrentApprovalsOnTwoHandlesOneWins", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db1, db2 := MustOpen(t, d), MustOpen(t, d)
		f := MustSeed(t, db1)
		draft := MustDraft(t, db1, f, assistant.KindSummary)
		wctx := As(ctx, f.Worker)
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for i := range 20 {
			db := db1
			if i%2 == 1 {
				db = db2
			}
			wg.Go(func() {
				_, err := Approve(db, wctx, draft.ID, review.Approval{})
				mu.Lock()
				codes[countersign.ErrorCode(err)]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[""] != 1 || codes[countersign.ECONFLICT] != 19 {
			t.Fatalf("outcomes %v, want one success and 19 conflicts", codes)
		}
		var n int
		ok(t, db1.Raw().Get(&n, db1.Raw().Rebind(`SELECT COUNT(*) FROM record_entries WHERE draft_id = ?`), draft.ID))
		if n != 1 {
			t.Fatalf("%d record entries for one draft", n)
		}
	})
	t.Run("ConcurrentWorkersOnTwoHandlesClaimEachDraftOnce", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db1, db2 := MustOpen(t, d), MustOpen(t, d)
		f := MustSeed(t, db1)
		wctx := As(ctx, f.Worker)
		const drafts = 12
		for i := range drafts {
			_, err := db1.RequestDraft(wctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSuggestions, IdempotencyKey: fmt.Sprint("c", i)})
			ok(t, err)
		}
		var wg sync.WaitGroup
		for i := range 4 {
			db := db1
			if i%2 == 1 {
				db = db2
			}
			wg.Go(func() {
				r := &review.Runner{Store: db, Drafter: drafter, Owner: fmt.Sprint("w", i)}
				if err := r.Drain(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var claims, maxAttempts int
		ok(t, db1.Raw().Get(&claims, `SELECT COUNT(*) FROM audit_pending WHERE action = 'draft.claimed'`))
		var sequenced int
		ok(t, db1.Raw().Get(&sequenced, `SELECT COUNT(*) FROM audit_event WHERE action = 'draft.claimed'`))
		ok(t, db1.Raw().Get(&maxAttempts, `SELECT MAX(attempts) FROM drafts`))
		if claims+sequenced != drafts || maxAttempts != 1 {
			t.Fatalf("%d claims for %d drafts, max attempts %d", claims+sequenced, drafts, maxAttempts)
		}
	})
}

type failingDrafter struct{}

func (failingDrafter) Draft(context.Context, assistant.Request) (*assistant.Result, error) {
	return nil, &assistant.ModelError{Op: "test.generate", Reason: "the model endpoint is down", Err: errors.New("connection refused")}
}

func exerciseAudit(t *testing.T, open func(t testing.TB) *sqlstore.DB, dsn func(t testing.TB) string) {
	ctx := CLI()
	t.Run("EveryChangeIsLoggedAndTheLogVerifies", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d := MustDraft(t, db, f, assistant.KindSummary)
		_, err := Approve(db, As(ctx, f.Worker), d.ID, review.Approval{})
		ok(t, err)
		size, err := db.Sequence(ctx)
		ok(t, err)
		actions := map[string]int{}
		ok(t, db.EachEvent(ctx, 0, func(e *audit.Event) error { actions[e.Action]++; return nil }))
		for _, a := range []string{audit.ActionTeamCreated, audit.ActionUserCreated, audit.ActionCaseCreated, audit.ActionPartyAdded,
			audit.ActionNoteAdded, audit.ActionDraftRequested, audit.ActionDraftClaimed, audit.ActionDraftGenerated,
			audit.ActionDraftApproved, audit.ActionRecordSigned} {
			if actions[a] == 0 {
				t.Errorf("no %s event", a)
			}
		}
		rep := mustVerify(t, db)
		if rep.Events != size {
			t.Fatalf("verified %d of %d", rep.Events, size)
		}
	})
	t.Run("TreeNodesWrittenForThePreviousReleaseOnlyWhereItRan", func(t *testing.T) {
		t.Parallel()
		// Release 1.0.0 reads its proofs from audit_node: on a database
		// that holds its nodes, this release writes every node above the
		// leaves there too; on one it began, none.
		nodes := func(db *sqlstore.DB) (n int) {
			ok(t, db.Raw().Get(&n, `SELECT COUNT(*) FROM audit_node WHERE level BETWEEN 1 AND 59`))
			return n
		}
		want := func(size uint64) (n int) {
			for l := 1; size>>l > 0; l++ {
				n += int(size >> l)
			}
			return n
		}
		for _, previous := range []bool{false, true} {
			db := open(t)
			if previous { // a node of 1.0.0's, at a level no log of this size has
				_, err := db.Raw().Exec(db.Raw().Rebind(`INSERT INTO audit_node (level, idx, hash) VALUES (60, 0, ?)`), make([]byte, 32))
				ok(t, err)
			}
			f := MustSeed(t, db)
			MustDraft(t, db, f, assistant.KindSummary)
			size, err := db.Sequence(ctx)
			ok(t, err)
			if got, w := nodes(db), map[bool]int{false: 0, true: want(size)}[previous]; got != w || size < 4 {
				t.Errorf("1.0.0's nodes there: %v; %d nodes written for a log of %d, want %d", previous, got, size, w)
			}
			mustVerify(t, db)
		}
	})
	t.Run("LogHoldsNoCaseProseOrPersonalData", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		d := MustDraft(t, db, f, assistant.KindSummary)
		_, err := Approve(db, As(ctx, f.Worker), d.ID, review.Approval{Content: "Marie Dubois needs help with the rent."})
		ok(t, err)
		_, err = db.Sequence(ctx)
		ok(t, err)
		ok(t, db.EachEvent(ctx, 0, func(e *audit.Event) error {
			c := string(e.Canonical())
			// The date of birth in full: a bare "1948" turns up by chance
			// in the hex of a hash now and then.
			for _, secret := range []string{"Marie", "Dubois", "1948-05-17", "Lilas", "marie.dubois", "12 34 56", "rent", "arrears", f.Worker.Email} {
				if strings.Contains(c, secret) {
					t.Errorf("event %d (%s) contains %q", e.Seq, e.Action, secret)
				}
			}
			return nil
		}))
	})
	t.Run("RolledBackChangeLeavesNoEvent", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		before := eventCount(t, db)
		// The duplicate reference fails after the worker lookup inside the
		// transaction; nothing of it may remain.
		err := db.CreateCase(As(ctx, f.Worker), &casefile.Case{Reference: f.Case.Reference, Title: "dup"})
		code(t, err, countersign.EINVALID)
		if eventCount(t, db) != before {
			t.Fatal("a rolled-back change left an audit event")
		}
	})
	t.Run("ConcurrentAppendsFromTwoReplicasStayGapFree", func(t *testing.T) {
		t.Parallel()
		d := dsn(t)
		db1, db2 := MustOpen(t, d), MustOpen(t, d)
		f := MustSeed(t, db1)
		var wg sync.WaitGroup
		const per = 15
		for i := range 4 {
			db := db1
			if i%2 == 1 {
				db = db2
			}
			wg.Go(func() {
				for j := range per {
					if err := db.AddNote(As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: fmt.Sprintf("note %d-%d", i, j)}); err != nil {
						t.Error(err)
					}
					if j%5 == 0 {
						if _, err := db.Sequence(ctx); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		_, err := db2.Sequence(ctx)
		ok(t, err)
		var count, maxSeq, pending int
		ok(t, db1.Raw().Get(&count, `SELECT COUNT(*) FROM audit_event`))
		ok(t, db1.Raw().Get(&maxSeq, `SELECT MAX(seq) FROM audit_event`))
		ok(t, db1.Raw().Get(&pending, `SELECT COUNT(*) FROM audit_pending`))
		if count != maxSeq+1 || pending != 0 {
			t.Fatalf("count %d, max seq %d, pending %d", count, maxSeq, pending)
		}
		mustVerify(t, db1)
	})
	t.Run("ProofsFromTheStoreVerify", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		MustSeed(t, db)
		n := &audit.Notary{Store: db, Signer: testSigner(t), Origin: testOrigin}
		cp1, err := n.Checkpoint(ctx)
		ok(t, err)
		MustSeed(t, db)
		cp2, err := n.Checkpoint(ctx)
		ok(t, err)
		if cp2.Size <= cp1.Size {
			t.Fatalf("checkpoint did not grow: %d -> %d", cp1.Size, cp2.Size)
		}
		// n has seen the log at cp2's size and builds proofs from stored
		// nodes alone; a fresh notary reads the head and takes the root
		// from its compact range. Both must give the same proofs.
		fresh := func() *audit.Notary { return &audit.Notary{Store: db, Signer: testSigner(t), Origin: testOrigin} }
		for _, i := range []uint64{0, cp1.Size - 1, cp2.Size - 1} {
			p, err := n.InclusionProof(ctx, i, cp2.Size)
			ok(t, err)
			ok(t, audit.VerifyInclusion(i, cp2.Size, p.LeafHash, p.Hashes, cp2.Root))
			q, err := fresh().InclusionProof(ctx, i, cp2.Size)
			ok(t, err)
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("inclusion proof of %d differs with and without the head:\n%+v\n%+v", i, p, q)
			}
		}
		c, err := n.ConsistencyProof(ctx, cp1.Size, cp2.Size)
		ok(t, err)
		ok(t, audit.VerifyConsistency(cp1.Size, cp2.Size, c.Hashes, cp1.Root, cp2.Root))
		d, err := fresh().ConsistencyProof(ctx, cp1.Size, cp2.Size)
		ok(t, err)
		if !reflect.DeepEqual(c, d) {
			t.Fatalf("consistency proof differs with and without the head:\n%+v\n%+v", c, d)
		}
		_, err = n.InclusionProof(ctx, cp2.Size, cp2.Size)
		code(t, err, countersign.EINVALID)
		_, err = n.ConsistencyProof(ctx, 1, cp2.Size+100)
		code(t, err, countersign.EINVALID)
		if f := countersign.ErrorFields(err); len(f) != 1 || f[0].Field != "to" {
			t.Fatalf("a consistency proof past the log names %+v, want the parameter to", f)
		}
	})
}

const testOrigin = "test.countersign.local/audit"

func testSigner(t testing.TB) noteSigner {
	t.Helper()
	s, _, err := audit.LoadOrCreateSigner(t.TempDir()+"/key", testOrigin)
	ok(t, err)
	return s
}

// mustVerify checks the whole log against a fresh checkpoint.
func mustVerify(t testing.TB, db *sqlstore.DB) *audit.Report {
	t.Helper()
	rep := mustVerifyLog(t, db)
	// And the case data agrees with it, as `countersign audit verify` checks.
	if _, fs := MustCheckCaseData(t, db); len(fs) > 0 {
		t.Fatalf("the case data does not agree with the log: %v", fs)
	}
	return rep
}

// mustVerifyLog verifies the log alone.
func mustVerifyLog(t testing.TB, db *sqlstore.DB) *audit.Report {
	t.Helper()
	ctx := CLI()
	signer, vkey, err := audit.LoadOrCreateSigner(t.TempDir()+"/key", testOrigin)
	ok(t, err)
	cp, err := (&audit.Notary{Store: db, Signer: signer, Origin: testOrigin}).Checkpoint(ctx)
	ok(t, err)
	keys, err := audit.ParseVerifierKeys(vkey)
	ok(t, err)
	rep, err := (&audit.Verifier{Origin: testOrigin, Keys: keys}).VerifyEach(ctx, db.AllEvents, cp.Note)
	ok(t, err)
	if !rep.OK {
		t.Fatalf("log does not verify: %s", rep.Problem)
	}
	return rep
}
