//go:build unix

package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/countersign/countersign/sqlstore"
)

// TestSQLiteFilesAreTheServicesOnly opens a new SQLite database under the
// most permissive umask and writes to it: the database, its WAL and its
// shared-memory file are readable and writable by the service's user only.
// Not parallel: the umask is the process's, and the parallel tests start
// only after it.
func TestSQLiteFilesAreTheServicesOnly(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "data", "countersign.db")
	db, err := sqlstore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A write goes through the WAL (the migrations wrote already).
	if _, err := db.Raw().Exec(`CREATE TABLE scratch (x INTEGER); INSERT INTO scratch VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), mode)
		}
	}
	info, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o700 {
		t.Errorf("the database's new directory has mode %#o, want 0700", mode)
	}
}

// TestSQLiteKeepsTheModeOfAnExistingDatabase leaves the mode of a database
// file the operator made alone: only files the service creates are set.
func TestSQLiteKeepsTheModeOfAnExistingDatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "countersign.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o640 {
		t.Fatalf("an existing database's mode changed: %v %v", info.Mode(), err)
	}
}
