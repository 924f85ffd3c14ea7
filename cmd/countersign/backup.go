package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/migrations"
	"github.com/countersign/countersign/sqlstore"
)

// postgresBackupHelp is what backup and restore say on PostgreSQL, where
// the database's own tools do the job better than this binary could.
const postgresBackupHelp = `This database is PostgreSQL: back it up with PostgreSQL's own tools, which take a
consistent snapshot while the service runs.

  Nightly logical backup (small and mid-sized databases):
    pg_dump --format=custom --file=countersign-$(date +%%F).dump '%[1]s'
  Restore it into an empty database (stop every countersign serve first):
    pg_restore --exit-on-error --no-owner --dbname='<new database URL>' countersign-YYYY-MM-DD.dump

  Continuous archiving and point-in-time recovery (recommended in production):
    pgBackRest (or your managed PostgreSQL's backups / CloudNativePG's barman),
    full backup weekly, differential nightly, WAL archived continuously.

The signing key and the event key are files, not rows: keep copies of them
(COUNTERSIGN_AUDIT_KEY, COUNTERSIGN_EVENT_KEY) apart from the database backups.
After any restore, run: countersign audit verify --since <the board's saved checkpoint>
`

// loadSQLiteConfig loads the configuration of backup and restore, which
// work on a SQLite file. ok is false when the command has nothing more to
// do: err is the configuration's error, or nil when the database is
// PostgreSQL and the help of its own tools was written to stdout instead.
func loadSQLiteConfig(flags *flag.FlagSet, args []string, stdout io.Writer, getenv func(string) string) (cfg Config, ok bool, err error) {
	cfg, err = loadConfig(flags, args, getenv, "config", "db")
	if err != nil {
		return cfg, false, err
	}
	if sqlstore.IsPostgres(cfg.DSN) {
		fmt.Fprintf(stdout, postgresBackupHelp, redactDSN(cfg.DSN))
		return cfg, false, nil
	}
	return cfg, true, nil
}

// runBackup is `countersign backup --out FILE`: a consistent copy of the
// live SQLite database, taken with VACUUM INTO while serve runs (a read
// transaction: writers go on), then checked (integrity_check, the audit
// head) before it is given its name.
func runBackup(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	flags := flag.NewFlagSet("backup", flag.ContinueOnError)
	flags.SetOutput(stdout)
	out := flags.String("out", "", "the backup file to write (must not exist)")
	cfg, ok, err := loadSQLiteConfig(flags, args, stdout, getenv)
	if !ok {
		return err
	}
	if *out == "" {
		return &ConfigError{Message: "backup needs --out FILE, the file to write; see countersign backup --help."}
	}
	src := sqlitePath(cfg.DSN)
	if _, err := os.Stat(src); err != nil {
		return countersign.Errorf(countersign.ENOTFOUND, "There is no database at %s to back up.", src)
	}
	if _, err := os.Stat(*out); err == nil {
		return countersign.Errorf(countersign.ECONFLICT, "%s exists already; a backup never overwrites a file.", *out)
	}
	dst, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	tmp := dst + ".partial"
	_ = os.Remove(tmp)
	db, err := openSQLite(ctx, src, true)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("back up %s: %w", src, err)
	}
	sum, err := checkBackup(ctx, tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("name the backup: %w", err)
	}
	fmt.Fprintf(stdout, "Backed up %s to %s in %s: %d audit events, schema %s, sha256 %s.\n",
		src, dst, time.Since(start).Round(time.Millisecond), sum.events, sum.schema, sum.sha256)
	fmt.Fprintf(stdout, "The keys are not in the backup: keep copies of %s, %s and %s apart from it.\n", cfg.keyPath(), cfg.eventKeyPath(), cfg.caseKeyringPath())
	return nil
}

