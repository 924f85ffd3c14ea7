package storetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/lib/pq"

	"github.com/countersign/countersign/sqlstore"
)

// filledKey names a template of FilledLogDSN: its kind and its log's size.
type filledKey struct {
	postgres bool
	entries  int
}

// filledTemplate is a database filled once: an SQLite file or a
// PostgreSQL database no one connects to, or the error that made it.
type filledTemplate struct {
	path, name string
	err        error
}

// FilledLogDSN returns a new database, PostgreSQL when postgres is true
// and SQLite otherwise, whose log holds n entries as MustFillLog writes
// them, sequenced and tiled. Under Main it is a copy of a template filled
// once per kind and size for the whole test binary: the tests of damaged
// tiles each need a log of two thousand entries of their own to damage,
// and filling one per test cost more than the tests themselves. Like
// PostgresDSN, it skips the test when no PostgreSQL is configured.
func FilledLogDSN(t testing.TB, postgres bool, n int) string {
	t.Helper()
	if !templates.enabled.Load() {
		dsn := SQLiteDSN(t)
		if postgres {
			dsn = PostgresDSN(t)
		}
		db := MustOpen(t, dsn)
		MustFillLog(t, db, n)
		ok(t, db.Close())
		return dsn
	}
	if postgres {
		srv, err := templates.server()
		if err != nil {
			t.Fatal(err)
		}
		if srv == nil {
			t.Skipf("PostgreSQL tests skipped: set %s to run them", EnvDatabaseURL)
		}
		tpl := templates.filledPostgres(srv, n)
		if tpl.err != nil {
			t.Fatalf("fill the PostgreSQL template of %d entries: %v", n, tpl.err)
		}
		name, err := srv.createNow(tpl.name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.dropLater(name) })
		return srv.url(name)
	}
	tpl := templates.filledSQLite(n)
	if tpl.err != nil {
		t.Fatalf("fill the SQLite template of %d entries: %v", n, tpl.err)
	}
	path := filepath.Join(t.TempDir(), "countersign.db")
	if err := copySQLite(tpl.path, path); err != nil {
		t.Fatalf("copy the filled SQLite template: %v", err)
	}
	return path
}

// filledOnce returns the template of key, making it with build on first
// use; callers wanting the same one meanwhile wait for it.
func (ts *templateSet) filledOnce(key filledKey, build func() filledTemplate) filledTemplate {
	ts.filledMu.Lock()
	defer ts.filledMu.Unlock()
	if f, ok := ts.filled[key]; ok {
		return f
	}
	f := build()
	if ts.filled == nil {
		ts.filled = map[filledKey]filledTemplate{}
	}
	ts.filled[key] = f
	return f
}

func (ts *templateSet) filledSQLite(n int) filledTemplate {
	return ts.filledOnce(filledKey{entries: n}, func() filledTemplate {
		base, err := ts.sqlite()
		if err != nil {
			return filledTemplate{err: err}
		}
		path := filepath.Join(filepath.Dir(base), fmt.Sprintf("filled-%d.db", n))
		if err := copySQLite(base, path); err != nil {
			return filledTemplate{err: err}
		}
		err = fillTemplate(path, n, func(db *sqlstore.DB) error {
			// Fold the write-ahead log into the file, as for the template.
			_, err := db.Raw().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
			return err
		})
		return filledTemplate{path: path, err: err}
	})
}

func (ts *templateSet) filledPostgres(srv *pgServer, n int) filledTemplate {
	return ts.filledOnce(filledKey{postgres: true, entries: n}, func() filledTemplate {
		base, err := ts.postgres(srv)
		if err != nil {
			return filledTemplate{err: err}
		}
		name := fmt.Sprintf("%s_filled%d", srv.prefix, n)
		if err := srv.drop(name); err != nil {
			return filledTemplate{err: err}
		}
		if _, err := srv.admin.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(name) + ` TEMPLATE ` + pq.QuoteIdentifier(base)); err != nil {
			return filledTemplate{err: fmt.Errorf("create database %s: %w", name, err)}
		}
		if err := fillTemplate(srv.url(name), n, nil); err != nil {
			return filledTemplate{err: errors.Join(err, srv.drop(name))}
		}
		// As for the migrated template: a connection to it by mistake
		// would make every later copy fail.
		if _, err := srv.admin.Exec(`ALTER DATABASE ` + pq.QuoteIdentifier(name) + ` WITH ALLOW_CONNECTIONS false`); err != nil {
			return filledTemplate{err: errors.Join(err, srv.drop(name))}
		}
		return filledTemplate{name: name}
	})
}

// fillTemplate opens the database at dsn as MustOpen does, fills its log
// with n entries, runs last (if any) and closes it.
func fillTemplate(dsn string, n int, last func(*sqlstore.DB) error) error {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return err
	}
	db.EventKey = EventKey
	db.CaseKeys = CaseKeys
	err = fillLog(ctx, db, n)
	if err == nil && last != nil {
		err = last(db)
	}
	return errors.Join(err, db.Close())
}
