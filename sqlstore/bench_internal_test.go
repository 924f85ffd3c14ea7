package sqlstore

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/memsample"
)

// Benchmarks of the audit log at scale. They build a log of
// COUNTERSIGN_BENCH_EVENTS synthetic events (default 1,000,000) straight
// through the sequencer's own batch writer, then measure. Run with, e.g.:
//
//	COUNTERSIGN_TEST_DATABASE_URL=postgres://… go test -run '^$' -bench 'LogAtScale' -benchtime 2000x ./sqlstore/
//
// BENCHMARKS.md has the results.

func benchEvents() int {
	if v, err := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_EVENTS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// benchDB opens the dialect named by COUNTERSIGN_BENCH_DIALECT (sqlite by
// default; postgres needs COUNTERSIGN_TEST_DATABASE_URL) in a fresh schema.
func benchDB(b *testing.B) *DB {
	dsn := b.TempDir() + "/bench.db"
	if os.Getenv("COUNTERSIGN_BENCH_DIALECT") == "postgres" {
		base := os.Getenv("COUNTERSIGN_TEST_DATABASE_URL")
		if base == "" {
			b.Skip("set COUNTERSIGN_TEST_DATABASE_URL")
		}
		schema := fmt.Sprintf("bench_%d", rand.Int64())
		admin, err := Open(context.Background(), base)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := admin.w.Exec(`CREATE SCHEMA ` + schema); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { admin.w.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); admin.Close() })
		dsn = base + "&search_path=" + schema
	}
	db, err := Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.EventKey = audit.NewEventKey()
	b.Cleanup(func() { db.Close() })
	return db
}

// fillLog appends n synthetic events in batches, as the sequencer would.
func fillLog(b testing.TB, db *DB, n int) { fillLogTiles(b, db, n, true) }

// fillLogTiles is fillLog; without tiles it writes the log as a version
// before migration 0013 did, leaving the tiles behind the log.
func fillLogTiles(b testing.TB, db *DB, n int, tiles bool) {
	ctx := context.Background()
	start := time.Now()
	for done := 0; done < n; {
		batch := min(5000, n-done)
		err := db.withTx(ctx, func(tx *Tx) error {
			h, err := readHead(ctx, tx, db.dialect.forUpdate())
			if err != nil {
				return err
			}
			before := h.Size
			rows := make([]pendingEventRow, batch)
			events := make([]*audit.Event, batch)
			var nodes []audit.Node
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range rows {
				p := audit.Payload{"kind": "summary", "edited": "false", "review_ms": "41000", "decision": fmt.Sprintf("dec_%024x", done+i)}
				pj, _ := json.Marshal(p)
				e := &audit.Event{At: at.Add(time.Duration(done+i) * time.Millisecond), ActorID: "usr_0123456789abcdef01234567", Role: "worker",
					Action: audit.ActionDraftApproved, SubjectType: "draft", SubjectID: fmt.Sprintf("drf_%024x", done+i), CaseID: "case_0123456789abcdef01234567", Payload: p}
				ns, err := h.Append(e)
				if err != nil {
					return err
				}
				nodes = append(nodes, ns...)
				events[i] = e
				// A nonce, as every event the service writes has one.
				nonce := make([]byte, nonceSize)
				crand.Read(nonce)
				rows[i] = pendingEventRow{eventRow: eventRow{At: e.At.Format(audit.TimeFormat), ActorID: e.ActorID, Role: e.Role, Action: e.Action,
					SubjectType: e.SubjectType, SubjectID: e.SubjectID, CaseID: e.CaseID, Payload: string(pj)}, Nonce: nonce}
			}
			for i := 0; i < batch; i += 1000 {
				j := min(i+1000, batch)
				if err := tx.writes(ctx, nil, eventsInsert(tx, rows[i:j], events[i:j])); err != nil {
					return err
				}
			}
			if tiles {
				if err := writeTiles(ctx, tx, before, nodes); err != nil {
					return err
				}
			}
			return tx.writes(ctx, nil, headWrite(h))
		})
		if err != nil {
			b.Fatal(err)
		}
		done += batch
	}
	if db.Dialect() == "postgres" && n > 1000 {
		// Settle the bulk load (visibility map, statistics, dirty buffers)
		// so the measurement that follows does not pay for it.
		for _, s := range []string{`VACUUM ANALYZE audit_event`, `VACUUM ANALYZE audit_node`, `VACUUM ANALYZE audit_tile`, `CHECKPOINT`} {
			if _, err := db.w.Exec(s); err != nil {
				b.Logf("%s: %v", s, err)
			}
		}
	}
	if n > 1000 {
		b.Logf("built a log of %d events on %s in %v", n, db.Dialect(), time.Since(start).Round(time.Millisecond))
	}
}

// BenchmarkLogVerifyFromDatabase streams the whole log from the database
// through the verifier: "stored" as `countersign audit verify` and the
// board's button do (AllStoredEvents into Verifier.VerifyStored: the
// columns as stored, the canonical encoding written by the verifier's
// workers), "events" through audit.Events (EachEvent into VerifyEach), the
// way it went before. With COUNTERSIGN_BENCH_KEEP_SCHEMA (see
// BenchmarkLogAtScale) the log is built once and kept between runs:
//
//	COUNTERSIGN_BENCH_DIALECT=postgres COUNTERSIGN_BENCH_KEEP_SCHEMA=verify1m \
//	COUNTERSIGN_TEST_DATABASE_URL=postgres://… \
//	  go test -run '^$' -bench LogVerifyFromDatabase -benchtime 3x ./sqlstore/
func BenchmarkLogVerifyFromDatabase(b *testing.B) {
	db := scaleDB(b)
	n := benchEvents()
	ctx := context.Background()
	h, err := db.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if h.Size < uint64(n) {
		fillLog(b, db, n-int(h.Size))
		if h, err = db.Head(ctx); err != nil {
			b.Fatal(err)
		}
	}
	v := &audit.Verifier{Origin: "bench.local/audit"}
	for _, path := range []string{"stored", "tiles", "events"} {
		b.Run(path, func(b *testing.B) {
			var peak atomic.Uint64
			for b.Loop() {
				runtime.GC()
				stop := memsample.PeakHeap(&peak)
				cpu0 := cpuTime()
				var rep *audit.Report
				var err error
				switch path {
				case "stored":
					rep, err = v.VerifyStored(ctx, db.AllStoredEvents, nil)
				case "tiles": // as `audit verify` runs: the events, and every stored tile against them
					vt := *v
					vt.Tiles, vt.TiledSize = db, h.Size
					if rep, err = vt.VerifyStored(ctx, db.AllStoredEvents, nil); err == nil && rep.Tiles == 0 {
						b.Fatal("no tile checked")
					}
				default:
					rep, err = v.VerifyEach(ctx, db.AllEvents, nil)
				}
				cpu := cpuTime() - cpu0
				stop()
				if err != nil || !rep.OK || rep.Events != h.Size {
					b.Fatalf("verify: %v %+v", err, rep)
				}
				b.ReportMetric(float64(h.Size)/cpu.Seconds(), "events/go-cpu-s")
			}
			b.ReportMetric(float64(h.Size)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		})
	}
}

// cpuTime returns the CPU time of this process (not the database's) so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mustKey(b *testing.B) string {
	path := b.TempDir() + "/key"
	if _, _, err := audit.LoadOrCreateSigner(path, "bench.local/audit"); err != nil {
		b.Fatal(err)
	}
	k, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return string(k)
}
