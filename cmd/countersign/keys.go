package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// warnKeyBesideDatabase warns when the checkpoint signing key or the event
// key lies in the directory of a SQLite database: a backup or a copy of
// that directory then carries the key with the log, and whoever holds both
// can rewrite history and sign it again, or write events the log accepts
// (SECURITY.md, Known limits).
func warnKeyBesideDatabase(logger *slog.Logger, c *Config) {
	dir, ok := c.sqliteDir()
	if !ok {
		return
	}
	for _, k := range []struct{ name, path, setting string }{
		{"signing key", c.keyPath(), "--audit-key (COUNTERSIGN_AUDIT_KEY)"},
		{"event key", c.eventKeyPath(), "--event-key (COUNTERSIGN_EVENT_KEY)"},
	} {
		if sameDir(dir, filepath.Dir(k.path)) {
			logger.Warn(fmt.Sprintf("the audit %s lies in the database's directory, so a copy of the directory carries both; set %s to a file elsewhere", k.name, k.setting),
				"op", "serve.keys", "key", k.path, "database_dir", dir)
		}
	}
}

// sqliteDir returns the directory of a SQLite database, and false for
// PostgreSQL.
func (c *Config) sqliteDir() (string, bool) {
	if strings.Contains(c.DSN, "://") {
		return "", false
	}
	p := strings.TrimPrefix(strings.TrimPrefix(c.DSN, "sqlite:"), "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return filepath.Dir(p), true
}

// sameDir reports whether a and b name the same directory, however they
// are spelt (relative, through a symbolic link).
func sameDir(a, b string) bool {
	ai, err := os.Stat(a)
	if err != nil {
		return false
	}
	bi, err := os.Stat(b)
	return err == nil && os.SameFile(ai, bi)
}
