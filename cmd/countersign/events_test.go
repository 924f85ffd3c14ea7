package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestAnEventInsertedByHandIsRefusedCountedAndReported is issue 14, item 2
// as the binary does it: a row someone inserts into audit_pending never
// enters the log; the service logs it without its payload and counts it in
// /metrics, and `audit verify` fails naming it, while the log still verifies.
func TestAnEventInsertedByHandIsRefusedCountedAndReported(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dsn(t)
			dir := t.TempDir()
			e := env(map[string]string{"DATABASE_URL": d, "COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key")})
			var logs syncBuffer
			m := NewMain(io.Discard, &logs, e)
			m.Config.Addr, m.Config.Demo, m.Config.RateLimit = "127.0.0.1:0", true, 0
			if err := m.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			// The key was created beside the signing key, readable by its owner only.
			keyFile := filepath.Join(dir, "countersign-event.key")
			if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("event key file: %v %v, want mode 0600", fi, err)
			}

			const prose = "Marie Dubois told me in confidence"
			var supervisor string
			if err := m.DB.Raw().Get(&supervisor, `SELECT id FROM users WHERE role = 'supervisor' LIMIT 1`); err != nil {
				t.Fatal(err)
			}
			var pendingID int64
			if err := m.DB.Raw().Get(&pendingID, m.DB.Raw().Rebind(`
				INSERT INTO audit_pending (at, actor_id, role, action, subject_type, subject_id, case_id, payload)
				VALUES (?, ?, 'supervisor', 'draft.approved', 'draft', 'drf_forged', 'cas_forged', ?)
				RETURNING id`),
				time.Now().UTC().Format(audit.TimeFormat), supervisor, `{"comment":"`+prose+`"}`); err != nil {
				t.Fatal(err)
			}
			// The service's sequencer refuses it on its next pass.
			metrics := func() string {
				resp, err := http.Get("http://" + m.Addr() + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return string(body)
			}
			waitFor(t, func() bool {
				return strings.Contains(metrics(), `countersign_audit_refused_events_total{reason="missing_mac"} 1`)
			})
			if want := `countersign_audit_refused_events_total{reason="invalid_mac"} 0`; !strings.Contains(metrics(), want) {
				t.Fatalf("/metrics lacks %q", want)
			}
			if l := logs.String(); !strings.Contains(l, `"pending_id":`+strconv.FormatInt(pendingID, 10)) || !strings.Contains(l, `"reason":"missing_mac"`) {
				t.Fatalf("no log line names pending id %d:\n%s", pendingID, l)
			} else if strings.Contains(l, prose) {
				t.Fatalf("the log holds the refused row's payload:\n%s", l)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}

			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"audit", "verify", "--quiet"}, &stdout, &stderr, e); code != 1 {
				t.Fatalf("audit verify exit %d, want 1: %s %s", code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			if !strings.Contains(out, "FAILED: 1 pending event(s) were refused") || !strings.Contains(out, "pending id "+strconv.FormatInt(pendingID, 10)+", missing_mac") {
				t.Fatalf("verify said %q", out)
			}
			if strings.Contains(out, prose) {
				t.Fatalf("verify printed the refused row's payload: %q", out)
			}
			// The row is kept, whole, out of the log.
			db := storetest.MustOpen(t, d)
			var inLog, kept int
			if err := db.Raw().Get(&inLog, `SELECT COUNT(*) FROM audit_event WHERE subject_id = 'drf_forged'`); err != nil || inLog != 0 {
				t.Fatalf("%d forged events in the log (%v)", inLog, err)
			}
			if err := db.Raw().Get(&kept, db.Raw().Rebind(`SELECT COUNT(*) FROM audit_refused WHERE pending_id = ? AND payload LIKE ?`), pendingID, "%"+prose+"%"); err != nil || kept != 1 {
				t.Fatalf("%d refused rows kept with their payload (%v), want 1", kept, err)
			}
		})
	}
}

// TestEventKeySetting shows --event-key: the CLI and the service share the
// file it names; an event written and sequenced with another key (as by
// someone running a sequencer of their own) enters the log, and audit
// verify, holding the real key, names it.
func TestEventKeySetting(t *testing.T) {
	t.Parallel()
	d := storetest.SQLiteDSN(t)
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared-event.key")
	base := map[string]string{"DATABASE_URL": d, "COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key")}
	with := func(key string) func(string) string {
		vars := map[string]string{"COUNTERSIGN_EVENT_KEY": key}
		for k, v := range base {
			vars[k] = v
		}
		return env(vars)
	}
	var stdout, stderr bytes.Buffer
	// The CLI adds a user (its events) with the shared key; the board
	// verifies with it, given as a flag: nothing to report.
	if code := run(context.Background(), []string{"user", "add", "--name", "Ann", "--email", "ann@example.org", "--role", "admin"}, &stdout, &stderr, with(shared)); code != 0 {
		t.Fatalf("user add exit %d: %s", code, stderr.String())
	}
	if fi, err := os.Stat(shared); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--event-key's file: %v %v, want one of mode 0600", fi, err)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"audit", "verify", "--quiet", "--event-key", shared}, &stdout, &stderr, env(base)); code != 0 {
		t.Fatalf("verify with the shared key exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	var before int
	if _, err := fmt.Sscanf(stdout.String(), "OK: %d entries", &before); err != nil {
		t.Fatalf("verify said %q", stdout.String())
	}
	// Another user, added and sequenced with a key of its own.
	if code := run(context.Background(), []string{"user", "add", "--name", "Bob", "--email", "bob@example.org", "--role", "admin"}, &stdout, &stderr, with(filepath.Join(dir, "stray.key"))); code != 0 {
		t.Fatalf("user add exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"audit", "verify", "--quiet"}, &stdout, &stderr, with(shared)); code != 1 ||
		!strings.Contains(stdout.String(), "were not written by this service") || !strings.Contains(stdout.String(), fmt.Sprintf("entries %d", before)) {
		t.Fatalf("verify after a stray key's events: exit %d, %q, want entry %d named", code, stdout.String(), before)
	}
}
