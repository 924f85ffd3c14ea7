package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestSequencerLeadPassesToAnotherReplica runs the background sequencer of
// two replicas on one PostgreSQL database: one leads and sequences every
// replica's events, and when it stops the other takes over.
func TestSequencerLeadPassesToAnotherReplica(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	a, b := storetest.MustOpen(t, dsn), storetest.MustOpen(t, dsn)
	f := storetest.MustSeed(t, a)
	ctx := context.Background()
	leads := func() int {
		var n int
		if err := a.Raw().Get(&n, `
			SELECT COUNT(*) FROM pg_locks
			WHERE locktype = 'advisory' AND granted
			  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			  AND classid = 7263511 AND objid::int = hashtext(current_schema())`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute) // a safety net, not a measure
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	sequenced := func() bool {
		var pending int
		if err := a.Raw().Get(&pending, `SELECT COUNT(*) FROM audit_pending`); err != nil {
			t.Fatal(err)
		}
		return pending == 0
	}
	run := func(db interface {
		RunSequencer(context.Context, time.Duration, func(error))
	}) (stop func()) {
		c, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { db.RunSequencer(c, 20*time.Millisecond, func(err error) { t.Log(err) }) })
		return func() { cancel(); wg.Wait() }
	}

	stopA := run(a)
	waitFor("replica A to lead", func() bool { return leads() == 1 })
	stopB := run(b)
	defer stopB()
	// B's own commits wake B's sequencer, but A leads: A sequences them.
	for range 5 {
		if err := b.AddNote(storetest.As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: "Visit."}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("A to sequence B's events", sequenced)
	if n := leads(); n != 1 {
		t.Fatalf("%d replicas lead the sequencer, want 1", n)
	}

	stopA() // A's lead ends with its connection
	if err := b.AddNote(storetest.As(ctx, f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: "After A stopped."}); err != nil {
		t.Fatal(err)
	}
	waitFor("B to take the lead and sequence", sequenced)
	waitFor("B to lead", func() bool { return leads() == 1 })
}
