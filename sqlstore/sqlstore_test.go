package sqlstore_test

import (
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestMain migrates each dialect once, into the template every test's
// database is copied from.
func TestMain(m *testing.M) { storetest.Main(m) }

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, storetest.SQLiteDSN, storetest.EmptySQLiteDSN)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, storetest.PostgresDSN, storetest.EmptyPostgresDSN)
}
