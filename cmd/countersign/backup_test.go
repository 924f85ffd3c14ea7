package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestBackupRestoreVerify runs the real binary as an operator would: a
// backup of the SQLite database while serve runs and writes; the board
// saves a checkpoint before and one after more work; a restore is refused
// while serve runs and done once it stopped; then audit verify --since
// proves the restored log extends the older checkpoint, and says how many
// events it lost against the newer one.
func TestBackupRestoreVerify(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	dbPath := filepath.Join(dir, "data", "countersign.db")
	env := []string{"DATABASE_URL=" + dbPath, "COUNTERSIGN_AUDIT_KEY=" + filepath.Join(keys, "audit.key"),
		"COUNTERSIGN_EVENT_KEY=" + filepath.Join(keys, "event.key"), "COUNTERSIGN_RATE_LIMIT=0", "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	cli := func(want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee := (*exec.ExitError)(nil); err != nil {
			if !asExit(err, &ee) {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		if code != want {
			t.Fatalf("countersign %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}

	logs := &syncBuffer{}
	addr := freeAddr(t)
	p := startProc(t, bin, addr, env, logs, "--demo")
	worker := demoToken(t, p.stdout.String(), "worker")
	caseID := firstCase(t, addr, worker)
	note := func(body string) {
		t.Helper()
		if code := postJSON(context.Background(), addr, worker, "/v1/cases/"+caseID+"/notes", `{"body":"`+body+`"}`, nil); code != 201 {
			t.Fatalf("add note: %d", code)
		}
	}
	note("Before the backup.")
	older := filepath.Join(dir, "board-older.txt")
	cli(0, "audit", "verify", "--quiet", "--save", older)

	backup := filepath.Join(dir, "nightly.db")
	out := cli(0, "backup", "--out", backup)
	if !strings.Contains(out, "Backed up") || !strings.Contains(out, "sha256") || !strings.Contains(out, "The keys are not in the backup") {
		t.Fatalf("backup said:\n%s", out)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if out := cli(1, "backup", "--out", backup); !strings.Contains(out, "never overwrites") {
		t.Fatalf("a second backup to the same file said:\n%s", out)
	}

	note("After the backup, one.")
	note("After the backup, two.")
	newer := filepath.Join(dir, "board-newer.txt")
	cli(0, "audit", "verify", "--quiet", "--save", newer)

	if out := cli(1, "restore", "--from", backup); !strings.Contains(out, "in use") {
		t.Fatalf("a restore under a running serve said:\n%s", out)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v\n%s", err, logs.String())
	}
	if out := cli(1, "restore", "--from", filepath.Join(dir, "board-older.txt")); !strings.Contains(out, "not a SQLite database") {
		t.Fatalf("restoring a text file said:\n%s", out)
	}
	out = cli(0, "restore", "--from", backup)
	if !strings.Contains(out, "Restored") || !strings.Contains(out, "before-restore-") {
		t.Fatalf("restore said:\n%s", out)
	}

	out = cli(0, "audit", "verify", "--quiet", "--since", older)
	if !strings.Contains(out, "OK: ") || !strings.Contains(out, "still holds the") {
		t.Fatalf("verify against the checkpoint saved before the backup:\n%s", out)
	}
	out = cli(1, "audit", "verify", "--quiet", "--since", newer)
	if !strings.Contains(out, "FAILED") || !strings.Contains(out, "LOST: ") {
		t.Fatalf("verify against the checkpoint saved after the backup:\n%s", out)
	}
	// The board's two checkpoints differ by what the two notes after the
	// backup wrote: the loss is that difference, however many events a
	// note makes.
	sizeOf := func(path string) string {
		b, _ := os.ReadFile(path)
		lines := strings.Split(string(b), "\n")
		if len(lines) < 2 {
			t.Fatalf("checkpoint %s: %q", path, b)
		}
		return lines[1]
	}
	if !strings.Contains(out, "covers "+sizeOf(newer)+":") || !strings.Contains(out, "the log holds "+sizeOf(older)+" events") {
		t.Fatalf("the loss is not counted from the checkpoints (%s then %s):\n%s", sizeOf(older), sizeOf(newer), out)
	}
}

// TestBackupOnPostgreSQLSaysHow: on PostgreSQL, backup and restore print
// the database's own tools, with the password hidden.
func TestBackupOnPostgreSQLSaysHow(t *testing.T) {
	t.Parallel()
	dsn := "postgres://countersign:s3cret@db.example:5432/countersign"
	for _, cmd := range []string{"backup", "restore"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{cmd, "--db", dsn}, &stdout, &stderr, env(nil)); code != 0 {
			t.Fatalf("%s: exit %d: %s", cmd, code, stderr.String())
		}
		if s := stdout.String(); !strings.Contains(s, "pg_dump --format=custom") || !strings.Contains(s, "pgBackRest") || strings.Contains(s, "s3cret") {
			t.Fatalf("%s said:\n%s", cmd, s)
		}
	}
}

// TestRestoreRefusesANewerRelease: a backup holding a migration this binary
// does not know was made by a newer release, and is refused.
func TestRestoreRefusesANewerRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := storetest.SQLiteDSN(t)
	db := storetest.MustOpen(t, src)
	if _, err := db.Raw().Exec(`INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future.sql')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	vars := map[string]string{"DATABASE_URL": filepath.Join(dir, "countersign.db")}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"restore", "--from", sqlitePath(src)}, &stdout, &stderr, env(vars)); code != 1 ||
		!strings.Contains(stderr.String(), "newer release") {
		t.Fatalf("exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "countersign.db")); err == nil {
		t.Fatal("a refused restore left a database behind")
	}
}

func asExit(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*ee = e
	return ok
}
