package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/internal/sealbox"
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
		{"case keyring", c.caseKeyringPath(), "--case-keyring (COUNTERSIGN_CASE_KEYRING)"},
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

// caseKeyringPath places the case master keyring beside the event key,
// unless configured.
func (c *Config) caseKeyringPath() string {
	if c.CaseKeyring != "" {
		return c.CaseKeyring
	}
	return filepath.Join(filepath.Dir(c.eventKeyPath()), "countersign-case.keyring")
}

// keysUsage are the synopses of `countersign keys`.
var keysUsage = []string{
	"rotate [--batch N] [--resume]       a new master key for the case keyring; every case key is rewrapped with it",
	"retire --master ID                  remove an old master key from the case keyring once no case key needs it",
	"encrypt-existing [--batch N]        once every replica runs this release: seal what is written from now on, and the text of release 1.0",
}

// runKeys is `countersign keys rotate|retire|encrypt-existing`: the case
// master keyring (--case-keyring) and the case keys it wraps.
func runKeys(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || isHelp(args[0]) {
		if len(args) == 0 {
			return &ConfigError{Message: "keys needs a subcommand: rotate, retire or encrypt-existing; see countersign keys --help."}
		}
		return groupHelp(stdout, "keys", keysUsage...)
	}
	ctx = countersign.NewContextWithActor(ctx, countersign.SystemCLI)
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	switch args[0] {
	case "rotate":
		batch := fs.Int("batch", 500, "case keys rewrapped per transaction")
		resume := fs.Bool("resume", false, "rewrap to the current primary master key without adding a new one (after a run that stopped)")
		cfg, err := loadConfig(fs, args[1:], getenv, "config", "db", "audit-key", "event-key", "case-keyring")
		if err != nil {
			return err
		}
		path := cfg.caseKeyringPath()
		ring, err := sealbox.LoadKeyring(path)
		if err != nil {
			return err
		}
		if !*resume {
			// The new key is in the file before any case key is wrapped
			// with it: a run that stops never leaves a key wrapped by a
			// master key that no file holds.
			id := ring.Add()
			if err := ring.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Added master key %s to %s; it wraps every new case key from now on.\n", id, path)
		}
		db, err := cfg.openDB(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		db.CaseKeys = ring
		rot, err := db.RotateCaseKeys(ctx, *batch, func(done int) { fmt.Fprintf(stdout, "… %d case keys rewrapped\n", done) })
		if err != nil {
			return fmt.Errorf("%w; run countersign keys rotate --resume to finish", err)
		}
		fmt.Fprintf(stdout, "Rewrapped %d case keys in %d transactions; all %d case keys are wrapped by master key %s.\n", rot.Rewrapped, rot.Batches, rot.Total, rot.MasterKeyID)
		if old := ring.IDs()[:len(ring.IDs())-1]; len(old) > 0 {
			fmt.Fprintf(stdout, "Older master keys still in the keyring: %s. Restart every replica with the new keyring file, then retire each with countersign keys retire --master ID.\n", strings.Join(old, ", "))
		}
		return nil
	case "retire":
		master := fs.String("master", "", "the id of the master key to remove")
		cfg, err := loadConfig(fs, args[1:], getenv, "config", "db", "audit-key", "event-key", "case-keyring")
		if err != nil {
			return err
		}
		if *master == "" {
			return &ConfigError{Message: "keys retire needs --master ID: one of the ids countersign keys rotate printed."}
		}
		path := cfg.caseKeyringPath()
		ring, err := sealbox.LoadKeyring(path)
		if err != nil {
			return err
		}
		db, err := cfg.openDB(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		n, err := db.CaseKeysWrappedBy(ctx, *master)
		if err != nil {
			return err
		}
		if n > 0 {
			return countersign.Errorf(countersign.ECONFLICT, "Master key %s still wraps %d case keys: run countersign keys rotate --resume first.", *master, n)
		}
		if err := ring.Remove(*master); err != nil {
			return countersign.Errorf(countersign.EINVALID, "%s", strings.TrimPrefix(err.Error(), "sealbox: "))
		}
		if err := ring.Save(path); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Retired master key %s from %s. Copies of the database made before it was rotated out (backups) no longer open any case's text with this keyring; destroy every other copy of the key too.\n", *master, path)
		return nil
	case "encrypt-existing":
		batch := fs.Int("batch", 500, "rows sealed per transaction")
		cfg, err := loadConfig(fs, args[1:], getenv, "config", "db", "audit-key", "event-key", "case-keyring")
		if err != nil {
			return err
		}
		db, err := cfg.openDB(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		s, err := db.SealExisting(ctx, *batch)
		if err != nil {
			return fmt.Errorf("%w; run countersign keys encrypt-existing again to finish", err)
		}
		total := 0
		for _, n := range s.Rows {
			total += n
		}
		fmt.Fprintf(stdout, "Created %d case keys and sealed %d rows of plaintext (%v).\n", s.Keys, total, s.Rows)
		return nil
	}
	return &ConfigError{Message: fmt.Sprintf("keys has no subcommand %q; see countersign keys --help.", args[0])}
}
