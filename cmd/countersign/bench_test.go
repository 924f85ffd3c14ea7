package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestBenchSmoke runs `countersign bench` for a moment to prove the harness
// works end to end. It asserts what was done, never how fast.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, mode := range []string{"lifecycle", "notes", "store"} {
				var out bytes.Buffer
				args := []string{"--db", dsn(t), "--mode", mode, "--duration", "1500ms", "--clients", "2", "--json", "--proof-every", "1", "--reject-every", "2"}
				if mode == "store" {
					args = append(args, "--baseline")
				}
				if err := runBench(context.Background(), args, &out, io.Discard, env(nil)); err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				var rep benchReport
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
					t.Fatalf("%s: %v\n%s", mode, err, out.String())
				}
				if rep.Iterations == 0 || rep.AuditEvents == 0 || len(rep.Errors) > 0 || rep.PeakRSSBytes == 0 {
					t.Fatalf("%s: %+v", mode, rep)
				}
				want := []string{"note"}
				if mode == "lifecycle" {
					want = append(want, "draft_request", "draft_ready", "open", "approve", "reject", "queue", "proof")
				}
				for _, step := range want {
					if rep.Steps[step].Count == 0 {
						t.Errorf("%s: step %s never ran: %+v", mode, step, rep.Steps)
					}
				}
				if mode == "store" && (rep.BaselineTxPerS <= 0 || rep.RatioToBaseline <= 0) {
					t.Errorf("baseline missing: %+v", rep)
				}
			}
		})
	}
}
