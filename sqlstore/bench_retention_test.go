package sqlstore_test

import (
	"fmt"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// BenchmarkErasure measures one confirmed erasure of a case with 50 notes
// and a party (the transaction that shreds the key, overwrites every text
// table and writes case.erased, then the scrub: SQLite's WAL checkpoint,
// PostgreSQL's VACUUM started in the background), on each database.
// Seeding each case is not timed.
//
//	go test -run x -bench Erasure -benchtime 20x ./sqlstore/
func BenchmarkErasure(b *testing.B) {
	for name, open := range storetest.Dialects() {
		b.Run(name, func(b *testing.B) {
			db := open(b)
			f := storetest.MustSeed(b, db)
			second := &identity.User{Name: "second admin", Email: countersign.NewID("adm") + "@example.org", Role: countersign.RoleAdmin}
			if err := db.CreateUser(storetest.CLI(), second); err != nil {
				b.Fatal(err)
			}
			wctx, sctx := storetest.As(storetest.CLI(), f.Worker), storetest.As(storetest.CLI(), f.Supervisor)
			actx, a2ctx := storetest.As(storetest.CLI(), f.Admin), storetest.As(storetest.CLI(), second)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				c := &casefile.Case{Reference: fmt.Sprintf("BENCH-%d-%s", i, countersign.NewID("r")), Title: "Benchmark"}
				must(b, db.CreateCase(wctx, c))
				must(b, db.AddParty(wctx, &casefile.Party{CaseID: c.ID, Role: "client", FullName: "Marie Dubois"}))
				for n := range 50 {
					must(b, db.AddNote(wctx, &casefile.Note{CaseID: c.ID, Body: fmt.Sprintf("Visit %d: the boiler is still broken.", n)}))
				}
				_, err := db.CloseCase(sctx, c.ID, "goals_met")
				must(b, err)
				r, err := db.RequestErasure(actx, c.ID, "", "data_subject_request")
				must(b, err)
				b.StartTimer()
				_, err = db.ConfirmErasure(a2ctx, r.ID)
				must(b, err)
			}
		})
	}
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
