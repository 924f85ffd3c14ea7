// Package storetest is the conformance suite every storage dialect must
// pass, and the helpers that open test databases. Exercise runs once per
// dialect; a behaviour change gets its test here first.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/countersign/countersign/sqlstore"
)

// EnvDatabaseURL names the variable that points the tests at PostgreSQL.
const EnvDatabaseURL = "COUNTERSIGN_TEST_DATABASE_URL"

// Opener opens a fresh, empty, migrated database for one test.
type Opener func(t testing.TB) *sqlstore.DB

// Dialects returns an opener per dialect: SQLite always, PostgreSQL when
// COUNTERSIGN_TEST_DATABASE_URL is set (its tests skip, saying why, otherwise).
func Dialects() map[string]Opener {
	return map[string]Opener{"sqlite": OpenSQLite, "postgres": OpenPostgres}
}

// OpenSQLite opens a new SQLite database in a temporary directory.
func OpenSQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	return MustOpen(t, SQLiteDSN(t))
}

// SQLiteDSN returns the path of a new SQLite database in a temporary directory.
func SQLiteDSN(t testing.TB) string {
	return filepath.Join(t.TempDir(), "countersign.db")
}

// OpenPostgres opens a new schema of its own in the test PostgreSQL
// database, dropped when the test ends.
func OpenPostgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	return MustOpen(t, PostgresDSN(t))
}

// PostgresDSN creates a schema for the test and returns a DSN whose
// search_path selects it. It skips the test when no PostgreSQL is configured.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (for example postgres://postgres@127.0.0.1:5432/countersign_test?sslmode=disable) to run them", EnvDatabaseURL)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	// lib/pq passes unknown parameters to the server as run-time settings.
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// MustOpen opens dsn and closes it when the test ends.
func MustOpen(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", redact(dsn), err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return fmt.Sprint(dsn)
}