// runRestore is `countersign restore --from FILE`: the backup, checked,
// replaces the SQLite database. It refuses while the database is open in
// another process (serve must be stopped) unless --force, refuses a backup
// made by a newer release, and keeps the replaced database beside it.
func runRestore(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	flags := flag.NewFlagSet("restore", flag.ContinueOnError)
	flags.SetOutput(stdout)
	from := flags.String("from", "", "the backup file made by countersign backup")
	force := flags.Bool("force", false, "restore even though another process has the database open (it will lose what it writes)")
	cfg, ok, err := loadSQLiteConfig(flags, args, stdout, getenv)
	if !ok {
		return err
	}
	if *from == "" {
		return &ConfigError{Message: "restore needs --from FILE, a file made by countersign backup; see countersign restore --help."}
	}
	sum, err := checkBackup(ctx, *from)
	if err != nil {
		return err
	}
	dst := sqlitePath(cfg.DSN)
	if _, err := os.Stat(dst); err == nil {
		if !*force {
			if err := notInUse(ctx, dst); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := dst + ".restoring"
	if err := copyFile(*from, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	kept := ""
	if _, err := os.Stat(dst); err == nil {
		kept = fmt.Sprintf("%s.before-restore-%s", dst, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(dst, kept); err != nil {
			return fmt.Errorf("set the current database aside: %w", err)
		}
	}
	// A write-ahead log left by the replaced database would be replayed
	// into the restored one: it goes with the database it belongs to.
	for _, ext := range []string{"-wal", "-shm"} {
		if kept != "" {
			if err := os.Rename(dst+ext, kept+ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		} else {
			_ = os.Remove(dst + ext)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("put the backup in place: %w", err)
	}
	fmt.Fprintf(stdout, "Restored %s from %s: %d audit events, schema %s, sha256 %s.\n", dst, *from, sum.events, sum.schema, sum.sha256)
	if kept != "" {
		fmt.Fprintf(stdout, "The replaced database is kept as %s.\n", kept)
	}
	fmt.Fprintf(stdout, "Next: start countersign serve (it applies newer migrations), then run\n  countersign audit verify --since <the ethics board's saved checkpoint>\nto learn whether the restored log still holds everything the board has seen.\n")
	return nil
}

// backupSummary is what a checked backup holds.
type backupSummary struct {
	events int64
	schema string
	sha256 string
}

// checkBackup opens path read-only and checks that it is a whole SQLite
// database of Countersign, from this release or an earlier one: the
// integrity check passes, its migrations are all known to this binary,
// and its audit head is readable.
func checkBackup(ctx context.Context, path string) (*backupSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "The backup %s cannot be read.", path)
	}
	h := sha256.New()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		_, err = io.Copy(h, f)
	}
	f.Close()
	if err != nil {
		return nil, err
	}
	if n < 16 || string(head) != "SQLite format 3\x00" {
		return nil, countersign.Errorf(countersign.EINVALID, "%s is not a SQLite database, so not a backup made by countersign backup.", path)
	}
	db, err := openSQLite(ctx, path, true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var ok string
	if err := db.GetContext(ctx, &ok, `PRAGMA integrity_check`); err != nil || ok != "ok" {
		return nil, countersign.Errorf(countersign.EINVALID, "The backup %s is damaged (integrity check: %s %v).", path, ok, err)
	}
	var names []string
	if err := db.SelectContext(ctx, &names, `SELECT name FROM schema_migrations ORDER BY name`); err != nil {
		return nil, countersign.Errorf(countersign.EINVALID, "%s is a SQLite database but not Countersign's: it has no schema_migrations.", path)
	}
	known, err := fs.Glob(migrations.FS, "sqlite/*.sql")
	if err != nil {
		return nil, err
	}
	for i := range known {
		known[i] = filepath.Base(known[i])
	}
	for _, name := range names {
		if !slices.Contains(known, name) {
			return nil, countersign.Errorf(countersign.EINVALID, "The backup %s was made by a newer release (migration %s is unknown here); restore it with that release.", path, name)
		}
	}
	s := &backupSummary{sha256: hex.EncodeToString(h.Sum(nil))}
	if len(names) > 0 {
		sort.Strings(names)
		s.schema = strings.TrimSuffix(names[len(names)-1], ".sql")
	}
	if err := db.GetContext(ctx, &s.events, `SELECT size FROM audit_head WHERE id = 1`); err != nil {
		return nil, countersign.Errorf(countersign.EINVALID, "The backup %s has no readable audit log head.", path)
	}
	return s, nil
}

// notInUse returns ECONFLICT when another process has the database at path
// open. Leaving WAL mode needs every other connection closed, so SQLite
// answers it with SQLITE_BUSY at once (no busy timeout) while serve runs;
// the mode is of no matter, since the file is about to be replaced.
func notInUse(ctx context.Context, path string) error {
	db, err := openSQLite(ctx, path, false)
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	if err := db.GetContext(ctx, &mode, `PRAGMA journal_mode = DELETE`); err != nil || mode != "delete" {
		return countersign.Errorf(countersign.ECONFLICT, "The database %s is in use (%v): stop every countersign serve using it first, or give --force to replace it anyway.", path, errOr(err, mode))
	}
	return nil
}

func errOr(err error, mode string) any {
	if err != nil {
		return err
	}
	return "journal mode " + mode
}

// openSQLite opens one connection to the SQLite file at path, read-only
// when ro, without migrating it and without waiting for locks.
func openSQLite(ctx context.Context, path string, ro bool) (*sqlx.DB, error) {
	q := url.Values{"_pragma": {"busy_timeout(0)"}}
	if ro {
		q.Set("mode", "ro")
	}
	db, err := sqlx.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// sqlitePath is the file of a SQLite DSN, as sqlstore.Open reads it.
func sqlitePath(dsn string) string {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return path
}

// redactDSN hides a password in a database URL printed to the terminal.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	return "postgres://…"
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// lostSince says, after a failed verification against the board's saved
// checkpoint, how many of the events the board saw are no longer in the
// log: after a restore, those written between the backup and the failure.
// It returns "" when the log is not shorter than the saved checkpoint.
func lostSince(since *audit.Checkpoint, rep *audit.Report) string {
	if since == nil || rep == nil {
		return ""
	}
	have := max(rep.Events, rep.CheckpointSize)
	if have >= since.Size {
		return ""
	}
	return fmt.Sprintf("LOST: the log holds %d events; the board's saved checkpoint covers %d: %d events (%d to %d) are gone, as after restoring a backup older than that checkpoint. Tell the ethics board; the events cannot be recovered from this backup.\n",
		have, since.Size, since.Size-have, have, since.Size-1)
}
