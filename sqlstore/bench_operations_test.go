package sqlstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// BenchmarkOperations is the store's share of one /metrics scrape
// (metrics.StoreCollector): drafts by status, the oldest queued draft, every
// team's review queue, the audit backlog and the newest checkpoint, with
// 100,000 drafts waiting for review:
//
//	COUNTERSIGN_BENCH_DIALECT=postgres COUNTERSIGN_TEST_DATABASE_URL=postgres://… \
//	  go test -run '^$' -bench Operations -benchtime 200x ./sqlstore/
func BenchmarkOperations(b *testing.B) {
	dsn := storetest.SQLiteDSN(b)
	if os.Getenv("COUNTERSIGN_BENCH_DIALECT") == "postgres" {
		dsn = storetest.PostgresDSN(b)
	}
	db := storetest.MustOpen(b, dsn)
	f := storetest.MustSeed(b, db)
	storetest.MustFillQueue(b, db, f, 100_000)
	ctx := context.Background()
	for b.Loop() {
		s, err := db.Operations(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Teams) == 0 {
			b.Fatal("no review queue")
		}
	}
}
