//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestServeKeepsItsFilesPrivate starts the service on a new SQLite file
// under the most permissive umask: the database, its WAL and shared-memory
// files and the signing key it creates are for the service's user only;
// and serve warns while the signing key or the event key lies beside the
// database, and not once it is kept elsewhere.
func TestServeKeepsItsFilesPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	eventKey := storetest.MustWriteEventKey(t, t.TempDir())
	startWith := func(t *testing.T, keyPath, eventKey string, running func()) string {
		t.Helper()
		var logs bytes.Buffer
		vars := map[string]string{"DATABASE_URL": filepath.Join(dir, "data", "countersign.db"), "COUNTERSIGN_EVENT_KEY": eventKey}
		if keyPath != "" {
			vars["COUNTERSIGN_AUDIT_KEY"] = keyPath
		}
		m := NewMain(io.Discard, &logs, env(vars))
		m.Config.Addr, m.Config.RateLimit = "127.0.0.1:0", 0
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if running != nil {
			running()
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	start := func(t *testing.T, keyPath string, running func()) string {
		t.Helper()
		return startWith(t, keyPath, eventKey, running)
	}
	const warning = "the audit signing key lies in the database's directory"
	const eventWarning = "the audit event key lies in the database's directory"

	// The default: the key beside the database.
	logs := start(t, "", func() {
		for _, name := range []string{"countersign.db", "countersign.db-wal", "countersign.db-shm", "countersign-audit.key"} {
			info, err := os.Stat(filepath.Join(dir, "data", name))
			if err != nil {
				t.Fatal(err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", name, mode)
			}
		}
	})
	if !strings.Contains(logs, warning) {
		t.Errorf("no warning with the key beside the database:\n%s", logs)
	}

	elsewhere := filepath.Join(t.TempDir(), "keys", "audit.key")
	if logs := start(t, elsewhere, nil); strings.Contains(logs, warning) {
		t.Errorf("a warning with the key outside the database's directory:\n%s", logs)
	}
	if info, err := os.Stat(elsewhere); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the key created elsewhere: %v, %v", info, err)
	}
	// Spelt differently, the same directory is still the same.
	if logs := start(t, filepath.Join(dir, "data", ".", "other.key"), nil); !strings.Contains(logs, warning) {
		t.Errorf("no warning for a key path spelt differently:\n%s", logs)
	}
	if strings.Contains(logs, eventWarning) {
		t.Errorf("a warning about an event key kept elsewhere:\n%s", logs)
	}
	// The event key beside the database, the signing key elsewhere.
	besideDB := storetest.MustWriteEventKey(t, filepath.Join(dir, "data"))
	if logs := startWith(t, elsewhere, besideDB, nil); !strings.Contains(logs, eventWarning) || strings.Contains(logs, warning) {
		t.Errorf("want only the event key's warning:\n%s", logs)
	}
}
