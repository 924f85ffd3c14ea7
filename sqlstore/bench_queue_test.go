package sqlstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/internal/latency"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// BenchmarkQueuePage reads the first page of a supervisor's review queue
// with 100,000 drafts waiting (90,000 pending), from the store and over
// HTTP through the real handler with bearer authentication:
//
//	COUNTERSIGN_BENCH_DIALECT=postgres COUNTERSIGN_TEST_DATABASE_URL=postgres://… \
//	  go test -run '^$' -bench QueuePage -benchtime 2000x ./sqlstore/
func BenchmarkQueuePage(b *testing.B) {
	dsn := storetest.SQLiteDSN(b)
	if os.Getenv("COUNTERSIGN_BENCH_DIALECT") == "postgres" {
		dsn = storetest.PostgresDSN(b)
	}
	db := storetest.MustOpen(b, dsn)
	f := storetest.MustSeed(b, db)
	storetest.MustFillQueue(b, db, f, 100_000)
	ctx := storetest.As(context.Background(), f.Supervisor)
	_, token, err := db.CreateToken(storetest.CLI(), f.Supervisor.ID, "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := api.NewServer()
	srv.Identity, srv.Cases, srv.Review, srv.Audit = db, db, db, db
	srv.Logger = slog.New(slog.DiscardHandler)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := hs.Client()

	for name, read := range map[string]func() error{
		"store": func() error {
			page, _, err := db.FindQueue(ctx, review.QueueFilter{Limit: 50})
			if err == nil && len(page) != 50 {
				err = fmt.Errorf("page of %d", len(page))
			}
			return err
		},
		"http": func() error {
			req, _ := http.NewRequest("GET", hs.URL+"/v1/review/queue?limit=50", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		},
	} {
		b.Run(name, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := read(); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
			}
			latency.Report(b, ds)
		})
	}
}
