package sqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/latency"
)

// BenchmarkCaseloadAtScale seeds one team of 200 workers holding 20,000
// cases on PostgreSQL, with 40,000 notes (60 % of the cases written in
// the last 90 days), 4,000 hard deadlines (half of them open and
// overdue), 2,000 drafts waiting for review and 2,000 decisions, and
// measures the p50 and p99 of the team's caseload (the page's query) and
// of the recommendation (its query, the ranking, and the write of the
// recommendation and its event), beside a bare SELECT 1 for the load of
// the machine at the time. The target is p99 under 50 ms:
//
//	COUNTERSIGN_TEST_DATABASE_URL=postgres://… \
//	  go test -run '^$' -bench CaseloadAtScale -benchtime 200x ./sqlstore/
//
// The data goes in with a few INSERT … SELECT FROM generate_series
// statements, in seconds; it skips without PostgreSQL.
func BenchmarkCaseloadAtScale(b *testing.B) {
	base := os.Getenv("COUNTERSIGN_TEST_DATABASE_URL")
	if base == "" {
		b.Skip("set COUNTERSIGN_TEST_DATABASE_URL to a PostgreSQL database to run the caseload benchmark")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("bench_caseload_%d", rand.Int64())
	admin, err := Open(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.w.Exec(`CREATE SCHEMA ` + schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.w.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); admin.Close() })
	db, err := Open(ctx, base+"&search_path="+schema)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.EventKey = audit.NewEventKey()
	start := time.Now()
	seedCaseload(b, db)
	b.Logf("seeded 200 workers, 20,000 cases, 40,000 notes, 4,000 deadlines, 4,000 drafts in %v", time.Since(start).Round(time.Millisecond))

	sup := countersign.NewContextWithActor(ctx, countersign.Actor{UserID: "usr_sup", Role: countersign.RoleSupervisor, TeamID: "team_bench"})
	// A bare round trip in the same run, to read the others against the
	// machine's load at the time.
	b.Run("select1", func(b *testing.B) {
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			var one int
			if err := db.r.GetContext(ctx, &one, `SELECT 1`); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		latency.Report(b, ds)
	})
	b.Run("team", func(b *testing.B) {
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			t, err := db.FindTeamCaseload(sup, "team_bench")
			ds = append(ds, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if len(t.Workers) != 200 || t.Total.ActiveCases != 12000 {
				b.Fatalf("workers %d, active %d", len(t.Workers), t.Total.ActiveCases)
			}
		}
		latency.Report(b, ds)
	})
	b.Run("recommendation", func(b *testing.B) {
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			r, err := db.RecommendWorkers(sup, "team_bench", "housing", "")
			ds = append(ds, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if len(r.Candidates) != 200 {
				b.Fatalf("candidates %d", len(r.Candidates))
			}
		}
		latency.Report(b, ds)
	})
}

// seedCaseload fills db with the benchmark's team in bulk.
func seedCaseload(b *testing.B, db *DB) {
	b.Helper()
	now := time.Now().UTC()
	for _, q := range []string{
		`INSERT INTO teams (id, name, created_at) VALUES ('team_bench', 'Bench team', $1)`,
		`INSERT INTO users (id, name, email, role, team_id, created_at)
		 SELECT 'usr_w' || g, 'Worker ' || g, 'w' || g || '@bench.example', 'worker', 'team_bench', $1
		 FROM generate_series(1, 200) g`,
		`INSERT INTO users (id, name, email, role, team_id, created_at)
		 VALUES ('usr_sup', 'Supervisor', 'sup@bench.example', 'supervisor', 'team_bench', $1)`,
		// Every case was opened 400 days ago, so only its notes make it active.
		`INSERT INTO cases (id, reference, title, case_type, team_id, worker_id, created_by, created_at)
		 SELECT 'case_' || g, 'REF-' || g, 'Case', (ARRAY['general', 'housing', 'child_protection', 'family_support', 'older_people'])[1 + g % 5],
		        'team_bench', 'usr_w' || (1 + g % 200), 'usr_sup', $1::timestamptz - interval '400 days'
		 FROM generate_series(1, 20000) g`,
		// An old note on every case, and a recent one on 60 % of them.
		`INSERT INTO notes (id, case_id, author_id, body, body_sha256, written_at, created_at)
		 SELECT 'note_old_' || g, 'case_' || g, 'usr_w' || (1 + g % 200), 'Note', '', $1::timestamptz - interval '300 days', $1::timestamptz - interval '300 days'
		 FROM generate_series(1, 20000) g`,
		`INSERT INTO notes (id, case_id, author_id, body, body_sha256, written_at, created_at)
		 SELECT 'note_new_' || g, 'case_' || g, 'usr_w' || (1 + g % 200), 'Note', '', $1::timestamptz - (g % 80) * interval '1 day', $1::timestamptz - (g % 80) * interval '1 day'
		 FROM generate_series(1, 20000) g WHERE g % 5 < 3`,
		`INSERT INTO agenda_entries (id, case_id, team_id, owner_id, kind, due_date, due_time, due_at, title, shared, source_notes, status,
		        reason, uid, sequence, created_by, created_at, updated_at, salt)
		 SELECT 'agd_' || g, 'case_' || (g * 5), 'team_bench', 'usr_w' || (1 + (g * 5) % 200), 'hard_deadline',
		        to_char($1::timestamptz + (CASE WHEN g % 2 = 0 THEN -10 ELSE 10 END) * interval '1 day', 'YYYY-MM-DD'), '',
		        $1::timestamptz + (CASE WHEN g % 2 = 0 THEN -10 ELSE 10 END) * interval '1 day', 'Deadline', false, '[]', 'open',
		        '', 'uid_' || g, 0, 'usr_sup', $1::timestamptz - interval '200 days', $1::timestamptz - interval '200 days', ''
		 FROM generate_series(1, 4000) g`,
		`INSERT INTO drafts (id, case_id, kind, status, requested_by, reviewer_id, team_id, note_ids, language, run_after, created_at, updated_at)
		 SELECT 'drf_' || g, 'case_' || (g * 5), 'summary', CASE WHEN g <= 2000 THEN 'pending_review' ELSE 'approved' END,
		        'usr_w' || (1 + (g * 5) % 200), 'usr_w' || (1 + (g * 5) % 200), 'team_bench', '[]', 'en', $1, $1, $1
		 FROM generate_series(1, 4000) g`,
		`INSERT INTO decisions (id, draft_id, outcome, decided_by, final_text, edited, edit_ratio, reason, comment, review_ms, fast, decided_at)
		 SELECT 'dec_' || g, 'drf_' || g, 'approved', 'usr_w' || (1 + (g * 5) % 200), '', false, 0, '', '', 30000 + g * 37 % 60000, false,
		        $1::timestamptz - (g % 60) * interval '1 day'
		 FROM generate_series(2001, 4000) g`,
		`ANALYZE`,
	} {
		var err error
		if q == `ANALYZE` {
			_, err = db.w.Exec(q)
		} else {
			_, err = db.w.Exec(q, now)
		}
		if err != nil {
			b.Fatalf("seed: %v\n%s", err, q)
		}
	}
}
