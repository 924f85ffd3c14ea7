package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/sqlstore"
)

// EmailOpenedHook has f told of each party whose e-mail db opens while it
// signs a client in by e-mail (sqlstore.OnEmailOpened).
type EmailOpenedHook func(db *sqlstore.DB, f func(partyID string)) (undo func())

// ExerciseClientEmailIndex checks the blind index that a client's sign-in
// by e-mail reads (migration 0021): the sign-in opens the e-mail of the
// rows whose index matches and no other, in any letter case; a changed
// e-mail signs in and the old one no longer; an erasure blanks the index;
// an e-mail two clients share names no one; rows without an index (written
// before the migration, or by a replica of the previous release) are
// indexed before the look-up; the index is in no audit payload.
func ExerciseClientEmailIndex(t *testing.T, open Opener, opened EmailOpenedHook) {
	const pass = "green door by the canal"
	var (
		hashOnce sync.Once
		hash     string
	)
	// passphraseHash is the argon2id hash of pass, made once: every
	// account gets it by hand, as Redeem would after a code.
	passphraseHash := func() string {
		hashOnce.Do(func() { hash = client.HashPassphrase(pass) })
		return hash
	}
	cli := CLI()
	// account invites p and gives its account the passphrase.
	account := func(t *testing.T, db *sqlstore.DB, f *Fixture, p *casefile.Party) string {
		t.Helper()
		inv, _, err := db.CreateInvitation(As(cli, f.Worker), p.CaseID, p.ID)
		ok(t, err)
		_, err = db.Raw().Exec(db.Raw().Rebind(`UPDATE client_accounts SET passphrase_hash = ?, activated_at = ? WHERE id = ?`),
			passphraseHash(), time.Now().UTC(), inv.AccountID)
		ok(t, err)
		return inv.AccountID
	}
	// party adds a client with email to a new case of f's worker.
	party := func(t *testing.T, db *sqlstore.DB, f *Fixture, name, email string) *casefile.Party {
		t.Helper()
		wctx := As(cli, f.Worker)
		c := &casefile.Case{Reference: "REF-" + countersign.NewID("x"), Title: "Support"}
		ok(t, db.CreateCase(wctx, c))
		p := &casefile.Party{CaseID: c.ID, Role: "client", FullName: name, Email: email}
		ok(t, db.AddParty(wctx, p))
		return p
	}
	// signIn signs in with login (as typed) and returns the account, or ""
	// when the sign-in is refused.
	signIn := func(t *testing.T, db *sqlstore.DB, login string) string {
		t.Helper()
		f, err := client.ParseLogin(login)
		ok(t, err)
		s, _, err := db.SignInWithPassphrase(cli, f, pass, client.KindToken, "")
		if err == client.ErrSignIn {
			return ""
		}
		ok(t, err)
		return s.AccountID
	}
	index := func(t *testing.T, db *sqlstore.DB, partyID string) *string {
		t.Helper()
		var idx *string
		ok(t, db.Raw().Get(&idx, db.Raw().Rebind(`SELECT email_index FROM parties WHERE id = ?`), partyID))
		return idx
	}
	// watch records the parties whose e-mail db opens until the test ends.
	watch := func(t *testing.T, db *sqlstore.DB) func() []string {
		var mu sync.Mutex
		var seen []string
		t.Cleanup(opened(db, func(id string) { mu.Lock(); seen = append(seen, id); mu.Unlock() }))
		return func() []string {
			mu.Lock()
			defer mu.Unlock()
			out := seen
			seen = nil
			return out
		}
	}

	t.Run("SignsInByEmailInAnyLetterCase", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		acc := account(t, db, f, f.Client)
		for _, login := range []string{"marie.dubois@example.org", "MARIE.DUBOIS@EXAMPLE.ORG", "  Marie.Dubois@Example.Org "} {
			if got := signIn(t, db, login); got != acc {
				t.Fatalf("%q signs in %q, want %q", login, got, acc)
			}
		}
		// The store compares as sign-in does whatever its caller lowered.
		s, _, err := db.SignInWithPassphrase(cli, client.SignInFilter{Email: "Marie.DUBOIS@example.org"}, pass, client.KindToken, "")
		ok(t, err)
		if s.AccountID != acc {
			t.Fatalf("signed in %q", s.AccountID)
		}
		// The index is a keyed hash, no form of the e-mail, and in no
		// audit event.
		idx := index(t, db, f.Client.ID)
		if idx == nil || len(*idx) != 64 || strings.Contains(strings.ToLower(*idx), "marie") {
			t.Fatalf("email_index %v", idx)
		}
		_, err = db.Sequence(cli)
		ok(t, err)
		evs, err := db.FindEvents(cli, audit.EventFilter{Limit: 1000})
		ok(t, err)
		if len(evs) == 0 {
			t.Fatal("no events")
		}
		for _, e := range evs {
			for k, v := range e.Payload {
				if strings.Contains(v, *idx) || strings.Contains(v, "marie.dubois") {
					t.Fatalf("%s carries the e-mail or its index in %s", e.Action, k)
				}
			}
		}
	})

	t.Run("OpensOnlyTheRowsWhoseIndexMatches", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		acc := account(t, db, f, f.Client)
		for i := range 20 {
			account(t, db, f, party(t, db, f, fmt.Sprintf("Client %d", i), fmt.Sprintf("client.%d@example.org", i)))
		}
		seen := watch(t, db)
		if got := signIn(t, db, "Marie.Dubois@example.org"); got != acc {
			t.Fatalf("signed in %q, want %q", got, acc)
		}
		// Before the index, every one of the 21 accounts' e-mails was opened.
		if got := seen(); !slices.Equal(got, []string{f.Client.ID}) {
			t.Fatalf("opened the e-mails of %v, want Marie's alone", got)
		}
		if got := signIn(t, db, "nobody@example.org"); got != "" {
			t.Fatalf("an unknown e-mail signed %q in", got)
		}
		if got := seen(); len(got) != 0 {
			t.Fatalf("an unknown e-mail opened %v", got)
		}
	})

	t.Run("AChangedEmailSignsInAndTheOldOneNoLonger", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		acc := account(t, db, f, f.Client)
		before := index(t, db, f.Client.ID)
		// No path of the service changes an e-mail yet: changed as a hand
		// edit (or a replica of release 1.0) writes it, in plain text and
		// without its index, which the table's trigger blanks.
		_, err := db.Raw().Exec(db.Raw().Rebind(`UPDATE parties SET email = ? WHERE id = ?`), "marie.martin@example.org", f.Client.ID)
		ok(t, err)
		if idx := index(t, db, f.Client.ID); idx != nil {
			t.Fatalf("the old e-mail's index %v stayed beside the new e-mail", *idx)
		}
		if got := signIn(t, db, "marie.dubois@example.org"); got != "" {
			t.Fatalf("the old e-mail signed %q in", got)
		}
		if got := signIn(t, db, "Marie.Martin@example.org"); got != acc {
			t.Fatalf("the new e-mail signed %q in, want %q", got, acc)
		}
		if after := index(t, db, f.Client.ID); after == nil || before == nil || *after == *before {
			t.Fatalf("index %v -> %v, want the new e-mail's", before, after)
		}
	})

	t.Run("AWrongIndexNamesNoOneElse", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		acc := account(t, db, f, f.Client)
		other := party(t, db, f, "Jean Dupont", "jean.dupont@example.org")
		otherAcc := account(t, db, f, other)
		// Jean's row given Marie's index (a collision, a stale index):
		// its e-mail is opened and compared, and it is not Marie's.
		_, err := db.Raw().Exec(db.Raw().Rebind(`UPDATE parties SET email_index = ? WHERE id = ?`), *index(t, db, f.Client.ID), other.ID)
		ok(t, err)
		seen := watch(t, db)
		if got := signIn(t, db, "marie.dubois@example.org"); got != acc {
			t.Fatalf("signed in %q, want Marie's %q (not %q, nor no one)", got, acc, otherAcc)
		}
		if got := seen(); len(got) != 2 {
			t.Fatalf("opened %v, want both rows of the index", got)
		}
		if got := signIn(t, db, "jean.dupont@example.org"); got != "" {
			t.Fatalf("Jean's e-mail, whose index is wrong, signed %q in", got)
		}
	})

	t.Run("AnEmailTwoClientsShareNamesNoOne", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		acc := account(t, db, f, f.Client)
		other := account(t, db, f, party(t, db, f, "Marie Dubois", "Marie.Dubois@Example.org"))
		if got := signIn(t, db, "marie.dubois@example.org"); got != "" {
			t.Fatalf("a shared e-mail signed %q in", got)
		}
		for _, a := range []string{acc, other} {
			if got := signIn(t, db, strings.ToLower(a)); got != a {
				t.Fatalf("account number %s signed %q in", a, got)
			}
		}
	})

	t.Run("AnErasureBlanksTheIndex", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		account(t, db, f, f.Client)
		kept := party(t, db, f, "Jean Dupont", "jean.dupont@example.org")
		// One person erased while the case continues.
		r, err := db.RequestErasure(As(cli, f.Admin), f.Case.ID, f.Client.ID, "data_subject_request")
		ok(t, err)
		_, err = db.ConfirmErasure(As(cli, mustUser(t, db, countersign.RoleAdmin, "")), r.ID)
		ok(t, err)
		if idx := index(t, db, f.Client.ID); idx != nil {
			t.Fatalf("the erased party keeps the index %q", *idx)
		}
		if got := signIn(t, db, "marie.dubois@example.org"); got != "" {
			t.Fatalf("an erased e-mail signed %q in", got)
		}
		// A whole case erased.
		g := MustSeed(t, db)
		MustEraseOnRequest(t, db, g)
		if idx := index(t, db, g.Client.ID); idx != nil {
			t.Fatalf("the erased case's party keeps the index %q", *idx)
		}
		// Erased by a writer that knows no index (a replica of the
		// previous release during a rolling upgrade): blanked all the same.
		_, err = db.Raw().Exec(db.Raw().Rebind(`UPDATE parties SET email = '' WHERE id = ?`), kept.ID)
		ok(t, err)
		if idx := index(t, db, kept.ID); idx != nil {
			t.Fatalf("an e-mail blanked without its index keeps the index %q", *idx)
		}
	})

	t.Run("RowsWithoutAnIndexAreIndexedBeforeTheLookUp", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		acc := account(t, db, f, f.Client)
		others := []*casefile.Party{party(t, db, f, "Jean Dupont", "jean.dupont@example.org"), party(t, db, f, "Anne Roy", "")}
		// As a database upgraded from before migration 0021 holds them.
		_, err := db.Raw().Exec(`UPDATE parties SET email_index = NULL`)
		ok(t, err)
		// And a party as a replica of release 1.0 writes it meanwhile: in
		// plain text, without an index, then invited by this release.
		old := &casefile.Party{ID: countersign.NewID(countersign.PrefixParty), CaseID: f.Case.ID}
		_, err = db.Raw().Exec(db.Raw().Rebind(`INSERT INTO parties (id, case_id, role, full_name, date_of_birth, address, phone, email, national_id, created_by, created_at)
			VALUES (?, ?, 'client', 'Paul Lenoir', '', '', '', 'Paul.Lenoir@example.org', '', ?, ?)`), old.ID, old.CaseID, f.Worker.ID, time.Now().UTC())
		ok(t, err)
		oldAcc := account(t, db, f, old)
		seen := watch(t, db)
		if got := signIn(t, db, "marie.dubois@example.org"); got != acc {
			t.Fatalf("signed in %q, want %q", got, acc)
		}
		// Indexed once each (the three with an e-mail), then Marie's
		// opened to compare.
		got := seen()
		want := []string{f.Client.ID, others[0].ID, old.ID}
		slices.Sort(want)
		if len(got) == 4 {
			slices.Sort(got[:3])
		}
		if len(got) != 4 || !slices.Equal(got[:3], want) || got[3] != f.Client.ID {
			t.Fatalf("opened %v, want %v indexed then Marie's", got, want)
		}
		var left int
		ok(t, db.Raw().Get(&left, `SELECT COUNT(*) FROM parties WHERE email_index IS NULL AND email <> ''`))
		if left != 0 || index(t, db, others[1].ID) != nil {
			t.Fatalf("%d rows with an e-mail left without an index, or a party without e-mail got one", left)
		}
		if got := signIn(t, db, "paul.lenoir@example.org"); got != oldAcc {
			t.Fatalf("the older replica's party signed %q in, want %q", got, oldAcc)
		}
		if got := seen(); !slices.Equal(got, []string{old.ID}) {
			t.Fatalf("opened %v, want Paul's alone", got)
		}
	})
}
