// Package storetest is the conformance suite every storage dialect must
// pass, and the helpers that open test databases. Exercise runs once per
// dialect; a behaviour change gets its test here first.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/lib/pq"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/sealbox"
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

// Main runs a package's tests, and is what its TestMain calls:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// With it, each dialect is migrated once per test binary, into a template
// (a SQLite file, a PostgreSQL database) that SQLiteDSN and PostgresDSN
// copy for each test, and which Main removes when the tests are done.
// Without it the helpers still work, migrating a new database per test.
func Main(m *testing.M) { MainThen(m, nil) }

// MainThen is Main with a clean-up of the package's own, after, which runs
// when the tests are done (before the templates are removed), if not nil.
func MainThen(m *testing.M, after func()) {
	templates.enabled.Store(true)
	code := m.Run()
	if after != nil {
		after()
	}
	if err := templates.close(); err != nil {
		fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// OpenSQLite opens a new, migrated SQLite database in a temporary directory.
func OpenSQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	return MustOpen(t, SQLiteDSN(t))
}

// SQLiteDSN returns the path of a new, migrated SQLite database in a
// temporary directory: a copy of the package's template under Main.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "countersign.db")
	if !templates.enabled.Load() {
		return path // sqlstore.Open migrates it
	}
	tpl, err := templates.sqlite()
	if err != nil {
		t.Fatalf("migrate the SQLite template: %v", err)
	}
	if err := copySQLite(tpl, path); err != nil {
		t.Fatalf("copy the SQLite template: %v", err)
	}
	return path
}

// EmptySQLiteDSN returns the path of a new SQLite database with no tables,
// for the tests of the migrations themselves.
func EmptySQLiteDSN(t testing.TB) string {
	return filepath.Join(t.TempDir(), "countersign.db")
}

// OpenPostgres opens a new, migrated PostgreSQL database of its own,
// dropped when the test ends.
func OpenPostgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	return MustOpen(t, PostgresDSN(t))
}

// PostgresDSN creates a PostgreSQL database for the test, a copy of the
// package's migrated template under Main, and returns its URL; the database
// is dropped when the test ends. It skips the test when no PostgreSQL is
// configured.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return postgresDSN(t, true)
}

// EmptyPostgresDSN is PostgresDSN with no tables in the database, for the
// tests of the migrations themselves.
func EmptyPostgresDSN(t testing.TB) string {
	t.Helper()
	return postgresDSN(t, false)
}

func postgresDSN(t testing.TB, migrated bool) string {
	t.Helper()
	srv, err := templates.server()
	if err != nil {
		t.Fatal(err)
	}
	if srv == nil {
		t.Skipf("PostgreSQL tests skipped: set %s (for example postgres://postgres@127.0.0.1:5432/countersign_test?sslmode=disable) to run them", EnvDatabaseURL)
	}
	from := "template0"
	if migrated && templates.enabled.Load() {
		if from, err = templates.postgres(srv); err != nil {
			t.Fatalf("migrate the PostgreSQL template: %v", err)
		}
	}
	name, err := srv.create(from)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if templates.enabled.Load() {
			srv.dropLater(name) // Main waits for it, and reports failures
		} else if err := srv.drop(name); err != nil {
			t.Error(err)
		}
	})
	return srv.url(name)
}

// MustOpen opens dsn and closes it when the test ends.
func MustOpen(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", redact(dsn), err)
	}
	db.EventKey = EventKey
	db.CaseKeys = CaseKeys
	t.Cleanup(func() { db.Close() })
	return db
}

// EventKey is the audit event key of every database MustOpen opens, so
// that two handles on one database (a test's and the service's, or two
// replicas') accept each other's events. A test that starts the binary
// gives it this key's file (MustWriteEventKey).
var EventKey = audit.EventKey(bytes.Repeat([]byte{0x5e}, audit.EventKeySize))

// MustWriteEventKey writes EventKey to a file in dir, in the form of the
// service's key file, and returns its path.
func MustWriteEventKey(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "event.key")
	if err := os.WriteFile(path, []byte(EventKey.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "countersign-case.keyring"), []byte(CaseKeys.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// CaseKeys is the case master keyring of every database MustOpen opens,
// for the same reason as EventKey. MustWriteEventKey writes it too, as
// the file the service looks for beside its event key
// (countersign-case.keyring), so the binary and the test open each
// other's case text.
var CaseKeys = func() *sealbox.Keyring {
	k, err := sealbox.ParseKeyring("countersign-case-master-v1:7e570000:" + strings.Repeat("c5", sealbox.KeySize) + "\n")
	if err != nil {
		panic(err)
	}
	return k
}()

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return fmt.Sprint(dsn)
}
