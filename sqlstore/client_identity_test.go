package sqlstore_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestClientAccounts(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cli := storetest.CLI()
			code := func(t *testing.T, err error, want string) {
				t.Helper()
				if got := countersign.ErrorCode(err); got != want {
					t.Fatalf("error %v: code %q, want %q", err, got, want)
				}
			}
			must := func(t *testing.T, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			events := func(t *testing.T, db *sqlstore.DB, action string) []*audit.Event {
				t.Helper()
				_, err := db.Sequence(cli)
				must(t, err)
				evs, err := db.FindEvents(cli, audit.EventFilter{Action: &action})
				must(t, err)
				return evs
			}
			setup := func(t *testing.T) (*sqlstore.DB, *storetest.Fixture) {
				t.Helper()
				db := open(t)
				return db, storetest.MustSeed(t, db)
			}
			const pass = "blue kettle on the stairs"

			t.Run("InvitesTheClientWithACodeStoredOnlyAsAHash", func(t *testing.T) {
				t.Parallel()
				db, f := setup(t)
				inv, c, err := db.CreateInvitation(storetest.As(cli, f.Worker), f.Case.ID, f.Client.ID)
				must(t, err)
				if len(client.NormalizeCode(c)) != 12 || inv.AccountID == "" || !strings.HasPrefix(inv.AccountID, "C-") {
					t.Fatalf("invitation %+v, code %q", inv, c)
				}
				if d := inv.ExpiresAt.Sub(inv.CreatedAt); d != 14*24*time.Hour {
					t.Fatalf("valid for %v, want 14 days", d)
				}
				var stored []byte
				must(t, db.Raw().Get(&stored, db.Raw().Rebind(`SELECT code_hash FROM client_invitations WHERE id = ?`), inv.ID))
				if bytes.Contains(stored, []byte(client.NormalizeCode(c))) || !bytes.Equal(stored, client.HashCode(c)) {
					t.Fatal("the code is not stored as its hash only")
				}
				evs := events(t, db, client.ActionInvitationCreated)
				if len(evs) != 1 || evs[0].SubjectID != inv.ID || evs[0].CaseID != f.Case.ID || evs[0].Payload["party"] != f.Client.ID {
					t.Fatalf("events %+v", evs)
				}
				for _, e := range evs {
					for _, v := range e.Payload {
						if strings.Contains(v, client.NormalizeCode(c)) || strings.Contains(v, "Marie") {
							t.Fatalf("the log holds the code or the name: %+v", e.Payload)
						}
					}
				}
				if n := len(events(t, db, client.ActionAccountCreated)); n != 1 {
					t.Fatalf("%d accounts created", n)
				}
			})

			t.Run("ANewInvitationRevokesTheOpenOneAndKeepsTheAccount", func(t *testing.T) {
				t.Parallel()
				db, f := setup(t)
				wctx := storetest.As(cli, f.Worker)
				first, c1, err := db.CreateInvitation(wctx, f.Case.ID, f.Client.ID)
				must(t, err)
				second, c2, err := db.CreateInvitation(storetest.As(cli, f.Supervisor), f.Case.ID, f.Client.ID)
				must(t, err)
				if first.AccountID != second.AccountID {
					t.Fatal("a second invitation made a second account")
				}
				_, _, err = db.Redeem(cli, client.Redemption{Code: c1, Passphrase: pass, Kind: client.KindToken})
				code(t, err, countersign.EUNAUTHORIZED)
				must(t, db.RevokeInvitation(wctx, f.Case.ID, f.Client.ID, second.ID))
				_, _, err = db.Redeem(cli, client.Redemption{Code: c2, Passphrase: pass, Kind: client.KindToken})
				code(t, err, countersign.EUNAUTHORIZED)
				code(t, db.RevokeInvitation(wctx, f.Case.ID, f.Client.ID, second.ID), countersign.ECONFLICT)
				if n := len(events(t, db, client.ActionInvitationRevoked)); n != 2 {
					t.Fatalf("%d revocations logged, want 2", n)
				}
			})

			t.Run("RefusesWhoMayNotInviteAndWhoIsNoClient", func(t *testing.T) {
				t.Parallel()
				db, f := setup(t)
				_, _, err := db.CreateInvitation(storetest.As(cli, f.Other), f.Case.ID, f.Client.ID)
				code(t, err, countersign.EFORBIDDEN)
				_, _, err = db.CreateInvitation(storetest.As(cli, f.Ethics), f.Case.ID, f.Client.ID)
				code(t, err, countersign.EFORBIDDEN)
				// Whoever may not see the case learns nothing of its parties.
				_, _, err = db.CreateInvitation(storetest.As(cli, f.Other), f.Case.ID, "pty_nobody")
				code(t, err, countersign.EFORBIDDEN)
				_, _, err = db.CreateInvitation(storetest.As(cli, f.Worker), f.Case.ID, "pty_nobody")
				code(t, err, countersign.ENOTFOUND)
				other := &casefile.Party{CaseID: f.Case.ID, Role: "other", FullName: "Jean Dubois", Language: "fr"}
				must(t, db.AddParty(storetest.As(cli, f.Worker), other))
				_, _, err = db.CreateInvitation(storetest.As(cli, f.Worker), f.Case.ID, other.ID)
				code(t, err, countersign.ECONFLICT)
				_, _, err = db.CreateInvitation(cli, f.Case.ID, f.Client.ID)
				must(t, err)
			})

			t.Run("KeepsThePartysLanguage", func(t *testing.T) {
				t.Parallel()
				db, f := setup(t)
				wctx := storetest.As(cli, f.Worker)
				p := &casefile.Party{CaseID: f.Case.ID, Role: "client", FullName: "Anna Peeters", Language: "nl"}
				must(t, db.AddParty(wctx, p))
				code(t, db.AddParty(wctx, &casefile.Party{CaseID: f.Case.ID, Role: "client", FullName: "X", Language: "es"}), countersign.EINVALID)
				ps, err := db.FindParties(wctx, f.Case.ID)
				must(t, err)
				langs := map[string]string{}
				for _, q := range ps {
					langs[q.ID] = q.Language
				}
				if langs[p.ID] != "nl" || langs[f.Client.ID] != "en" {
					t.Fatalf("languages %v", langs)
				}
				inv, c, err := db.CreateInvitation(wctx, f.Case.ID, p.ID)
				must(t, err)
				_, acc, err := db.FindInvitationLetter(wctx, f.Case.ID, p.ID, inv.ID, c)
				must(t, err)
				if acc.Language != "nl" || acc.Name != "Anna Peeters" || acc.ID != inv.AccountID {
					t.Fatalf("letter account %+v", acc)
				}
				_, _, err = db.FindInvitationLetter(wctx, f.Case.ID, p.ID, inv.ID, "AAAA-BBBB-CCCC")
				code(t, err, countersign.ENOTFOUND)
				_, _, err = db.FindInvitationLetter(storetest.As(cli, f.Other), f.Case.ID, p.ID, inv.ID, c)
				code(t, err, countersign.EFORBIDDEN)
			})

			t.Run("ACodeSignsInOnceAndSetsThePassphrase", func(t *testing.T) {
				t.Parallel()
				db, f := setup(t)
				inv, c, err := db.CreateInvitation(storetest.As(cli, f.Worker), f.Case.ID, f.Client.ID)
				must(t, err)
				_, _, err = db.Redeem(cli, client.Redemption{Code: c, Passphrase: "short", Kind: client.KindToken})
				code(t, err, countersign.EINVALID)
				// Typed by hand: lower case, spaces instead of dashes.
				typed := strings.ToLower(strings.ReplaceAll(c, "-", " "))
				s, token, err := db.Redeem(cli, client.Redemption{Code: typed, Passphrase: pass, Kind: client.KindToken})
				must(t, err)
				if !strings.HasPrefix(token, client.TokenPrefix) || s.AccountID != inv.AccountID {
					t.Fatalf("session %+v, token %q", s, token)
				}
				_, _, err = db.Redeem(cli, client.Redemption{Code: c, Passphrase: pass, Kind: client.KindToken})
				code(t, err, countersign.EUNAUTHORIZED)
				_, p, err := db.AuthenticateClient(cli, token)
				must(t, err)
				if p.AccountID != inv.AccountID || p.Name != "Marie Dubois" || len(p.Parties) != 1 || p.Parties[0] != (client.PartyRef{CaseID: f.Case.ID, PartyID: f.Client.ID}) {
					t.Fatalf("principal %+v", p)
				}
				// A bearer token is no browser session, nor a staff token.
				_, _, err = db.FindClientSession(cli, token)
				code(t, err, countersign.EUNAUTHORIZED)
				_, _, err = db.Authenticate(cli, token)
				code(t, err, countersign.EUNAUTHORIZED)
				for _, a := range []string{client.ActionInvitationUsed, client.ActionPassphraseSet, client.ActionSignedIn} {
					if evs := events(t, db, a); len(evs) != 1 || evs[0].Role != string(countersign.RoleClient) || evs[0].ActorID != "client:"+inv.AccountID {
						t.Fatalf("%s: %+v", a, evs)
					}
				}
				// Later sign-ins: by account number, by the party's email.
				for _, login := range []string{strings.ToLower(inv.AccountID), "Marie.Dubois@example.org"} {
					f, err := client.ParseLogin(login)
					must(t, err)
					_, tok, err := db.SignInWithPassphrase(cli, f, pass, client.KindBrowser, "nl")
					must(t, err)
					s, p, err := db.FindClientSession(cli, tok)
					must(t, err)
					if s.Language != "nl" || p.Language != "nl" || s.CSRF == "" {
						t.Fatalf("session %+v, principal %+v", s, p)
					}
					_, _, err = db.SignInWithPassphrase(cli, f, pass+"!", client.KindBrowser, "")
					if err != client.ErrSignIn {
						t.Fatalf("wrong passphrase: %v", err)
					}
				}
				_, _, err = db.SignInWithPassphrase(cli, client.SignInFilter{AccountID: "C-00000-00000"}, pass, client.KindToken, "")
				if err != client.ErrSignIn {
					t.Fatalf("unknown account: %v", err)
				}
				must(t, db.EndClientSession(cli, token))
				_, _, err = db.AuthenticateClient(cli, token)
				code(t, err, countersign.EUNAUTHORIZED)
				if n := len(events(t, db, client.ActionSignedOut)); n != 1 {
					t.Fatalf("%d sign-outs logged", n)
				}
			})

			t.Run("AnExpiredCodeDoesNotWork", func(t *testing.T) {
				t.Parallel()
				db, f := setup(t)
				now := time.Now()
				db.Now = func() time.Time { return now }
				_, c, err := db.CreateInvitation(storetest.As(cli, f.Worker), f.Case.ID, f.Client.ID)
				must(t, err)
				now = now.Add(client.InvitationTTL + time.Second)
				_, _, err = db.StartCeremony(cli, c)
				code(t, err, countersign.EUNAUTHORIZED)
				_, _, err = db.Redeem(cli, client.Redemption{Code: c, Passphrase: pass, Kind: client.KindToken})
				code(t, err, countersign.EUNAUTHORIZED)
			})

			t.Run("ASignUpCeremonyRegistersAPasskeyAndSignsInWithIt", func(t *testing.T) {
				t.Parallel()
				db, f := setup(t)
				inv, c, err := db.CreateInvitation(storetest.As(cli, f.Worker), f.Case.ID, f.Client.ID)
				must(t, err)
				secret, acc, err := db.StartCeremony(cli, c)
				must(t, err)
				if acc == nil || acc.ID != inv.AccountID || acc.Activated {
					t.Fatalf("account %+v", acc)
				}
				must(t, db.SaveChallenge(cli, secret, []byte(`{"challenge":"abc"}`)))
				cer, _, err := db.FindCeremony(cli, secret)
				must(t, err)
				if string(cer.WebAuthn) != `{"challenge":"abc"}` || cer.InvitationID != inv.ID {
					t.Fatalf("ceremony %+v", cer)
				}
				credID := []byte{1, 2, 3, 4}
				_, tok, err := db.Redeem(cli, client.Redemption{Ceremony: secret, Passkey: &client.Passkey{CredentialID: credID, Credential: []byte(`{"n":1}`)}, Kind: client.KindBrowser})
				must(t, err)
				if _, _, err := db.FindClientSession(cli, tok); err != nil {
					t.Fatal(err)
				}
				_, _, err = db.FindCeremony(cli, secret)
				code(t, err, countersign.EUNAUTHORIZED)
				if n := len(events(t, db, client.ActionPasskeyRegistered)); n != 1 {
					t.Fatalf("%d passkeys logged", n)
				}
				// A later sign-in: a ceremony without a code, then the passkey.
				login, acc2, err := db.StartCeremony(cli, "")
				must(t, err)
				if acc2 != nil {
					t.Fatal("a passkey sign-in ceremony names an account")
				}
				got, keys, err := db.FindPasskeys(cli, inv.AccountID)
				must(t, err)
				if got.ID != inv.AccountID || len(keys) != 1 || !bytes.Equal(keys[0].CredentialID, credID) {
					t.Fatalf("passkeys %+v", keys)
				}
				_, tok2, err := db.SignInWithPasskey(cli, login, credID, []byte(`{"n":2}`), "de")
				must(t, err)
				s, _, err := db.FindClientSession(cli, tok2)
				must(t, err)
				if s.Language != "de" {
					t.Fatalf("session %+v", s)
				}
				_, keys, _ = db.FindPasskeys(cli, inv.AccountID)
				if string(keys[0].Credential) != `{"n":2}` {
					t.Fatal("the passkey's counter was not kept")
				}
				// The ceremony is spent.
				_, _, err = db.SignInWithPasskey(cli, login, credID, []byte(`{"n":3}`), "")
				code(t, err, countersign.EUNAUTHORIZED)
				must(t, db.SetSessionLanguage(cli, s.ID, "fr"))
				s, _, _ = db.FindClientSession(cli, tok2)
				if s.Language != "fr" {
					t.Fatal("the language switch was not kept")
				}
			})
		})
	}
}
