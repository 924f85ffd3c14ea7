package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// dbWaitEvery is how often --db-waits looks at the database's sessions.
// Each look is one small query on a connection of its own, about 0.2 ms
// of the database's CPU: 2 % of a core at this interval.
const dbWaitEvery = 10 * time.Millisecond

// dbWaits is what --db-waits found: how many times a session of the
// benchmark's database was seen at work (state active), and by what it
// waited on, its share of those sightings.
type dbWaits struct {
	Seen   int                `json:"seen"`
	Shares map[string]float64 `json:"shares"`
}

// sampleDBWaits looks at the PostgreSQL sessions of the benchmark's
// database every dbWaitEvery until stop is called, and then returns what
// they were doing. A session at work with no wait event is on a CPU
// ("CPU"); the others name PostgreSQL's wait event, such as IO:WALSync (a
// commit's flush of the write-ahead log), LWLock:WALWrite (a commit
// waiting for another's flush to end) or Lock:transactionid (a row lock).
// It tells where the statements' time goes, which the service's own
// profile cannot: the time a statement spends waiting in the database.
func (b *bench) sampleDBWaits(ctx context.Context) (stop func() (*dbWaits, error), err error) {
	conn, err := b.db.Raw().Connx(ctx)
	if err != nil {
		return nil, err
	}
	type row struct {
		Wait string `db:"w"`
		N    int    `db:"n"`
	}
	const q = `SELECT COALESCE(wait_event_type || ':' || wait_event, 'CPU') AS w, COUNT(*) AS n
		FROM pg_stat_activity
		WHERE state = 'active' AND backend_type = 'client backend'
		  AND datname = current_database() AND pid <> pg_backend_pid()
		GROUP BY 1`
	counts := map[string]int{}
	seen := 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	var sampleErr error
	wg.Go(func() {
		t := time.NewTicker(dbWaitEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var rows []row
			if err := conn.SelectContext(ctx, &rows, q); err != nil {
				if ctx.Err() == nil {
					sampleErr = fmt.Errorf("sample pg_stat_activity: %w", err)
				}
				return
			}
			for _, r := range rows {
				counts[r.Wait] += r.N
				seen += r.N
			}
		}
	})
	return func() (*dbWaits, error) {
		close(done)
		wg.Wait()
		if err := conn.Close(); err != nil && sampleErr == nil {
			sampleErr = err
		}
		if sampleErr != nil {
			return nil, sampleErr
		}
		w := &dbWaits{Seen: seen, Shares: map[string]float64{}}
		for k, n := range counts {
			w.Shares[k] = float64(n) / float64(seen)
		}
		return w, nil
	}, nil
}

// print writes the shares, largest first, on one line.
func (w *dbWaits) print(out io.Writer) {
	keys := make([]string, 0, len(w.Shares))
	for k := range w.Shares {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(w.Shares[b], w.Shares[a]), cmp.Compare(a, b))
	})
	fmt.Fprintf(out, "database sessions at work, seen %d times (every %v), waiting on:", w.Seen, dbWaitEvery)
	for _, k := range keys {
		fmt.Fprintf(out, " %s %.1f%%", k, 100*w.Shares[k])
	}
	fmt.Fprintln(out)
}
