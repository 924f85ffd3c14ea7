package main

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestRetentionPlanAndRun closes two cases of a type the policy keeps for
// 0 days, holds one of them, and runs `countersign retention plan` and
// `retention run` on both databases: the plan shows one due and one held,
// the run erases the due one only, a second run erases nothing, and
// `audit verify` still passes the log and the case data.
func TestRetentionPlanAndRun(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dsn(t)
			b := newBoardBundle(t, d)
			b.set("COUNTERSIGN_POLICY", b.file(t, "policy.yaml", "retention:\n  general: 0d\n  housing: 8y\n"))
			db := storetest.MustOpen(t, d)
			due, held := storetest.MustSeed(t, db), storetest.MustSeed(t, db)
			for _, f := range []*storetest.Fixture{due, held} {
				if _, err := db.CloseCase(storetest.As(storetest.CLI(), f.Supervisor), f.Case.ID, "goals_met"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.SetHold(storetest.As(storetest.CLI(), held.Supervisor), held.Case.ID, "litigation"); err != nil {
				t.Fatal(err)
			}

			out := b.mustRun(t, 0, "retention", "plan")
			if !regexp.MustCompile(`(?m)^`+due.Case.ID+`\s+`+due.Case.Reference+`\s+general\s+\S+\s+0d\s+\S+\s+due$`).MatchString(out) ||
				!regexp.MustCompile(`(?m)^`+held.Case.ID+`\s.*legal hold$`).MatchString(out) || !strings.Contains(out, "1 of 2 due now") {
				t.Fatalf("plan:\n%s", out)
			}
			out = b.mustRun(t, 0, "retention", "run")
			if !strings.Contains(out, "Erased case "+due.Case.ID+" (general, rule retention") || strings.Contains(out, held.Case.ID) ||
				!strings.Contains(out, "1 cases erased") {
				t.Fatalf("run:\n%s", out)
			}
			if out = b.mustRun(t, 0, "retention", "run"); !strings.Contains(out, "0 cases erased") {
				t.Fatalf("second run:\n%s", out)
			}
			out = b.mustRun(t, 0, "audit", "verify", "--quiet")
			if !strings.Contains(out, "OK: case data") {
				t.Fatalf("verify after the erasure:\n%s", out)
			}
			// An outside verifier with the export and the public key.
			vkey := strings.TrimSpace(b.mustRun(t, 0, "audit", "key"))
			ndjson := b.mustRun(t, 0, "audit", "export")
			if !strings.Contains(ndjson, `"case.erased"`) {
				t.Fatal("the export holds no case.erased event")
			}
			export := b.file(t, "export.ndjson", ndjson)
			if out = b.mustRun(t, 0, "audit", "verify", "--quiet", "--file", export, "--key", vkey); !strings.HasPrefix(out, "OK: ") {
				t.Fatalf("offline verify of the export: %s", out)
			}
			help := b.mustRun(t, 0, "retention", "--help")
			if !strings.Contains(help, "countersign retention plan") || !strings.Contains(help, "countersign retention run") {
				t.Fatalf("help:\n%s", help)
			}
		})
	}
}

// TestServeRunsTheRetentionJob starts the service with a policy that keeps
// general cases 0 days and --retention-every 50ms: a case closed while it
// runs is erased by the service's own job, with its case.erased event.
func TestServeRunsTheRetentionJob(t *testing.T) {
	t.Parallel()
	d := storetest.SQLiteDSN(t)
	dir := t.TempDir()
	b := &boardBundle{dir: dir}
	m := NewMain(io.Discard, io.Discard, env(map[string]string{"COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key"),
		"COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, dir)}))
	m.Config.DSN, m.Config.Addr, m.Config.RateLimit = d, "127.0.0.1:0", 0
	m.Config.PolicyPath = b.file(t, "policy.yaml", "retention:\n  general: 0d\n")
	m.Config.RetentionEvery = 50 * time.Millisecond
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	db := storetest.MustOpen(t, d)
	f := storetest.MustSeed(t, db)
	if _, err := db.CloseCase(storetest.As(storetest.CLI(), f.Supervisor), f.Case.ID, "goals_met"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := db.FindCaseByID(storetest.As(storetest.CLI(), f.Supervisor), f.Case.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == casefile.StatusErased {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service's retention job did not erase the expired case: %+v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	es, err := db.FindErasures(storetest.CLI(), casefile.ErasureFilter{CaseID: &f.Case.ID})
	if err != nil || len(es) != 1 || es[0].Rule != casefile.RuleRetention {
		t.Fatalf("erasures %+v, %v", es, err)
	}
}

// TestServeIndexesClientEmailsAtStart: the parties a database holds from
// before migration 0021 (their e-mail's blind index missing) get it when
// serve starts, not at the first sign-in by e-mail, on both databases.
func TestServeIndexesClientEmailsAtStart(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dsnOf(t)
			db := storetest.MustOpen(t, d)
			storetest.MustSeed(t, db)
			unindexed := func() int {
				t.Helper()
				var n int
				if err := db.Raw().Get(&n, `SELECT COUNT(*) FROM parties WHERE email_index IS NULL AND email <> ''`); err != nil {
					t.Fatal(err)
				}
				return n
			}
			// As a database upgraded from the previous release holds them.
			if _, err := db.Raw().Exec(`UPDATE parties SET email_index = NULL`); err != nil {
				t.Fatal(err)
			}
			if unindexed() == 0 {
				t.Fatal("the fixture has no party with an e-mail to index")
			}
			dir := t.TempDir()
			m := NewMain(io.Discard, io.Discard, env(map[string]string{"COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key"),
				"COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, dir)}))
			m.Config.DSN, m.Config.Addr, m.Config.RateLimit = d, "127.0.0.1:0", 0
			if err := m.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			deadline := time.Now().Add(20 * time.Second)
			for unindexed() > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d parties' e-mails still have no index after serve started", unindexed())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
