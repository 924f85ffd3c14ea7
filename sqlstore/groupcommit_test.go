package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestGroupCommitKeepsEachRequestWhole runs many SQLite write transactions
// at once, some failing, one panicking, one duplicate, one cancelled: the
// batches they share must keep exactly the changes of those that succeeded.
func TestGroupCommitKeepsEachRequestWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "gc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.w.Exec(`CREATE TABLE gc_test (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	insert := func(tx *Tx, v string) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO gc_test (v) VALUES (?)`, v)
		return err
	}
	const n = 40
	gate := make(chan struct{})
	var queued atomic.Int32
	errs := make([]error, n)
	var wg sync.WaitGroup
	// The first request holds its batch until the others are on their way,
	// so they pile up behind it and share the next batch.
	wg.Go(func() {
		errs[0] = db.withTx(ctx, func(tx *Tx) error { <-gate; return insert(tx, "v0") })
	})
	for i := 1; i < n; i++ {
		wg.Go(func() {
			rctx := ctx
			if i == 7 {
				c, cancel := context.WithCancel(ctx)
				cancel()
				rctx = c
			}
			queued.Add(1)
			errs[i] = db.withTx(rctx, func(tx *Tx) error {
				v := fmt.Sprint("v", i)
				if i%5 == 1 {
					v = "dup" // only one of these can be stored
				}
				if err := insert(tx, v); err != nil {
					return err
				}
				switch {
				case i%5 == 3:
					return errors.New("refused after writing")
				case i == 9:
					panic("boom")
				}
				return insert(tx, v+"-second")
			})
		})
	}
	for queued.Load() < n-1 {
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()

	var stored []string
	if err := db.w.Select(&stored, `SELECT v FROM gc_test`); err != nil {
		t.Fatal(err)
	}
	want := []string{"v0"}
	dups := 0
	for i := 1; i < n; i++ {
		failed := i == 7 || i == 9 || i%5 == 3
		if i%5 == 1 && errs[i] == nil {
			dups++
			want = append(want, "dup", "dup-second")
			continue
		}
		if failed || i%5 == 1 {
			if errs[i] == nil {
				t.Errorf("request %d succeeded, want an error", i)
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
		}
		want = append(want, fmt.Sprint("v", i), fmt.Sprint("v", i, "-second"))
	}
	if errs[0] != nil || dups != 1 {
		t.Fatalf("first request: %v; duplicates stored: %d, want 1", errs[0], dups)
	}
	slices.Sort(stored)
	slices.Sort(want)
	if !slices.Equal(stored, want) {
		t.Fatalf("stored %v\nwant   %v", stored, want)
	}
	if b := db.group.batches.Load(); b >= n {
		t.Errorf("%d requests took %d batches: nothing was grouped", n, b)
	}
}
