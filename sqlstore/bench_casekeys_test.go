package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// BenchmarkCaseText measures what sealing case text at rest costs the
// most frequent write and read: adding a note (sealed with its case's key,
// the key's row read in the transaction) and reading a case's 20 notes
// (the key's row read once, each body opened). It uses the public store
// only, so the same file runs on a release without encryption at rest
// for the comparison in BENCHMARKS.md.
//
//	go test -run '^$' -bench CaseText -benchtime 2000x ./sqlstore/
func BenchmarkCaseText(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			db := storetest.Dialects()[name](b)
			f := storetest.MustSeed(b, db)
			wctx := storetest.As(context.Background(), f.Worker)
			body := "Home visit. The heating was cut off in November; two months of rent arrears; she agreed to a referral to the budget advice service and will call back on Monday."
			for i := range 17 {
				if err := db.AddNote(wctx, &casefile.Note{CaseID: f.Case.ID, Body: fmt.Sprintf("%d. %s", i, body)}); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("add_note", func(b *testing.B) {
				c := &casefile.Case{Reference: fmt.Sprintf("BENCH-%d", time.Now().UnixNano()), Title: "Bench"}
				if err := db.CreateCase(wctx, c); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if err := db.AddNote(wctx, &casefile.Note{CaseID: c.ID, Body: body}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("read_20_notes", func(b *testing.B) {
				for range b.N {
					notes, err := db.FindNotes(wctx, f.Case.ID)
					if err != nil || len(notes) != 20 {
						b.Fatal(len(notes), err)
					}
				}
			})
		})
	}
}
