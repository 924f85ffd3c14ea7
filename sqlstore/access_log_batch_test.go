package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestConcurrentReadsAreEachLogged reads one case from many goroutines at
// once: every read that returns without error has its own event pending
// (on SQLite they share group commits), each with its own nonce, and each
// is sequenced into the log.
func TestConcurrentReadsAreEachLogged(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Dialects() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			f := storetest.MustSeed(t, db)
			ctx := storetest.As(context.Background(), f.Worker)
			const readers, each = 12, 4
			errs := make(chan error, readers*each)
			var wg sync.WaitGroup
			for range readers {
				wg.Go(func() {
					for range each {
						errs <- db.RecordRead(ctx, client.Read{CaseID: f.Case.ID, What: client.ReadCase})
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			var n, nonces int
			if err := db.Raw().Get(&n, db.Raw().Rebind(`SELECT COUNT(*) FROM audit_pending WHERE action = ? AND case_id = ?`),
				audit.ActionCaseRead, f.Case.ID); err != nil {
				t.Fatal(err)
			}
			if err := db.Raw().Get(&nonces, db.Raw().Rebind(`SELECT COUNT(DISTINCT nonce) FROM audit_pending WHERE action = ? AND case_id = ?`),
				audit.ActionCaseRead, f.Case.ID); err != nil {
				t.Fatal(err)
			}
			if n != readers*each || nonces != n {
				t.Fatalf("%d reads returned, %d events pending with %d nonces", readers*each, n, nonces)
			}
			// Every one of them is sequenced into the log as any event is.
			if _, err := db.Sequence(storetest.CLI()); err != nil {
				t.Fatal(err)
			}
			if err := db.Raw().Get(&n, db.Raw().Rebind(`SELECT COUNT(*) FROM audit_event WHERE action = ? AND case_id = ?`),
				audit.ActionCaseRead, f.Case.ID); err != nil {
				t.Fatal(err)
			}
			if n != readers*each {
				t.Fatalf("%d of %d reads sequenced", n, readers*each)
			}
		})
	}
}
