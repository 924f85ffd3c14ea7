package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestThreeReplicas runs three services on one PostgreSQL database, as a
// deployment behind a load balancer would, and drives drafting and
// sign-offs through all three at once. No draft may be generated or decided
// twice, and the one audit log must verify.
// runReplicas starts n services on one PostgreSQL database, sharing the
// signing key; the first seeds the demo.
func runReplicas(t *testing.T, n int) []*Main {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	key := filepath.Join(t.TempDir(), "audit.key") // replicas share the signing key
	var replicas []*Main
	for i := range n {
		m := NewMain(io.Discard, io.Discard, env(map[string]string{"COUNTERSIGN_AUDIT_KEY": key}))
		// Several clients share one token, faster than its rate limit allows.
		m.Config.DSN, m.Config.Addr, m.Config.Demo, m.Config.RateLimit = dsn, "127.0.0.1:0", i == 0, 0
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		replicas = append(replicas, m)
	}
	return replicas
}

func TestThreeReplicas(t *testing.T) {
	t.Parallel()
	replicas := runReplicas(t, 3)
	worker := replicas[0].Tokens[0].Token
	caseID := firstCase(t, replicas[0].Addr(), worker)

	acc := &accepted{notes: map[string]bool{}, approved: map[string]bool{}, drafts: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 6 {
		addr := replicas[i%3].Addr()
		wg.Go(func() {
			// Each client stops after a fixed amount of work, not a time.
			c, stop := context.WithCancel(ctx)
			defer stop()
			n := 0
			driveN(c, addr, worker, caseID, fmt.Sprint("c", i), acc, func() bool { n++; return n > 8 })
		})
	}
	wg.Wait()
	cancel()

	// Let the drafts requested last be generated, by any replica.
	for _, m := range replicas {
		if err := m.Runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	db := replicas[1].DB
	var twice, attempts int
	if err := db.Raw().Get(&twice, `SELECT COUNT(*) FROM (SELECT draft_id FROM decisions GROUP BY draft_id HAVING COUNT(*) > 1) d`); err != nil {
		t.Fatal(err)
	}
	if err := db.Raw().Get(&attempts, `SELECT COALESCE(MAX(attempts), 0) FROM drafts`); err != nil {
		t.Fatal(err)
	}
	var generated, generatedEvents int
	if err := db.Raw().Get(&generated, `SELECT COUNT(*) FROM drafts WHERE generated_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Sequence(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Raw().Get(&generatedEvents, `SELECT COUNT(*) FROM audit_event WHERE action = 'draft.generated'`); err != nil {
		t.Fatal(err)
	}
	if twice != 0 || attempts > 1 || generated != generatedEvents {
		t.Fatalf("decided twice: %d drafts; max attempts %d; %d drafts generated but %d generation events", twice, attempts, generated, generatedEvents)
	}
	if len(acc.approved) == 0 || len(acc.drafts) == 0 {
		t.Fatalf("too little was done to test anything: %d drafts, %d approvals", len(acc.drafts), len(acc.approved))
	}
	// Every replica's writes are in the one log, and it verifies.
	_, vkey, err := audit.LoadOrCreateSigner(replicas[2].Config.keyPath(), replicas[2].Config.AuditOrigin)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := audit.ParseVerifierKeys(vkey)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replicas[2].Notary.VerifyLog(context.Background(), &audit.Verifier{Origin: replicas[2].Config.AuditOrigin, Keys: keys}, db.AllStoredEvents)
	if err != nil || !rep.OK {
		t.Fatalf("the log does not verify: %v %+v", err, rep)
	}
}
