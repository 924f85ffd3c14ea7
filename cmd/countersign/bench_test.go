package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestBenchSmoke runs `countersign bench` for a moment to prove the harness
// works end to end. It asserts what was done, never how fast.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, mode := range []string{"lifecycle", "notes", "store", "reads"} {
				var out bytes.Buffer
				args := []string{"--db", dsn(t), "--mode", mode, "--duration", "1500ms", "--clients", "2", "--json", "--proof-every", "1", "--reject-every", "2"}
				// Each mode's checks below need a few iterations, not seconds of
				// them: the runs end after 40 (hundreds fit in the 1.5 s). The
				// baseline still runs for half the duration, and --db-waits
				// samples the whole 1.5 s.
				switch mode {
				case "store":
					args = append(args, "--baseline", "--iterations", "40")
				case "notes":
					if name == "postgres" {
						args = append(args, "--db-waits")
					} else {
						args = append(args, "--iterations", "40")
					}
				case "reads":
					args = append(args, "--iterations", "40")
				case "lifecycle":
					// A few whole lifecycles, however slow a busy machine makes them:
					// with 2 clients, 4 lifecycles include a rejection.
					args = append(args, "--duration", "60s", "--iterations", "4")
				}
				if err := runBench(context.Background(), args, &out, io.Discard, env(nil)); err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				var rep benchReport
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
					t.Fatalf("%s: %v\n%s", mode, err, out.String())
				}
				if rep.Iterations == 0 || (rep.AuditEvents == 0 && mode != "reads") || len(rep.Errors) > 0 || rep.PeakRSSBytes == 0 {
					t.Fatalf("%s: %+v", mode, rep)
				}
				want := []string{"note"}
				switch mode {
				case "lifecycle":
					// No "open" step: with --wait the read that finds the draft
					// ready is the opening, and an approval without one would
					// have been refused (an error above).
					want = append(want, "draft_request", "draft_ready", "approve", "reject", "queue", "proof")
				case "reads":
					want = []string{"case_read", "draft_read"}
				}
				for _, step := range want {
					if rep.Steps[step].Count == 0 {
						t.Errorf("%s: step %s never ran: %+v", mode, step, rep.Steps)
					}
				}
				if mode == "store" && (rep.BaselineTxPerS <= 0 || rep.RatioToBaseline <= 0) {
					t.Errorf("baseline missing: %+v", rep)
				}
				if mode == "notes" && name == "postgres" {
					checkDBWaits(t, rep.DBWaits)
				} else if rep.DBWaits != nil {
					t.Errorf("%s on %s: database waits reported without --db-waits: %+v", mode, name, rep.DBWaits)
				}
			}
		})
	}
}

// checkDBWaits checks what --db-waits reported for 1.5 s of notes written
// by two clients: the sessions were seen at work, and the shares of what
// they waited on are of named waits and add up to the whole.
func checkDBWaits(t *testing.T, w *dbWaits) {
	t.Helper()
	if w == nil || w.Seen == 0 {
		t.Fatalf("--db-waits saw no session at work: %+v", w)
	}
	sum := 0.0
	for k, v := range w.Shares {
		if k == "" || v <= 0 {
			t.Errorf("share %q = %v", k, v)
		}
		sum += v
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("shares add up to %v, want 1: %+v", sum, w.Shares)
	}
}

// TestBenchSmokeReplicasAndRate drives two replicas on one PostgreSQL
// database at a fixed rate: every client talks to its own replica in turn,
// and no more iterations start than the rate allows.
func TestBenchSmokeReplicasAndRate(t *testing.T) {
	t.Parallel()
	replicas := runReplicas(t, 2)
	var urls []string
	for _, m := range replicas {
		urls = append(urls, "http://"+m.Addr())
	}
	var worker, ethics string
	for _, tok := range replicas[0].Tokens {
		switch tok.Role {
		case "worker":
			worker = tok.Token
		case "ethics":
			ethics = tok.Token
		}
	}
	const rate = 20
	var out bytes.Buffer
	args := []string{"--url", strings.Join(urls, ","), "--token", worker, "--ethics-token", ethics, "--mode", "lifecycle",
		"--clients", "2", "--rate", fmt.Sprint(rate), "--iterations", "10", "--duration", "60s", "--json"}
	if err := runBench(context.Background(), args, &out, io.Discard, env(nil)); err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Replicas != 2 || rep.Iterations < 10 || len(rep.Errors) > 0 {
		t.Fatalf("%+v", rep)
	}
	// The limiter lets one iteration start at once and then rate a second.
	if limit := 1 + int(rate*rep.Seconds); rep.Iterations > limit {
		t.Errorf("%d iterations at --rate %d in %.2fs, more than %d", rep.Iterations, rate, rep.Seconds, limit)
	}
	for i, m := range replicas {
		notes := 0.0
		families, err := m.Server.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() != "countersign_http_requests_total" {
				continue
			}
			for _, mt := range f.GetMetric() {
				for _, l := range mt.GetLabel() {
					if l.GetName() == "route" && l.GetValue() == "POST /v1/cases/{id}/notes" {
						notes += mt.GetCounter().GetValue()
					}
				}
			}
		}
		if notes == 0 {
			t.Errorf("replica %d served no note", i)
		}
	}
}

// TestBenchRefusesBadFlags checks that bad flags get a sentence, not a panic
// or a run.
func TestBenchRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--url", ","},
		{"--rate", "-1"},
		{"--iterations", "-2"},
		{"--clients", "0"},
		{"--mode", "everything"},
		{"--unlogged-reads"},
		{"--mode", "reads", "--unlogged-reads", "--url", "http://127.0.0.1:1"},
		{"--db-waits"}, // SQLite
		{"--db-waits", "--db", "postgres://127.0.0.1:1/x", "--url", "http://127.0.0.1:1"},
	} {
		err := runBench(context.Background(), args, io.Discard, io.Discard, env(nil))
		if countersign.ErrorCode(err) != countersign.EINVALID {
			t.Errorf("%v: %v, want an invalid-input error", args, err)
		}
	}
}

// TestBenchDBWaitsOnTheBinary checks what README and --help say of
// --db-waits on the built binary: --help lists it, it is refused with a
// sentence without a PostgreSQL database, and on PostgreSQL the report
// ends with what the database's sessions waited on.
func TestBenchDBWaitsOnTheBinary(t *testing.T) {
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"bench"}, args...)...)
		cmd.Env = append(os.Environ(), "DATABASE_URL=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("--help"); err != nil || !strings.Contains(out, "-db-waits") {
		t.Errorf("bench --help: %v\n%s", err, out)
	}
	if out, err := run("--db-waits"); err == nil || !strings.Contains(out, "--db-waits looks at PostgreSQL's sessions") {
		t.Errorf("bench --db-waits without --db: %v\n%s", err, out)
	}
	out, err := run("--db", storetest.PostgresDSN(t), "--mode", "notes", "--clients", "2", "--duration", "1s", "--db-waits")
	if err != nil {
		t.Fatalf("bench --db-waits on PostgreSQL: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`database sessions at work, seen [1-9]\d* times \(every 10ms\), waiting on: \S+ \d+\.\d%`).MatchString(out) {
		t.Errorf("bench --db-waits printed no waits:\n%s", out)
	}
}
