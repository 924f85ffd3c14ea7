package sqlstore_test

import (
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := storetest.CLI()
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
			// setup opens a database of its own (the clock is per test),
			// and issues a token for the fixture's worker.
			setup := func(t *testing.T, expires *time.Time) (*sqlstore.DB, *storetest.Fixture, *identity.Token) {
				t.Helper()
				db := open(t)
				f := storetest.MustSeed(t, db)
				tok, _, err := db.CreateToken(cli, f.Worker.ID, "browser", expires)
				must(t, err)
				return db, f, tok
			}
			events := func(t *testing.T, db *sqlstore.DB, action string) []*audit.Event {
				t.Helper()
				_, err := db.Sequence(ctx)
				must(t, err)
				evs, err := db.FindEvents(ctx, audit.EventFilter{Action: &action})
				must(t, err)
				return evs
			}

			t.Run("StartsFindsAndEndsASession", func(t *testing.T) {
				t.Parallel()
				db, f, tok := setup(t, nil)
				s, secret, err := db.CreateSession(ctx, tok.ID, time.Hour)
				must(t, err)
				if len(secret) < 43 || s.CSRF == "" || s.CSRF == secret || s.TokenID != tok.ID {
					t.Fatalf("session %+v, secret %q: want 256-bit random values, distinct, and the token's id", s, secret)
				}
				got, u, err := db.FindSession(ctx, secret)
				must(t, err)
				if got.ID != s.ID || got.CSRF != s.CSRF || got.TokenID != tok.ID || u.ID != f.Worker.ID || u.Role != countersign.RoleWorker {
					t.Fatalf("found %+v of %+v", got, u)
				}
				must(t, db.EndSession(ctx, secret))
				_, _, err = db.FindSession(ctx, secret)
				code(t, err, countersign.EUNAUTHORIZED)
				code(t, db.EndSession(ctx, secret), countersign.EUNAUTHORIZED)
				for _, action := range []string{sqlstore.ActionSessionStarted, sqlstore.ActionSessionEnded} {
					evs := events(t, db, action)
					if len(evs) != 1 || evs[0].SubjectID != s.ID || evs[0].ActorID != f.Worker.ID {
						t.Fatalf("%s events %+v, want one naming %s", action, evs, s.ID)
					}
					for k, v := range evs[0].Payload {
						if v == secret || v == s.CSRF {
							t.Fatalf("the audit event holds the %s", k)
						}
					}
				}
			})

			t.Run("RefusesUnknownAndExpiredSessions", func(t *testing.T) {
				t.Parallel()
				db, _, tok := setup(t, nil)
				_, _, err := db.FindSession(ctx, "not-a-session")
				code(t, err, countersign.EUNAUTHORIZED)
				_, secret, err := db.CreateSession(ctx, tok.ID, -time.Minute)
				must(t, err)
				_, _, err = db.FindSession(ctx, secret)
				code(t, err, countersign.EUNAUTHORIZED)
			})

			t.Run("RefusesAnUnknownToken", func(t *testing.T) {
				t.Parallel()
				db, _, _ := setup(t, nil)
				_, _, err := db.CreateSession(ctx, "tok_nothing", time.Hour)
				code(t, err, countersign.EUNAUTHORIZED)
			})

			t.Run("EndsWhenItsTokenIsRevoked", func(t *testing.T) {
				t.Parallel()
				db, _, tok := setup(t, nil)
				s, secret, err := db.CreateSession(ctx, tok.ID, time.Hour)
				must(t, err)
				must(t, db.RevokeToken(cli, tok.ID))
				_, _, err = db.FindSession(ctx, secret)
				code(t, err, countersign.EUNAUTHORIZED)
				_, _, err = db.CreateSession(ctx, tok.ID, time.Hour)
				code(t, err, countersign.EUNAUTHORIZED)
				var ended *time.Time
				must(t, db.Raw().Get(&ended, db.Raw().Rebind(`SELECT ended_at FROM sessions WHERE id = ?`), s.ID))
				if ended == nil {
					t.Fatal("the session of a revoked token was not ended")
				}
			})

			t.Run("EndsWhenItsTokenExpires", func(t *testing.T) {
				t.Parallel()
				now := time.Now().UTC()
				expires := now.Add(time.Hour)
				db, _, tok := setup(t, &expires)
				db.Now = func() time.Time { return now }
				s, secret, err := db.CreateSession(ctx, tok.ID, 12*time.Hour)
				must(t, err)
				if !s.ExpiresAt.Equal(expires.Truncate(time.Microsecond)) {
					t.Fatalf("session expires at %v, want the token's expiry %v", s.ExpiresAt, expires)
				}
				_, _, err = db.FindSession(ctx, secret)
				must(t, err)
				now = expires
				_, _, err = db.FindSession(ctx, secret)
				code(t, err, countersign.EUNAUTHORIZED)
			})

			t.Run("EndsWhenItsUserIsDisabled", func(t *testing.T) {
				t.Parallel()
				db, f, tok := setup(t, nil)
				db.TokenCache = time.Minute
				_, tokSecret, err := db.CreateToken(cli, f.Worker.ID, "api", nil)
				must(t, err)
				_, _, err = db.Authenticate(ctx, tokSecret) // now in the cache
				must(t, err)
				s, secret, err := db.CreateSession(ctx, tok.ID, time.Hour)
				must(t, err)
				code(t, db.DisableUser(storetest.As(ctx, f.Supervisor), f.Worker.ID), countersign.EFORBIDDEN)
				must(t, db.DisableUser(cli, f.Worker.ID))
				_, _, err = db.FindSession(ctx, secret)
				code(t, err, countersign.EUNAUTHORIZED)
				_, _, err = db.Authenticate(ctx, tokSecret)
				code(t, err, countersign.EUNAUTHORIZED)
				code(t, db.DisableUser(cli, f.Worker.ID), countersign.ECONFLICT)
				code(t, db.DisableUser(cli, "usr_nobody"), countersign.ENOTFOUND)
				var ended *time.Time
				must(t, db.Raw().Get(&ended, db.Raw().Rebind(`SELECT ended_at FROM sessions WHERE id = ?`), s.ID))
				if ended == nil {
					t.Fatal("the session of a disabled user was not ended")
				}
				evs := events(t, db, identity.ActionUserDisabled)
				if len(evs) != 1 || evs[0].SubjectID != f.Worker.ID || evs[0].ActorID != countersign.SystemCLI.UserID || len(evs[0].Payload) != 0 {
					t.Fatalf("user.disabled events %+v, want one naming the user by id only", evs)
				}
			})

			t.Run("PurgesEndedAndExpiredSessionsAtSignIn", func(t *testing.T) {
				t.Parallel()
				now := time.Now().UTC()
				db, _, tok := setup(t, nil)
				db.Now = func() time.Time { return now }
				_, ended, err := db.CreateSession(ctx, tok.ID, time.Hour)
				must(t, err)
				must(t, db.EndSession(ctx, ended))
				_, _, err = db.CreateSession(ctx, tok.ID, time.Minute) // will expire
				must(t, err)
				_, live, err := db.CreateSession(ctx, tok.ID, time.Hour)
				must(t, err)
				count := func() (n int) {
					t.Helper()
					must(t, db.Raw().Get(&n, `SELECT COUNT(*) FROM sessions`))
					return n
				}
				if n := count(); n != 2 { // the ended one went with the third sign-in
					t.Fatalf("%d sessions after an ended one and two live ones, want 2", n)
				}
				now = now.Add(2 * time.Minute)
				_, _, err = db.CreateSession(ctx, tok.ID, time.Hour)
				must(t, err)
				if n := count(); n != 2 {
					t.Fatalf("%d sessions after one expired and a sign-in, want 2", n)
				}
				_, _, err = db.FindSession(ctx, live)
				must(t, err)
				evs := events(t, db, identity.ActionSessionsPurged)
				if len(evs) != 2 || evs[0].Payload["count"] != "1" || evs[1].Payload["count"] != "1" || evs[0].ActorID != countersign.System.UserID {
					t.Fatalf("session.purged events %+v, want two of one session each, by the service", evs)
				}
			})
		})
	}
}
