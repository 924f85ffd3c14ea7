package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// boardBundle is a service's database and key, and the ethics board's
// files: the verifier key and what the CLI wrote.
type boardBundle struct {
	env  func(string) string
	vars map[string]string // what env answers; set adds to it
	vkey string
	dir  string
}

// newBoardBundle is the command line of a test on dsn: a directory of its
// own, the audit key there, and the event key of the test's own handles
// (storetest.EventKey), shared as replicas share it.
func newBoardBundle(t *testing.T, dsn string) *boardBundle {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"DATABASE_URL": dsn, "COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key"),
		"COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, dir)}
	return &boardBundle{dir: dir, vars: vars, env: env(vars)}
}

// set gives the command line one more setting.
func (b *boardBundle) set(key, value string) { b.vars[key] = value }

func setupBoard(t *testing.T, dsn string) (*boardBundle, func(n int)) {
	t.Helper()
	b := newBoardBundle(t, dsn)
	db := storetest.MustOpen(t, dsn)
	f := storetest.MustSeed(t, db)
	addNotes := func(n int) {
		t.Helper()
		for i := range n {
			if err := db.AddNote(storetest.As(context.Background(), f.Worker), &casefile.Note{CaseID: f.Case.ID, Body: fmt.Sprintf("Visit %d.", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.vkey = strings.TrimSpace(b.mustRun(t, 0, "audit", "key"))
	return b, addNotes
}

// mustRun runs the command and checks its exit status; it returns stdout.
func (b *boardBundle) mustRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr, b.env); code != want {
		t.Fatalf("countersign %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// file writes content to a file of the board's and returns its path.
func (b *boardBundle) file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuditVerifySince(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dsn(t)
			b, addNotes := setupBoard(t, d)
			addNotes(20)
			// The board's first visit: it saves the checkpoint it verified.
			saved := filepath.Join(b.dir, "saved.checkpoint")
			out := b.mustRun(t, 0, "audit", "verify", "--quiet", "--save", saved)
			if !strings.HasPrefix(out, "OK: ") {
				t.Fatalf("verify said %q", out)
			}
			addNotes(10)

			// Second visit, offline: the log grew and still holds what the
			// saved checkpoint signed.
			export := b.file(t, "export.ndjson", b.mustRun(t, 0, "audit", "export"))
			out = b.mustRun(t, 0, "audit", "verify", "--quiet", "--file", export, "--key", b.vkey, "--since", saved)
			if !strings.HasPrefix(out, "OK: ") {
				t.Fatalf("verify said %q", out)
			}
			b.mustRun(t, 0, "audit", "verify", "--quiet", "--since", saved) // and live

			// Someone with the signing key rewrites entry 15 and lets the
			// service re-sign: on its own the new export verifies...
			storetest.MustRewriteHistory(t, storetest.MustOpen(t, d), 15)
			rewritten := b.file(t, "rewritten.ndjson", b.mustRun(t, 0, "audit", "export"))
			b.mustRun(t, 0, "audit", "verify", "--quiet", "--file", rewritten, "--key", b.vkey)
			// ...but not against the board's saved checkpoint, offline or live.
			for _, args := range [][]string{
				{"audit", "verify", "--quiet", "--file", rewritten, "--key", b.vkey, "--since", saved},
				{"audit", "verify", "--quiet", "--since", saved},
			} {
				out = b.mustRun(t, 1, args...)
				if !strings.HasPrefix(out, "FAILED") || !strings.Contains(out, "history was rewritten") {
					t.Fatalf("verify said %q", out)
				}
			}
			// The untouched export still verifies against the saved checkpoint.
			b.mustRun(t, 0, "audit", "verify", "--quiet", "--file", export, "--key", b.vkey, "--since", saved)
		})
	}
}

func TestAuditVerifyKeyRotation(t *testing.T) {
	t.Parallel()
	b, addNotes := setupBoard(t, storetest.SQLiteDSN(t))
	addNotes(3)
	export := b.file(t, "export.ndjson", b.mustRun(t, 0, "audit", "export"))
	_, other, err := audit.LoadOrCreateSigner(filepath.Join(b.dir, "other.key"), "other.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]string{
		{"--key", b.vkey},
		{"--key", other, "--key", b.vkey}, // repeated, as during a rotation,
		{"--key", b.vkey, "--key", other}, // in either order
		{"--key", b.vkey + "," + other},   // comma-separated still works
	} {
		b.mustRun(t, 0, append([]string{"audit", "verify", "--quiet", "--file", export}, keys...)...)
	}
	out := b.mustRun(t, 1, "audit", "verify", "--quiet", "--file", export, "--key", other)
	if !strings.Contains(out, "checkpoint is refused") {
		t.Fatalf("verify with only a foreign key said %q", out)
	}
	b.mustRun(t, 2, "audit", "verify", "--quiet", "--file", export, "--key", "not-a-key")
	b.mustRun(t, 2, "audit", "verify", "--quiet", "--file", export)
}
