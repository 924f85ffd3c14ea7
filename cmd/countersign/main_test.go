package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// env returns a getenv for the test: only the given variables are set, so
// the test never depends on the machine's environment.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// MustRunMain starts the service on a free port, without the rate limit:
// its callers drive the service as load generators do (TestRateLimit shows
// the limit).
func MustRunMain(t *testing.T, dsn string, demo bool, out io.Writer) *Main {
	t.Helper()
	dir := t.TempDir()
	// One event key for every service a test starts and for its own
	// handles on the database, as for the replicas of one deployment.
	m := NewMain(out, io.Discard, env(map[string]string{"COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key"),
		"COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, dir)}))
	m.Config.DSN, m.Config.Addr, m.Config.Demo, m.Config.RateLimit = dsn, "127.0.0.1:0", demo, 0
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestServeDemo(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dsn(t)
			var out bytes.Buffer
			m := MustRunMain(t, d, true, &out)
			for _, role := range []string{"worker", "supervisor", "ethics", "admin"} {
				if !strings.Contains(out.String(), role) {
					t.Fatalf("demo output lacks the %s line:\n%s", role, out.String())
				}
			}
			if !strings.Contains(out.String(), "curl -H 'Authorization: Bearer ") {
				t.Fatalf("no curl line:\n%s", out.String())
			}
			base := "http://" + m.Addr()
			worker := m.Tokens[0].Token

			var cases struct {
				Cases []struct {
					ID string `json:"id"`
				} `json:"cases"`
			}
			get(t, base+"/v1/cases", worker, &cases)
			if len(cases.Cases) != 1 {
				t.Fatalf("demo worker has %d cases", len(cases.Cases))
			}
			var notes struct {
				Notes []any `json:"notes"`
			}
			get(t, base+"/v1/cases/"+cases.Cases[0].ID+"/notes", worker, &notes)
			if len(notes.Notes) != 3 {
				t.Fatalf("demo case has %d notes", len(notes.Notes))
			}
			// The background workers generate the draft: poll for the
			// state change, bounded by a deadline.
			var draft review.Draft
			post(t, base+"/v1/cases/"+cases.Cases[0].ID+"/drafts", worker, `{"kind":"summary"}`, 202, &draft)
			deadline := time.Now().Add(patience)
			for draft.Status != review.StatusPendingReview {
				if time.Now().After(deadline) || draft.Status == review.StatusFailed {
					t.Fatalf("draft is %s: %s", draft.Status, draft.FailureReason)
				}
				time.Sleep(pollInterval)
				get(t, base+"/v1/drafts/"+draft.ID, worker, &draft)
			}
			post(t, base+"/v1/drafts/"+draft.ID+"/approve", worker, approval(draft.Content), 200, nil)

			// Suggestions refer only to services of the demo's directory.
			var sugg review.Draft
			post(t, base+"/v1/cases/"+cases.Cases[0].ID+"/drafts", worker, `{"kind":"suggestions"}`, 202, &sugg)
			for sugg.Status != review.StatusPendingReview {
				if time.Now().After(deadline) || sugg.Status == review.StatusFailed {
					t.Fatalf("suggestions draft is %s: %s", sugg.Status, sugg.FailureReason)
				}
				time.Sleep(pollInterval)
				get(t, base+"/v1/drafts/"+sugg.ID, worker, &sugg)
			}
			referrals := 0
			for _, it := range sugg.Content.Items {
				if it.Type == "referral" {
					referrals++
					if !slices.ContainsFunc(demoDirectory, func(s assistant.Service) bool { return s.ID == it.ServiceID }) {
						t.Errorf("referral to %q, which is not in the directory", it.ServiceID)
					}
				}
			}
			if referrals == 0 {
				t.Error("no referral suggested from the demo's directory")
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}

			// Again on the same database: nothing seeded twice.
			m2 := MustRunMain(t, d, true, io.Discard)
			var n int
			if err := m2.DB.Raw().Get(&n, `SELECT COUNT(*) FROM users`); err != nil || n != 4 {
				t.Fatalf("users after a second --demo: %d (%v)", n, err)
			}
			if err := m2.DB.Raw().Get(&n, `SELECT COUNT(*) FROM cases`); err != nil || n != 1 {
				t.Fatalf("cases after a second --demo: %d (%v)", n, err)
			}
			if err := m2.Close(); err != nil {
				t.Fatal(err)
			}

			// The audit log verifies, and says so through the CLI.
			var stdout, stderr bytes.Buffer
			keyEnv := env(map[string]string{"DATABASE_URL": d, "COUNTERSIGN_AUDIT_KEY": m.Getenv("COUNTERSIGN_AUDIT_KEY"), "COUNTERSIGN_EVENT_KEY": m.Getenv("COUNTERSIGN_EVENT_KEY")})
			if code := run(context.Background(), []string{"audit", "verify", "--quiet"}, &stdout, &stderr, keyEnv); code != 0 {
				t.Fatalf("audit verify exit %d: %s %s", code, stdout.String(), stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "OK: ") {
				t.Fatalf("verify said %q", stdout.String())
			}
		})
	}
}

// pollInterval paces polling for a state the background workers reach.
const pollInterval = 20 * time.Millisecond

func get(t *testing.T, url, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	do(t, req, 200, out)
}

func post(t *testing.T, url, token, body string, status int, out any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	do(t, req, status, out)
}

func do(t *testing.T, req *http.Request, status int, out any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d: %s", req.Method, req.URL, resp.StatusCode, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditVerifyNamesTheTamperedEntry(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dsn(t)
			key := filepath.Join(t.TempDir(), "audit.key")
			e := env(map[string]string{"DATABASE_URL": d, "COUNTERSIGN_AUDIT_KEY": key, "COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, t.TempDir())})
			db := storetest.MustOpen(t, d)
			storetest.MustSeed(t, db)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"audit", "export"}, &stdout, &stderr, e); code != 0 {
				t.Fatalf("export exit %d: %s", code, stderr.String())
			}
			export := filepath.Join(t.TempDir(), "export.ndjson")
			if err := os.WriteFile(export, stdout.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			stdout.Reset()
			if code := run(context.Background(), []string{"audit", "key"}, &stdout, &stderr, e); code != 0 {
				t.Fatal(stderr.String())
			}
			vkey := strings.TrimSpace(stdout.String())
			stdout.Reset()
			if code := run(context.Background(), []string{"audit", "verify", "--quiet", "--file", export, "--key", vkey}, &stdout, &stderr, e); code != 0 {
				t.Fatalf("offline verify exit %d: %s %s", code, stdout.String(), stderr.String())
			}

			// An attacker with database access rewrites entry 5, bypassing the triggers.
			tamper(t, db, `UPDATE audit_event SET subject_id = 'forged' WHERE seq = 5`)
			stdout.Reset()
			if code := run(context.Background(), []string{"audit", "verify", "--quiet"}, &stdout, &stderr, e); code != 1 {
				t.Fatalf("verify of a tampered log exit %d: %s %s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "entry 5") {
				t.Fatalf("verify did not name entry 5: %q", stdout.String())
			}
		})
	}
}

// tamper runs stmt with the append-only triggers out of the way, as an
// attacker with owner rights on the database could.
func tamper(t *testing.T, db *sqlstore.DB, stmt string) {
	t.Helper()
	stmts := []string{`DROP TRIGGER audit_event_no_update`, stmt}
	if db.Dialect() == "postgres" {
		stmts = []string{`ALTER TABLE audit_event DISABLE TRIGGER ALL`, stmt, `ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_append_only`}
	}
	for _, s := range stmts {
		if _, err := db.Raw().Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// approval is an approve body that confirms every high-stakes statement,
// as a reviewer who read them would.
func approval(c *assistant.Content) string {
	type decision struct {
		ID     string `json:"id"`
		Action string `json:"action"`
	}
	var ds []decision
	if c != nil {
		for _, st := range c.Statements {
			if st.Category != "" {
				ds = append(ds, decision{st.ID, "confirmed"})
			}
		}
	}
	b, _ := json.Marshal(map[string]any{"statements": ds})
	return string(b)
}
