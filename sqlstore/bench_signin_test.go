package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// BenchmarkClientSignIn measures a client's sign-in with a passphrase
// among COUNTERSIGN_BENCH_CLIENTS clients (default 2,000), each the client
// of a case of their own with an account and a passphrase: by e-mail, and
// by account number, which reads one account and whose cost is the
// passphrase check alone (one argon2id). The difference is what finding
// the account by e-mail costs. It uses the public store only, so the same
// file runs on the commit before the e-mail's blind index (BENCHMARKS.md).
//
//	go test -run '^$' -bench ClientSignIn -benchtime 10x ./sqlstore/
func BenchmarkClientSignIn(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	const pass = "green door by the canal"
	hash := client.HashPassphrase(pass)
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			db := storetest.Dialects()[name](b)
			f := storetest.MustSeed(b, db)
			wctx := storetest.As(context.Background(), f.Worker)
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				accounts = map[int]string{}
				failed   error
			)
			next := make(chan int)
			for range 8 {
				wg.Go(func() {
					for i := range next {
						c := &casefile.Case{Reference: fmt.Sprintf("SIGNIN-%d", i), Title: "Support"}
						p := &casefile.Party{Role: "client", FullName: fmt.Sprintf("Client %d", i), Email: fmt.Sprintf("client.%d@example.org", i)}
						err := db.CreateCase(wctx, c)
						if err == nil {
							p.CaseID = c.ID
							err = db.AddParty(wctx, p)
						}
						var inv *client.Invitation
						if err == nil {
							inv, _, err = db.CreateInvitation(wctx, c.ID, p.ID)
						}
						if err == nil {
							_, err = db.Raw().Exec(db.Raw().Rebind(`UPDATE client_accounts SET passphrase_hash = ? WHERE id = ?`), hash, inv.AccountID)
						}
						mu.Lock()
						if err != nil {
							failed = err
						} else {
							accounts[i] = inv.AccountID
						}
						mu.Unlock()
					}
				})
			}
			for i := range n {
				next <- i
			}
			close(next)
			wg.Wait()
			if failed != nil {
				b.Fatal(failed)
			}
			one := func(b *testing.B, k int, login string) {
				fl, err := client.ParseLogin(login)
				if err != nil {
					b.Fatal(err)
				}
				s, _, err := db.SignInWithPassphrase(context.Background(), fl, pass, client.KindToken, "")
				if err != nil || s.AccountID != accounts[k] {
					b.Fatal(s, err)
				}
			}
			email := func(k int) string { return fmt.Sprintf("Client.%d@example.org", k) }
			signIn := func(b *testing.B, login func(k int) string) {
				for i := range b.N {
					k := (i * 7919) % n
					one(b, k, login(k))
				}
			}
			b.Run("email", func(b *testing.B) { signIn(b, email) })
			b.Run("account_number", func(b *testing.B) { signIn(b, func(k int) string { return accounts[k] }) })
			// The first sign-in by e-mail after an upgrade from before
			// migration 0021, which indexes every party's e-mail first
			// (indexEmails); skipped on a release without the index.
			b.Run("email_first_after_upgrade", func(b *testing.B) {
				for i := range b.N {
					b.StopTimer()
					if _, err := db.Raw().Exec(`UPDATE parties SET email_index = NULL`); err != nil {
						b.Skip("no email_index: ", err)
					}
					b.StartTimer()
					k := (i * 7919) % n
					one(b, k, email(k))
				}
			})
		})
	}
}
