package sqlstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/internal/latency"
)

// BenchmarkLogAtScale builds one log of COUNTERSIGN_BENCH_EVENTS events
// (default 1,000,000) and measures on it what must not degrade as the log
// grows: inclusion and consistency proofs from the store and over HTTP (the
// real API handler with bearer authentication, on loopback), and appending
// a batch of 1,000 events. Building 10M events on PostgreSQL takes several
// minutes and about 6 GB, so the log is built once for all the parts:
//
//	COUNTERSIGN_BENCH_DIALECT=postgres COUNTERSIGN_BENCH_EVENTS=10000000 \
//	COUNTERSIGN_TEST_DATABASE_URL=postgres://… \
//	  go test -run '^$' -bench LogAtScale -benchtime 500x -timeout 60m ./sqlstore/
//
// With COUNTERSIGN_BENCH_KEEP_SCHEMA=name (PostgreSQL) the log is built in
// that schema and kept, so later runs measure again without rebuilding it;
// each run's appends make it a little longer. Drop the schema when done.
func BenchmarkLogAtScale(b *testing.B) {
	db := scaleDB(b)
	n := benchEvents()
	h, err := db.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if h.Size < uint64(n) {
		fillLog(b, db, n-int(h.Size))
	}
	benchProofs(b, db)
	// Appending runs last: it grows the log the proofs above were taken on.
	b.Run("append1000", func(b *testing.B) {
		var ds []time.Duration
		for b.Loop() {
			start := time.Now()
			fillLog(b, db, 1000)
			ds = append(ds, time.Since(start))
		}
		latency.Report(b, ds)
		b.ReportMetric(1000/(float64(ds[len(ds)/2].Microseconds())/1e6), "events/s")
	})
}

// scaleDB is benchDB, or the kept schema COUNTERSIGN_BENCH_KEEP_SCHEMA.
func scaleDB(b *testing.B) *DB {
	schema := os.Getenv("COUNTERSIGN_BENCH_KEEP_SCHEMA")
	base := os.Getenv("COUNTERSIGN_TEST_DATABASE_URL")
	if schema == "" || os.Getenv("COUNTERSIGN_BENCH_DIALECT") != "postgres" || base == "" {
		return benchDB(b)
	}
	admin, err := Open(context.Background(), base)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.w.Exec(`CREATE SCHEMA IF NOT EXISTS ` + pq.QuoteIdentifier(schema)); err != nil {
		b.Fatal(err)
	}
	db, err := Open(context.Background(), base+"&search_path="+url.QueryEscape(schema))
	if err != nil {
		b.Fatal(err)
	}
	db.EventKey = audit.NewEventKey()
	b.Cleanup(func() { db.Close() })
	return db
}

// ethicsToken creates an ethics-board member and returns a bearer token of theirs.
func ethicsToken(b *testing.B, db *DB) string {
	ctx := countersign.NewContextWithActor(context.Background(), countersign.System)
	u := &identity.User{Name: "Board member", Email: fmt.Sprintf("board-%d@bench.local", rand.Int64()), Role: countersign.RoleEthics}
	if err := db.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	_, secret, err := db.CreateToken(ctx, u.ID, "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	return secret
}

// benchProofs measures, on db's log, inclusion and consistency proofs at
// random positions from the store and over HTTP (the real API handler with
// bearer authentication, on loopback), and fetching a tile over HTTP.
func benchProofs(b *testing.B, db *DB) {
	ctx := context.Background()
	s, _, err := audit.SignerFromKey(mustKey(b))
	if err != nil {
		b.Fatal(err)
	}
	notary := &audit.Notary{Store: db, Signer: s, Origin: "bench.local/audit"}
	token := ethicsToken(b, db)
	cp, err := notary.Checkpoint(ctx)
	if err != nil {
		b.Fatal(err)
	}
	size := cp.Size // n, plus the events of the board member's creation

	srv := api.NewServer()
	srv.Identity, srv.Cases, srv.Review, srv.Audit, srv.AuditProofs = db, db, db, db, notary
	srv.Logger = slog.New(slog.DiscardHandler)
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	client := hs.Client()

	get := func(path string) error {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		return nil
	}
	tiles := size / audit.TileWidth
	proofs := map[string]func() error{
		// The floor under the machine's load at the moment: one round trip.
		"roundtrip/store": func() error {
			var one int
			return db.r.GetContext(ctx, &one, `SELECT 1`)
		},
		"inclusion/store": func() error {
			_, err := notary.InclusionProof(ctx, rand.Uint64N(size), size)
			return err
		},
		"consistency/store": func() error {
			_, err := notary.ConsistencyProof(ctx, 1+rand.Uint64N(size-1), size)
			return err
		},
		"inclusion/http": func() error {
			return get(fmt.Sprintf("/v1/audit/proof/inclusion?index=%d&size=%d", rand.Uint64N(size), size))
		},
		"consistency/http": func() error {
			return get(fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", 1+rand.Uint64N(size-1), size))
		},
		"tile/http": func() error {
			return get("/v1/audit/tile/" + strings.TrimPrefix(tlog.Tile{H: audit.TileHeight, L: 0, N: int64(rand.Uint64N(max(tiles, 1))), W: audit.TileWidth}.Path(), "tile/8/"))
		},
	}
	for _, name := range []string{"roundtrip/store", "inclusion/store", "consistency/store", "inclusion/http", "consistency/http", "tile/http"} {
		b.Run("proof/"+name, func(b *testing.B) {
			if size < 2 || (name == "tile/http" && tiles == 0) {
				b.Skip("the log is too short for proofs")
			}
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := proofs[name](); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
			}
			latency.Report(b, ds)
		})
	}
}
