package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := open(t)
			f := storetest.MustSeed(t, db)
			code := func(t *testing.T, err error, want string) {
				t.Helper()
				if got := countersign.ErrorCode(err); got != want {
					t.Fatalf("error %v: code %q, want %q", err, got, want)
				}
			}

			t.Run("StartsFindsAndEndsASession", func(t *testing.T) {
				s, secret, err := db.CreateSession(ctx, f.Worker.ID, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				if len(secret) < 43 || s.CSRF == "" || s.CSRF == secret {
					t.Fatalf("secret %q csrf %q: want 256-bit random values, distinct", secret, s.CSRF)
				}
				got, u, err := db.FindSession(ctx, secret)
				if err != nil {
					t.Fatal(err)
				}
				if got.ID != s.ID || got.CSRF != s.CSRF || u.ID != f.Worker.ID || u.Role != countersign.RoleWorker {
					t.Fatalf("found %+v of %+v", got, u)
				}
				if err := db.EndSession(ctx, secret); err != nil {
					t.Fatal(err)
				}
				_, _, err = db.FindSession(ctx, secret)
				code(t, err, countersign.EUNAUTHORIZED)
				code(t, db.EndSession(ctx, secret), countersign.EUNAUTHORIZED)
				if _, err := db.Sequence(ctx); err != nil {
					t.Fatal(err)
				}
				for _, action := range []string{sqlstore.ActionSessionStarted, sqlstore.ActionSessionEnded} {
					events, err := db.FindEvents(ctx, audit.EventFilter{Action: &action, ActorID: &f.Worker.ID})
					if err != nil {
						t.Fatal(err)
					}
					if len(events) != 1 || events[0].SubjectID != s.ID {
						t.Fatalf("%s events %+v, want one naming %s", action, events, s.ID)
					}
					for k, v := range events[0].Payload {
						if v == secret || v == s.CSRF {
							t.Fatalf("the audit event holds the %s", k)
						}
					}
				}
			})

			t.Run("RefusesUnknownAndExpiredSessions", func(t *testing.T) {
				_, _, err := db.FindSession(ctx, "not-a-session")
				code(t, err, countersign.EUNAUTHORIZED)
				_, secret, err := db.CreateSession(ctx, f.Supervisor.ID, -time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = db.FindSession(ctx, secret)
				code(t, err, countersign.EUNAUTHORIZED)
			})

			t.Run("RefusesAnUnknownUser", func(t *testing.T) {
				_, _, err := db.CreateSession(ctx, "usr_nobody", time.Hour)
				code(t, err, countersign.ENOTFOUND)
			})
		})
	}
}
