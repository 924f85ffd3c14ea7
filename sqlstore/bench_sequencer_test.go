package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// BenchmarkSequencerBatch measures the sequencer's database cost per event
// on PostgreSQL: each iteration writes 40 notes (timer stopped) and
// sequences their events in one batch. From pg_stat_statements it reports
// the sequencer's statements per batch, their execution time and WAL per
// event, and the full-page images among that WAL. It resets the
// statistics of its database, so give it a fresh database of its own, with
// pg_stat_statements loaded and its extension created:
//
//	COUNTERSIGN_BENCH_SEQUENCER_DB='postgres://…/seqbench?sslmode=disable' \
//	  go test -run '^$' -bench SequencerBatch -benchtime 100x ./sqlstore/
//
// COUNTERSIGN_BENCH_SEQUENCER_PREFILL=N first adds N events (placeholders
// beyond the log's end, time-ordered nonces as the service writes them)
// and checkpoints, so the batches run against indexes of that size, each
// page first written after a checkpoint as a whole page image.
func BenchmarkSequencerBatch(b *testing.B) {
	dsn := os.Getenv("COUNTERSIGN_BENCH_SEQUENCER_DB")
	if dsn == "" {
		b.Skip("set COUNTERSIGN_BENCH_SEQUENCER_DB to a database of its own")
	}
	db := storetest.MustOpen(b, dsn)
	f := storetest.MustSeed(b, db)
	ctx := context.Background()
	if _, err := db.Sequence(ctx); err != nil {
		b.Fatal(err)
	}
	exec := func(q string, args ...any) {
		b.Helper()
		if _, err := db.Raw().Exec(q, args...); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	if n, _ := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_SEQUENCER_PREFILL")); n > 0 {
		exec(`INSERT INTO audit_event (seq, at, actor_id, role, action, subject_type, subject_id, case_id, payload, leaf_hash, chain_hash, nonce, mac)
			SELECT 1000000000 + g, '2026-01-01T00:00:00Z', 'usr_' || (g % 50), 'worker', 'note.added', 'note', 'not_' || md5(random()::text),
				'cas_' || (g % 5000), '{}', '\x00', '\x00',
				int8send((extract(epoch from now() - interval '1 day') * 1e9)::bigint + g) || substr(decode(md5(random()::text), 'hex'), 1, 8), '\x00'
			FROM generate_series(1, $1) g
			WHERE NOT EXISTS (SELECT 1 FROM audit_event WHERE seq >= 1000000000)`, n) // once: b.N's runs share the database
		exec(`VACUUM ANALYZE audit_event`)
		exec(`CHECKPOINT`)
	}
	exec(`SELECT public.pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
	const batch = 40
	events := 0
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for j := range batch {
			if err := db.AddNote(storetest.As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: fmt.Sprintf("Visit %d/%d.", i, j)}); err != nil {
				b.Fatal(err)
			}
		}
		h, err := db.Head(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		size, err := db.Sequence(ctx)
		if err != nil {
			b.Fatal(err)
		}
		events += int(size - h.Size)
	}
	b.StopTimer()
	// The sequencer's statements: those on the log's tables, and its read
	// and clearing of audit_pending (the notes' INSERTs are not counted).
	var s struct {
		Calls int64   `db:"calls"`
		Ms    float64 `db:"ms"`
		WAL   int64   `db:"wal"`
		FPI   int64   `db:"fpi"`
	}
	if err := db.Raw().Get(&s, `SELECT COALESCE(SUM(calls), 0) AS calls, COALESCE(SUM(total_exec_time), 0) AS ms,
			COALESCE(SUM(wal_bytes), 0)::bigint AS wal, COALESCE(SUM(wal_fpi), 0) AS fpi
		FROM public.pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND (query ~ 'audit_(event|node|head|tile|refused)' OR query ~ 'FROM audit_pending')`); err != nil {
		b.Fatal(err)
	}
	if events != b.N*batch {
		b.Fatalf("%d events sequenced, want %d", events, b.N*batch)
	}
	b.ReportMetric(float64(s.Calls)/float64(b.N), "stmts/batch")
	b.ReportMetric(s.Ms*1000/float64(events), "exec-µs/event")
	b.ReportMetric(float64(s.WAL)/float64(events), "WAL-B/event")
	b.ReportMetric(float64(s.FPI)/float64(events), "FPI/event")
}
